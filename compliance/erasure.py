"""Erasure of a data subject named by phone number (docs/adr/0009)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from callseal.ledger.envelope import record, regional_write
from callseal.ledger.services import erase_subject
from callseal.tenancy.context import current_tenant
from callseal.tenancy.permissions import Perm, require
from compliance.events import ErasureCompleted, ErasureRefused
from compliance.holds import active_holds, subject_call_ids
from compliance.models import (
    DataKey,
    ErasureRequest,
    ErasureStatus,
    LegalHold,
    Recording,
    RecordingStatus,
)
from compliance.recording.services import recording_shred
from compliance.subjects import mask_e164, normalize_e164, phone_subject_ref
from compliance.tx import actor_name


def _username(actor: object) -> str:
    return str(getattr(getattr(actor, "user", None), "username", "") or actor_name(actor))


@dataclass(frozen=True, slots=True)
class ErasureScope:
    """What erasing one caller would touch, and the active holds that forbid it.

    The same scope is shown as the preview and acted on by the erasure, so the page
    cannot promise something the service then does differently.
    """

    subject_ref: str
    number_masked: str
    call_ids: frozenset[uuid.UUID]
    recordings: tuple[Recording, ...]
    keys: tuple[DataKey, ...]
    blocking: tuple[LegalHold, ...]

    @property
    def blocked(self) -> bool:
        return bool(self.blocking)

    @property
    def key_refs(self) -> list[str]:
        """Every key the erasure destroys: the indexed ones and the subject's own key."""
        return sorted({k.key_ref for k in self.keys} | {self.subject_ref})


def _scope(e164: str) -> ErasureScope:
    tenant = current_tenant()
    subject_ref = phone_subject_ref(e164)
    recordings = tuple(
        Recording.objects.filter(tenant_id=tenant.id, subject_ref=subject_ref).exclude(
            status=RecordingStatus.SHREDDED
        )
    )
    keys = tuple(
        DataKey.objects.filter(
            tenant_id=tenant.id, subject_ref=subject_ref, destroyed_at__isnull=True
        )
    )
    # Every call of the caller, with or without recordings or call-scoped keys: the call's
    # own events (its from_number) are sealed under the subject's key, which erasure
    # destroys, so a hold on any of these calls covers part of the erasure.
    calls = subject_call_ids(subject_ref=subject_ref)
    calls |= {r.call_id for r in recordings} | {k.call_id for k in keys if k.call_id}
    blocking = active_holds().covering_subject(subject_ref=subject_ref, call_ids=calls)
    return ErasureScope(
        subject_ref=subject_ref,
        number_masked=mask_e164(e164),
        call_ids=frozenset(calls),
        recordings=recordings,
        keys=keys,
        blocking=tuple(blocking),
    )


def erasure_preview(*, actor: object, phone_number: str) -> ErasureScope:
    """What ``erasure_request_create`` would erase for this number, and what blocks it.

    Reads only; nothing is recorded (the number itself is never stored or logged).
    """
    require(actor, Perm.ERASE_SUBJECT)
    return _scope(normalize_e164(phone_number))


def erasure_request_create(*, actor: object, phone_number: str) -> ErasureRequest:
    """Erase the caller behind ``phone_number``, or refuse (and record it) under legal hold.

    Completed: every ledger key of the subject is destroyed through ``erase_subject`` (one
    ``subject.erased`` each), every recording is shredded, and ``erasure.completed`` lists
    them as proof. Refused: ``erasure.refused`` names the holds; nothing is destroyed. A
    hold covers the erasure when it is on the tenant, on the subject, or on any call of the
    subject (with or without a recording).
    """
    require(actor, Perm.ERASE_SUBJECT)
    e164 = normalize_e164(phone_number)
    tenant = current_tenant()
    scope = _scope(e164)
    subject_ref = scope.subject_ref
    request = ErasureRequest(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        subject_ref=subject_ref,
        number_masked=scope.number_masked,
        requested_by=_username(actor),
        requested_at=timezone.now(),
    )
    recordings, keys = list(scope.recordings), list(scope.keys)
    blocking = {h.id: h for h in scope.blocking}
    stream = f"erasure-{request.id}"
    with regional_write():
        if blocking:
            request.status = ErasureStatus.REFUSED
            scopes = ", ".join(
                sorted(f"{h.get_scope_display().lower()}" for h in blocking.values())
            )
            request.message = (
                f"Refused: {len(blocking)} active legal hold(s) cover this caller ({scopes}). "
                "Nothing was erased; release the hold(s) first."
            )[:300]
            request.save()
            record(
                stream_id=stream,
                events=[
                    ErasureRefused(
                        request_id=str(request.id),
                        subject_ref=subject_ref,
                        hold_ids=sorted(str(h) for h in blocking),
                        requested_by=request.requested_by,
                    )
                ],
                expected_version=0,
                actor=actor_name(actor),
            )
            return request
        for recording in recordings:
            recording_shred(recording=recording, reason="erasure")
        key_refs = scope.key_refs
        erased = [
            erase_subject(subject_ref=ref, actor=actor_name(actor), reason=f"erasure {request.id}")
            for ref in key_refs
        ]
        now = timezone.now()
        DataKey.objects.filter(pk__in=[k.pk for k in keys]).update(
            destroyed_at=now, destroyed_reason="erasure"
        )
        (proof,) = record(
            stream_id=stream,
            events=[
                ErasureCompleted(
                    request_id=str(request.id),
                    subject_ref=subject_ref,
                    keys=key_refs,
                    subject_erased_event_ids=[str(e.event_id) for e in erased],
                    recordings=sorted(str(r.id) for r in recordings),
                    requested_by=request.requested_by,
                )
            ],
            expected_version=0,
            actor=actor_name(actor),
        )
        request.status = ErasureStatus.COMPLETED
        request.completed_at = now
        request.keys_destroyed = len(key_refs)
        request.recordings_shredded = len(recordings)
        request.proof_sequence = proof.sequence
        request.message = (
            f"Erased: {len(key_refs)} key(s) destroyed, {len(recordings)} recording(s) shredded."
        )
        request.save()
    return request


def erasure_requests_list(*, actor: object) -> list[ErasureRequest]:
    require(actor, Perm.VIEW_COMPLIANCE)
    return list(ErasureRequest.objects.filter(tenant_id=current_tenant().id))
