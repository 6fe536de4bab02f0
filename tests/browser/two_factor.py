"""The second-factor step in a real browser: enrol with the key the page shows, or verify
with the code an authenticator app would show now."""

from __future__ import annotations

import base64
import time

from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def _code(key: bytes) -> str:
    return f"{totp(key):06d}"


def _unused_code(device) -> str:  # type: ignore[no-untyped-def]
    """A code is accepted once: when this step's was used (enrolment moments ago), the
    next step's, which the device's tolerance of one step accepts (a clock a little fast)."""
    now = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now.time = time.time()
    ahead = max(0, device.last_t + 1 - now.t())
    return (
        f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + ahead):06d}"
    )


def pass_second_factor(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """After the password: complete enrolment or verification if the console asks for it."""
    # The password form's answer is a redirect away from /login/ (to the step or the page).
    page.wait_for_url(lambda url: "/login/" not in url)
    if page.url.startswith(f"{base}/account/two-factor/setup/"):
        secret = page.locator("#totp-secret").inner_text()
        _wait_while_throttled(TOTPDevice.objects.get(user__username=username, confirmed=False))
        page.get_by_label("Authentication code").fill(_code(base64.b32decode(secret)))
        page.get_by_role("button", name="Confirm").click()
    elif page.url.startswith(f"{base}/account/two-factor/"):
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        _wait_while_throttled(device)
        page.get_by_label("Authentication code").fill(_unused_code(device))
        page.get_by_role("button", name="Verify").click()


def _wait_while_throttled(device) -> None:  # type: ignore[no-untyped-def]
    """django-otp refuses codes for a moment after a wrong one (the test typed it)."""
    while not device.verify_is_allowed()[0]:
        time.sleep(0.2)
        device.refresh_from_db()


def log_in(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login page and the second-factor step; end on the dashboard."""
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    pass_second_factor(page, base, username)
    page.wait_for_url(f"{base}/")
