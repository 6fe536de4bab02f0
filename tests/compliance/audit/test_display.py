"""The audit trail as people read it: usernames (this tenant's members only), details as
``key: value`` text, links to this tenant's calls, search by username."""

from __future__ import annotations

import re

import pytest

from callseal.ledger.services import ledger_append
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from compliance.audit.display import text
from tests.compliance.audit.helpers import InferenceHop
from tests.conftest import ALL_DATABASES
from tests.console.helpers import make_call
from tests.factories import UserFactory, membership, second_factor_verified

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def test_values_read_as_plain_text_without_python_or_json_syntax():
    value = {"from": None, "types": ["call.started", "turn.caller"], "readable": True, "n": 0}
    assert text(value) == "types: call.started, turn.caller; readable: yes; n: 0"
    assert text({"nested": {"a": [], "b": False}, "c": {"d": None}}) == "nested: b: no; c: —"
    assert text(["a", None, True]) == "a, —, yes"
    assert (text(""), text({}), text([])) == ("—", "—", "none")
    assert text("x" * 400) == "x" * 299 + "…"


def _rows(body: str) -> list[str]:
    return re.findall(r"<tr>\s*<td>(\d+)</td>", body)


def test_actors_show_as_usernames_and_the_search_takes_a_username(client, acme_us, acme_eu):
    olivia = UserFactory(username="olivia")
    membership(user=olivia, tenant=acme_us, role=Role.COMPLIANCE_OFFICER)
    eve = UserFactory(username="eve")  # a member of the other tenant only
    membership(user=eve, tenant=acme_eu, role=Role.COMPLIANCE_OFFICER)
    call = make_call(acme_us)
    eu_call = make_call(acme_eu)
    with tenant_context(acme_us):
        ledger_append(
            stream_id=f"call-{call.id}",
            events=[InferenceHop(service="asr", model="tiny.en", region="us")],
            actor=f"user:{olivia.id}",
        )
        ledger_append(
            stream_id=f"call-{eu_call.id}",
            events=[InferenceHop(service="llm", model="smollm2", region="us")],
            actor=f"user:{eve.id}",
        )
    client.force_login(olivia)
    second_factor_verified(client, olivia)

    body = client.get("/compliance/audit/").content.decode()
    assert f'<span title="user:{olivia.id}">olivia</span>' in body
    assert f"user:{eve.id} (not a member)" in body
    assert "eve<" not in body
    assert (
        f'<a href="/calls/{call.id}/" title="call-{call.id}">call {call.twilio_call_sid}</a>'
        in (body)
    )
    # Another tenant's call id gets no link (and shows no SID).
    assert f"<code>call-{eu_call.id}</code>" in body
    assert eu_call.twilio_call_sid not in body

    by_name = client.get("/compliance/audit/", {"actor": "olivia"}).content.decode()
    # Her event on the call, and her first search (every search is recorded).
    assert len(_rows(by_name)) == 2
    assert "model:</span> tiny.en" in by_name
    assert "<code>audit.searched</code>" in by_name
    assert "smollm2" not in by_name
    # A username is looked up among this tenant's members only.
    by_outsider = client.get("/compliance/audit/", {"actor": "eve"}).content.decode()
    assert "No events match." in by_outsider
    by_ref = client.get("/compliance/audit/", {"actor": f"user:{eve.id}"}).content.decode()
    assert len(_rows(by_ref)) == 1


def test_the_call_filter_takes_the_twilio_sid_of_this_tenants_calls(client, acme_us, acme_eu):
    olivia = UserFactory(username="olivia")
    membership(user=olivia, tenant=acme_us, role=Role.COMPLIANCE_OFFICER)
    call, other = make_call(acme_us), make_call(acme_us)
    eu_call = make_call(acme_eu)
    with tenant_context(acme_us):
        for row in (call, other):
            ledger_append(
                stream_id=f"call-{row.id}",
                events=[InferenceHop(service="asr", model=f"m-{row.twilio_call_sid}", region="us")],
                actor="twilio",
            )
    client.force_login(olivia)
    second_factor_verified(client, olivia)
    found = client.get("/compliance/audit/", {"call": call.twilio_call_sid})
    assert found.status_code == 200
    body = found.content.decode()
    assert len(_rows(body)) == 1
    assert f"m-{call.twilio_call_sid}" in body
    foreign = client.get("/compliance/audit/", {"call": eu_call.twilio_call_sid})
    assert foreign.status_code == 400
    assert "call: no call with that Twilio SID in this tenant" in foreign.content.decode()


def test_access_log_details_are_key_value_text(client, acme_us):
    olivia = UserFactory(username="olivia")
    membership(user=olivia, tenant=acme_us, role=Role.COMPLIANCE_OFFICER)
    client.force_login(olivia)
    second_factor_verified(client, olivia)
    client.get("/compliance/audit/", {"type": "call.started"})
    body = client.get("/compliance/audit/access/").content.decode()
    assert "criteria:</span> types: call.started</div>" in body
    table = body.split('<table class="data audit">')[1]
    for python_or_json in ("{&#x27;", "[&#x27;", "{&quot;", '{"', "None", "True"):
        assert python_or_json not in table
    assert ">olivia</span>" in body
