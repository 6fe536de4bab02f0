"""Live console updates: one WebSocket per open console page, scoped to the active tenant.

Topics: ``calls`` (every call of the tenant) and ``call:<uuid>`` (one call's transcript and
state; only a call of the active tenant: a foreign or unknown id gets the same refusal).
Messages are published by analytics.live after the writes they describe commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from analytics.live import CALL_PREFIX, group_for
from calls.models import Call
from callseal.tenancy.channels import TenantConsumerMixin, user_group
from callseal.tenancy.context import current_tenant
from callseal.tenancy.permissions import Perm, role_allows
from callseal.tenancy.second_factor import session_second_factor_ok
from callseal.tenancy.selectors import membership_get

TOPICS = {"calls": Perm.VIEW_CALLS}
PER_CALL = Perm.VIEW_CALLS
# One page follows the calls list and a handful of calls at most.
MAX_SUBSCRIPTIONS = 8
# Close codes: not signed in (or second factor missing); access revoked or changed.
UNAUTHENTICATED = 4401
REVOKED = 4403


@database_sync_to_async
def _second_factor_ok(user: Any, session: Any) -> bool:
    return session_second_factor_ok(user, session)


@database_sync_to_async
def _membership_unchanged(membership: Any) -> bool:
    """The socket's membership still exists with the role it was opened under."""
    current = membership_get(user=membership.user_id, tenant_id=membership.tenant_id)
    return current is not None and current.role == membership.role


@database_sync_to_async
def _call_visible(call_id: uuid.UUID) -> bool:
    return Call.objects.filter(tenant_id=current_tenant().id, id=call_id).exists()


class ConsoleConsumer(TenantConsumerMixin, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Clients send {"subscribe": "calls"} or {"subscribe": "call:<id>"}; the server pushes
    {"topic", "event"} messages."""

    async def connect(self) -> None:
        self.groups_joined: set[str] = set()
        if self.scope.get("tenant") is None or not await _second_factor_ok(
            self.scope["user"], self.scope.get("session")
        ):
            await self.close(code=UNAUTHENTICATED)
            return
        # Revocation, role changes and logout message this group (user_sockets_close).
        self.user_group = user_group(self.scope["user"].pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()

    async def access_revoked(self, message: dict[str, Any]) -> None:
        await self.close(code=REVOKED)

    async def _allowed(self, topic: Any) -> str | None:
        """None when the topic may be followed, else the refusal to send."""
        role = self.scope["membership"].role
        if isinstance(topic, str) and topic.startswith(CALL_PREFIX):
            try:
                call_id = uuid.UUID(topic.removeprefix(CALL_PREFIX))
            except ValueError:
                return "call topics are call:<call id>"
            if not role_allows(role, PER_CALL):
                return "your role may not follow calls"
            if not await _call_visible(call_id):
                return "no such call"
            return None
        if topic not in TOPICS:
            return f"unknown topic; choose from {sorted(TOPICS)} or call:<call id>"
        if not role_allows(role, TOPICS[topic]):
            return f"your role may not follow {topic}"
        return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # Also checked here, not only pushed: a revocation message may have gone to
        # another process's channel layer.
        if not await _membership_unchanged(self.scope["membership"]):
            await self.close(code=REVOKED)
            return
        topic = content.get("subscribe") if isinstance(content, dict) else None
        refusal = await self._allowed(topic)
        if refusal is not None:
            await self.send_json({"error": refusal})
            return
        group = group_for(self.scope["tenant"], str(topic))
        if group not in self.groups_joined:
            if len(self.groups_joined) >= MAX_SUBSCRIPTIONS:
                await self.send_json({"error": f"at most {MAX_SUBSCRIPTIONS} topics"})
                return
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
        joined = [*getattr(self, "groups_joined", ()), getattr(self, "user_group", None)]
        for group in filter(None, joined):
            await self.channel_layer.group_discard(group, self.channel_name)
