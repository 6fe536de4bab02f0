from __future__ import annotations

import re
import uuid

from django.db.models import QuerySet
from django.http import Http404

from calls.models import CALL_SID_RE, Call, PhoneNumber
from callseal.tenancy.context import current_tenant
from callseal.tenancy.selectors import tenant_object_get


def call_list(*, limit: int = 50) -> QuerySet[Call]:
    return Call.objects.filter(tenant_id=current_tenant().id)[:limit]


def call_get(*, call_id: uuid.UUID) -> Call:
    return tenant_object_get(Call, id=call_id)


def call_get_by_reference(*, reference: str) -> Call:
    """The current tenant's call by Twilio SID (``CA`` + 32 hex) or by id; Http404 for a
    malformed reference, a missing call and another tenant's call alike."""
    text = reference.strip()
    if re.fullmatch(CALL_SID_RE, text):
        return tenant_object_get(Call, twilio_call_sid=text)
    try:
        call_id = uuid.UUID(text)
    except ValueError:
        raise Http404("No call matches the given query.") from None
    return tenant_object_get(Call, id=call_id)


def call_get_by_sid(*, call_sid: str) -> Call | None:
    return Call.objects.filter(tenant_id=current_tenant().id, twilio_call_sid=call_sid).first()


def phone_number_for_call(*, account_sid: str, to_number: str) -> PhoneNumber | None:
    """Our number in this Twilio account: whose token checks the request (never another
    number of the account: docs/adr/0017)."""
    return (
        PhoneNumber.objects.select_related("tenant")
        .filter(twilio_account_sid=account_sid, e164=to_number)
        .first()
    )


def phone_number_by_id(*, phone_number_id: uuid.UUID) -> PhoneNumber | None:
    return PhoneNumber.objects.select_related("tenant").filter(id=phone_number_id).first()
