"""The call page after an erasure or past retention: it says why, and shows no words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call, PhoneNumber
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from compliance.call_data import EXPIRED, call_data_state
from compliance.erasure import erasure_request_create
from compliance.holds import legal_hold_place
from tests.analytics.conftest import CALLER, CallDriver
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)

CALLER_WORDS = "my card ends [CARD]"
AGENT_WORDS = "Order 5521 ships tomorrow."


def _call(tenant, e164: str = "+14155550100") -> CallDriver:  # type: ignore[no-untyped-def]
    number, _ = PhoneNumber.objects.get_or_create(tenant=tenant, e164=e164)
    call = CallDriver(tenant, number)
    call.turn("my card ends 4242", CALLER_WORDS, AGENT_WORDS, 640)
    call.end()
    return call


def _erase(tenant, actor):  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        request = erasure_request_create(actor=actor(tenant), phone_number=CALLER)
    assert request.status == "completed"
    return request


def test_after_the_callers_erasure_the_call_page_says_so_and_shows_no_words(
    client, login_as, acme_us, acme_eu, actor, storage
):
    call = _call(acme_us)
    _call(acme_eu, "+4930123456")
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    page = client.get(f"/calls/{call.call_id}/").content.decode()
    assert CALLER_WORDS in page
    assert "erasure-notice" not in page

    # The same number erased in another tenant is another data subject: nothing changes.
    _erase(acme_eu, actor)
    page = client.get(f"/calls/{call.call_id}/").content.decode()
    assert CALLER_WORDS in page
    assert AGENT_WORDS in page
    assert "erasure-notice" not in page

    request = _erase(acme_us, actor)
    response = client.get(f"/calls/{call.call_id}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong>The caller was erased</strong> on " in page
    assert f"{request.completed_at:%Y-%m-%d %H:%M} UTC" in page
    assert "<dt>Caller</dt><dd><em>erased</em></dd>" in page
    assert "**06" not in page
    assert CALLER_WORDS not in page
    assert AGENT_WORDS not in page
    # Two transcript lines, their two timeline entries and call.started.
    assert page.count("[erased with the caller]") == 5
    assert "from [erased with the caller] to +14155550100" in page


def test_a_call_after_the_erasure_is_new_data_and_is_shown(
    client, login_as, acme_us, actor, storage
):
    erased = _call(acme_us)
    _erase(acme_us, actor)
    later = _call(acme_us)
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    page = client.get(f"/calls/{later.call_id}/").content.decode()
    assert CALLER_WORDS in page
    assert "erasure-notice" not in page
    assert "[erased with the caller]" in client.get(f"/calls/{erased.call_id}/").content.decode()


def test_past_retention_the_transcript_is_withheld_unless_held(
    client, login_as, acme_us, actor, storage
):
    call = _call(acme_us)
    acme_us.policies = {**(acme_us.policies or {}), "retention_days": {"redacted_transcripts": 30}}
    acme_us.save(update_fields=["policies"])
    with tenant_context(acme_us):
        row = Call.objects.get(id=call.call_id)
        assert call_data_state(call=row).withheld == ""
        later = timezone.now() + timedelta(days=31)
        assert call_data_state(call=row, now=later).withheld == EXPIRED
        old = timezone.now() - timedelta(days=40)
        Call.objects.filter(id=row.id).update(started_at=old, ended_at=old)
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    page = client.get(f"/calls/{call.call_id}/").content.decode()
    assert "retention period for redacted transcripts (30 days)" in page
    assert CALLER_WORDS not in page
    assert "[removed by the retention policy]" in page

    with tenant_context(acme_us):
        legal_hold_place(actor=actor(acme_us), scope="call", call=call.sid, reason="case 5")
    page = client.get(f"/calls/{call.call_id}/").content.decode()
    assert CALLER_WORDS in page
    assert "Under legal hold: “case 5”" in page
