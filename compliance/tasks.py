"""Compliance background work: scheduled retention per region, audio redaction per call."""

from __future__ import annotations

import uuid

from callseal.celery import app
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant


@app.task(name="compliance.retention_region")
def retention_region(region: str) -> dict[str, int]:
    """Run retention for every tenant of ``region``; returns items shredded per tenant slug."""
    from compliance.retention import retention_run

    done: dict[str, int] = {}
    for tenant in Tenant.objects.filter(region=region).order_by("slug"):
        with tenant_context(tenant):
            report = retention_run()
        done[tenant.slug] = sum(len(ids) for ids in report.shredded.values())
    return done


@app.task(name="compliance.redact_recording")
def redact_recording(recording_id: str) -> str:
    """Make the redacted copy of one finished recording (tenant from TenantTask headers)."""
    from django.conf import settings

    from compliance.audio_redaction import default_transcriber, recording_redact

    copy = recording_redact(
        recording_id=uuid.UUID(recording_id),
        transcriber=default_transcriber(),
        transcriber_name=settings.CALLSEAL_WORD_TRANSCRIBER,
        actor="system:audio-redaction",
    )
    return str(copy.id)
