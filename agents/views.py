"""AI agent pages: list, create, edit with version history. Logic lives in agents.services."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from agents import selectors, services
from agents.catalog import region_offer
from agents.forms import AgentForm
from agents.spec import AgentSpecError
from callseal.ledger.store import ConcurrencyError
from callseal.tenancy.context import current_tenant
from callseal.tenancy.permissions import Perm, require, role_allows


def _apply_spec_errors(form: AgentForm, exc: AgentSpecError) -> None:
    for field, problems in exc.errors.items():
        target = field if field in form.fields else None
        for problem in problems:
            form.add_error(target, problem if target else f"{field}: {problem}")


@login_required
@require_GET
def agent_list(request: HttpRequest) -> HttpResponse:
    require(request.membership, Perm.VIEW_AGENTS)  # type: ignore[attr-defined]
    can_manage = role_allows(request.membership.role, Perm.MANAGE_AGENTS)  # type: ignore[attr-defined]
    return render(
        request, "agents/list.html", {"agents": selectors.agent_list(), "can_manage": can_manage}
    )


@login_required
@require_http_methods(["GET", "POST"])
def agent_create(request: HttpRequest) -> HttpResponse:
    require(request.membership, Perm.MANAGE_AGENTS)  # type: ignore[attr-defined]
    form = AgentForm(
        request.POST or None,
        initial={"tools": ["escalate_to_human", "end_call", "lookup"]},
        offer=region_offer(current_tenant().region),
    )
    if request.method == "POST" and form.is_valid():
        try:
            agent = services.agent_create(actor=request.membership, spec=form.spec())  # type: ignore[attr-defined]
        except AgentSpecError as exc:
            _apply_spec_errors(form, exc)
        else:
            messages.success(request, f"Created {agent.name} (version 1).")
            return redirect("agents:detail", agent_id=agent.id)
    status = 400 if request.method == "POST" else 200
    return render(request, "agents/form.html", {"form": form, "agent": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def agent_detail(request: HttpRequest, agent_id: uuid.UUID) -> HttpResponse:
    require(request.membership, Perm.VIEW_AGENTS)  # type: ignore[attr-defined]
    agent = selectors.agent_get(agent_id=agent_id)
    can_manage = role_allows(request.membership.role, Perm.MANAGE_AGENTS)  # type: ignore[attr-defined]
    form = AgentForm(
        request.POST or None,
        initial=AgentForm.initial_from(agent.spec, agent.version),
        offer=region_offer(current_tenant().region),
    )
    status = 200
    if request.method == "POST":
        require(request.membership, Perm.MANAGE_AGENTS)  # type: ignore[attr-defined]
        status = 400
        if form.is_valid():
            expected = form.cleaned_data["version"]
            try:
                updated = services.agent_update(
                    actor=request.membership,  # type: ignore[attr-defined]
                    agent_id=agent.id,
                    spec=form.spec(),
                    expected_version=agent.version if expected is None else expected,
                )
            except AgentSpecError as exc:
                _apply_spec_errors(form, exc)
            except ConcurrencyError:
                form.add_error(
                    None,
                    "Someone else saved this agent meanwhile; reload to see "
                    "their version before saving yours.",
                )
                status = 409
            else:
                messages.success(request, f"Saved {updated.name} as version {updated.version}.")
                return redirect("agents:detail", agent_id=agent.id)
    context = {
        "form": form,
        "agent": agent,
        "can_manage": can_manage,
        "versions": selectors.agent_versions(agent_id=agent.id),
    }
    return render(request, "agents/form.html", context, status=status)
