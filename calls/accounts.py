"""Twilio accounts: each belongs to exactly one tenant.

A tenant that could register another tenant's account SID would receive that tenant's
webhooks (and sign forged ones); the unique ``TwilioAccount.account_sid`` makes the first
tenant to connect an account its only owner until its last number using it is removed.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from calls.models import ACCOUNT_SID, PhoneNumber, TwilioAccount

ACCOUNT_TAKEN = (
    "This Twilio account is already connected to another Callseal tenant; a Twilio account"
    " can serve one tenant only. Use a Twilio subaccount for this tenant."
)


def twilio_account_bind(*, tenant_id: uuid.UUID, account_sid: str) -> None:
    """Bind the account to the tenant, or confirm it is already the tenant's. The unique
    account SID decides concurrent binds: the loser gets ValidationError(ACCOUNT_TAKEN)."""
    ACCOUNT_SID(account_sid)
    try:
        with transaction.atomic(using="default"):
            account, _ = TwilioAccount.objects.get_or_create(
                account_sid=account_sid, defaults={"tenant_id": tenant_id}
            )
    except IntegrityError:
        account = TwilioAccount.objects.get(account_sid=account_sid)
    if account.tenant_id != tenant_id:
        raise ValidationError(ACCOUNT_TAKEN)


def release_unused_account(*, tenant_id: uuid.UUID, account_sid: str) -> None:
    if not PhoneNumber.objects.filter(twilio_account_sid=account_sid).exists():
        TwilioAccount.objects.filter(account_sid=account_sid, tenant_id=tenant_id).delete()


def account_owned_elsewhere(*, tenant_id: uuid.UUID, account_sid: str) -> bool:
    """A quick answer before asking Twilio; ``twilio_account_bind`` is the binding check."""
    return (
        TwilioAccount.objects.filter(account_sid=account_sid).exclude(tenant_id=tenant_id).exists()
    )
