"""Background exports on the tenant region's queue (TenantTask restores the tenant)."""

from __future__ import annotations

from callseal.celery import app


@app.task(name="audit.export")
def audit_export_task(export_id: str) -> str:
    from compliance.audit.services import audit_export_run

    return str(audit_export_run(export_id=export_id).status)
