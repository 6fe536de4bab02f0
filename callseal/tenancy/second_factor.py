"""Who must prove a second factor (TOTP, django-otp) and whether a session has.

Admins, compliance officers and auditors (in any tenant) sign in with a password and then a
TOTP code; until their session is verified the console refuses them (HTTP and WebSocket).
``CALLSEAL_REQUIRE_2FA=false`` turns the requirement off for a local demo
(docs/adr/0019-console-access-control.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from callseal.tenancy.models import Membership, Role

SECOND_FACTOR_ROLES = frozenset({Role.ADMIN, Role.COMPLIANCE_OFFICER, Role.AUDITOR})


def second_factor_required(user: Any) -> bool:
    if not settings.REQUIRE_2FA or user is None or not user.is_authenticated:
        return False
    return Membership.objects.filter(user=user, role__in=SECOND_FACTOR_ROLES).exists()


def second_factor_enrolled(user: Any) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def session_second_factor_ok(user: Any, session: Any) -> bool:
    """For sockets (no OTPMiddleware): the session names a confirmed device of the user,
    or the user needs none."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    if not second_factor_required(user):
        return True
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return bool(device is not None and device.user_id == user.pk and device.confirmed)
