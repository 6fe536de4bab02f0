"""Issue 22 finding 7: no console page shows another tenant's rows, even in the same region.

Regional database routing is not tenant scoping: two tenants of one region share every
table. One tenant (the victim) is seeded with distinctive rows of every kind the console
lists; the other tenant's admin and compliance officer then fetch every page of the console.
A new page must be added to PAGES (test_every_console_page_is_covered enforces it).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from tests.conftest import ALL_DATABASES
from tests.console import test_access as makers
from tests.factories import TenantFactory, UserFactory, membership

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)

OFFICER = Role.COMPLIANCE_OFFICER
# Every console page without an object id, with the viewer's role that may open it.
PAGES = {
    "": Role.ADMIN,
    "dashboard/figures/": Role.ADMIN,
    "dashboard/health/": Role.ADMIN,
    "analytics/": Role.ADMIN,
    "settings/": Role.ADMIN,
    "settings/members/": Role.ADMIN,
    "settings/numbers/": Role.ADMIN,
    "settings/role-requests/": Role.ADMIN,
    "calls/": Role.ADMIN,
    "agents/": Role.ADMIN,
    "agents/new/": Role.ADMIN,
    "compliance/": OFFICER,
    "compliance/consent/": OFFICER,
    "compliance/retention/": OFFICER,
    "compliance/holds/": OFFICER,
    "compliance/erasure/": OFFICER,
    "compliance/audit/": OFFICER,
    "compliance/audit/access/": OFFICER,
    "compliance/audit/export/": OFFICER,
}
# Pages that are not tenant data: the login flow, health, Twilio's endpoints, and
# tenant/switch/ (a POST that is covered by test_access).
NOT_CONSOLE_PAGES = {
    "healthz",
    "readyz",
    "metrics",
    "login/",
    "logout/",
    "password/",
    "password/done/",
    "account/two-factor/",
    "account/two-factor/setup/",
    "tenant/switch/",
    "twilio/voice",
    "twilio/status",
    "media-stream/",
}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _patterns(resolver: URLResolver, prefix: str = "") -> list[str]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append(prefix + str(entry.pattern))
    return found


def test_every_console_page_is_covered():
    without_ids = {p for p in _patterns(get_resolver()) if "<" not in p}
    assert without_ids - NOT_CONSOLE_PAGES == set(PAGES)


@pytest.fixture
def victim() -> dict[str, object]:
    """A tenant in region us with one distinctive row of every kind; returns its markers."""
    tenant: Any = TenantFactory(slug="victim-us", name="Victim Corp", region="us")
    urls = [
        makers._call(tenant),
        makers._agent(tenant),
        makers._number_agent(tenant),
        makers._hold_release(tenant),
        makers._audit_timeline(tenant),
        makers._audit_export(tenant),
        makers._test_call(tenant),
        makers._role_request(tenant),
    ]
    membership(user=UserFactory(username="zebra-victim-member"), tenant=tenant, role=Role.AGENT)
    officer = membership(
        user=UserFactory(username="zebra-victim-officer"), tenant=tenant, role=OFFICER
    )
    from compliance.audit.filters import filter_parse
    from compliance.audit.services import audit_search

    with tenant_context(tenant):
        audit_search(
            membership=officer,
            audit_filter=filter_parse(
                start="", end="", call="", types="", actor="", subject_phone=""
            ),
            before=None,
        )
    ids = {m for url in urls for m in UUID_RE.findall(url)}
    return {"tenant": tenant, "markers": ids | {"zebra-victim", "Victim Corp", str(tenant.id)}}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_second_tenants_rows_never_appear(page, client, login_as, victim):
    viewer = TenantFactory(slug="viewer-us", name="Viewer Inc", region="us")
    makers._call(viewer)
    login_as(viewer, PAGES[page])
    response = client.get(f"/{page}")
    assert response.status_code == 200
    body = response.content.decode()
    leaked = sorted(m for m in victim["markers"] if m in body)  # type: ignore[attr-defined]
    assert leaked == []


def test_finding_7_audit_export_list_shows_only_the_tenants_exports(client, login_as, victim):
    """The reproduction of finding 7: the export list of a same-region tenant."""
    viewer = TenantFactory(slug="viewer-us", name="Viewer Inc", region="us")
    own_url = makers._audit_export(viewer)
    login_as(viewer, Role.AUDITOR)
    body = client.get("/compliance/audit/export/").content.decode()
    own_id = UUID_RE.findall(own_url)[0]
    assert own_id in body
    foreign = [m for m in victim["markers"] if UUID_RE.fullmatch(str(m)) and m in body]  # type: ignore[attr-defined]
    assert foreign == []
