"""Writes to the ledger: append, erase a data subject. Keyword-only, tenant from context."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from callseal.crypto.services import seal_field, subject_key, subject_key_destroy
from callseal.ledger import store
from callseal.ledger.canonical import canonical_json
from callseal.ledger.events import RecordedEvent, SubjectErased
from callseal.ledger.ids import new_event_id
from callseal.ledger.reading import SEALED_KEY, _field_ad, decode
from callseal.ledger.registry import LedgerInputError, SchemaMismatch, event_payload
from callseal.observability import request_id_var
from callseal.tenancy.context import TenantRef, current_tenant

MAX_STREAM_ID = 200
# What a personal field's ciphertext is bound to (tenant, stream, event id, field name):
# moving it to any other place makes it fail to open.
field_associated_data = _field_ad


def _metadata(
    tenant: TenantRef, actor: str, causation_id: str | None, correlation_id: str | None
) -> str:
    if not actor or not isinstance(actor, str):
        raise LedgerInputError("actor is required (who or what caused these events)")
    return canonical_json(
        {
            "actor": actor,
            "causation_id": causation_id,
            "correlation_id": correlation_id,
            "region": tenant.region,
            "request_id": request_id_var.get(),
        }
    )


def _prepare(
    tenant: TenantRef,
    stream_id: str,
    event: object,
    event_id: uuid.UUID,
    subject: str | None,
    metadata_json: str,
) -> store.Prepared:
    spec, payload = event_payload(event)
    personal_values = [n for n in spec.personal if payload[n] is not None]
    if personal_values:
        if subject is None:
            raise LedgerInputError(
                f"{spec.type} carries personal fields {sorted(personal_values)}: pass subject="
                " (a subject_ref from callseal.crypto.services.subject_ref_for)"
            )
        key = subject_key(subject, create=True)
        assert key is not None
        for name in personal_values:
            plaintext = canonical_json(payload[name]).encode()
            sealed = seal_field(
                key, plaintext, field_associated_data(tenant.id, stream_id, event_id, name)
            )
            payload[name] = {SEALED_KEY: base64.b64encode(sealed).decode()}
    try:
        payload_json = canonical_json(payload)
    except (TypeError, ValueError) as exc:
        raise SchemaMismatch(f"{spec.type}: payload is not JSON: {exc}") from exc
    return store.Prepared(
        event_id=event_id,
        type=spec.type,
        schema_version=spec.version,
        subject_ref=subject,
        payload_json=payload_json,
        metadata_json=metadata_json,
    )


def ledger_append(
    *,
    stream_id: str,
    events: Sequence[object],
    expected_version: int | None = None,
    actor: str,
    causation_id: str | None = None,
    correlation_id: str | None = None,
    subject: str | None = None,
    event_ids: Sequence[uuid.UUID] | None = None,
) -> list[RecordedEvent]:
    """Append ``events`` (registered frozen dataclasses) to ``stream_id`` atomically.

    The tenant is the current tenant context. ``expected_version`` (0 for a new stream)
    makes the append conditional: a stale value raises ``store.ConcurrencyError``.
    ``subject`` is the data subject's ``subject_ref``; personal fields are sealed under its
    key. Retrying with the same ``event_ids`` returns the stored events and appends nothing.
    Raises LedgerInputError (UnknownEventType, SchemaMismatch) with nothing appended.
    """
    tenant = current_tenant()
    if not stream_id or len(stream_id) > MAX_STREAM_ID:
        raise LedgerInputError(f"stream_id must be 1-{MAX_STREAM_ID} characters")
    if not events:
        raise LedgerInputError("no events to append")
    if expected_version is not None and expected_version < 0:
        raise LedgerInputError("expected_version must be >= 0")
    ids = list(event_ids) if event_ids is not None else [new_event_id() for _ in events]
    if len(ids) != len(events) or len(set(ids)) != len(ids):
        raise LedgerInputError("event_ids must be distinct, one per event")
    metadata_json = _metadata(tenant, actor, causation_id, correlation_id)
    alias = store.alias_for(tenant)
    with store.writing(alias), transaction.atomic(using=alias):
        prepared = [
            _prepare(tenant, stream_id, event, event_id, subject, metadata_json)
            for event, event_id in zip(events, ids, strict=True)
        ]
        stored = store.append(
            tenant=tenant,
            stream_id=stream_id,
            expected_version=expected_version,
            records=prepared,
        )
    return [decode(record, keys={}) for record in stored]


def erase_subject(*, subject_ref: str, actor: str, reason: str) -> RecordedEvent:
    """Crypto-shred a data subject: destroy its key and record ``subject.erased``.

    Every personal field sealed under the key then reads as ERASED; all hashes, the chain,
    the tree and the checkpoints still verify (leaves hash ciphertext).
    """
    tenant = current_tenant()
    if not subject_ref:
        raise LedgerInputError("subject_ref is required")
    if not reason:
        raise LedgerInputError("reason is required (with no personal data in it)")
    alias = store.alias_for(tenant)
    with store.writing(alias), transaction.atomic(using=alias):
        subject_key_destroy(subject_ref)
        (event,) = ledger_append(
            stream_id=f"subject-{subject_ref}"[:MAX_STREAM_ID],
            events=[SubjectErased(subject_ref=subject_ref, reason=reason)],
            actor=actor,
        )
    return event


__all__: list[Any] = ["erase_subject", "field_associated_data", "ledger_append"]
