"""Compliance console pages: role checks on the server, clear form errors."""

from __future__ import annotations

import pytest

from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role, Tenant
from compliance.models import ErasureRequest, LegalHold
from tests.compliance.conftest import CALLER
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)

PAGES = [
    "/compliance/consent/",
    "/compliance/retention/",
    "/compliance/holds/",
    "/compliance/erasure/",
]


def test_overview_links_every_compliance_page(client, login_as, acme_us):
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    page = client.get("/compliance/").content.decode()
    for url in PAGES:
        assert f'href="{url}"' in page


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN])
def test_auditors_and_admins_view_every_page_without_edit_controls(
    client, login_as, acme_us, url, role
):
    login_as(acme_us, role)
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    for control in ("Save consent policy", "Save retention", "Place hold", "Erase a caller"):
        assert control not in body


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_roles_without_compliance_access_are_refused(client, login_as, acme_us, url, role):
    login_as(acme_us, role)
    assert client.get(url).status_code == 403


def test_auditors_cannot_erase_or_change_policies(client, login_as, acme_us):
    login_as(acme_us, Role.AUDITOR)
    page = client.get("/compliance/erasure/").content.decode()
    assert "Erase a caller" not in page
    response = client.post("/compliance/erasure/", {"phone_number": CALLER, "confirm": "on"})
    assert response.status_code == 403
    assert client.post("/compliance/consent/", {"consent_mode": "one_party"}).status_code == 403
    assert client.post("/compliance/retention/", {"recordings": "5"}).status_code == 403
    with tenant_context(acme_us):
        assert not ErasureRequest.objects.exists()


def test_officer_sets_consent_mode(client, login_as, acme_us):
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    response = client.post("/compliance/consent/", {"consent_mode": "explicit"})
    assert response.status_code == 302
    acme_us.refresh_from_db()
    assert acme_us.policies["consent_mode"] == "explicit"
    assert 'id="consent-mode">explicit<' in client.get("/compliance/consent/").content.decode()
    bad = client.post("/compliance/consent/", {"consent_mode": "whatever"})
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()


def test_officer_sets_retention_and_bad_days_are_explained(client, login_as, acme_us):
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    response = client.post("/compliance/retention/", {"recordings": "90", "raw_transcripts": "7"})
    assert response.status_code == 302
    assert Tenant.objects.get(id=acme_us.id).policies["retention_days"] == {
        "recordings": 90,
        "raw_transcripts": 7,
    }
    bad = client.post("/compliance/retention/", {"recordings": "-3"})
    assert bad.status_code == 400
    assert "Ensure this value is greater than or equal to 1." in bad.content.decode()
    assert Tenant.objects.get(id=acme_us.id).policies["retention_days"] == {
        "recordings": 90,
        "raw_transcripts": 7,
    }


def test_officer_places_and_releases_a_hold_in_the_console(client, login_as, acme_us):
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    response = client.post(
        "/compliance/holds/", {"scope": "subject", "phone_number": CALLER, "reason": "case 3"}
    )
    assert response.status_code == 302
    with tenant_context(acme_us):
        hold = LegalHold.objects.get()
    page = client.get("/compliance/holds/").content.decode()
    assert "+*********23" in page
    assert "5550123" not in page
    assert (
        client.post(f"/compliance/holds/{hold.id}/release/", {"reason": "done"}).status_code == 302
    )
    with tenant_context(acme_us):
        assert LegalHold.objects.get().released_at is not None
    bad = client.post("/compliance/holds/", {"scope": "call", "reason": "x"})
    assert bad.status_code == 400
    assert "a call hold needs the call&#x27;s Twilio SID (CA…) or id" in bad.content.decode()


