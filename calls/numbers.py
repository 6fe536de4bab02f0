"""Phone numbers of a tenant: create, attach the answering AI agent. Admins only."""

from __future__ import annotations

import re
import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from agents.models import AgentConfig
from calls.credentials import seal_auth_token
from calls.models import PhoneNumber
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Membership
from callseal.tenancy.permissions import Perm, require

AUTH_TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


def number_list() -> list[PhoneNumber]:
    return list(PhoneNumber.objects.filter(tenant_id=current_tenant().id))


def number_get(*, number_id: uuid.UUID) -> PhoneNumber:
    """The current tenant's number; 404 alike for missing and another tenant's."""
    from django.http import Http404

    try:
        return PhoneNumber.objects.get(id=number_id, tenant_id=current_tenant().id)
    except PhoneNumber.DoesNotExist:
        raise Http404("No phone number matches the given query.") from None


def _agent_in_tenant(agent_id: uuid.UUID | None) -> uuid.UUID | None:
    if agent_id is None:
        return None
    if not AgentConfig.objects.filter(id=agent_id, tenant_id=current_tenant().id).exists():
        raise ValidationError("that AI agent does not exist in this tenant")
    return agent_id


def number_create(
    *,
    actor: Membership,
    e164: str,
    label: str,
    twilio_account_sid: str,
    auth_token: str,
    agent_id: uuid.UUID | None,
) -> PhoneNumber:
    require(actor, Perm.MANAGE_NUMBERS)
    if not AUTH_TOKEN_RE.match(auth_token):
        raise ValidationError("the Twilio auth token is 32 lower-case hex digits")
    number = PhoneNumber(
        tenant_id=current_tenant().id,
        e164=e164,
        label=label,
        twilio_account_sid=twilio_account_sid,
        twilio_auth_token_sealed=seal_auth_token(
            auth_token=auth_token, account_sid=twilio_account_sid
        ),
        agent_id=_agent_in_tenant(agent_id),
    )
    # Unique across tenants: say so without revealing which tenant holds it.
    if PhoneNumber.objects.filter(e164=e164).exists():
        raise ValidationError(f"{e164} is already registered")
    number.full_clean()
    try:
        with transaction.atomic(using="default"):
            number.save()
    except IntegrityError:
        raise ValidationError(f"{e164} is already registered") from None
    return number


def number_attach_agent(
    *, actor: Membership, number_id: uuid.UUID, agent_id: uuid.UUID | None
) -> PhoneNumber:
    require(actor, Perm.MANAGE_NUMBERS)
    number = number_get(number_id=number_id)
    number.agent_id = _agent_in_tenant(agent_id)
    number.save(update_fields=["agent_id"])
    return number
