"""Twilio's HTTP webhooks: the voice webhook answers with TwiML, the status callback
updates the call. Both are refused with a bare 403 unless signed by the account's token."""

from __future__ import annotations

import logging
import re

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


def _signed_account_number(request: HttpRequest) -> PhoneNumber | None:
    """The account's number whose auth token verifies the signature, else None."""
    number = selectors.phone_number_for_account(account_sid=request.POST.get("AccountSid", ""))
    if number is None:
        return None
    valid = signature_valid(
        auth_token=services.phone_number_auth_token(number),
        url=request.build_absolute_uri(),
        params=request.POST,
        signature=request.headers.get(SIGNATURE_HEADER, ""),
        settings_header=request.headers.get(SIGNATURE_SETTINGS_HEADER, ""),
    )
    return number if valid else None


def _hang_up(message: str) -> HttpResponse:
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return _twiml(response)


@csrf_exempt
@require_POST
def voice(request: HttpRequest) -> HttpResponse:
    account_number = _signed_account_number(request)
    if account_number is None:
        return HttpResponseForbidden()
    account_sid = request.POST["AccountSid"]
    call_sid = request.POST.get("CallSid", "")
    to_number = request.POST.get("To", "")
    if not CALL_SID.match(call_sid):
        return HttpResponse(status=400)
    number = selectors.phone_number_for_call(account_sid=account_sid, to_number=to_number)
    if number is None:
        services.call_reject_unknown_number(
            account_number=account_number, call_sid=call_sid, to_number=to_number
        )
        return _hang_up(UNKNOWN_NUMBER_MESSAGE)
    try:
        answer = services.call_answer(
            phone_number=number, call_sid=call_sid, from_number=request.POST.get("From", "")[:32]
        )
    except services.CallNotResumable as exc:
        log.info("redirect of an unresumable call", extra={"call_sid": call_sid, "why": exc.reason})
        if exc.reason == "completed":
            # The conversation was over (the agent said goodbye): no apology after it.
            response = VoiceResponse()
            response.hangup()
            return _twiml(response)
        return _hang_up(UNAVAILABLE_MESSAGE)
    stream_url = request.build_absolute_uri(reverse("media-stream"))
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
    # When the stream drops (a worker died), Twilio moves on to this verb and asks us again:
    # the call resumes on a new stream instead of ending.
    response.redirect(request.build_absolute_uri(reverse("twilio-voice")), method="POST")
    return _twiml(response)


@csrf_exempt
@require_POST
def status(request: HttpRequest) -> HttpResponse:
    if _signed_account_number(request) is None:
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
    number = selectors.phone_number_for_call(
        account_sid=request.POST["AccountSid"], to_number=request.POST.get("To", "")
    )
    if number is None:
        return HttpResponse(status=204)
    outcome = services.call_status_record(
        phone_number=number,
        call_sid=call_sid,
        twilio_status=twilio_status,
        sequence=int(raw_sequence),
    )
    return HttpResponse(status=204, headers={"X-Callseal-Outcome": outcome})


def media_stream_over_http(request: HttpRequest) -> HttpResponse:
    """The media stream is a WebSocket; plain HTTP gets 426 Upgrade Required."""
    return HttpResponse(status=426, headers={"Upgrade": "websocket"})
