from __future__ import annotations

from django.urls import path

from callseal.console.consumers import ConsoleConsumer

console_websocket_urlpatterns = [path("console/", ConsoleConsumer.as_asgi())]
