"""Phone numbers page: list, add, choose the answering AI agent."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
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


def _agent_choices() -> list[tuple[str, str]]:
    return [("", "— none: callers hear that the line is not configured —")] + [
        (str(a.id), f"{a.name} (v{a.version})") for a in agent_list()
    ]


def _page(request: HttpRequest, form: NumberForm, status: int = 200) -> HttpResponse:
    context = {
        "numbers": numbers.number_list(),
        "form": form,
        "agents": list(agent_list()),
        "agent_names": {a.id: a.name for a in agent_list()},
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
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Added {data['e164']}.")
            return redirect("console:numbers")
    return _page(request, form, status=400)


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
