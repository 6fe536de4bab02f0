"""The "Test call" button of an agent's page and the page that follows the run."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from agents.selectors import agent_get
from analytics.agent_test_calls import agent_test_call_start, agent_test_call_view
from calls.timeline import call_record
from callseal.tenancy.permissions import Perm, require


@login_required
@require_POST
def test_call_create(request: HttpRequest, agent_id: uuid.UUID) -> HttpResponse:
    try:
        run = agent_test_call_start(
            actor=request.membership,  # type: ignore[attr-defined]
            agent_id=agent_id,
            base_url=request.build_absolute_uri("/"),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("agents:detail", agent_id=agent_id)
    return redirect("console:test_call", agent_id=agent_id, test_call_id=run.id)


def _context(request: HttpRequest, agent_id: uuid.UUID, test_call_id: uuid.UUID) -> dict[str, Any]:
    require(request.membership, Perm.VIEW_AGENTS)  # type: ignore[attr-defined]
    view = agent_test_call_view(test_call_id=test_call_id)
    if view.run.agent_id != agent_id:
        raise Http404("no such test call of this agent")
    return {
        "view": view,
        "run": view.run,
        "agent": agent_get(agent_id=view.run.agent_id),
        "call": view.call,
        "record": call_record(call_id=view.call.id) if view.call is not None else None,
        "v2v": view.v2v,
        "done": view.done,
        "pipeline": settings.CALLSEAL_CALL_PIPELINE,
        "echo": settings.CALLSEAL_CALL_PIPELINE.endswith(".EchoPipeline"),
    }


@login_required
@require_GET
def test_call_page(
    request: HttpRequest, agent_id: uuid.UUID, test_call_id: uuid.UUID
) -> HttpResponse:
    return render(request, "console/test_call.html", _context(request, agent_id, test_call_id))


@login_required
@require_GET
def test_call_status(
    request: HttpRequest, agent_id: uuid.UUID, test_call_id: uuid.UUID
) -> HttpResponse:
    return render(request, "console/_test_call.html", _context(request, agent_id, test_call_id))
