"""The tenant context for WebSocket connections (Channels scope).

``TenantScopeMiddleware`` resolves the logged-in user's active membership from the session
(as TenantMiddleware does for HTTP) into ``scope["tenant"]`` and ``scope["membership"]``;
``TenantConsumerMixin`` makes that tenant current while each message is handled, so
``database_sync_to_async`` code reads and writes the right region.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from callseal.tenancy.context import TenantRef, as_ref, tenant_context
from callseal.tenancy.middleware import SESSION_KEY
from callseal.tenancy.models import Membership
from callseal.tenancy.selectors import membership_get, memberships_for_user


@database_sync_to_async
def _membership_for(user: Any, session: Any) -> Membership | None:
    if user is None or not user.is_authenticated:
        return None
    raw = session.get(SESSION_KEY) if session is not None else None
    if raw:
        try:
            found = membership_get(user=user, tenant_id=uuid.UUID(raw))
        except ValueError:
            found = None
        if found is not None:
            return found
    memberships = memberships_for_user(user=user)
    return memberships[0] if memberships else None


class TenantScopeMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        membership = await _membership_for(scope.get("user"), scope.get("session"))
        scope = dict(scope)
        scope["membership"] = membership
        scope["tenant"] = as_ref(membership.tenant) if membership is not None else None
        return await super().__call__(scope, receive, send)


class TenantConsumerMixin:
    scope: dict[str, Any]

    async def dispatch(self, message: dict[str, Any]) -> None:
        tenant: TenantRef | None = self.scope.get("tenant")
        if tenant is None:
            await super().dispatch(message)  # type: ignore[misc]
            return
        with tenant_context(tenant):
            await super().dispatch(message)  # type: ignore[misc]


def tenant_group(tenant: TenantRef, topic: str) -> str:
    """Channel-layer group name for a tenant's live topic (e.g. "calls")."""
    return f"tenant.{tenant.id.hex}.{topic}"


def user_group(user_id: object) -> str:
    """Channel-layer group of every open console socket of one user."""
    return f"user.{user_id}"


def user_sockets_close(*, user_id: object, reason: str) -> None:
    """Close every open console socket of the user once the directory write commits.

    Revocation, role changes and logout call this: an open page must not keep receiving a
    tenant's live data on a membership or session that no longer exists.
    """
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import transaction

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            message = {"type": "access.revoked", "reason": reason}
            async_to_sync(layer.group_send)(user_group(user_id), message)

    transaction.on_commit(send, using="default")
