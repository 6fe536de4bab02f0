"""Fixtures of the ledger-backed compliance tests: per-test storage roots, actors, calls."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from calls.models import Call
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Membership, Role, Tenant
from compliance.recording.services import (
    recording_append,
    recording_finish,
    recording_start,
)
from compliance.subjects import phone_subject_ref
from tests.factories import UserFactory, membership

CALLER = "+14155550123"


@pytest.fixture
def storage(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Each region's storage root under this test's tmp_path."""
    settings.REGIONS = {
        name: dataclasses.replace(region, storage_root=tmp_path / name)
        for name, region in settings.REGIONS.items()
    }
    return tmp_path


@pytest.fixture
def actor() -> Callable[[Tenant, str], Membership]:
    def make(tenant: Tenant, role: str = Role.COMPLIANCE_OFFICER) -> Membership:
        return membership(user=UserFactory(), tenant=tenant, role=role)

    return make


def make_call() -> Call:
    tenant = current_tenant()
    return Call.objects.create(
        tenant_id=tenant.id,
        twilio_call_sid="CA" + uuid.uuid4().hex,
        to_number="+14155550100",
        from_masked="**********23",
        region=tenant.region,
        started_at="2026-01-01T00:00:00Z",
    )


def pcm_ramp(samples: int, *, seed: int) -> bytes:
    """Deterministic, non-silent PCM16 so byte comparisons mean something."""
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, size=samples, dtype="<i2").tobytes()


def record(
    *, call_id: uuid.UUID, number: str = CALLER, caller: bytes, agent: bytes = b""
) -> uuid.UUID:
    """A finished two-track recording at 16 kHz; returns its id."""
    session = recording_start(
        call_id=call_id, subject_ref=phone_subject_ref(number), actor="test:call"
    )
    recording_append(session=session, track="caller", pcm=caller)
    if agent:
        recording_append(session=session, track="agent", pcm=agent)
    return recording_finish(session=session, actor="test:call").id
