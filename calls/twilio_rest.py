"""Twilio's REST API for live call control (end, redirect to a queue), through the
``twilio`` package. ``CALLSEAL_TWILIO_API_BASE_URL`` points it elsewhere (tests run a
stand-in that validates requests against Twilio's OpenAPI spec)."""

from __future__ import annotations

from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


class TwilioRefused(Exception):
    """Twilio (or the network to it) did not accept the request; the message says why."""


def _client(*, account_sid: str, auth_token: str) -> Client:
    client = Client(
        username=account_sid,
        password=auth_token,
        http_client=TwilioHttpClient(timeout=settings.CALLSEAL_TWILIO_TIMEOUT_S),
    )
    client.api.base_url = settings.CALLSEAL_TWILIO_API_BASE_URL.rstrip("/")
    return client


def call_update(*, account_sid: str, auth_token: str, call_sid: str, **params: str) -> str:
    """POST /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json; returns Twilio's status."""
    client = _client(account_sid=account_sid, auth_token=auth_token)
    try:
        call = client.api.v2010.accounts(account_sid).calls(call_sid).update(**params)
    except TwilioRestException as exc:
        raise TwilioRefused(f"Twilio answered {exc.status}: {exc.msg}") from exc
    except (TwilioException, OSError) as exc:
        raise TwilioRefused(f"Twilio could not be reached: {type(exc).__name__}") from exc
    return str(call.status or "")


def call_hang_up(*, account_sid: str, auth_token: str, call_sid: str) -> str:
    return call_update(
        account_sid=account_sid, auth_token=auth_token, call_sid=call_sid, status="completed"
    )


def call_enqueue(*, account_sid: str, auth_token: str, call_sid: str, queue: str) -> str:
    """Move the live call into a human agents' queue (TwiML ``<Enqueue>``)."""
    from xml.sax.saxutils import escape

    twiml = f"<Response><Enqueue>{escape(queue)}</Enqueue></Response>"
    return call_update(
        account_sid=account_sid, auth_token=auth_token, call_sid=call_sid, twiml=twiml
    )


def account_number_verify(*, account_sid: str, auth_token: str, e164: str) -> None:
    """Prove credentials before they are saved: the token opens the account
    (GET Accounts/{Sid}.json) and the number is one of the account's
    (GET Accounts/{Sid}/IncomingPhoneNumbers.json?PhoneNumber=…). Raises TwilioRefused
    with what to fix."""
    client = _client(account_sid=account_sid, auth_token=auth_token)
    account = client.api.v2010.accounts(account_sid)
    try:
        fetched = account.fetch()
        numbers = account.incoming_phone_numbers.list(phone_number=e164, limit=20)
    except TwilioRestException as exc:
        if exc.status in (401, 403, 404):
            raise TwilioRefused(
                "Twilio did not accept this account SID and auth token"
                f" (HTTP {exc.status}): check both in the Twilio console."
            ) from exc
        raise TwilioRefused(f"Twilio answered {exc.status}: {exc.msg}") from exc
    except (TwilioException, OSError) as exc:
        raise TwilioRefused(f"Twilio could not be reached: {type(exc).__name__}") from exc
    if fetched.sid != account_sid or str(fetched.status or "active") != "active":
        raise TwilioRefused(f"the Twilio account is not active (status {fetched.status!r})")
    if not any(n.phone_number == e164 for n in numbers):
        raise TwilioRefused(f"{e164} is not a phone number of Twilio account {account_sid}")
