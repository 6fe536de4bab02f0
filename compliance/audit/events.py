"""Ledger event types of the audit trail itself: every search, timeline view and export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callseal.ledger.registry import register_event

# Access events go to one stream per tenant; the ledger orders them with everything else.
AUDIT_STREAM = "audit-access"


@register_event("audit.searched", version=1)
@dataclass(frozen=True, slots=True)
class AuditSearched:
    """A search of the audit trail. ``criteria`` holds subject refs, never phone numbers."""

    criteria: dict[str, Any]
    results: int


@register_event("audit.timeline_viewed", version=1)
@dataclass(frozen=True, slots=True)
class AuditTimelineViewed:
    call: str
    stream_ids: list[str]
    results: int


@register_event("audit.export_requested", version=1)
@dataclass(frozen=True, slots=True)
class AuditExportRequested:
    export_id: str
    criteria: dict[str, Any]
    view: str


@register_event("audit.exported", version=1)
@dataclass(frozen=True, slots=True)
class AuditExported:
    """A bundle was written: what it covers and the SHA-256 of the zip handed out."""

    export_id: str
    criteria: dict[str, Any]
    view: str
    events: int
    tree_size: int
    bundle_sha256: str
    key_fingerprint: str


@register_event("audit.bundle_downloaded", version=1)
@dataclass(frozen=True, slots=True)
class AuditBundleDownloaded:
    export_id: str
    bundle_sha256: str
