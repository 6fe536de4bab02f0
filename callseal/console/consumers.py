"""Live console updates: one WebSocket per open console page, scoped to the active tenant."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from callseal.tenancy.channels import TenantConsumerMixin, tenant_group
from callseal.tenancy.permissions import Perm, role_allows

TOPICS = {"calls": Perm.VIEW_CALLS}
MAX_SUBSCRIPTIONS = len(TOPICS)


class ConsoleConsumer(TenantConsumerMixin, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Clients send {"subscribe": "calls"}; the server pushes {"topic", "event"} messages."""

    async def connect(self) -> None:
        if self.scope.get("tenant") is None:
            await self.close(code=4401)
            return
        self.groups_joined: set[str] = set()
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        topic = content.get("subscribe") if isinstance(content, dict) else None
        if topic not in TOPICS:
            await self.send_json({"error": f"unknown topic; choose from {sorted(TOPICS)}"})
            return
        if not role_allows(self.scope["membership"].role, TOPICS[topic]):
            await self.send_json({"error": f"your role may not follow {topic}"})
            return
        group = tenant_group(self.scope["tenant"], topic)
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)
        await self.send_json({"subscribed": topic})

    async def decode_json(self, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    async def console_event(self, message: dict[str, Any]) -> None:
        await self.send_json({"topic": message["topic"], "event": message["event"]})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)
