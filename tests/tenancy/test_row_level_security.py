"""Row-level security on PostgreSQL: the database itself keeps tenants apart."""

from __future__ import annotations

import uuid

import pytest
from django.db import connections, transaction
from django.db.utils import ProgrammingError

from calls.models import Call
from callseal.tenancy.context import tenant_context
from tests.conftest import ALL_DATABASES, postgres_mode

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not postgres_mode(), reason="row-level security is a PostgreSQL feature"),
    pytest.mark.django_db(databases=ALL_DATABASES, transaction=True),
]


def _make_call(tenant, sid_digit: str) -> Call:
    with tenant_context(tenant):
        return Call.objects.create(
            tenant_id=tenant.id,
            twilio_call_sid="CA" + sid_digit * 32,
            to_number="+14155550100",
            from_masked="******00",
            region=tenant.region,
            started_at="2026-01-01T00:00:00Z",
        )


def _raw_select(alias: str) -> list[tuple[object, ...]]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT id, tenant_id FROM calls_call")
        return cursor.fetchall()


def test_raw_select_under_another_tenants_setting_returns_no_rows():
    from tests.factories import TenantFactory

    owner = TenantFactory(slug="owner-us", region="us")
    other = TenantFactory(slug="other-us", region="us")
    call = _make_call(owner, "3")
    with tenant_context(other):
        assert _raw_select("region_us") == []
    with tenant_context(owner):
        assert _raw_select("region_us") == [(call.id, owner.id)]


def test_raw_select_without_tenant_setting_returns_no_rows():
    from tests.factories import TenantFactory

    _make_call(TenantFactory(slug="lonely-us", region="us"), "4")
    assert _raw_select("region_us") == []


def test_insert_for_another_tenant_is_rejected_by_the_policy():
    from tests.factories import TenantFactory

    mine = TenantFactory(slug="mine-us", region="us")
    with (
        tenant_context(mine),
        pytest.raises(ProgrammingError, match="row-level security"),
        connections["region_us"].cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO calls_call (id, tenant_id, twilio_call_sid, to_number, from_masked,"
            " status, region, started_at) VALUES (%s, %s, 'CA1', '+1', '*', 'ringing', 'us',"
            " now())",
            [uuid.uuid4(), uuid.uuid4()],
        )


def test_setting_is_transaction_local_and_does_not_leak():
    from tests.factories import TenantFactory

    owner = TenantFactory(slug="leak-us", region="us")
    _make_call(owner, "5")
    with tenant_context(owner), transaction.atomic(using="region_us"):
        assert len(_raw_select("region_us")) == 1
    # Same pooled connection, outside any context: the setting is gone.
    with connections["region_us"].cursor() as cursor:
        cursor.execute("SELECT current_setting('callseal.tenant_id', true)")
        assert cursor.fetchone()[0] in ("", None)


def test_application_role_is_not_the_owner_and_cannot_bypass():
    with connections["region_us"].cursor() as cursor:
        cursor.execute(
            "SELECT current_user, r.rolsuper, r.rolbypassrls, c.relforcerowsecurity,"
            " pg_get_userbyid(c.relowner) FROM pg_roles r, pg_class c"
            " WHERE r.rolname = current_user AND c.relname = 'calls_call'"
        )
        user, superuser, bypass, forced, owner = cursor.fetchone()
    assert user == "callseal_app"
    assert (superuser, bypass, forced) == (False, False, True)
    assert owner != user
