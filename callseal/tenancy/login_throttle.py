"""Sign-in throttling: per-account and per-address backoff, lockout events and unlocks.

Each consecutive failure past a free allowance locks the account (or address) for a
doubling delay, up to a maximum; while locked, no password is even checked. A lock of an
account is a ``security.login_locked`` event in the ledger of every tenant it belongs to,
and its tenants' admins see it and may lift it (``login_unlock``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from callseal.tenancy.access_events import access_event_record, staff_actor
from callseal.tenancy.events import LoginLocked, LoginUnlocked
from callseal.tenancy.models import LoginThrottle, Membership

log = logging.getLogger("callseal.security")
MAX_KEY = 200


def account_key(username: str) -> str:
    return f"account:{username.strip().lower()}"[:MAX_KEY]


def address_key(address: str) -> str:
    return f"ip:{address}"[:MAX_KEY]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a sign-in attempt is refused before its password is checked."""

    until: datetime

    @property
    def message(self) -> str:
        wait = max(1, int((self.until - timezone.now()).total_seconds()))
        return (
            f"Too many failed sign-ins. Try again in {wait} seconds,"
            " or ask an admin of your tenant to unlock your account."
        )


def _limits(kind: str) -> tuple[int, float, float]:
    free = (
        settings.LOGIN_ACCOUNT_FREE_FAILURES
        if kind == "account"
        else settings.LOGIN_IP_FREE_FAILURES
    )
    return free, settings.LOGIN_BACKOFF_S, settings.LOGIN_LOCKOUT_MAX_S


def login_refusal(*, username: str, address: str) -> Refusal | None:
    """A Refusal while the account or the address is locked, else None."""
    now = timezone.now()
    locks = LoginThrottle.objects.filter(
        key__in=[account_key(username), address_key(address)], locked_until__gt=now
    ).values_list("locked_until", flat=True)
    latest = max((lock for lock in locks if lock is not None), default=None)
    return Refusal(until=latest) if latest is not None else None


def _fail(key: str, kind: str, now: datetime) -> LoginThrottle:
    free, backoff, maximum = _limits(kind)
    row, _ = LoginThrottle.objects.select_for_update().get_or_create(key=key)
    if (
        kind == "ip"
        and row.last_failure_at
        and now - row.last_failure_at > timedelta(seconds=maximum)
    ):
        row.failures = 0  # an address's failures are forgotten after a quiet period
    row.failures += 1
    row.last_failure_at = now
    if row.failures > free:
        delay = min(backoff * 2 ** (row.failures - free - 1), maximum)
        row.locked_until = now + timedelta(seconds=delay)
    row.save()
    return row


@transaction.atomic
def login_failure_record(*, username: str, address: str) -> None:
    """Count a failed sign-in against the account and the address; lock past the allowance."""
    now = timezone.now()
    account = _fail(account_key(username), "account", now)
    address_row = _fail(address_key(address), "ip", now)
    if address_row.locked_until and address_row.locked_until > now:
        log.warning(
            "sign-in locked for address %s after %d failures", address, address_row.failures
        )
    if account.locked_until and account.locked_until > now:
        _locked_event(username, account)


def _locked_event(username: str, row: LoginThrottle) -> None:
    user: Any = get_user_model().objects.filter(username=username).first()
    log.warning("sign-in locked for account %r after %d failures", username, row.failures)
    if user is None:
        return
    event = LoginLocked(
        username=user.get_username(),
        failures=row.failures,
        locked_until=row.locked_until.isoformat() if row.locked_until else "",
    )
    for membership in Membership.objects.filter(user=user).select_related("tenant"):
        access_event_record(tenant=membership.tenant, event=event, actor="login")


def login_success_record(*, username: str) -> None:
    """A correct password ends the account's streak of failures (not the address's)."""
    LoginThrottle.objects.filter(key=account_key(username)).delete()


@transaction.atomic
def login_unlock(*, actor: Membership, membership_id: int) -> str:
    """Lift a member's sign-in lock (an admin of the member's tenant); returns the username."""
    from callseal.tenancy.services import _require_manage_users, member_get

    _require_manage_users(actor)
    member = member_get(actor=actor, membership_id=membership_id)
    username = str(member.user.get_username())
    LoginThrottle.objects.filter(key=account_key(username)).delete()
    event = LoginUnlocked(username=username, by=str(actor.user.get_username()))
    access_event_record(tenant=actor.tenant, event=event, actor=staff_actor(actor.user))
    return username
