"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by daphne).

Two WebSocket families with different authentication: Twilio's media streams (signature and
one-time token, callseal.routing) and the console's live updates (session cookie, origin
checked, tenant from the active membership).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callseal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from callseal import daphne_close  # noqa: E402
from callseal.console.routing import console_websocket_urlpatterns  # noqa: E402
from callseal.proxy import TrustedProxyMiddleware  # noqa: E402
from callseal.routing import websocket_urlpatterns  # noqa: E402
from callseal.tenancy.channels import TenantScopeMiddleware  # noqa: E402

daphne_close.install()
console_websockets = AllowedHostsOriginValidator(
    AuthMiddlewareStack(TenantScopeMiddleware(URLRouter(console_websocket_urlpatterns)))
)

# Proxy headers count only from CALLSEAL_TRUSTED_PROXIES (callseal.proxy), for both.
application = TrustedProxyMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": URLRouter([*websocket_urlpatterns, re_path(r"^ws/", console_websockets)]),
        }
    )
)
