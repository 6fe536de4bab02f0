"""WebSocket routes. Each consumer authenticates its own way (Twilio signature, session)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from calls.consumers import MediaStreamConsumer

websocket_urlpatterns: list[Any] = [
    path("media-stream/", MediaStreamConsumer.as_asgi()),
]
