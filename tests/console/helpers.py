"""Calls, recordings and test calls for console tests, made through the real services."""

from __future__ import annotations

import uuid

import numpy as np

from calls.models import Call
from callseal.crypto.services import subject_ref_for
from callseal.tenancy.context import tenant_context
from compliance.recording.services import recording_append, recording_finish, recording_start

CALLER = "+15005550006"


def make_call(tenant, *, status: str = "in_progress") -> Call:  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        return Call.objects.create(
            tenant_id=tenant.id,
            twilio_call_sid="CA" + uuid.uuid4().hex,
            to_number="+14155550100",
            from_masked="**********06",
            status=status,
            region=tenant.region,
            started_at="2026-01-01T00:00:00Z",
        )


def make_recording(
    tenant, call_id: uuid.UUID, *, kind: str = "redacted", seconds: float = 1.0
) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """A finished two-track 16 kHz recording of a 440 Hz tone (caller) and silence."""
    samples = int(16000 * seconds)
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype("<i2")
    with tenant_context(tenant):
        session = recording_start(
            call_id=call_id,
            subject_ref=subject_ref_for(CALLER),
            actor="test:call",
            kind=kind,
            source_id=uuid.uuid4() if kind == "redacted" else None,
        )
        recording_append(session=session, track="caller", pcm=tone.tobytes())
        return recording_finish(session=session, actor="test:call").id
