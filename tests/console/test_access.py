from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from calls.models import Call
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


# Every URL that takes an object id, with a factory for an object of that kind. A new
# URL with an id converter must be added here: test_every_id_url_is_covered enforces it.
def _call(tenant) -> str:
    with tenant_context(tenant):
        call = Call.objects.create(
            tenant_id=tenant.id,
            twilio_call_sid="CA" + uuid.uuid4().hex,
            to_number="+1",
            from_masked="**",
            region=tenant.region,
            started_at="2026-01-01T00:00:00Z",
        )
    return f"/calls/{call.id}/"


def _member_role(tenant) -> str:
    from tests.factories import UserFactory, membership

    return f"/settings/members/{membership(user=UserFactory(), tenant=tenant).id}/role/"


def _member_remove(tenant) -> str:
    return _member_role(tenant).replace("/role/", "/remove/")


def _member_unlock(tenant) -> str:
    return _member_role(tenant).replace("/role/", "/unlock/")


def _role_request(tenant) -> str:
    from callseal.tenancy.models import RoleGrant
    from tests.factories import UserFactory, membership

    admin = membership(user=UserFactory(), tenant=tenant, role=Role.ADMIN)
    grant = RoleGrant.objects.create(
        tenant=tenant,
        user=UserFactory(),  # type: ignore[misc]
        role=Role.AUDITOR,
        requested_by=admin.user,
    )
    return f"/settings/role-requests/{grant.id}/"


def _agent(tenant) -> str:
    from agents.services import agent_create
    from agents.spec import AgentSpec
    from tests.factories import UserFactory, membership

    admin = membership(user=UserFactory(), tenant=tenant, role=Role.ADMIN)
    with tenant_context(tenant):
        agent = agent_create(actor=admin, spec=AgentSpec(name="A", system_prompt="p", greeting="g"))
    return f"/agents/{agent.id}/"


def _number_agent(tenant) -> str:
    from calls.models import PhoneNumber

    number = PhoneNumber.objects.create(tenant=tenant, e164=f"+1415{uuid.uuid4().int % 10**7:07d}")
    return f"/settings/numbers/{number.id}/agent/"


def _hold_release(tenant) -> str:
    from compliance.holds import legal_hold_place
    from tests.factories import UserFactory, membership

    officer = membership(user=UserFactory(), tenant=tenant, role=Role.COMPLIANCE_OFFICER)
    with tenant_context(tenant):
        hold = legal_hold_place(actor=officer, scope="tenant", reason="case 1")
    return f"/compliance/holds/{hold.id}/release/"


def _audit_timeline(tenant) -> str:
    from callseal.ledger.services import ledger_append
    from tests.compliance.audit.helpers import InferenceHop

    call_id = uuid.uuid4()
    with tenant_context(tenant):
        ledger_append(
            stream_id=f"call-{call_id}",
            events=[InferenceHop(service="asr", model="m", region=tenant.region)],
            actor="twilio",
        )
    return f"/compliance/audit/calls/{call_id}/"


def _audit_export(tenant) -> str:
    from compliance.audit.models import AuditExport, ExportStatus
    from compliance.audit.services import export_path

    with tenant_context(tenant):
        export = AuditExport.objects.create(
            tenant_id=tenant.id, requested_by="user:1", criteria={}, status=ExportStatus.DONE
        )
        export.file_name = f"{export.id}.zip"
        export.save()
        path = export_path(export)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PK")
    return f"/compliance/audit/export/{export.id}/"


def _audit_download(tenant) -> str:
    return _audit_export(tenant) + "download/"


def _call_sub(suffix: str):  # type: ignore[no-untyped-def]
    return lambda tenant: _call(tenant) + suffix


def _recording_audio(tenant, viewer=None) -> str:  # type: ignore[no-untyped-def]
    """A grant is one user's: the tenant's own link is made for the logged-in viewer."""
    from calls.views import recording_url
    from compliance.recording.grants import playback_grant_create
    from tests.console.helpers import make_call, make_recording
    from tests.factories import UserFactory, membership

    call = make_call(tenant)
    rec = make_recording(tenant, call.id, kind="original")
    officer = membership(user=UserFactory(), tenant=tenant, role=Role.COMPLIANCE_OFFICER)
    if viewer is not None:
        officer = viewer.memberships.get(tenant=tenant)
    with tenant_context(tenant):
        grant = playback_grant_create(actor_membership=officer, recording_id=rec, reason="QA")
    return recording_url(call_id=call.id, recording_id=rec, grant_id=grant.id)


def _test_call(tenant) -> str:
    from analytics.events import AgentTestCallRequested, agent_test_call_stream
    from callseal.ledger.envelope import write

    agent_url = _agent(tenant)
    agent_id = agent_url.split("/")[2]
    test_call_id = uuid.uuid4()
    with tenant_context(tenant):  # the envelope's inline projection adds the test call's row
        write(
            stream_id=agent_test_call_stream(test_call_id),
            events=[
                AgentTestCallRequested(
                    test_call_id=str(test_call_id),
                    agent_id=agent_id,
                    agent_version=1,
                    phone_number="+14155550100",
                    twilio_call_sid="CA" + uuid.uuid4().hex,
                    caller_text="Hello",
                )
            ],
            actor="test",
        )
    return f"{agent_url}test-calls/{test_call_id}/"


