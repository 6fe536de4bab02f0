"""Live console updates: read-model changes pushed to the tenant's console groups.

Topics: ``calls`` (any call of the tenant started, connected, changed status, ended) and
``call:<id>`` (one call's transcript turns, latency, escalation, end). Messages go out only
after the transaction that recorded them commits, so a browser never sees what the ledger
does not hold; a failing channel layer never fails the write (live views also reload).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from callseal.ledger import store
from callseal.tenancy.channels import tenant_group
from callseal.tenancy.context import TenantRef, current_tenant

log = logging.getLogger(__name__)
CALLS = "calls"
CALL_PREFIX = "call:"
# Replays and catch-up runs re-apply old events; pushing those to open pages is noise.
FRESH_FOR = timedelta(minutes=2)


def call_topic(call_id: uuid.UUID | str) -> str:
    return f"{CALL_PREFIX}{uuid.UUID(str(call_id))}"


def group_for(tenant: TenantRef, topic: str) -> str:
    """Channel-layer group of a topic (group names allow no colon)."""
    return tenant_group(tenant, topic.replace(":", "."))


def publish(*, tenant: TenantRef, topic: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "console.event", "topic": topic, "event": event}
    try:
        async_to_sync(layer.group_send)(group_for(tenant, topic), message)
    except Exception:  # the write already committed; live views recover on reload
        log.exception("console live update failed", extra={"topic": topic})


def publish_on_commit(*, topic: str, event: dict[str, Any], recorded_at: Any = None) -> None:
    """Queue a push for when the current transaction on the tenant's region commits."""
    if recorded_at is not None and recorded_at < timezone.now() - FRESH_FOR:
        return
    tenant = current_tenant()
    transaction.on_commit(
        lambda: publish(tenant=tenant, topic=topic, event=event), using=store.alias_for(tenant)
    )
