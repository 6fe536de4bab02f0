from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

from calls import services
from calls.events import call_stream
from calls.models import PhoneNumber
from callseal.crypto.services import subject_ref_for
from callseal.ledger.envelope import record, regional_write
from callseal.ledger.services import ledger_append
from callseal.tenancy.context import as_ref, tenant_context
from tests.analytics import ai_events
from tests.analytics.ai_events import event

CALLER = "+15005550006"


class CallDriver:
    """Drives one call through the real call services, plus AI events by name."""

    def __init__(self, tenant, number: PhoneNumber) -> None:  # type: ignore[no-untyped-def]
        self.tenant = as_ref(tenant)
        self.number = number
        self.sid = "CA" + uuid.uuid4().hex
        with tenant_context(self.tenant):
            self.call_id = services.call_start(
                tenant=self.tenant, phone_number=number, call_sid=self.sid, from_number=CALLER
            ).call_id
            self.subject = subject_ref_for(CALLER)

    def record(self, *events: object, inline: bool = True) -> None:
        """Record on the call's stream through the write envelope; inline=False appends
        without projecting (as code outside the envelope would). Events whose ``call_id``
        ``event`` left empty get this call's (every inline projection may read it)."""
        events = tuple(
            dataclasses.replace(e, call_id=str(self.call_id))  # type: ignore[type-var]
            if getattr(e, "call_id", None) == ""
            else e
            for e in events
        )
        with regional_write(self.tenant):
            if inline:
                record(
                    stream_id=call_stream(self.call_id),
                    events=list(events),
                    actor="test",
                    subject=self.subject,
                )
            else:
                ledger_append(
                    stream_id=call_stream(self.call_id),
                    events=list(events),
                    actor="test",
                    subject=self.subject,
                )

    def turn(
        self, caller: str, redacted: str, agent: str, v2v: int, *, inline: bool = True
    ) -> None:
        self.record(
            event("turn.caller", text=caller, redacted_text=redacted, started_ms=0, ended_ms=900),
            event(
                "inference.hop",
                service="asr",
                region=self.tenant.region,
                model="tiny.en",
                model_version="1",
                engine="ctranslate2",
            ),
            event("turn.agent", text=agent, heard_text=agent, interrupted=False),
            event(
                "turn.latency",
                asr_final_ms=120,
                llm_first_token_ms=200,
                tts_first_audio_ms=90,
                first_frame_ms=20,
                voice_to_voice_ms=v2v,
            ),
            inline=inline,
        )

    def end(self, status: str = "completed", at: datetime | None = None) -> None:
        services.call_finalise(tenant=self.tenant, call_sid=self.sid, status=status, ended_at=at)


@pytest.fixture
def us_number(acme_us) -> PhoneNumber:  # type: ignore[no-untyped-def]
    return PhoneNumber.objects.create(tenant=acme_us, e164="+14155550100")


@pytest.fixture
def drive(acme_us, us_number):  # type: ignore[no-untyped-def]
    return lambda: CallDriver(acme_us, us_number)


__all__ = ["UTC", "ai_events"]
