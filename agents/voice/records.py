"""The voice agent's writes: loading the call's agent configuration and appending the
agent's events to the call's ledger stream. Synchronous Django code; the pipeline calls
it through ``database_sync_to_async`` from its recorder task, off the audio path."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agents import events as ev
from agents.models import AgentConfig, AgentConfigVersion
from agents.spec import AgentSpec
from calls.events import call_stream
from calls.services import call_events
from callseal.crypto.services import subject_ref_for
from callseal.ledger.envelope import record, regional_write
from callseal.tenancy.context import TenantRef, as_ref, tenant_context
from callseal.tenancy.models import Tenant
from compliance.callgate import CallConsentRecord, consent_from_events
from compliance.datakeys import data_key_ref
from compliance.models import DataClass

ACTOR = "agents.voice"


class AgentNotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class CallSetup:
    tenant: TenantRef
    policies: dict[str, Any]
    agent_id: uuid.UUID
    agent_version: int
    spec: AgentSpec
    transcript_key: str  # the ledger subject sealing this call's raw transcript
    consent: CallConsentRecord  # what the call needs, and the evidence of earlier streams


def agent_call_setup(
    *,
    tenant_id: uuid.UUID,
    call_id: uuid.UUID,
    call_sid: str,
    agent_id: uuid.UUID,
    subject_ref: str,
    resumed_version: int | None,
) -> CallSetup:
    """Load the agent version the call uses and record ``call.agent_assigned`` on its first
    stream (a resumed stream keeps the version it was assigned, even if the agent changed).

    The caller's raw words are sealed under a per-call raw-transcript data key of the
    caller's subject (retention shreds it per call); a withheld number gets a subject of
    its own for the call.
    """
    tenant_row = Tenant.objects.get(id=tenant_id)
    tenant = as_ref(tenant_row)
    with tenant_context(tenant):
        if resumed_version is not None:
            row = AgentConfigVersion.objects.filter(
                tenant_id=tenant.id, agent_id=agent_id, version=resumed_version
            ).first()
            if row is None:
                raise AgentNotFound(f"agent {agent_id} v{resumed_version}")
            spec_data, version = row.spec, row.version
            name = spec_data.get("name", "")
        else:
            agent = AgentConfig.objects.filter(tenant_id=tenant.id, id=agent_id).first()
            if agent is None:
                raise AgentNotFound(str(agent_id))
            spec_data, version, name = agent.spec, agent.version, agent.name
        subject = subject_ref or subject_ref_for(f"call:{call_sid}")
        with regional_write(tenant):
            key = data_key_ref(
                subject_ref=subject, data_class=DataClass.RAW_TRANSCRIPTS, call_id=call_id
            )
            if resumed_version is None:
                record(
                    stream_id=call_stream(call_id),
                    events=[
                        ev.CallAgentAssigned(
                            agent_id=str(agent_id), agent_version=version, agent_name=name
                        )
                    ],
                    actor=ACTOR,
                )
        consent = consent_from_events(call_events(call_id=call_id))
    return CallSetup(
        tenant=tenant,
        consent=consent,
        policies=dict(tenant_row.policies or {}),
        agent_id=agent_id,
        agent_version=version,
        spec=AgentSpec.from_dict(spec_data),
        transcript_key=key,
    )


def agent_events_append(
    *, tenant: TenantRef, call_id: uuid.UUID, events: Sequence[object], subject: str | None
) -> None:
    """Append the agent's events to the call's stream through the write envelope, which
    applies the inline projections in the same transaction: the escalation queue
    (``call.escalated``) and the console's call summary, latency samples and live pushes
    (analytics), so the dashboard, the call page and the test-call page show a turn as soon
    as it is recorded, not at the next catch-up."""
    with regional_write(tenant):
        record(stream_id=call_stream(call_id), events=list(events), actor=ACTOR, subject=subject)
