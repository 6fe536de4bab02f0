"""WebSocket routes. Each consumer authenticates its own way (Twilio signature, session)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from calls.consumers import MediaStreamConsumer

websocket_urlpatterns: list[Any] = [
    # Every stream URL carries its one-time nonce (calls.services.stream_token_issue); the
    # bare path is still routed so that it is refused with 1008, not an unrouted error.
    path("media-stream/<str:nonce>/", MediaStreamConsumer.as_asgi()),
    path("media-stream/", MediaStreamConsumer.as_asgi()),
]
