"""Twilio request signatures (X-Twilio-Signature) over the URL Twilio actually used.

Behind a proxy the URL Twilio signed is the public one. callseal.proxy has already applied
X-Forwarded-Proto/-Host to the scope when (and only when) the peer is a trusted proxy, so
the scheme and Host here are final, exactly as Django builds
``request.build_absolute_uri()`` from the same scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

SIGNATURE_HEADER = "X-Twilio-Signature"


def signature_valid(
    *,
    auth_token: str,
    url: str,
    params: Mapping[str, Any] | None,
    signature: str,
    settings_header: str = "",
) -> bool:
    if not signature or not auth_token:
        return False
    algorithm = get_signature_algorithm(settings_header)
    try:
        return bool(RequestValidator(auth_token).validate(url, params or {}, signature, algorithm))
    except (ValueError, TypeError):
        return False


def _header(headers: Iterable[tuple[bytes, bytes]], name: str) -> str:
    wanted = name.lower().encode()
    for key, value in headers:
        if key.lower() == wanted:
            return value.decode("latin-1")
    return ""


def websocket_signature(scope: Mapping[str, Any]) -> tuple[str, str]:
    """(signature, signature-settings header) from a WebSocket handshake scope."""
    headers = scope.get("headers", [])
    return _header(headers, SIGNATURE_HEADER), _header(headers, SIGNATURE_SETTINGS_HEADER)


def websocket_url(scope: Mapping[str, Any]) -> str:
    """The ws:// or wss:// URL the client connected to, as Twilio signed it."""
    host = _header(scope.get("headers", []), "Host")
    secure = scope.get("scheme") == "wss"
    path = scope.get("path", "/")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{'wss' if secure else 'ws'}://{host}{path}" + (f"?{query}" if query else "")
