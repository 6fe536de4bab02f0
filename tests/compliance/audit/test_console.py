"""Audit pages: roles, every search recorded, keyset pages, timelines, console exports."""

from __future__ import annotations

import json
import zipfile

import pytest
from django.core.exceptions import PermissionDenied

from callseal.celery import app
from callseal.ledger.selectors import ledger_read_tenant
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from callseal.tenancy.permissions import Perm, require
from compliance.audit.models import AuditExport, ExportStatus
from compliance.verify import verify_bundle
from tests.compliance.audit.helpers import CALL_A, CALLER_B, erase_caller_b, make_log
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)

AUDIT_URLS = ["/compliance/audit/", "/compliance/audit/access/", "/compliance/audit/export/"]


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _access_events(tenant, event_type="audit.searched"):
    with tenant_context(tenant):
        return list(ledger_read_tenant(types=(event_type,)))


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.ADMIN])
def test_agents_supervisors_and_admins_cannot_search_or_export(client, login_as, acme_us, role):
    with tenant_context(acme_us):
        make_log()
    login_as(acme_us, role)
    for url in AUDIT_URLS:
        assert client.get(url).status_code == 403, url
    assert client.get(f"/compliance/audit/calls/{CALL_A}/").status_code == 403
    assert client.post("/compliance/audit/export/", {}).status_code == 403
    with tenant_context(acme_us):
        assert AuditExport.objects.count() == 0
    assert _access_events(acme_us) == []


def test_an_auditor_can_search_and_export_but_not_erase(client, login_as, acme_us):
    user = login_as(acme_us, Role.AUDITOR)
    membership = user.memberships.get() if hasattr(user, "memberships") else None
    for url in AUDIT_URLS:
        assert client.get(url).status_code == 200, url
    auditor = type("M", (), {"role": Role.AUDITOR})()
    require(auditor, Perm.EXPORT_AUDIT)
    with pytest.raises(PermissionDenied, match=r"compliance\.erase"):
        require(auditor, Perm.ERASE_SUBJECT)
    del membership


def test_every_search_is_appended_as_an_access_event(client, login_as, acme_us):
    with tenant_context(acme_us):
        refs = make_log()
    user = login_as(acme_us, Role.COMPLIANCE_OFFICER)
    response = client.get("/compliance/audit/", {"subject": CALLER_B, "type": "audit_test.turn"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("<tr>") == 3  # header + the two turns of caller B's call
    assert "thanks" in body
    assert "my card is &lt;CARD&gt;" in body
    assert CALLER_B not in body.replace(f'value="{CALLER_B}"', "")
    (searched,) = _access_events(acme_us)
    assert searched.metadata["actor"] == f"user:{user.id}"
    assert searched.data["results"] == 2
    assert searched.data["criteria"]["subject_ref"] == refs[CALLER_B]
    assert searched.data["criteria"]["types"] == ["audit_test.turn"]
    assert CALLER_B not in json.dumps(searched.data)


def test_search_pages_by_sequence_newest_first(client, login_as, acme_us):
    with tenant_context(acme_us):
        from callseal.ledger.services import ledger_append
        from tests.compliance.audit.helpers import InferenceHop

        for i in range(120):
            ledger_append(
                stream_id=f"s{i}",
                events=[InferenceHop(service="tts", model="m", region="us")],
                actor="bulk",
            )
    login_as(acme_us, Role.AUDITOR)
    first = client.get("/compliance/audit/", {"actor": "bulk"}).content.decode()
    assert 'before=71"' in first  # 120..71 on the first page of 50
    second = client.get("/compliance/audit/", {"actor": "bulk", "before": "71"}).content.decode()
    assert "<td>70</td>" in second
    assert "<td>21</td>" in second
    assert "<td>71</td>" not in second
    third = client.get("/compliance/audit/", {"actor": "bulk", "before": "21"}).content.decode()
    assert "<td>1</td>" in third
    assert 'rel="next"' not in third


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "yesterday"}, "from: &#x27;yesterday&#x27; is not an ISO 8601"),
        ({"subject": "4155550123"}, "subject: a phone number in E.164 form"),
        ({"from": "2026-01-02", "to": "2026-01-01"}, "to: must be later than from"),
        ({"type": "call started;"}, "is not an event type name"),
        ({"before": "x"}, "before: a sequence number"),
    ],
)
def test_bad_search_input_is_a_clear_400(client, login_as, acme_us, params, message):
    login_as(acme_us, Role.AUDITOR)
    response = client.get("/compliance/audit/", params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _access_events(acme_us) == []


def test_call_timeline_shows_the_call_and_the_erasure_of_its_caller(client, login_as, acme_us):
    with tenant_context(acme_us):
        refs = make_log()
        erase_caller_b(refs)
    login_as(acme_us, Role.AUDITOR)
    from tests.compliance.audit.helpers import CALL_B

    body = client.get(f"/compliance/audit/calls/{CALL_B}/").content.decode()
    assert list(body.split("<tr>"))[1:]
    assert body.count("<tr>") == 6
    assert "subject.erased" in body
    assert "erasure request 42" in body
    assert "sealed personal data" in body
    (viewed,) = _access_events(acme_us, "audit.timeline_viewed")
    assert viewed.data["results"] == 5
    assert viewed.data["stream_ids"] == [f"call-{CALL_B}", f"subject-{refs[CALLER_B]}"]


def test_access_log_lists_searches(client, login_as, acme_us):
    login_as(acme_us, Role.AUDITOR)
    client.get("/compliance/audit/")
    body = client.get("/compliance/audit/access/").content.decode()
    assert "audit.searched" in body


def test_console_export_runs_in_the_background_and_downloads(
    client, login_as, acme_us, eager, django_capture_on_commit_callbacks
):
    with tenant_context(acme_us):
        make_log()
    user = login_as(acme_us, Role.AUDITOR)
    with django_capture_on_commit_callbacks(using="region_us", execute=True):
        response = client.post("/compliance/audit/export/", {"call": CALL_A})
    assert response.status_code == 302
    with tenant_context(acme_us):
        export = AuditExport.objects.get()
    assert response["Location"] == f"/compliance/audit/export/{export.id}/"
    assert export.status == ExportStatus.DONE
    assert (export.events, export.tree_size, export.requested_by) == (4, 12, f"user:{user.id}")
    page = client.get(response["Location"]).content.decode()
    assert export.key_fingerprint in page
    download = client.get(f"/compliance/audit/export/{export.id}/download/")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    import hashlib
    import io

    assert hashlib.sha256(body).hexdigest() == export.bundle_sha256
    summary = verify_bundle(io.BytesIO(body), pin_fingerprint=export.key_fingerprint)
    assert summary.events == 4
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        assert json.loads(bundle.read("manifest.json"))["created_by"] == f"user:{user.id}"
    types = [e.type for e in _access_events(acme_us, "audit.export_requested")]
    assert types == ["audit.export_requested"]
    (exported,) = _access_events(acme_us, "audit.exported")
    assert exported.data["bundle_sha256"] == export.bundle_sha256
    assert len(_access_events(acme_us, "audit.bundle_downloaded")) == 1
