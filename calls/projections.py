"""The Call read model as a projection of each call's events.

Registered inline: the write envelope applies it in the transaction that appends the
events (so the console sees a call the moment its events exist); ``ledger_replay``
rebuilds it from the ledger alone.
``Call.ledger_version`` is the last stream version applied, so an event applied inline and
seen again by ``projection_run`` changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from calls.models import TERMINAL_STATUSES, Call, CallStatus
from callseal.ledger.events import RecordedEvent
from callseal.ledger.projections import Projection, register_projection
from callseal.tenancy.context import current_tenant


class CallProjection(Projection):
    name = "calls.call"
    inline = True
    types = ("call.started", "stream.connected", "call.status_changed", "call.ended")

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        tenant = current_tenant()
        if event.type == "call.started":
            if Call.objects.filter(tenant_id=tenant.id, id=data["call_id"]).exists():
                return
            Call.objects.create(
                id=uuid.UUID(data["call_id"]),
                tenant_id=tenant.id,
                twilio_call_sid=data["twilio_call_sid"],
                to_number=data["to_number"],
                from_masked=data["from_masked"],
                subject_ref=event.subject_ref or "",
                region=data["region"],
                started_at=datetime.fromisoformat(data["started_at"]),
                phone_number_id=uuid.UUID(data["phone_number_id"]),
                agent_id=uuid.UUID(data["agent_id"]) if data["agent_id"] else None,
                ledger_version=event.stream_version,
            )
            return
        call = Call.objects.filter(tenant_id=tenant.id, id=data["call_id"]).first()
        if call is None or call.ledger_version >= event.stream_version:
            return
        call.ledger_version = event.stream_version
        if event.type == "stream.connected":
            call.stream_count = max(call.stream_count, data["stream_index"])
            if call.status not in TERMINAL_STATUSES:
                call.status = CallStatus.IN_PROGRESS
        elif event.type == "call.status_changed":
            call.status_sequence = max(call.status_sequence, data["sequence"])
            if data["status"] not in TERMINAL_STATUSES and call.status not in TERMINAL_STATUSES:
                call.status = data["status"]
        elif event.type == "call.ended":
            call.status = data["status"]
            call.ended_at = datetime.fromisoformat(data["ended_at"])
        call.save()

    def reset(self) -> None:
        Call.objects.filter(tenant_id=current_tenant().id).delete()


register_projection(CallProjection)
