"""Call pages: list (filters, keyset pages), detail (timeline, transcript, recordings),
live view (streamed transcript; end or escalate), recording playback. Views parse input
and call one service or selector; permissions are checked in those."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from agents.selectors import agent_list
from analytics.selectors import call_voice_to_voice, summaries_for
from calls import listing, numbers, selectors, supervision
from calls.models import TERMINAL_STATUSES
from calls.timeline import call_record
from callseal.tenancy.context import tenant_context
from callseal.tenancy.permissions import Perm, require, role_allows
from compliance.call_data import call_data_state
from compliance.models import Recording, RecordingKind, RecordingStatus
from compliance.recording.grants import playback_grant_create, playback_grant_reason
from compliance.recording.services import RecordingUnavailable, recording_open_for_playback


def _membership(request: HttpRequest) -> Any:
    return request.membership  # type: ignore[attr-defined]


@login_required
@require_GET
def call_list(request: HttpRequest) -> HttpResponse:
    require(_membership(request), Perm.VIEW_CALLS)
    agents = list(agent_list())
    form = listing.CallFilterForm(
        request.GET or None,
        agents=[(str(a.id), a.name) for a in agents],
        numbers=[n.e164 for n in numbers.number_list()],
    )
    page = listing.CallPage(calls=[], next_cursor=None)
    status = 200
    if not request.GET:
        page = listing.call_page()
    elif form.is_valid():
        page = listing.call_page(**form.cleaned_data)
    else:
        status = 400
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "page": page,
        "agent_names": {a.id: a.name for a in agents},
        "next_query": f"{query.urlencode()}&after={page.next_cursor}".lstrip("&")
        if page.next_cursor
        else "",
        "first_page": bool(request.GET.get("after")),
        "base_query": query.urlencode(),
    }
    return render(request, "calls/list.html", context, status=status)


def _recordings(request: HttpRequest, call_id: uuid.UUID) -> list[Recording]:
    """Finished recordings the viewer may play: the audio-redacted copy; the original only
    for roles allowed to hear it."""
    membership = _membership(request)
    if not role_allows(membership.role, Perm.PLAY_RECORDING):
        return []
    rows = Recording.objects.filter(
        tenant_id=request.tenant.id,  # type: ignore[attr-defined]
        call_id=call_id,
        status=RecordingStatus.FINISHED,
    ).order_by("kind", "started_at")
    originals = role_allows(membership.role, Perm.PLAY_ORIGINAL_RECORDING)
    # Redacted copies first: the default choice.
    redacted = [r for r in rows if r.kind != RecordingKind.ORIGINAL]
    return redacted + ([r for r in rows if r.kind == RecordingKind.ORIGINAL] if originals else [])


@login_required
@require_GET
def call_detail(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    require(_membership(request), Perm.VIEW_CALLS)
    call = selectors.call_get(call_id=call_id)
    data = call_data_state(call=call)
    context = {
        "call": call,
        "summary": summaries_for([call.id]).get(call.id),
        "v2v": call_voice_to_voice(call_id=call.id),
        "record": call_record(call_id=call.id, withheld=data.withheld),
        "data": data,
        "recordings": _recordings(request, call.id),
        "live": call.status not in TERMINAL_STATUSES,
        "can_hold": role_allows(_membership(request).role, Perm.MANAGE_COMPLIANCE),
    }
    return render(request, "calls/detail.html", context)


@login_required
@require_GET
def call_live(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    require(_membership(request), Perm.VIEW_CALLS)
    call = selectors.call_get(call_id=call_id)
    context = {
        "call": call,
        "record": call_record(call_id=call.id, withheld=call_data_state(call=call).withheld),
        "live": call.status not in TERMINAL_STATUSES,
        "can_control": role_allows(_membership(request).role, Perm.CONTROL_CALLS),
    }
    return render(request, "calls/live.html", context)


@login_required
@require_POST
def call_end(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    try:
        supervision.call_supervisor_end(
            actor=_membership(request), call_id=call_id, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, "Could not end the call: " + " ".join(exc.messages))
    else:
        messages.success(request, "Twilio is ending the call.")
    return redirect("calls:live", call_id=call_id)


@login_required
@require_POST
def call_escalate(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    try:
        supervision.call_supervisor_escalate(
            actor=_membership(request),
            call_id=call_id,
            reason=request.POST.get("reason", ""),
            queue=request.POST.get("queue", "support"),
        )
    except ValidationError as exc:
        messages.error(request, "Could not escalate the call: " + " ".join(exc.messages))
    else:
        messages.success(request, "The call is moving to the human agents' queue.")
    return redirect("calls:live", call_id=call_id)


@login_required
@require_POST
def recording_grant(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    """Check the reason (POST body) and the choice, then answer an <audio> element whose
    source names a short-lived grant of this user; the access is recorded when it is fetched.
    The reason stays on the server: URLs end up in access logs and browser history."""
    membership = _membership(request)
    require(membership, Perm.PLAY_RECORDING)
    selectors.call_get(call_id=call_id)  # 404 for another tenant's call
    allowed = {str(r.id): r for r in _recordings(request, call_id)}
    chosen = allowed.get(request.POST.get("recording", ""))
    if chosen is None:
        # 200: htmx swaps only successful answers into the page, and the error must show.
        error = "Choose one of this call's recordings."
        return render(request, "calls/_player.html", {"error": error})
    try:
        grant = playback_grant_create(
            actor_membership=membership,
            recording_id=chosen.id,
            reason=request.POST.get("reason", ""),
        )
    except ValidationError:
        error = "Give a reason for listening (1-200 characters); it is recorded."
        return render(request, "calls/_player.html", {"error": error})
    url = recording_url(call_id=call_id, recording_id=chosen.id, grant_id=grant.id)
    return render(request, "calls/_player.html", {"url": url, "recording": chosen})


def recording_url(*, call_id: uuid.UUID, recording_id: uuid.UUID, grant_id: uuid.UUID) -> str:
    """The audio link of a playback grant: its random id only, never the reason."""
    return reverse("calls:recording_audio", args=[call_id, recording_id]) + f"?grant={grant_id}"


@login_required
@require_GET
def recording_audio(
    request: HttpRequest, call_id: uuid.UUID, recording_id: uuid.UUID
) -> HttpResponse | StreamingHttpResponse:
    """Decrypt and stream the recording (WAV); ``recording.accessed`` records the grant's
    reason. Only the user the grant was made for, in its tenant, within its lifetime."""
    selectors.call_get(call_id=call_id)  # 404 for another tenant's call
    membership = _membership(request)
    reason = playback_grant_reason(
        actor_membership=membership,
        grant_id=request.GET.get("grant", ""),
        recording_id=recording_id,
    )
    try:
        playback = recording_open_for_playback(
            actor_membership=membership, recording_id=recording_id, reason=reason
        )
    except RecordingUnavailable as exc:
        return HttpResponse(str(exc), status=410)
    response = StreamingHttpResponse(
        _in_tenant(request.tenant, playback.chunks),  # type: ignore[attr-defined]
        content_type=playback.content_type,
    )
    response["Content-Length"] = str(playback.content_length)
    response["Cache-Control"] = "no-store"
    response["Content-Disposition"] = f'inline; filename="{playback.filename}"'
    return response


def _in_tenant(tenant: Any, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The body is produced after the view returns, outside the middleware's tenant context;
    decryption reads the tenant's keys, so the context goes with the iterator."""
    with tenant_context(tenant):
        yield from chunks