# An optional third item is the role that may use the URL (admin when absent).
CROSS_TENANT_CASES = {
    "settings/numbers/<uuid:number_id>/agent/": (_number_agent, "post"),
    "settings/numbers/<uuid:number_id>/edit/": (
        lambda t: _number_agent(t).replace("/agent/", "/edit/"),
        "post",
    ),
    "settings/numbers/<uuid:number_id>/remove/": (
        lambda t: _number_agent(t).replace("/agent/", "/remove/"),
        "post",
    ),
    "agents/<uuid:agent_id>/": (_agent, "get"),
    "compliance/audit/calls/<uuid:call_id>/": (_audit_timeline, "get", Role.AUDITOR),
    "compliance/audit/export/<uuid:export_id>/": (_audit_export, "get", Role.AUDITOR),
    "compliance/audit/export/<uuid:export_id>/download/": (_audit_download, "get", Role.AUDITOR),
    "calls/<uuid:call_id>/": (_call, "get"),
    "calls/<uuid:call_id>/live/": (_call_sub("live/"), "get"),
    "calls/<uuid:call_id>/end/": (_call_sub("end/"), "post"),
    "calls/<uuid:call_id>/escalate/": (_call_sub("escalate/"), "post"),
    "calls/<uuid:call_id>/recordings/play/": (_call_sub("recordings/play/"), "post"),
    "calls/<uuid:call_id>/recordings/<uuid:recording_id>/audio": (
        _recording_audio,
        "get",
        Role.COMPLIANCE_OFFICER,
    ),
    "agents/<uuid:agent_id>/test-call/": (lambda t: _agent(t) + "test-call/", "post"),
    "agents/<uuid:agent_id>/test-calls/<uuid:test_call_id>/": (_test_call, "get"),
    "agents/<uuid:agent_id>/test-calls/<uuid:test_call_id>/status/": (
        lambda t: _test_call(t) + "status/",
        "get",
    ),
    "settings/members/<int:membership_id>/role/": (_member_role, "post"),
    "settings/members/<int:membership_id>/remove/": (_member_remove, "post"),
    "settings/members/<int:membership_id>/unlock/": (_member_unlock, "post"),
    "settings/role-requests/<uuid:grant_id>/": (_role_request, "post", Role.COMPLIANCE_OFFICER),
    "compliance/holds/<uuid:hold_id>/release/": (_hold_release, "post", Role.COMPLIANCE_OFFICER),
}


def _patterns(resolver: URLResolver, prefix: str = "") -> list[str]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append(prefix + str(entry.pattern))
    return found


def test_every_id_url_is_covered():
    with_ids = {p for p in _patterns(get_resolver()) if re.search(r"<(uuid|int|slug):", p)}
    assert with_ids == set(CROSS_TENANT_CASES)


@pytest.mark.parametrize("pattern", sorted(CROSS_TENANT_CASES))
def test_another_tenants_object_is_not_found(pattern, client, login_as, acme_us, acme_eu):
    make, method, *role = CROSS_TENANT_CASES[pattern]
    foreign_url = make(acme_eu)
    user = login_as(acme_us, role[0] if role else Role.ADMIN)
    own_url = make(acme_us, viewer=user) if make is _recording_audio else make(acme_us)
    send = getattr(client, method)
    data = {"role": Role.AGENT} if method == "post" else None
    missing_url = re.sub(
        r"/([0-9a-f-]{36}|\d+)/", lambda m: f"/{_other_id(m.group(1))}/", own_url, count=1
    )
    foreign = send(foreign_url, data)
    missing = send(missing_url, data)
    assert foreign.status_code == missing.status_code == 404
    assert send(own_url, data).status_code in (200, 302)
    # Same page, byte for byte, but for the per-response CSRF token.
    assert _without_csrf(foreign.content) == _without_csrf(missing.content)


def _other_id(current: str) -> str:
    return str(uuid.uuid4()) if "-" in current else "987654321"


def _without_csrf(body: bytes) -> bytes:
    body = re.sub(rb'"X-CSRFToken": "[^"]+"', b"", body)
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)


def test_switching_to_a_tenant_you_do_not_belong_to_is_not_found(
    client, login_as, acme_us, acme_eu
):
    login_as(acme_us)
    response = client.post("/tenant/switch/", {"tenant_id": str(acme_eu.id)})
    assert response.status_code == 404
    assert client.post("/tenant/switch/", {"tenant_id": "not-a-uuid"}).status_code == 400


def test_a_user_with_two_memberships_switches_tenant(client, login_as, acme_us, acme_eu):
    from tests.factories import membership

    user = login_as(acme_us)
    membership(user=user, tenant=acme_eu, role=Role.SUPERVISOR)
    page = client.get("/").content.decode()
    assert 'id="tenant-switch"' in page
    response = client.post("/tenant/switch/", {"tenant_id": str(acme_eu.id)})
    assert response.status_code == 302
    home = client.get("/").content.decode()
    assert "Acme EU" in home
    assert "region <strong>eu</strong>" in home


def test_roles_are_enforced_by_the_view_not_only_the_menu(client, login_as, acme_us):
    login_as(acme_us, Role.AGENT)
    assert client.get("/settings/").status_code == 403
    assert client.get("/compliance/").status_code == 403
    assert client.get("/calls/").status_code == 200


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/calls/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_unknown_page_is_a_clean_404_page(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Traceback" not in response.content
    assert b"Not found" in response.content
