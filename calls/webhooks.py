"""Twilio's HTTP webhooks: the voice webhook answers with TwiML, the status callback
updates the call. Both are refused with a bare 403 unless signed with the token stored for
the number the request is about (AccountSid + our number)."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER
from twilio.twiml.voice_response import Connect, VoiceResponse

from calls import selectors, services
from calls.models import PhoneNumber
from calls.signatures import SIGNATURE_HEADER, signature_valid

log = logging.getLogger(__name__)
CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
UNKNOWN_NUMBER_MESSAGE = (
    "Sorry, this number is not in service. Please check the number and try again. Goodbye."
)
UNAVAILABLE_MESSAGE = "Sorry, we cannot continue this call right now. Goodbye."


def _twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml; charset=utf-8")


def _signed_number(request: HttpRequest) -> PhoneNumber | None:
    """The number this webhook is about, when its credentials verify the signature.

    The token is the one stored for (AccountSid, our number): ``To`` for inbound calls,
    ``From`` for calls we placed. Never any number of the account: a Twilio account belongs
    to one tenant (calls.accounts), and each number's token was proven with Twilio."""
    account_sid = request.POST.get("AccountSid", "")
    ours = request.POST.get("From" if _outbound(request) else "To", "")
    number = selectors.phone_number_for_call(account_sid=account_sid, to_number=ours)
    if number is None or not number.twilio_auth_token_sealed:
        return None
    valid = signature_valid(
        auth_token=services.phone_number_auth_token(number),
        url=request.build_absolute_uri(),
        params=request.POST,
        signature=request.headers.get(SIGNATURE_HEADER, ""),
        settings_header=request.headers.get(SIGNATURE_SETTINGS_HEADER, ""),
    )
    return number if valid else None


def _outbound(request: HttpRequest) -> bool:
    return request.POST.get("Direction", "").startswith("outbound")


def _hang_up(message: str) -> HttpResponse:
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return _twiml(response)


@csrf_exempt
@require_POST
def voice(request: HttpRequest) -> HttpResponse:
    account_sid = request.POST.get("AccountSid", "")
    to_number = request.POST.get("To", "")
    if selectors.phone_number_for_call(account_sid=account_sid, to_number=to_number) is None:
        # No tenant routes this number, so no token can check the request: a static
        # goodbye that changes nothing (Twilio's caller hears it; a forger learns nothing).
        log.info("call to an unknown number", extra={"to_tail": to_number[-4:]})
        return _hang_up(UNKNOWN_NUMBER_MESSAGE)
    number = _signed_number(request)
    if number is None:
        return HttpResponseForbidden()
    call_sid = request.POST.get("CallSid", "")
    redirect_secret = request.GET.get("resume", "")
    if not CALL_SID.match(call_sid) or len(redirect_secret) > 64:
        return HttpResponse(status=400)
    try:
        answer = services.call_answer(
            phone_number=number,
            call_sid=call_sid,
            from_number=request.POST.get("From", "")[:32],
            redirect_secret=redirect_secret,
        )
    except services.CallNotResumable as exc:
        log.info("voice webhook not answered", extra={"call_sid": call_sid, "why": exc.reason})
        if exc.reason == "completed":
            # The conversation was over (the agent said goodbye): no apology after it.
            response = VoiceResponse()
            response.hangup()
            return _twiml(response)
        return _hang_up(UNAVAILABLE_MESSAGE)
    stream_url = request.build_absolute_uri(
        reverse("media-stream-nonce", kwargs={"nonce": answer.path_nonce})
    )
    stream_url = (
        "wss" + stream_url.removeprefix("https")
        if request.is_secure()
        else ("ws" + stream_url.removeprefix("http"))
    )
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    stream.parameter(name="token", value=answer.token)
    response.append(connect)
    # When the stream ends without the call ending (a worker died), Twilio moves on to this
    # verb and asks us again: the call resumes on a new stream. Its one-time secret is the
    # only way to get that stream's token.
    redirect = request.build_absolute_uri(reverse("twilio-voice"))
    response.redirect(f"{redirect}?{urlencode({'resume': answer.redirect_secret})}", method="POST")
    return _twiml(response)


@csrf_exempt
@require_POST
def status(request: HttpRequest) -> HttpResponse:
    number = _signed_number(request)
    if number is None:
        return HttpResponseForbidden()
    call_sid = request.POST.get("CallSid", "")
    twilio_status = request.POST.get("CallStatus", "")
    raw_sequence = request.POST.get("SequenceNumber", "0")
    if (
        not CALL_SID.match(call_sid)
        or twilio_status not in services.TWILIO_STATUS
        or not raw_sequence.isdigit()
        or len(raw_sequence) > 9
    ):
        return HttpResponse(status=400)
    outcome = services.call_status_record(
        phone_number=number,
        call_sid=call_sid,
        twilio_status=twilio_status,
        sequence=int(raw_sequence),
    )
    return HttpResponse(status=204, headers={"X-Callseal-Outcome": outcome})


def media_stream_over_http(request: HttpRequest, nonce: str = "") -> HttpResponse:
    """The media stream is a WebSocket; plain HTTP gets 426 Upgrade Required."""
    return HttpResponse(status=426, headers={"Upgrade": "websocket"})
