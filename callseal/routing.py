"""WebSocket routes. Each consumer authenticates its own way (Twilio signature, session)."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
