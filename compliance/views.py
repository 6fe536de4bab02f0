"""Compliance console views: parse input, call one service or selector."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callseal.tenancy.context import current_tenant
from callseal.tenancy.permissions import Perm, require, role_allows
from compliance.erasure import erasure_preview, erasure_request_create, erasure_requests_list
from compliance.forms import (
    ConsentPolicyForm,
    ErasureForm,
    ErasurePreviewForm,
    HoldReleaseForm,
    LegalHoldForm,
    RetentionPolicyForm,
)
from compliance.holds import legal_hold_place, legal_hold_release, legal_holds_list
from compliance.models import ErasureStatus, HoldScope
from compliance.policies import (
    consent_announcement_base,
    consent_announcement_versions,
    consent_policy_update,
    retention_policy_update,
    tenant_policies_get,
)


def _membership(request: HttpRequest) -> Any:
    membership = getattr(request, "membership", None)
    require(membership, Perm.VIEW_COMPLIANCE)
    return membership


def _can(request: HttpRequest, perm: Perm) -> bool:
    return role_allows(getattr(request.membership, "role", ""), perm)  # type: ignore[attr-defined]


def _failed(form: Form, exc: ValidationError) -> None:
    form.add_error(None, exc)


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    require(request.membership, Perm.VIEW_COMPLIANCE)  # type: ignore[attr-defined]
    return render(request, "compliance/overview.html")


@login_required
@require_http_methods(["GET", "POST"])
def consent_policy(request: HttpRequest) -> HttpResponse:
    actor = _membership(request)
    policies = tenant_policies_get(actor=actor)
    initial = {**policies, "consent_announcement": consent_announcement_base(policies)}
    form = ConsentPolicyForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                consent_policy_update(
                    actor=actor,
                    consent_mode=form.cleaned_data["consent_mode"],
                    announcement=form.cleaned_data["consent_announcement"],
                )
            except ValidationError as exc:
                _failed(form, exc)
            else:
                messages.success(request, "Consent policy saved.")
                return redirect("compliance:consent")
        status = 400
    context = {
        "form": form,
        "policies": policies,
        "announcement": consent_announcement_base(policies),
        "announcement_versions": consent_announcement_versions(policies),
        "explicit_region": current_tenant().region in settings.CALLSEAL_EXPLICIT_CONSENT_REGIONS,
        "can_edit": _can(request, Perm.MANAGE_COMPLIANCE),
    }
    return render(request, "compliance/consent.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def retention_policy(request: HttpRequest) -> HttpResponse:
    actor = _membership(request)
    policies = tenant_policies_get(actor=actor)
    form = RetentionPolicyForm(request.POST or None, initial=policies["retention_days"])
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                retention_policy_update(actor=actor, retention_days=form.retention_days())
            except ValidationError as exc:
                _failed(form, exc)
            else:
                messages.success(request, "Retention policy saved.")
                return redirect("compliance:retention")
        status = 400
    context = {"form": form, "can_edit": _can(request, Perm.MANAGE_COMPLIANCE)}
    return render(request, "compliance/retention.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def legal_holds(request: HttpRequest) -> HttpResponse:
    actor = _membership(request)
    # "Place hold" on a call page links here with the call's SID filled in.
    preset = request.GET.get("call", "")[:64]
    initial = {"scope": HoldScope.CALL, "call": preset} if preset else None
    form = LegalHoldForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                legal_hold_place(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                _failed(form, exc)
            else:
                messages.success(request, "Legal hold placed.")
                return redirect("compliance:holds")
        status = 400
    context = {
        "form": form,
        "release_form": HoldReleaseForm(),
        "holds": legal_holds_list(actor=actor),
        "can_edit": _can(request, Perm.MANAGE_COMPLIANCE),
    }
    return render(request, "compliance/holds.html", context, status=status)


@login_required
@require_POST
def legal_hold_release_view(request: HttpRequest, hold_id: uuid.UUID) -> HttpResponse:
    actor = _membership(request)
    form = HoldReleaseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        legal_hold_release(actor=actor, hold_id=hold_id, reason=reason)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Legal hold released.")
    return redirect("compliance:holds")


@login_required
@require_http_methods(["GET", "POST"])
def erasure_requests(request: HttpRequest) -> HttpResponse:
    """GET lists requests; POST ``action=preview`` shows what an erasure would touch and
    what blocks it; POST with ``confirm`` erases (the service checks the holds again)."""
    actor = _membership(request)
    preview = None
    form: Form = ErasurePreviewForm()
    status = 200
    confirming = request.method == "POST" and request.POST.get("action") != "preview"
    if confirming:
        form = ErasureForm(request.POST)
        if form.is_valid():
            try:
                done = erasure_request_create(
                    actor=actor, phone_number=form.cleaned_data["phone_number"]
                )
            except ValidationError as exc:
                _failed(form, exc)
            else:
                if done.status == ErasureStatus.COMPLETED:
                    messages.success(request, done.message)
                else:
                    messages.error(request, done.message)
                return redirect("compliance:erasure")
        status = 400
    elif request.method == "POST":
        form = ErasurePreviewForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                preview = erasure_preview(
                    actor=actor, phone_number=form.cleaned_data["phone_number"]
                )
            except ValidationError as exc:
                _failed(form, exc)
            else:
                status = 200
                form = ErasureForm(initial={"phone_number": form.cleaned_data["phone_number"]})
    context = {
        "form": form,
        "preview": preview,
        "confirming": confirming,
        "requests": erasure_requests_list(actor=actor),
        "can_erase": _can(request, Perm.ERASE_SUBJECT),
    }
    return render(request, "compliance/erasure.html", context, status=status)