def test_erasure_form_explains_bad_numbers_and_lists_requests(client, login_as, acme_us, storage):
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    bad = client.post("/compliance/erasure/", {"phone_number": "hello", "confirm": "on"})
    assert bad.status_code == 400
    assert "is not a phone number" in bad.content.decode()
    unconfirmed = client.post("/compliance/erasure/", {"phone_number": CALLER})
    assert unconfirmed.status_code == 400
    with tenant_context(acme_us):
        assert not ErasureRequest.objects.exists()
    done = client.post(
        "/compliance/erasure/", {"phone_number": CALLER, "confirm": "on"}, follow=True
    )
    body = done.content.decode()
    assert "Erased: 1 key(s) destroyed, 0 recording(s) shredded." in body
    assert "+*********23" in body
    assert "Completed" in body


def _held_call(tenant):  # type: ignore[no-untyped-def]
    from compliance.subjects import phone_subject_ref
    from tests.compliance.conftest import make_call

    with tenant_context(tenant):
        call = make_call()
        call.subject_ref = phone_subject_ref(CALLER)
        call.save(update_fields=["subject_ref"])
    return call


def test_the_erasure_page_previews_calls_recordings_and_blocking_holds(
    client, login_as, acme_us, acme_eu, storage
):
    from callseal.ledger.selectors import ledger_head_sequence

    call = _held_call(acme_us)
    _held_call(acme_eu)  # the same number in another tenant: not counted, not shown
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    first = client.get("/compliance/erasure/").content.decode()
    assert 'name="action" value="preview">Preview erasure</button>' in first
    assert 'name="confirm"' not in first

    preview = client.post("/compliance/erasure/", {"phone_number": CALLER, "action": "preview"})
    assert preview.status_code == 200
    body = preview.content.decode()
    assert "affects 1 call and 0 recordings</strong>" in body
    assert 'name="confirm"' in body
    assert f'value="{CALLER}"' in body

    response = client.post(
        "/compliance/holds/",
        {"scope": "call", "call": call.twilio_call_sid, "reason": "matter 12"},
    )
    assert response.status_code == 302
    with tenant_context(acme_us):
        before = ledger_head_sequence()
    blocked = client.post("/compliance/erasure/", {"phone_number": CALLER, "action": "preview"})
    assert blocked.status_code == 200
    body = blocked.content.decode()
    assert "affects 1 call and 0 recordings</strong>" in body
    assert "Blocked by 1 active legal hold: nothing can be erased until it is released." in body
    assert (
        f'Hold on one call <a href="/calls/{call.id}/"><code>{call.twilio_call_sid}</code></a>: '
        "“matter 12”"
    ) in body
    assert 'name="confirm"' not in body
    with tenant_context(acme_us):
        assert ledger_head_sequence() == before  # previews record nothing
        assert not ErasureRequest.objects.exists()


def test_a_bad_number_in_the_preview_is_explained(client, login_as, acme_us):
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    response = client.post("/compliance/erasure/", {"phone_number": "hello", "action": "preview"})
    assert response.status_code == 400
    assert "is not a phone number" in response.content.decode()


def test_auditors_cannot_preview_an_erasure(client, login_as, acme_us):
    login_as(acme_us, Role.AUDITOR)
    response = client.post("/compliance/erasure/", {"phone_number": CALLER, "action": "preview"})
    assert response.status_code == 403


def test_the_hold_form_takes_the_call_sid_from_the_call_page_link(client, login_as, acme_us):
    call = _held_call(acme_us)
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    page = client.get("/compliance/holds/", {"call": call.twilio_call_sid}).content.decode()
    assert f'name="call" value="{call.twilio_call_sid}"' in page
    assert '<option value="call" selected>One call</option>' in page
    client.post(
        "/compliance/holds/", {"scope": "call", "call": call.twilio_call_sid, "reason": "m"}
    )
    holds = client.get("/compliance/holds/").content.decode()
    assert f'<a href="/calls/{call.id}/"><code>{call.twilio_call_sid}</code></a>' in holds
    detail = client.get(f"/calls/{call.id}/").content.decode()
    assert f'name="call" value="{call.twilio_call_sid}"' in detail
    assert "Place hold</button>" in detail
    login_as(acme_us, Role.AUDITOR)
    assert "Place hold" not in client.get(f"/calls/{call.id}/").content.decode()
