from __future__ import annotations

import uuid

import pytest

from callseal.celery import REGION_HEADER, TENANT_HEADER, WrongRegion, app
from callseal.tenancy.context import TenantRef, current_tenant_or_none, tenant_context


@app.task(name="tests.echo_tenant")
def echo_tenant() -> str | None:
    tenant = current_tenant_or_none()
    return tenant.slug if tenant else None


@pytest.fixture
def eager(settings):
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_task_carries_the_tenant_context_in_its_headers(eager):
    ref = TenantRef(id=uuid.uuid4(), slug="acme-eu", region="eu")
    with tenant_context(ref):
        result = echo_tenant.delay()
    assert result.get() == "acme-eu"


def test_task_routes_to_the_tenants_region_queue(monkeypatch):
    sent = {}

    def capture(self, *args, **options):
        sent.update(options)

    monkeypatch.setattr("celery.app.task.Task.apply_async", capture)
    with tenant_context(TenantRef(id=uuid.uuid4(), slug="acme-eu", region="eu")):
        echo_tenant.delay()
    assert sent["queue"] == "region.eu"
    assert sent["headers"][REGION_HEADER] == "eu"
    assert sent["headers"][TENANT_HEADER]["slug"] == "acme-eu"


def test_task_refuses_to_run_in_another_regions_worker(eager, settings):
    settings.WORKER_REGION = "us"
    with tenant_context(TenantRef(id=uuid.uuid4(), slug="acme-eu", region="eu")):
        result = echo_tenant.apply_async()
    with pytest.raises(WrongRegion, match="is for region 'eu'; this worker serves 'us'"):
        result.get()


def test_task_without_tenant_or_region_is_refused():
    with pytest.raises(ValueError, match="no tenant in context and no region"):
        echo_tenant.delay()
