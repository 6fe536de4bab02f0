"""Readable renderings of exported events and the Article 30-style processing summary.

Renderings are for people; the evidence is events.jsonl. By default personal fields show as
``[sealed]`` (ciphertext in the evidence) or ``[erased]``; in the readable view they are
decrypted and passed through the redactor, and every row says which view it is.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from callseal.ledger.reading import decode
from callseal.ledger.store import StoredRecord
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Tenant
from compliance.audit.selectors import audit_row

CIPHERTEXT_VIEW = "ciphertext"
REDACTED_VIEW = "redacted-plaintext"

# Purposes by event-type family (the part before the first dot); unknown families still get
# a purpose naming them, so a new event type never disappears from the summary.
PURPOSES = {
    "call": "handling inbound calls with the AI voice agent",
    "stream": "handling inbound calls with the AI voice agent",
    "turn": "handling inbound calls with the AI voice agent",
    "consent": "recording and proving call-recording consent",
    "recording": "call recording and its access control",
    "inference": "speech recognition, language model and speech synthesis",
    "tool": "actions taken for the caller by the AI agent",
    "subject": "data subject rights (erasure)",
    "erasure": "data subject rights (erasure)",
    "retention": "storage limitation (retention)",
    "hold": "legal holds",
    "audit": "accountability: access to the audit trail",
    "security": "security of processing",
}


def _redacted(value: Any) -> str:
    from compliance.redaction.engine import redact_text  # heavy (spaCy): only when asked

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return redact_text(text).redacted_text


class Renderer:
    """Turns records into rendering rows and tallies what the processing summary needs."""

    def __init__(self, *, readable: bool) -> None:
        self.readable = readable
        self.view = REDACTED_VIEW if readable else CIPHERTEXT_VIEW
        self._keys: dict[str, bytes | None] = {}
        self.types: Counter[str] = Counter()
        self.personal: dict[str, set[str]] = {}
        self.regions: Counter[str] = Counter()
        self.subjects: set[str] = set()
        self.first_time: str | None = None
        self.last_time: str | None = None

    def row(self, record: StoredRecord) -> dict[str, Any]:
        view = audit_row(record)
        fields: dict[str, Any] = dict(view.details)
        if view.sealed and self.readable:
            opened = decode(record, keys=self._keys)
            for name in view.sealed:
                fields[name] = (
                    "[erased]" if name in opened.erased_fields else _redacted(opened.data[name])
                )
        else:
            fields.update(dict.fromkeys(view.sealed, "[sealed]"))
        self._tally(view.type, view.sealed, view.region, fields, view.subject_ref)
        stamp = view.recorded_at.isoformat()
        self.first_time = self.first_time or stamp
        self.last_time = stamp
        return {
            "sequence": view.sequence,
            "recorded_at": stamp,
            "type": view.type,
            "schema_version": view.schema_version,
            "stream": view.stream_id,
            "stream_version": record.stream_version,
            "actor": view.actor,
            "region": view.region,
            "subject_ref": view.subject_ref,
            "fields": fields,
            "personal_fields": view.sealed,
            "personal_view": self.view if view.sealed else None,
        }

    def _tally(
        self,
        event_type: str,
        sealed: list[str],
        region: str,
        fields: dict[str, Any],
        subject: str | None,
    ) -> None:
        self.types[event_type] += 1
        if sealed:
            self.personal.setdefault(event_type, set()).update(sealed)
        if region:
            self.regions[f"ledger:{region}"] += 1
        for name, value in fields.items():
            # Inference hops and similar events name where they ran in a *region field.
            if (name == "region" or name.endswith("_region")) and isinstance(value, str):
                self.regions[f"{event_type}:{value}"] += 1
        if subject:
            self.subjects.add(subject)


def processing_summary(
    *, renderer: Renderer, selection: dict[str, Any], erasures: list[StoredRecord]
) -> dict[str, Any]:
    """A record of processing activities (GDPR Article 30 style) for the exported events."""
    ref = current_tenant()
    tenant = Tenant.objects.get(id=ref.id)
    policies = tenant.policies or {}
    families: dict[str, list[str]] = {}
    for event_type in sorted(renderer.types):
        family = event_type.split(".", 1)[0]
        families.setdefault(family, []).append(event_type)
    return {
        "controller": {"tenant": tenant.name, "slug": tenant.slug},
        "period": {"first_event": renderer.first_time, "last_event": renderer.last_time},
        "selection": selection,
        "purposes": [
            {
                "purpose": PURPOSES.get(family, f"operation of the contact center ({family})"),
                "event_types": {t: renderer.types[t] for t in types},
            }
            for family, types in sorted(families.items())
        ],
        "data_categories": [
            {"event_type": t, "personal_fields": sorted(fields)}
            for t, fields in sorted(renderer.personal.items())
        ],
        "data_subjects": len(renderer.subjects),
        "personal_data_protection": "AES-256-GCM per data subject; erasure destroys the key",
        "retention_days": policies.get("retention_days", {}),
        "regions": {
            "tenant_region": tenant.region,
            "processing": dict(sorted(renderer.regions.items())),
            "inference_fallback_regions": policies.get("inference_fallback_regions", []),
        },
        "erasures": len(erasures),
    }
