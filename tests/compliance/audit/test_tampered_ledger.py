"""Issue 22, finding 11 (a tampered ledger breaks pages instead of raising the alarm): one
event's payload changed on disk (as the database owner, triggers bypassed) is named on the
audit pages, fails an export with the reason, and the scheduled check raises an alarm on
the dashboard, the compliance pages and ``/metrics``."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import DatabaseError, connections, transaction

from callseal.celery import app
from callseal.ledger import store
from callseal.ledger.models import Event, IntegrityCheck
from callseal.ledger.tasks import verify_region
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from compliance.audit.models import AuditExport, ExportStatus
from tests.compliance.audit.helpers import CALL_A, make_log
from tests.conftest import ALL_DATABASES
from tests.factories import TenantFactory
from tests.ledger.helpers import tampering

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)

BROKEN = '{"speaker":"caller","redacted_text":"changed on disk'  # no longer JSON
ALARM = "Ledger integrity check failed"
FAULT = "Event 2 fails verification: the stored event differs from what was hashed"


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def tampered(acme_us):
    """acme-us's log with event 2 (call A's first turn) rewritten on disk."""
    with tenant_context(acme_us):
        make_log()
    tamper_event_2(acme_us)
    return acme_us


def tamper_event_2(tenant) -> None:  # type: ignore[no-untyped-def]
    """Rewrite the tenant's event 2 in place, as the database owner with triggers off."""
    with tenant_context(tenant):
        row_id = Event.objects.get(tenant_id=tenant.id, sequence=2).id
    with tampering(tenant) as cursor:
        cursor.execute("UPDATE ledger_event SET payload = %s WHERE id = %s", [BROKEN, row_id])


def _failing(region: str) -> str:
    return f'callseal_ledger_integrity_failing_tenants{{region="{region}"}}'


def test_tampered_ledger_audit_pages_name_the_failing_event_instead_of_500(
    client, login_as, tampered
):
    login_as(tampered, Role.COMPLIANCE_OFFICER)
    search = client.get("/compliance/audit/")
    timeline = client.get(f"/compliance/audit/calls/{CALL_A}/")
    by_call = client.get("/compliance/audit/", {"call": CALL_A})
    assert [search.status_code, timeline.status_code, by_call.status_code] == [200, 200, 200]
    for response in (search, timeline, by_call):
        body = response.content.decode()
        assert body.count(FAULT) == 1
        assert "changed on disk" not in body
        # The events around it still show what they say.
        assert "thanks" in body


def test_tampered_ledger_export_fails_with_the_reason_and_raises_the_alarm(
    client, login_as, tampered, eager
):
    login_as(tampered, Role.COMPLIANCE_OFFICER)
    response = client.post("/compliance/audit/export/", {})
    assert response.status_code == 302
    with tenant_context(tampered):
        (export,) = AuditExport.objects.filter(tenant_id=tampered.id)
        check = IntegrityCheck.objects.get(tenant_id=tampered.id)
    assert export.status == ExportStatus.FAILED
    assert export.error == (
        "ledger integrity check failed: event 2 fails verification: the stored event"
        " differs from what was hashed"
    )
    assert export.finished_at is not None
    assert (check.ok, check.fault_sequence) == (False, 2)
    page = client.get(f"/compliance/audit/export/{export.id}/").content.decode()
    assert "Failed" in page
    assert "event 2 fails verification" in page
    assert ALARM in page


def test_tampered_ledger_scheduled_check_alarms_dashboard_compliance_and_metrics(
    client, login_as, acme_us
):
    bystander = TenantFactory(slug="bystander-us", region="us")
    for tenant in (acme_us, bystander):
        with tenant_context(tenant):
            make_log()
    user = login_as(acme_us, Role.COMPLIANCE_OFFICER)
    user.is_staff = True
    user.save(update_fields=["is_staff"])

    assert verify_region("us") == 0
    assert f"{_failing('us')} 0.0" in client.get("/metrics").content.decode()
    assert ALARM not in client.get("/").content.decode()

    tamper_event_2(acme_us)
    assert verify_region("us") == 1
    metrics = client.get("/metrics").content.decode()
    assert f"{_failing('us')} 1.0" in metrics
    assert f"{_failing('eu')} 0.0" in metrics
    assert 'callseal_ledger_integrity_checked_tenants{region="us"} 2.0' in metrics
    for url in ("/", "/compliance/", "/compliance/audit/"):
        body = client.get(url).content.decode()
        assert ALARM in body, url
        assert "tenant acme-us: sequence 2: leaf hash mismatch" in body, url
    with tenant_context(bystander):
        assert IntegrityCheck.objects.get(tenant_id=bystander.id).ok is True
    # The other tenant's members see no alarm: it is not their log.
    login_as(bystander, Role.COMPLIANCE_OFFICER)
    assert ALARM not in client.get("/").content.decode()


def test_tampered_ledger_checks_are_scheduled_per_region_on_its_queue():
    for region in settings.REGIONS:
        assert settings.CELERY_BEAT_SCHEDULE[f"ledger-verify-{region}"] == {
            "task": "ledger.verify_region",
            "schedule": settings.CALLSEAL_LEDGER_VERIFY_S,
            "args": (region,),
            "options": {"region": region},
        }


def test_tampered_ledger_the_database_itself_rejects_update_and_delete(acme_us):
    """The embedded SQLite ledger has PostgreSQL's append-only triggers (migration 0002):
    even the application's own connection cannot rewrite or remove an event (on PostgreSQL
    its role is not even granted UPDATE or DELETE; the triggers are the second guard)."""
    with tenant_context(acme_us):
        make_log()
        alias = store.alias_for(acme_us)
        refused = "append-only" if connections[alias].vendor == "sqlite" else "permission denied"
        events = Event.objects.filter(tenant_id=acme_us.id, sequence=2)
        with pytest.raises(DatabaseError, match=refused), transaction.atomic(using=alias):
            events.update(payload=BROKEN)
        with pytest.raises(DatabaseError, match=refused), transaction.atomic(using=alias):
            events.delete()
        assert events.get().payload != BROKEN
