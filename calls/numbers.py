"""Phone numbers of a tenant: add, edit, remove, attach the answering AI agent. Admins only.

Twilio credentials are proven before they are saved (``calls.twilio_rest``): the token
opens the account and the number is one of the account's. A Twilio account belongs to one
tenant (``TwilioAccount``), so no tenant can register another's account SID to capture its
webhooks. Every change is an event in the tenant's ledger (stream ``phone-number-<id>``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from agents.models import AgentConfig
from calls import events as ev
from calls import jurisdiction, twilio_rest
from calls.accounts import (
    ACCOUNT_TAKEN,
    account_owned_elsewhere,
    release_unused_account,
    twilio_account_bind,
)
from calls.credentials import seal_auth_token
from calls.models import ACCOUNT_SID, E164, TERMINAL_STATUSES, Call, PhoneNumber
from callseal.ledger.envelope import record, regional_write
from callseal.tenancy.context import TenantRef, current_tenant
from callseal.tenancy.models import Membership
from callseal.tenancy.permissions import Perm, require

AUTH_TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


class NeedsConfirmation(ValidationError):
    """The change is allowed but the admin must confirm it first (the message says why)."""


def _actor(membership: Membership) -> str:
    return f"user:{membership.user_id}"


def number_list() -> list[PhoneNumber]:
    return list(PhoneNumber.objects.filter(tenant_id=current_tenant().id))


def number_get(*, number_id: uuid.UUID) -> PhoneNumber:
    """The current tenant's number; 404 alike for missing and another tenant's."""
    try:
        return PhoneNumber.objects.get(id=number_id, tenant_id=current_tenant().id)
    except PhoneNumber.DoesNotExist:
        raise Http404("No phone number matches the given query.") from None


def number_live_calls(*, number: PhoneNumber) -> int:
    """Calls to this number that have not ended (read in the tenant's region)."""
    return (
        Call.objects.filter(tenant_id=number.tenant_id, phone_number_id=number.id)
        .exclude(status__in=TERMINAL_STATUSES)
        .count()
    )


def _agent_in_tenant(agent_id: uuid.UUID | None) -> uuid.UUID | None:
    if agent_id is None:
        return None
    if not AgentConfig.objects.filter(id=agent_id, tenant_id=current_tenant().id).exists():
        raise ValidationError("that AI agent does not exist in this tenant")
    return agent_id


def _verify(*, tenant: TenantRef, account_sid: str, auth_token: str, e164: str) -> None:
    """Prove the credentials with Twilio; nothing is bound or saved before this passes (a
    tenant must not be able to hold an account SID it cannot open)."""
    if account_owned_elsewhere(tenant_id=tenant.id, account_sid=account_sid):
        raise ValidationError(ACCOUNT_TAKEN)
    if not AUTH_TOKEN_RE.match(auth_token):
        raise ValidationError("the Twilio auth token is 32 lower-case hex digits")
    try:
        twilio_rest.account_number_verify(account_sid=account_sid, auth_token=auth_token, e164=e164)
    except twilio_rest.TwilioRefused as exc:
        raise ValidationError(f"Twilio refused these credentials: {exc}") from exc


def _check_jurisdiction(*, tenant: TenantRef, e164: str, confirmed: bool) -> None:
    warning = jurisdiction.number_region_warning(e164=e164, region=tenant.region)
    if warning and not confirmed:
        raise NeedsConfirmation(warning)


@contextmanager
def _recording(tenant: TenantRef) -> Iterator[None]:
    """The directory change and its event: the ledger append runs in the region's
    transaction, inside the directory's, so a failed append leaves the directory as it was."""
    with transaction.atomic(using="default"), regional_write(tenant):
        yield


def _append(number: PhoneNumber, event: object, actor: Membership) -> None:
    record(stream_id=ev.phone_number_stream(number.id), events=[event], actor=_actor(actor))


def number_create(
    *,
    actor: Membership,
    e164: str,
    label: str,
    twilio_account_sid: str,
    auth_token: str,
    agent_id: uuid.UUID | None,
    confirm_jurisdiction: bool = False,
) -> PhoneNumber:
    """Add a number: credentials proven with Twilio, the account bound to this tenant,
    ``phone_number.added`` and ``phone_number.credentials_changed`` recorded."""
    require(actor, Perm.MANAGE_NUMBERS)
    tenant = current_tenant()
    E164(e164)
    ACCOUNT_SID(twilio_account_sid)
    # Unique across tenants: say so without revealing which tenant holds it.
    if PhoneNumber.objects.filter(e164=e164).exists():
        raise ValidationError(f"{e164} is already registered")
    _check_jurisdiction(tenant=tenant, e164=e164, confirmed=confirm_jurisdiction)
    _verify(tenant=tenant, account_sid=twilio_account_sid, auth_token=auth_token, e164=e164)
    number = PhoneNumber(
        tenant_id=tenant.id,
        e164=e164,
        label=label,
        twilio_account_sid=twilio_account_sid,
        twilio_auth_token_sealed=seal_auth_token(
            auth_token=auth_token, account_sid=twilio_account_sid
        ),
        agent_id=_agent_in_tenant(agent_id),
    )
    number.full_clean()
    try:
        with _recording(tenant):
            twilio_account_bind(tenant_id=tenant.id, account_sid=twilio_account_sid)
            number.save()
            _append(
                number,
                ev.PhoneNumberAdded(
                    phone_number_id=str(number.id),
                    e164=e164,
                    label=label,
                    account_sid=twilio_account_sid,
                    agent_id=str(number.agent_id) if number.agent_id else None,
                ),
                actor,
            )
            _append(
                number,
                ev.PhoneNumberCredentialsChanged(
                    phone_number_id=str(number.id),
                    e164=e164,
                    account_sid=twilio_account_sid,
                    previous_account_sid="",
                ),
                actor,
            )
    except IntegrityError:
        raise ValidationError(f"{e164} is already registered") from None
    return number


def number_update(
    *,
    actor: Membership,
    number_id: uuid.UUID,
    label: str,
    twilio_account_sid: str,
    auth_token: str = "",
) -> PhoneNumber:
    """Edit a number's label and Twilio credentials. A blank ``auth_token`` keeps the
    current one (it is never shown again); new credentials are proven with Twilio first and
    recorded as ``phone_number.credentials_changed``; other edits as
    ``phone_number.updated``."""
    require(actor, Perm.MANAGE_NUMBERS)
    tenant = current_tenant()
    number = number_get(number_id=number_id)
    ACCOUNT_SID(twilio_account_sid)
    previous_account = number.twilio_account_sid
    credentials_changed = bool(auth_token) or twilio_account_sid != previous_account
    if credentials_changed:
        if not auth_token:
            raise ValidationError("a new Twilio account needs its auth token")
        _verify(
            tenant=tenant, account_sid=twilio_account_sid, auth_token=auth_token, e164=number.e164
        )
    changes = {"label": [number.label, label]} if label != number.label else {}
    with _recording(tenant):
        number.label = label
        if credentials_changed:
            twilio_account_bind(tenant_id=tenant.id, account_sid=twilio_account_sid)
            number.twilio_account_sid = twilio_account_sid
            number.twilio_auth_token_sealed = seal_auth_token(
                auth_token=auth_token, account_sid=twilio_account_sid
            )
        number.full_clean()
        number.save(update_fields=["label", "twilio_account_sid", "twilio_auth_token_sealed"])
        if changes:
            _append(
                number,
                ev.PhoneNumberUpdated(
                    phone_number_id=str(number.id), e164=number.e164, changes=changes
                ),
                actor,
            )
        if credentials_changed:
            _append(
                number,
                ev.PhoneNumberCredentialsChanged(
                    phone_number_id=str(number.id),
                    e164=number.e164,
                    account_sid=twilio_account_sid,
                    previous_account_sid=previous_account,
                ),
                actor,
            )
        if previous_account and previous_account != twilio_account_sid:
            release_unused_account(tenant_id=tenant.id, account_sid=previous_account)
    return number


def number_remove(*, actor: Membership, number_id: uuid.UUID) -> str:
    """Remove a number (``phone_number.removed``); refused while one of its calls is live,
    since its stream and status callbacks still need the number's credentials."""
    require(actor, Perm.MANAGE_NUMBERS)
    tenant = current_tenant()
    number = number_get(number_id=number_id)
    live = number_live_calls(number=number)
    if live:
        raise ValidationError(
            f"{number.e164} has {live} call{'s' if live != 1 else ''} in progress:"
            " remove it when they have ended."
        )
    with _recording(tenant):
        _append(
            number,
            ev.PhoneNumberRemoved(
                phone_number_id=str(number.id),
                e164=number.e164,
                account_sid=number.twilio_account_sid,
            ),
            actor,
        )
        number.delete()
        if number.twilio_account_sid:
            release_unused_account(tenant_id=tenant.id, account_sid=number.twilio_account_sid)
    return number.e164


def number_attach_agent(
    *, actor: Membership, number_id: uuid.UUID, agent_id: uuid.UUID | None
) -> PhoneNumber:
    require(actor, Perm.MANAGE_NUMBERS)
    tenant = current_tenant()
    number = number_get(number_id=number_id)
    before = number.agent_id
    number.agent_id = _agent_in_tenant(agent_id)
    with _recording(tenant):
        number.save(update_fields=["agent_id"])
        if before != number.agent_id:
            _append(
                number,
                ev.PhoneNumberUpdated(
                    phone_number_id=str(number.id),
                    e164=number.e164,
                    changes={
                        "agent_id": [str(before) if before else None, str(agent_id or "") or None]
                    },
                ),
                actor,
            )
    return number
