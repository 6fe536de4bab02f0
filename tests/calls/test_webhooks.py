from __future__ import annotations

import uuid
from xml.etree import ElementTree

import pytest

from calls.models import Call, CallStatus, StreamToken
from callseal.tenancy.context import tenant_context
from tests.calls.conftest import STATUS_URL, VOICE_URL, post_signed, voice_params
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def twiml(response) -> ElementTree.Element:
    assert response["Content-Type"].startswith("text/xml")
    return ElementTree.fromstring(response.content)  # noqa: S314 - our own TwiML


def test_signed_voice_webhook_answers_with_a_stream_and_a_redirect(client, line, acme_us):
    sid = call_sid()
    response = post_signed(client, line, VOICE_URL, voice_params(line, sid))
    assert response.status_code == 200
    root = twiml(response)
    assert [child.tag for child in root] == ["Connect", "Redirect"]
    stream = root.find("Connect/Stream")
    with tenant_context(acme_us):
        call = Call.objects.get(twilio_call_sid=sid)
        token = StreamToken.objects.get(call_sid=sid)
    assert len(token.path_nonce) == 32
    assert stream.get("url") == f"ws://testserver/media-stream/{token.path_nonce}/"
    (parameter,) = stream.findall("Parameter")
    assert parameter.get("name") == "token"
    assert root.find("Redirect").text.startswith(VOICE_URL + "?resume=")
    assert (call.status, call.from_masked, call.to_number) == (
        CallStatus.RINGING,
        "**********76",
        "+14155550100",
    )
    # Only the hash is stored, never the token.
    assert parameter.get("value").split(".")[1] not in token.token_hash
    assert len(token.token_hash) == 64


def test_unsigned_and_wrongly_signed_webhooks_get_a_bare_403(client, line):
    params = voice_params(line, call_sid())
    unsigned = client.post("/twilio/voice", params)
    wrong = client.post("/twilio/voice", params, HTTP_X_TWILIO_SIGNATURE=line.sign(VOICE_URL, {}))
    tampered = dict(params, From="+15555550000")
    replayed = client.post(
        "/twilio/voice", tampered, HTTP_X_TWILIO_SIGNATURE=line.sign(VOICE_URL, params)
    )
    for response in (unsigned, wrong, replayed):
        assert response.status_code == 403
        assert response.content == b""
    assert Call.objects.using("region_us").count() == 0


def test_another_accounts_token_does_not_sign_for_this_account(client, line, eu_line):
    params = voice_params(line, call_sid())
    response = client.post(
        "/twilio/voice", params, HTTP_X_TWILIO_SIGNATURE=eu_line.sign(VOICE_URL, params)
    )
    assert response.status_code == 403


def test_unknown_number_gets_a_polite_goodbye(client, line):
    params = voice_params(line, call_sid(), To="+14155550199")
    response = post_signed(client, line, VOICE_URL, params)
    assert response.status_code == 200
    root = twiml(response)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "not in service" in root.find("Say").text


def test_redirect_after_a_dropped_stream_issues_a_new_token_for_the_same_call(
    client, line, acme_us
):
    sid = call_sid()
    first = twiml(post_signed(client, line, VOICE_URL, voice_params(line, sid)))
    redirect = first.find("Redirect").text
    second = twiml(
        post_signed(client, line, redirect, voice_params(line, sid, CallStatus="in-progress"))
    )
    tokens = [r.find("Connect/Stream/Parameter").get("value") for r in (first, second)]
    assert tokens[0] != tokens[1]
    with tenant_context(acme_us):
        assert Call.objects.filter(twilio_call_sid=sid).count() == 1
        assert StreamToken.objects.filter(call_sid=sid).count() == 2


def test_status_callbacks_are_idempotent_and_end_the_call(client, line, acme_us):
    sid = call_sid()
    answered = twiml(post_signed(client, line, VOICE_URL, voice_params(line, sid)))

    def status(value: str, seq: int):
        params = voice_params(line, sid, CallStatus=value, SequenceNumber=str(seq))
        return post_signed(client, line, STATUS_URL, params)

    assert status("in-progress", 1)["X-Callseal-Outcome"] == "applied"
    assert status("in-progress", 1)["X-Callseal-Outcome"] == "duplicate"
    assert status("completed", 3)["X-Callseal-Outcome"] == "applied"
    assert status("completed", 3)["X-Callseal-Outcome"] == "duplicate"
    # A late, reordered callback does not reopen the call.
    assert status("ringing", 2)["X-Callseal-Outcome"] == "duplicate"
    with tenant_context(acme_us):
        call = Call.objects.get(twilio_call_sid=sid)
    assert call.status == CallStatus.COMPLETED
    assert call.ended_at is not None
    # An ended call is not resumed: the redirect is answered with a hang-up (a completed
    # call's conversation is over: no apology first).
    redirect = answered.find("Redirect").text
    root = twiml(post_signed(client, line, redirect, voice_params(line, sid)))
    assert [child.tag for child in root] == ["Hangup"]


def test_status_callback_rejects_unsigned_and_malformed_input(client, line):
    params = voice_params(line, call_sid(), CallStatus="completed", SequenceNumber="1")
    assert client.post("/twilio/status", params).status_code == 403
    bad = dict(params, CallStatus="exploded")
    assert post_signed(client, line, STATUS_URL, bad).status_code == 400


def test_get_is_not_allowed(client):
    assert client.get("/twilio/voice").status_code == 405
