from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from twilio.request_validator import RequestValidator

from calls.models import PhoneNumber
from calls.services import phone_number_configure

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "f" * 32
OTHER_ACCOUNT_SID = "AC" + "2" * 32
OTHER_AUTH_TOKEN = "e" * 32
VOICE_URL = "http://testserver/twilio/voice"
STATUS_URL = "http://testserver/twilio/status"
STREAM_URL = "ws://testserver/media-stream/"


@dataclass
class Line:
    number: PhoneNumber
    account_sid: str
    auth_token: str

    def sign(self, url: str, params: dict[str, str] | None = None) -> str:
        return RequestValidator(self.auth_token).compute_signature(url, params or {})


@pytest.fixture
def line(acme_us) -> Line:
    number = PhoneNumber.objects.create(tenant=acme_us, e164="+14155550100", label="main")
    phone_number_configure(phone_number=number, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    return Line(number=number, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)


@pytest.fixture
def eu_line(acme_eu) -> Line:
    number = PhoneNumber.objects.create(tenant=acme_eu, e164="+493055510000", label="eu")
    phone_number_configure(
        phone_number=number, account_sid=OTHER_ACCOUNT_SID, auth_token=OTHER_AUTH_TOKEN
    )
    return Line(number=number, account_sid=OTHER_ACCOUNT_SID, auth_token=OTHER_AUTH_TOKEN)


def voice_params(line: Line, call_sid: str, **extra: str) -> dict[str, str]:
    params = {
        "AccountSid": line.account_sid,
        "CallSid": call_sid,
        "From": "+14155559876",
        "To": line.number.e164,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


def post_signed(client, line: Line, url: str, params: dict[str, str], **headers: str):
    path = url.removeprefix("http://testserver")
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=line.sign(url, params), **headers)


def start_message(
    *, call_sid: str, account_sid: str, token: str, stream_sid: str = "MZ" + "0" * 32
) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "accountSid": account_sid,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": {"token": token},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )
