"""Phone numbers page: list, add, edit, remove, choose the answering AI agent, and the
webhook URLs to paste into Twilio. Every write goes through calls.numbers (permission,
Twilio check, events)."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from agents.selectors import agent_list
from calls import numbers
from calls.models import ACCOUNT_SID, E164
from callseal.tenancy.permissions import Perm, require


class NumberForm(forms.Form):
    e164 = forms.CharField(label="Number (E.164)", max_length=16, validators=[E164])
    label = forms.CharField(max_length=80, required=False)
    twilio_account_sid = forms.CharField(
        label="Twilio account SID", max_length=34, validators=[ACCOUNT_SID]
    )
    auth_token = forms.CharField(
        label="Twilio auth token", widget=forms.PasswordInput, max_length=32, min_length=32
    )
    agent = forms.TypedChoiceField(
        label="Answering AI agent", required=False, coerce=uuid.UUID, empty_value=None
    )


class NumberEditForm(forms.Form):
    label = forms.CharField(max_length=80, required=False)
    twilio_account_sid = forms.CharField(
        label="Twilio account SID", max_length=34, validators=[ACCOUNT_SID]
    )
    auth_token = forms.CharField(
        label="New auth token (blank: keep the current one)",
        widget=forms.PasswordInput,
        max_length=32,
        min_length=32,
        required=False,
    )


def _agent_choices() -> list[tuple[str, str]]:
    return [("", "— none: callers hear that the line is not configured —")] + [
        (str(a.id), f"{a.name} (v{a.version})") for a in agent_list()
    ]


def webhook_urls() -> dict[str, str]:
    """What to paste into the Twilio console for each number (the public base URL)."""
    base = settings.PUBLIC_BASE_URL
    return {"voice": base + reverse("twilio-voice"), "status": base + reverse("twilio-status")}


def _page(
    request: HttpRequest, form: NumberForm, status: int = 200, *, warning: str = ""
) -> HttpResponse:
    context = {
        "numbers": numbers.number_list(),
        "form": form,
        "agents": list(agent_list()),
        "webhooks": webhook_urls(),
        "jurisdiction_warning": warning,
    }
    return render(request, "console/numbers.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def number_page(request: HttpRequest) -> HttpResponse:
    require(request.membership, Perm.MANAGE_NUMBERS)  # type: ignore[attr-defined]
    form = NumberForm(request.POST or None)
    form.fields["agent"].choices = _agent_choices()  # type: ignore[attr-defined]
    if request.method == "GET":
        return _page(request, form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            numbers.number_create(
                actor=request.membership,  # type: ignore[attr-defined]
                e164=data["e164"],
                label=data["label"],
                twilio_account_sid=data["twilio_account_sid"],
                auth_token=data["auth_token"],
                agent_id=data["agent"],
                confirm_jurisdiction=request.POST.get("confirm_jurisdiction") == "yes",
            )
        except numbers.NeedsConfirmation as exc:
            # The token is not sent back to the browser: the admin types it again.
            return _page(request, form, status=409, warning=" ".join(exc.messages))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Added {data['e164']}.")
            return redirect("console:numbers")
    return _page(request, form, status=400)


@login_required
@require_POST
def number_edit(request: HttpRequest, number_id: uuid.UUID) -> HttpResponse:
    require(request.membership, Perm.MANAGE_NUMBERS)  # type: ignore[attr-defined]
    numbers.number_get(number_id=number_id)  # 404 alike for missing and another tenant's
    form = NumberEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("console:numbers")
    try:
        number = numbers.number_update(
            actor=request.membership,  # type: ignore[attr-defined]
            number_id=number_id,
            **form.cleaned_data,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Saved {number.e164}.")
    return redirect("console:numbers")


@login_required
@require_POST
def number_remove(request: HttpRequest, number_id: uuid.UUID) -> HttpResponse:
    require(request.membership, Perm.MANAGE_NUMBERS)  # type: ignore[attr-defined]
    numbers.number_get(number_id=number_id)  # 404 alike for missing and another tenant's
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm the removal.")
        return redirect("console:numbers")
    try:
        e164 = numbers.number_remove(
            actor=request.membership,  # type: ignore[attr-defined]
            number_id=number_id,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Removed {e164}. Calls to it are no longer answered.")
    return redirect("console:numbers")


@login_required
@require_POST
def number_agent(request: HttpRequest, number_id: uuid.UUID) -> HttpResponse:
    raw = request.POST.get("agent", "")
    try:
        agent_id = uuid.UUID(raw) if raw else None
        number = numbers.number_attach_agent(
            actor=request.membership,  # type: ignore[attr-defined]
            number_id=number_id,
            agent_id=agent_id,
        )
    except (ValueError, ValidationError) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else "Choose an agent."
        messages.error(request, text)
    else:
        messages.success(
            request,
            f"{number.e164} is now answered by the chosen agent."
            if number.agent_id
            else f"{number.e164} has no agent now.",
        )
    return redirect("console:numbers")
