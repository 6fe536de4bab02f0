"""Legal holds on a tenant, a call or a data subject: while one is active, retention and
erasure leave what it covers alone. Placing and releasing are for compliance officers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from calls.models import Call
from calls.selectors import call_get_by_reference
from callseal.ledger.envelope import record, regional_write
from callseal.tenancy.context import current_tenant
from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.selectors import tenant_object_get
from compliance.events import LegalHoldPlaced, LegalHoldReleased
from compliance.models import HoldScope, LegalHold
from compliance.subjects import mask_e164, normalize_e164, phone_subject_ref
from compliance.tx import actor_name

MAX_REASON = 200


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("give a reason (a case or matter reference, no personal data)")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"the reason must be at most {MAX_REASON} characters")
    return reason


def _call(reference: uuid.UUID | str | None) -> Call:
    """The current tenant's call named by its Twilio SID (as every page shows it) or id."""
    text = str(reference or "").strip()
    if not text:
        raise ValidationError("a call hold needs the call's Twilio SID (CA…) or id")
    try:
        return call_get_by_reference(reference=text)
    except Http404:
        # Same answer for a malformed reference, a missing call and another tenant's call.
        raise ValidationError("no call with that Twilio SID or id in this tenant") from None


def legal_hold_place(
    *,
    actor: object,
    scope: str,
    reason: str,
    call: uuid.UUID | str | None = None,
    phone_number: str | None = None,
) -> LegalHold:
    """Place a hold on the tenant, one call (``call``: its Twilio SID or its id) or one
    caller (``phone_number``)."""
    require(actor, Perm.MANAGE_COMPLIANCE)
    tenant = current_tenant()
    reason = _reason(reason)
    hold = LegalHold(tenant_id=tenant.id, scope=scope, reason=reason, placed_at=timezone.now())
    hold.placed_by = getattr(getattr(actor, "user", None), "username", actor_name(actor))
    if scope == HoldScope.TENANT:
        hold.target_label = tenant.slug
    elif scope == HoldScope.CALL:
        held = _call(call)
        hold.call_id = held.id
        hold.target_label = held.twilio_call_sid
    elif scope == HoldScope.SUBJECT:
        e164 = normalize_e164(phone_number or "")
        hold.subject_ref = phone_subject_ref(e164)
        hold.target_label = mask_e164(e164)
    else:
        raise ValidationError(f"scope must be one of {', '.join(HoldScope.values)}")
    with regional_write():
        hold.save()
        record(
            stream_id=f"legal-hold-{hold.id}",
            events=[
                LegalHoldPlaced(
                    hold_id=str(hold.id),
                    scope=scope,
                    call_id=str(hold.call_id) if hold.call_id else None,
                    subject_ref=hold.subject_ref or None,
                    reason=reason,
                    placed_by=hold.placed_by,
                )
            ],
            expected_version=0,
            actor=actor_name(actor),
        )
    return hold


def legal_hold_release(*, actor: object, hold_id: uuid.UUID, reason: str) -> LegalHold:
    """Release an active hold (404 for missing or another tenant's; refused if released)."""
    require(actor, Perm.MANAGE_COMPLIANCE)
    hold = tenant_object_get(LegalHold, id=hold_id)
    reason = _reason(reason)
    with regional_write() as alias:
        hold = LegalHold.objects.using(alias).select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            raise ValidationError("this hold was already released")
        hold.released_at = timezone.now()
        hold.released_by = getattr(getattr(actor, "user", None), "username", actor_name(actor))
        hold.release_reason = reason
        hold.save(update_fields=["released_at", "released_by", "release_reason"])
        record(
            stream_id=f"legal-hold-{hold.id}",
            events=[
                LegalHoldReleased(hold_id=str(hold.id), reason=reason, released_by=hold.released_by)
            ],
            actor=actor_name(actor),
        )
    return hold


@dataclass(frozen=True, slots=True)
class ActiveHolds:
    """The tenant's active holds, for checking many items in one pass."""

    holds: tuple[LegalHold, ...]

    @property
    def tenant_wide(self) -> bool:
        return any(h.scope == HoldScope.TENANT for h in self.holds)

    def covering(self, *, call_id: uuid.UUID | None, subject_ref: str | None) -> list[LegalHold]:
        return [
            h
            for h in self.holds
            if h.scope == HoldScope.TENANT
            or (h.scope == HoldScope.CALL and call_id is not None and h.call_id == call_id)
            or (h.scope == HoldScope.SUBJECT and subject_ref and h.subject_ref == subject_ref)
        ]

    def covers(self, *, call_id: uuid.UUID | None, subject_ref: str | None) -> bool:
        return bool(self.covering(call_id=call_id, subject_ref=subject_ref))

    def covering_subject(
        self, *, subject_ref: str, call_ids: Iterable[uuid.UUID] = ()
    ) -> list[LegalHold]:
        """Holds on anything of a subject: the tenant, the subject, or any of its calls.

        The subject's own key seals the number in each of its calls' ``call.started``, so
        destroying that key touches every call of the subject, recorded or not. Without
        ``call_ids`` the subject's calls are read from the call read model.
        """
        found = {h.id: h for h in self.covering(call_id=None, subject_ref=subject_ref)}
        if any(h.scope == HoldScope.CALL for h in self.holds):
            calls = set(call_ids) or subject_call_ids(subject_ref=subject_ref)
            for call_id in calls:
                found.update({h.id: h for h in self.covering(call_id=call_id, subject_ref=None)})
        return sorted(found.values(), key=lambda h: h.placed_at)


def subject_call_ids(*, subject_ref: str) -> set[uuid.UUID]:
    """The current tenant's calls whose caller is this subject."""
    rows = Call.objects.filter(tenant_id=current_tenant().id, subject_ref=subject_ref)
    return set(rows.values_list("id", flat=True))


def active_holds() -> ActiveHolds:
    tenant = current_tenant()
    rows = LegalHold.objects.filter(tenant_id=tenant.id, released_at__isnull=True)
    return ActiveHolds(tuple(rows))


def legal_holds_list(*, actor: object) -> list[LegalHold]:
    require(actor, Perm.VIEW_COMPLIANCE)
    return list(LegalHold.objects.filter(tenant_id=current_tenant().id))
