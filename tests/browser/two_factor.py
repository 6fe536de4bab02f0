"""The second-factor step in a real browser: enrol with the key the page shows, or verify
with the code an authenticator app would show now."""

from __future__ import annotations

import base64
import time

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def _code(key: bytes) -> str:
    return f"{totp(key):06d}"


def pass_second_factor(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """After the password: complete enrolment or verification if the console asks for it."""
    page.wait_for_load_state()
    if page.url.startswith(f"{base}/account/two-factor/setup/"):
        secret = page.locator("#totp-secret").inner_text()
        _wait_while_throttled(TOTPDevice.objects.get(user__username=username, confirmed=False))
        page.get_by_label("Authentication code").fill(_code(base64.b32decode(secret)))
        page.get_by_role("button", name="Confirm").click()
    elif page.url.startswith(f"{base}/account/two-factor/"):
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        # A code is accepted once: wait for the next 30 s step if this one was used.
        while device.t() <= device.last_t:
            time.sleep(0.5)
        _wait_while_throttled(device)
        page.get_by_label("Authentication code").fill(_code(device.bin_key))
        page.get_by_role("button", name="Verify").click()


def _wait_while_throttled(device) -> None:  # type: ignore[no-untyped-def]
    """django-otp refuses codes for a moment after a wrong one (the test typed it)."""
    while not device.verify_is_allowed()[0]:
        time.sleep(0.2)
        device.refresh_from_db()
