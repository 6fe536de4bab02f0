"""Call pages: list (filters, keyset pages), detail (timeline, transcript, recordings),
live view (streamed transcript; end or escalate), recording playback. Views parse input
and call one service or selector; permissions are checked in those."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
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
from compliance.models import Recording, RecordingKind, RecordingStatus
from compliance.recording.services import RecordingUnavailable, recording_open_for_playback

GRANT_SALT = "callseal.calls.recording-grant"
GRANT_MAX_AGE_S = 600


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
    context = {
        "call": call,
        "summary": summaries_for([call.id]).get(call.id),
        "v2v": call_voice_to_voice(call_id=call.id),
        "record": call_record(call_id=call.id),
        "recordings": _recordings(request, call.id),
        "live": call.status not in TERMINAL_STATUSES,
    }
    return render(request, "calls/detail.html", context)


@login_required
@require_GET
def call_live(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    require(_membership(request), Perm.VIEW_CALLS)
    call = selectors.call_get(call_id=call_id)
    context = {
        "call": call,
        "record": call_record(call_id=call.id),
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
    """Check the reason and the choice, then answer an <audio> element whose source is a
    signed, short-lived link for this user; the access is recorded when it is fetched."""
    membership = _membership(request)
    require(membership, Perm.PLAY_RECORDING)
    selectors.call_get(call_id=call_id)  # 404 for another tenant's call
    allowed = {str(r.id): r for r in _recordings(request, call_id)}
    reason = request.POST.get("reason", "").strip()
    chosen = allowed.get(request.POST.get("recording", ""))
    error = ""
    if chosen is None:
        error = "Choose one of this call's recordings."
    elif not reason or len(reason) > 200:
        error = "Give a reason for listening (1-200 characters); it is recorded."
    if error:
        # 200: htmx swaps only successful answers into the page, and the error must show.
        return render(request, "calls/_player.html", {"error": error})
    assert chosen is not None
    url = recording_url(
        call_id=call_id,
        recording_id=chosen.id,
        tenant_id=request.tenant.id,  # type: ignore[attr-defined]
        reason=reason,
    )
    return render(request, "calls/_player.html", {"url": url, "recording": chosen})


def recording_url(
    *, call_id: uuid.UUID, recording_id: uuid.UUID, tenant_id: uuid.UUID, reason: str
) -> str:
    """A signed, short-lived link carrying the reason given; whoever fetches it must still
    hold PLAY_RECORDING (and PLAY_ORIGINAL_RECORDING for an original) in that tenant, and
    the access is recorded under their own name."""
    grant = signing.dumps(
        {"r": str(recording_id), "t": str(tenant_id), "why": reason}, salt=GRANT_SALT
    )
    return reverse("calls:recording_audio", args=[call_id, recording_id]) + f"?grant={grant}"


@login_required
@require_GET
def recording_audio(
    request: HttpRequest, call_id: uuid.UUID, recording_id: uuid.UUID
) -> HttpResponse | StreamingHttpResponse:
    """Decrypt and stream the recording (WAV); ``recording.accessed`` records the reason."""
    selectors.call_get(call_id=call_id)  # 404 for another tenant's call
    try:
        grant = signing.loads(
            request.GET.get("grant", ""), salt=GRANT_SALT, max_age=GRANT_MAX_AGE_S
        )
    except signing.BadSignature:
        raise PermissionDenied("This playback link is invalid or expired.") from None
    if grant.get("r") != str(recording_id) or grant.get("t") != str(request.tenant.id):  # type: ignore[attr-defined]
        raise PermissionDenied("This playback link is for another recording.")
    try:
        playback = recording_open_for_playback(
            actor_membership=_membership(request), recording_id=recording_id, reason=grant["why"]
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
