"""Issue 22, findings 1, 2 (webhook side) and 9: who may sign for a number, replayed
webhooks, and proxy headers."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.exceptions import ValidationError

from calls import numbers
from calls.credentials import seal_auth_token
from calls.models import Call, PhoneNumber, StreamToken, TwilioAccount
from calls.services import phone_number_configure
from callseal.asgi import application
from callseal.ledger.selectors import ledger_read_stream
from callseal.proxy import apply_forwarded
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from tests.calls.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    VOICE_URL,
    Line,
    post_signed,
    voice_params,
)
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership
from tests.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
ATTACKER_TOKEN = "a" * 32


def call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def twiml(response) -> ElementTree.Element:
    return ElementTree.fromstring(response.content)  # noqa: S314 - our own TwiML


def security_reasons(tenant) -> list[str]:
    with tenant_context(tenant):
        return [e.data["reason"] for e in ledger_read_stream(stream_id="security-media-streams")]


@pytest.fixture
def standin(settings):
    twilio = TwilioStandIn(
        {ACCOUNT_SID: AUTH_TOKEN, "AC" + "3" * 32: "c" * 32},
        numbers={ACCOUNT_SID: ["+14155550100"], "AC" + "3" * 32: ["+14155550177", "+4930555"]},
    )
    server, url = twilio.serve()
    settings.CALLSEAL_TWILIO_API_BASE_URL = url
    yield twilio
    server.shutdown()


# --- finding 1 ---------------------------------------------------------------------------
def test_finding1_another_tenants_account_sid_cannot_be_registered(line, acme_eu, standin):
    attacker = membership(user=UserFactory(), tenant=acme_eu, role=Role.ADMIN)
    with tenant_context(acme_eu), pytest.raises(ValidationError, match="another Callseal tenant"):
        numbers.number_create(
            actor=attacker,
            e164="+14155550111",
            label="mine",
            twilio_account_sid=ACCOUNT_SID,
            auth_token=ATTACKER_TOKEN,
            agent_id=None,
            confirm_jurisdiction=True,
        )
    # Not even Twilio is asked, and nothing changed for the victim.
    assert standin.requests == []
    assert not PhoneNumber.objects.filter(e164="+14155550111").exists()
    assert TwilioAccount.objects.get(account_sid=ACCOUNT_SID).tenant_id == line.number.tenant_id
    # The low-level configure path (seed data) is held to the same binding.
    eu_number = PhoneNumber.objects.create(tenant=acme_eu, e164="+493055510001")
    with pytest.raises(ValidationError):
        phone_number_configure(
            phone_number=eu_number, account_sid=ACCOUNT_SID, auth_token=ATTACKER_TOKEN
        )


def test_finding1_signatures_are_checked_with_the_called_numbers_token(client, acme_us, acme_eu):
    """Two numbers of one account with different tokens (rows from before the binding):
    each webhook is checked with its own number's token, never "any number of the account"
    (which sorted the attacker's +1… before the victim's +49…)."""
    victim = PhoneNumber.objects.create(tenant=acme_eu, e164="+493055510000")
    phone_number_configure(phone_number=victim, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    PhoneNumber.objects.create(
        tenant=acme_us,
        e164="+14155550100",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token_sealed=seal_auth_token(
            auth_token=ATTACKER_TOKEN, account_sid=ACCOUNT_SID
        ),
    )
    victim_line = Line(number=victim, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    forged_line = Line(number=victim, account_sid=ACCOUNT_SID, auth_token=ATTACKER_TOKEN)
    genuine = post_signed(client, victim_line, VOICE_URL, voice_params(victim_line, call_sid()))
    assert genuine.status_code == 200
    forged = post_signed(client, forged_line, VOICE_URL, voice_params(forged_line, call_sid()))
    assert forged.status_code == 403
    with tenant_context(acme_eu):
        assert Call.objects.filter(to_number=victim.e164).count() == 1
    with tenant_context(acme_us):
        assert not Call.objects.exists()


def test_finding1_credentials_are_proven_with_twilio_before_they_are_saved(acme_us, standin):
    admin = membership(user=UserFactory(), tenant=acme_us, role=Role.ADMIN)
    other = "AC" + "3" * 32

    def create(e164: str, token: str) -> PhoneNumber:
        with tenant_context(acme_us):
            return numbers.number_create(
                actor=admin,
                e164=e164,
                label="sales",
                twilio_account_sid=other,
                auth_token=token,
                agent_id=None,
            )

    with pytest.raises(ValidationError, match="did not accept this account SID"):
        create("+14155550177", "d" * 32)
    with pytest.raises(ValidationError, match=r"\+14155550178 is not a phone number of"):
        create("+14155550178", "c" * 32)
    assert not TwilioAccount.objects.filter(account_sid=other).exists()  # nothing held
    number = create("+14155550177", "c" * 32)
    assert [(r.method, r.path, r.params, r.errors) for r in standin.requests[-2:]] == [
        ("GET", f"/2010-04-01/Accounts/{other}.json", {}, []),
        (
            "GET",
            f"/2010-04-01/Accounts/{other}/IncomingPhoneNumbers.json",
            {"PhoneNumber": "+14155550177", "PageSize": "20"},
            [],
        ),
    ]
    assert TwilioAccount.objects.get(account_sid=other).tenant_id == acme_us.id
    with tenant_context(acme_us):
        events = ledger_read_stream(stream_id=f"phone-number-{number.id}")
    assert [(e.type, e.data.get("account_sid")) for e in events] == [
        ("phone_number.added", other),
        ("phone_number.credentials_changed", other),
    ]


def test_finding1_changing_credentials_is_an_event_and_is_proven_first(line, acme_us, standin):
    admin = membership(user=UserFactory(), tenant=acme_us, role=Role.ADMIN)
    with tenant_context(acme_us):
        with pytest.raises(ValidationError, match="did not accept"):
            numbers.number_update(
                actor=admin,
                number_id=line.number.id,
                label="main",
                twilio_account_sid=ACCOUNT_SID,
                auth_token="9" * 32,
            )
        numbers.number_update(
            actor=admin,
            number_id=line.number.id,
            label="front desk",
            twilio_account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
        )
        events = ledger_read_stream(stream_id=f"phone-number-{line.number.id}")
    assert [(e.type, e.metadata["actor"]) for e in events] == [
        ("phone_number.updated", f"user:{admin.user_id}"),
        ("phone_number.credentials_changed", f"user:{admin.user_id}"),
    ]
    assert events[0].data["changes"] == {"label": ["main", "front desk"]}
    assert events[1].data == {
        "phone_number_id": str(line.number.id),
        "e164": "+14155550100",
        "account_sid": ACCOUNT_SID,
        "previous_account_sid": ACCOUNT_SID,
    }


# --- finding 2, the webhook side --------------------------------------------------------
def test_finding2_a_replayed_voice_webhook_gets_no_stream_token(client, line, acme_us):
    sid = call_sid()
    params = voice_params(line, sid)
    first = post_signed(client, line, VOICE_URL, params)
    assert first.status_code == 200
    replay = post_signed(client, line, VOICE_URL, params)
    assert replay.status_code == 200
    assert [child.tag for child in twiml(replay)] == ["Say", "Hangup"]
    with tenant_context(acme_us):
        assert StreamToken.objects.filter(call_sid=sid).count() == 1
    assert security_reasons(acme_us) == ["already_answered"]


def test_finding2_each_redirect_gives_one_token_once(client, line, acme_us):
    sid = call_sid()
    first = twiml(post_signed(client, line, VOICE_URL, voice_params(line, sid)))
    redirect = first.find("Redirect").text
    params = voice_params(line, sid, CallStatus="in-progress")
    second = twiml(post_signed(client, line, redirect, params))
    assert [child.tag for child in second] == ["Connect", "Redirect"]
    replayed = twiml(post_signed(client, line, redirect, params))
    assert [child.tag for child in replayed] == ["Say", "Hangup"]
    guessed = VOICE_URL + "?" + urlencode({"resume": "x" * 32})
    assert [c.tag for c in twiml(post_signed(client, line, guessed, params))] == ["Say", "Hangup"]
    with tenant_context(acme_us):
        tokens = StreamToken.objects.filter(call_sid=sid).order_by("stream_index")
        assert [t.stream_index for t in tokens] == [1, 2]
    assert security_reasons(acme_us) == ["redirect_replayed", "redirect_unknown"]


# --- finding 9 ---------------------------------------------------------------------------
def asgi_post(path: str, params: dict[str, str], headers: dict[str, str], peer: str) -> int:
    body = urlencode(params).encode()
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"callseal.internal"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            *[(k.lower().encode(), v.encode()) for k, v in headers.items()],
        ],
        "client": (peer, 50000),
        "server": ("callseal.internal", 80),
    }

    async def run() -> int:
        comm = ApplicationCommunicator(application, scope)
        await comm.send_input({"type": "http.request", "body": body})
        start = await comm.receive_output(timeout=10)
        await comm.receive_output(timeout=10)
        return int(start["status"])

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)
def test_finding9_forwarded_proto_and_host_count_only_from_a_trusted_proxy(line, settings):
    settings.CALLSEAL_USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["calls.example.com", "callseal.internal"]
    settings.CALLSEAL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    params = voice_params(line, call_sid())
    public = "https://calls.example.com/twilio/voice"
    headers = {
        "X-Twilio-Signature": line.sign(public, params),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "calls.example.com",
    }
    assert asgi_post("/twilio/voice", params, headers, peer="203.0.113.7") == 403
    assert asgi_post("/twilio/voice", params, headers, peer="10.1.2.3") == 200


def test_finding9_client_address_and_scheme_only_from_trusted_proxies(settings):
    settings.CALLSEAL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    headers = [
        (b"host", b"calls.example.com"),
        (b"x-forwarded-for", b"198.51.100.9, 10.0.0.5"),
        (b"x-forwarded-proto", b"https"),
    ]
    for kind, scheme in (("http", "http"), ("websocket", "ws")):
        spoofed = apply_forwarded(
            {"type": kind, "scheme": scheme, "headers": headers, "client": ("203.0.113.7", 1)}
        )
        assert (spoofed["client"], spoofed["scheme"]) == (("203.0.113.7", 1), scheme)
        assert spoofed["headers"] == [(b"host", b"calls.example.com")]
        proxied = apply_forwarded(
            {"type": kind, "scheme": scheme, "headers": headers, "client": ("10.0.0.1", 1)}
        )
        assert proxied["client"] == ("198.51.100.9", 0)
        assert proxied["scheme"] == {"http": "https", "websocket": "wss"}[kind]
        assert proxied["headers"] == [(b"host", b"calls.example.com")]
