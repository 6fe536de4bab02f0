"""Turn stored records into RecordedEvents, opening personal fields where keys survive."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from callseal.crypto.aead import DecryptionFailed
from callseal.crypto.services import open_field, subject_key
from callseal.ledger.events import ERASED, RecordedEvent
from callseal.ledger.store import StoredRecord

SEALED_KEY = "$sealed"


def _field_ad(tenant_id: uuid.UUID, stream_id: str, event_id: uuid.UUID, field: str) -> bytes:
    return f"callseal/field/v1|{tenant_id}|{stream_id}|{event_id}|{field}".encode()


def decode(record: StoredRecord, *, keys: dict[str, bytes | None]) -> RecordedEvent:
    """``keys`` caches subject keys across one read (None: destroyed)."""
    data: dict[str, Any] = json.loads(record.payload_json)
    erased: set[str] = set()
    subject = record.subject_ref
    for name, value in data.items():
        if not (isinstance(value, dict) and len(value) == 1 and SEALED_KEY in value):
            continue
        if subject is not None and subject not in keys:
            keys[subject] = subject_key(subject, create=False)
        key = keys.get(subject) if subject is not None else None
        if key is None:
            data[name] = ERASED
            erased.add(name)
            continue
        try:
            plaintext = open_field(
                key,
                base64.b64decode(value[SEALED_KEY]),
                _field_ad(record.tenant_id, record.stream_id, record.event_id, name),
            )
        except DecryptionFailed:
            # A key made after an erasure cannot open what the destroyed key sealed.
            data[name] = ERASED
            erased.add(name)
            continue
        data[name] = json.loads(plaintext)
    return RecordedEvent(
        sequence=record.sequence,
        stream_id=record.stream_id,
        stream_version=record.stream_version,
        event_id=record.event_id,
        type=record.type,
        schema_version=record.schema_version,
        subject_ref=subject,
        data=data,
        metadata=json.loads(record.metadata_json),
        recorded_at=record.recorded_at,
        leaf_hash=record.leaf_hash,
        erased_fields=frozenset(erased),
    )
