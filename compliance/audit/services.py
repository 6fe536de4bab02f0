"""Audit trail actions. Every read of the trail is itself appended as an access event."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from callseal.ledger.envelope import on_commit, regional_write, write
from callseal.ledger.integrity import ledger_integrity_check
from callseal.tenancy.context import current_tenant, tenant_context
from callseal.tenancy.permissions import Perm, require
from compliance.audit import selectors
from compliance.audit.events import (
    AUDIT_STREAM,
    AuditBundleDownloaded,
    AuditExported,
    AuditExportRequested,
    AuditSearched,
    AuditTimelineViewed,
)
from compliance.audit.export import (
    ExportError,
    ExportResult,
    LedgerIntegrityError,
    Progress,
    bundle_export,
)
from compliance.audit.filters import AuditFilter, filter_from_criteria
from compliance.audit.models import AuditExport, ExportStatus

CLI_ACTOR = "cli:audit_export"
log = logging.getLogger(__name__)


def _actor(membership: Any) -> str:
    return f"user:{membership.user_id}"


def _record(actor: str, event: object) -> None:
    write(stream_id=AUDIT_STREAM, events=[event], actor=actor)


def audit_search(
    *, membership: Any, audit_filter: AuditFilter, before: int | None = None
) -> selectors.AuditPage:
    """A page of the audit trail; the search is recorded as ``audit.searched``."""
    require(membership, Perm.SEARCH_AUDIT)
    page = selectors.audit_search(audit_filter=audit_filter, before=before)
    criteria = {**audit_filter.criteria(), "before": before}
    _record(_actor(membership), AuditSearched(criteria=criteria, results=len(page.rows)))
    return page


def audit_access_log(*, membership: Any, before: int | None = None) -> selectors.AuditPage:
    """Who accessed what; viewing it is recorded like any other search."""
    require(membership, Perm.SEARCH_AUDIT)
    page = selectors.audit_access_log(before=before)
    criteria = {"access_log": True, "before": before}
    _record(_actor(membership), AuditSearched(criteria=criteria, results=len(page.rows)))
    return page


def audit_timeline(*, membership: Any, call: str) -> list[selectors.AuditRow]:
    """A call's timeline; recorded as ``audit.timeline_viewed``."""
    require(membership, Perm.SEARCH_AUDIT)
    rows = selectors.audit_call_timeline(call=call)
    streams = sorted({r.stream_id for r in rows})
    _record(
        _actor(membership), AuditTimelineViewed(call=call, stream_ids=streams, results=len(rows))
    )
    return rows


def export_path(export: AuditExport) -> Path:
    """Where a console export's bundle lives: the tenant region's storage, never elsewhere."""
    region = settings.REGIONS[current_tenant().region]
    return Path(region.storage_root) / "audit-exports" / str(export.tenant_id) / export.file_name


def audit_export_request(
    *, membership: Any, audit_filter: AuditFilter, readable: bool
) -> AuditExport:
    """Queue a bundle export on the tenant region's Celery queue."""
    from compliance.audit.tasks import audit_export_task

    require(membership, Perm.EXPORT_AUDIT)
    tenant = current_tenant()
    with regional_write(tenant):
        export = AuditExport.objects.create(
            tenant_id=tenant.id,
            requested_by=_actor(membership),
            criteria=audit_filter.criteria(),
            readable=readable,
        )
        export.file_name = f"audit-{tenant.slug}-{export.id}.zip"
        export.save(update_fields=["file_name"])
        _record(
            export.requested_by,
            AuditExportRequested(
                export_id=str(export.id),
                criteria=export.criteria,
                view="redacted-plaintext" if readable else "ciphertext",
            ),
        )
        export_id = str(export.id)

        def enqueue() -> None:
            # Callbacks may run after the caller's context ends: carry the tenant along.
            with tenant_context(tenant):
                audit_export_task.delay(export_id)

        on_commit(enqueue)
    return export


def _exported(
    actor: str, export_id: str, criteria: dict[str, Any], result: ExportResult, view: str
) -> None:
    _record(
        actor,
        AuditExported(
            export_id=export_id,
            criteria=criteria,
            view=view,
            events=result.events,
            tree_size=result.tree_size,
            bundle_sha256=result.bundle_sha256,
            key_fingerprint=result.key_fingerprint,
        ),
    )


def audit_export_run(*, export_id: str) -> AuditExport:
    """Write a queued export's bundle (the Celery task's body); idempotent once done."""
    export = AuditExport.objects.get(id=export_id, tenant_id=current_tenant().id)
    if export.status == ExportStatus.DONE:
        return export
    export.status = ExportStatus.RUNNING
    export.save(update_fields=["status"])
    last_saved = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = timezone.now().timestamp()
        if now - last_saved[0] < 1.0 and done < total:
            return  # a progress row write per second at most
        last_saved[0] = now
        AuditExport.objects.filter(id=export.id).update(stage=stage, done=done, total=total)

    try:
        result = bundle_export(
            audit_filter=filter_from_criteria(export.criteria),
            out=export_path(export),
            actor=export.requested_by,
            readable=export.readable,
            progress=progress,
        )
    except LedgerIntegrityError as exc:
        # Raise the alarm now rather than at the next scheduled check.
        ledger_integrity_check(tenant=current_tenant())
        return _failed(export, str(exc))
    except ExportError as exc:
        return _failed(export, str(exc))
    except Exception as exc:
        # Never left "Running": whatever stopped it is the export's reason.
        log.exception("audit export %s failed", export.id)
        return _failed(export, f"the export stopped: {type(exc).__name__}: {exc}")
    view = "redacted-plaintext" if export.readable else "ciphertext"
    with regional_write():
        AuditExport.objects.filter(id=export.id).update(
            status=ExportStatus.DONE,
            events=result.events,
            tree_size=result.tree_size,
            bundle_sha256=result.bundle_sha256,
            key_fingerprint=result.key_fingerprint,
            finished_at=timezone.now(),
        )
        _exported(export.requested_by, str(export.id), export.criteria, result, view)
    export.refresh_from_db()
    return export


def _failed(export: AuditExport, reason: str) -> AuditExport:
    AuditExport.objects.filter(id=export.id).update(
        status=ExportStatus.FAILED, error=reason[:4000], finished_at=timezone.now()
    )
    export.refresh_from_db()
    return export


def audit_export_download(*, membership: Any, export: AuditExport) -> Path:
    """The bundle's path for download; the download is recorded."""
    require(membership, Perm.EXPORT_AUDIT)
    if export.status != ExportStatus.DONE:
        raise ExportError("this export is not ready")
    _record(
        _actor(membership),
        AuditBundleDownloaded(export_id=str(export.id), bundle_sha256=export.bundle_sha256),
    )
    return export_path(export)


def audit_export_cli(
    *, audit_filter: AuditFilter, out: Path, readable: bool, progress: Progress | None = None
) -> ExportResult:
    """The management command's export (an operator with shell access, no membership)."""
    result = bundle_export(
        audit_filter=audit_filter, out=out, actor=CLI_ACTOR, readable=readable, progress=progress
    )
    view = "redacted-plaintext" if readable else "ciphertext"
    _exported(CLI_ACTOR, "", audit_filter.criteria(), result, view)
    return result
