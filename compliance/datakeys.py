"""Which ledger key seals which data class of which call (docs/adr/0009).

The ledger seals personal fields under the key of the event's ``subject``. Sealing every
class of every call under one subject key would let retention shred nothing until the
subject's newest data is due, so the call path asks for a key per data class and call:

    ref = data_key_ref(subject_ref=caller, data_class=DataClass.RAW_TRANSCRIPTS, call_id=call.id)
    ledger_append(stream_id=..., events=[TurnRecorded(...)], subject=ref, actor=...)

Retention destroys one such key when its class is due for that call; erasure destroys all
keys of the subject. The subject's own key (``call_id=None``, personal fields) covers
data not tied to a call and is due when the subject's last activity is.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from django.utils import timezone

from callseal.tenancy.context import current_tenant
from compliance.models import DataClass, DataKey

LEDGER_CLASSES = (
    DataClass.RAW_TRANSCRIPTS,
    DataClass.REDACTED_TRANSCRIPTS,
    DataClass.PERSONAL_FIELDS,
)


def data_key_ref(*, subject_ref: str, data_class: str, call_id: uuid.UUID | None) -> str:
    """The ``subject=`` to pass to ``ledger_append`` for ``data_class`` data of this call.

    Registers the key in the index (and marks the subject active) so retention and erasure
    can find it. ``call_id=None`` is only for personal fields and returns ``subject_ref``.
    """
    if data_class not in LEDGER_CLASSES:
        raise ValueError(f"data_class must be one of {', '.join(LEDGER_CLASSES)}")
    if not subject_ref:
        raise ValueError("subject_ref is required")
    if call_id is None and data_class != DataClass.PERSONAL_FIELDS:
        raise ValueError(f"{data_class} data belongs to a call: pass call_id")
    tenant = current_tenant()
    now = timezone.now()
    own = _touch_own_key(tenant.id, subject_ref, now)
    if call_id is None:
        return own
    row = DataKey.objects.filter(
        tenant_id=tenant.id,
        subject_ref=subject_ref,
        data_class=data_class,
        call_id=call_id,
        destroyed_at__isnull=True,
    ).first()
    if row is None:
        row = DataKey.objects.create(
            tenant_id=tenant.id,
            key_ref=secrets.token_hex(32),
            subject_ref=subject_ref,
            data_class=data_class,
            call_id=call_id,
            created_at=now,
            last_used_at=now,
        )
    else:
        DataKey.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.key_ref


def _touch_own_key(tenant_id: uuid.UUID, subject_ref: str, now: datetime) -> str:
    updated = DataKey.objects.filter(tenant_id=tenant_id, key_ref=subject_ref).update(
        last_used_at=now, destroyed_at=None, destroyed_reason=""
    )
    if not updated:
        DataKey.objects.bulk_create(
            [
                DataKey(
                    tenant_id=tenant_id,
                    key_ref=subject_ref,
                    subject_ref=subject_ref,
                    data_class=DataClass.PERSONAL_FIELDS,
                    call_id=None,
                    created_at=now,
                    last_used_at=now,
                )
            ],
            ignore_conflicts=True,
        )
    return subject_ref
