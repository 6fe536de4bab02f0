"""The TOTP step after the password: enrolment (QR code) and verification, and the
middleware that holds admins and compliance roles at that step until it is done."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from callseal.tenancy.second_factor import second_factor_enrolled, second_factor_required

# Paths a signed-in user reaches before the second factor: the step itself, leaving, and
# what is not the console (static files, probes, Twilio's endpoints).
OPEN_PREFIXES = (
    "/account/two-factor/",
    "/login/",
    "/logout/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/twilio/",
    "/media-stream/",
)

WRONG_CODE = "That code is not right; check the time on your device."
# django-otp doubles a device's wait after each wrong code.
TOO_MANY = "Too many wrong codes: wait a moment and try again."


class TokenForm(forms.Form):
    token = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="Authentication code",
        error_messages={"invalid": "Enter the 6-digit code from your authenticator app."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TwoFactorMiddleware:
    """Sends a signed-in user who needs a second factor to enrol or verify first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path_info.startswith(OPEN_PREFIXES)
            and not user.is_verified()
            and second_factor_required(user)
        ):
            step = "two_factor_verify" if second_factor_enrolled(user) else "two_factor_setup"
            return redirect(f"{reverse(step)}?next={quote(request.get_full_path(), safe='/')}")
        return self.get_response(request)


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("console:home")


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol a TOTP authenticator; only while the user has no confirmed device (a second
    device is added by an admin reset, never by a session that has not verified)."""
    user: Any = request.user
    if second_factor_enrolled(user):
        return redirect("two_factor_verify")
    device, _ = TOTPDevice.objects.get_or_create(
        user_id=user.pk, confirmed=False, name="authenticator"
    )
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if not device.verify_is_allowed()[0]:
            form.add_error(None, TOO_MANY)
        elif form.is_valid() and device.verify_token(form.cleaned_data["token"].strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            return redirect(_next(request))
        else:
            form.add_error(None, WRONG_CODE)
    context = {
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": base64.b32encode(device.bin_key).decode(),
        "otpauth_uri": device.config_url,
        "next": _next(request),
    }
    return render(request, "registration/two_factor_setup.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not second_factor_enrolled(user):
        return redirect("two_factor_setup")
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        allowed, _ = device.verify_is_allowed() if device else (False, None)
        if not allowed:
            form.add_error(None, TOO_MANY)
        elif form.is_valid() and device.verify_token(form.cleaned_data["token"].strip()):  # type: ignore[union-attr]
            otp_login(request, device)
            return redirect(_next(request))
        else:
            form.add_error(None, WRONG_CODE)
    context = {"form": form, "next": _next(request)}
    return render(request, "registration/two_factor_verify.html", context, status=status)
