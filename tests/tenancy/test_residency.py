from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import connections, models

from calls.models import Call, PhoneNumber
from callseal.tenancy.checks import check_model_residency
from callseal.tenancy.context import TenantContextMissing, tenant_context
from callseal.tenancy.residency import Residency, residency_of
from callseal.tenancy.router import CrossTenantWrite, ResidencyRouter
from tests.conftest import ALL_DATABASES
from tests.factories import TenantFactory


def test_every_model_declares_its_residency():
    undeclared = [m._meta.label for m in apps.get_models() if residency_of(m) is None]
    assert undeclared == []
    assert check_model_residency() == []


def test_a_model_without_residency_fails_the_check(monkeypatch):
    class Stray(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "analytics"

    try:
        errors = check_model_residency()
        assert [e.id for e in errors] == ["callseal.E001"]
        assert "analytics.Stray declares no residency" in errors[0].msg
    finally:
        del apps.all_models["analytics"]["stray"]
        apps.clear_cache()


def test_regional_model_without_tenant_context_is_refused():
    with pytest.raises(TenantContextMissing):
        ResidencyRouter().db_for_read(Call)


def test_global_model_routes_to_directory_without_context():
    assert ResidencyRouter().db_for_read(PhoneNumber) == "default"
    assert residency_of(PhoneNumber) is Residency.GLOBAL


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_writing_another_tenants_row_is_refused(acme_us, acme_eu):
    call = Call(
        tenant_id=acme_us.id,
        twilio_call_sid="CA" + "0" * 32,
        to_number="+1",
        from_masked="**",
        region="us",
        started_at="2026-01-01T00:00:00Z",
    )
    with tenant_context(acme_eu), pytest.raises(CrossTenantWrite):
        call.save()


def _count(alias: str, sql: str, params: list[Any]) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_rows_of_an_eu_tenant_live_only_in_the_eu_database(acme_eu):
    with tenant_context(acme_eu):
        call = Call.objects.create(
            tenant_id=acme_eu.id,
            twilio_call_sid="CA" + "1" * 32,
            to_number="+493055510000",
            from_masked="******12",
            region="eu",
            started_at="2026-01-01T00:00:00Z",
        )
        sql = "SELECT COUNT(*) FROM calls_call WHERE id = %s"
        assert _count("region_eu", sql, [call.id.hex if _is_sqlite() else call.id]) == 1
        assert _count("region_us", sql, [call.id.hex if _is_sqlite() else call.id]) == 0
    # Nor is the table even present in the directory.
    tables = connections["default"].introspection.table_names()
    assert "calls_call" not in tables
    assert "calls_phonenumber" in tables


def _is_sqlite() -> bool:
    return connections["default"].vendor == "sqlite"


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_tenants_in_one_region_share_a_database_but_not_rows():
    first = TenantFactory(slug="first", region="us")
    second = TenantFactory(slug="second", region="us")
    with tenant_context(first):
        Call.objects.create(
            tenant_id=first.id,
            twilio_call_sid="CA" + "2" * 32,
            to_number="+1",
            from_masked="**",
            region="us",
            started_at="2026-01-01T00:00:00Z",
        )
    with tenant_context(second):
        from calls.selectors import call_list

        assert list(call_list()) == []


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_rows_created_by_an_eu_request_are_only_in_the_eu_database(client, login_as, acme_eu):
    from callseal.tenancy.models import Role

    login_as(acme_eu, Role.ADMIN)
    response = client.post(
        "/agents/new/",
        {
            "name": "EU desk",
            "system_prompt": "p",
            "greeting": "Hallo",
            "language": "en",
            "voice": "joe-us",
            "asr_model": "tiny.en",
            "llm_model": "smollm2-135m-instruct",
            "end_of_speech_ms": "600",
            "max_call_seconds": "900",
            "tools": ["end_call"],
        },
    )
    assert response.status_code == 302
    # Under the eu tenant's context (so PostgreSQL's row-level security shows its rows):
    # the agent and its ledger event exist in the eu database and nowhere else.
    with tenant_context(acme_eu):
        for table in ("agents_agentconfig", "ledger_event"):
            sql = f"SELECT COUNT(*) FROM {table} WHERE tenant_id = %s"  # noqa: S608
            tid = acme_eu.id.hex if _is_sqlite() else acme_eu.id
            assert _count("region_eu", sql, [tid]) >= 1, table
            assert _count("region_us", sql, [tid]) == 0, table
