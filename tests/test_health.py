from __future__ import annotations

import json
import logging

import pytest

from callseal.tenancy.context import tenant_context
from tests.conftest import ALL_DATABASES


def test_healthz_answers_without_a_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_readyz_checks_every_region_the_broker_and_the_channel_layer(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"directory", "region:us", "region:eu", "broker", "channel_layer"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_readyz_reports_a_broken_region_as_not_ready(client, monkeypatch):
    from callseal import health

    real = health._check_database
    monkeypatch.setattr(
        health,
        "_check_database",
        lambda alias: (
            {"ok": False, "error": "OperationalError"} if alias == "region_eu" else real(alias)
        ),
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["region:eu"] == {"ok": False, "error": "OperationalError"}


def test_logs_are_json_with_tenant_and_request_ids(acme_us_ref):
    import io

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    buffer = io.StringIO()
    logging.getLogger().handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    with tenant_context(acme_us_ref):
        logging.getLogger("callseal.test").info("call answered", extra={"frames": 3})
    line = buffer.getvalue().strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "call answered"
    assert record["tenant"] == "acme-us"
    assert record["region"] == "us"
    assert record["level"] == "INFO"
    assert record["frames"] == 3


@pytest.fixture
def acme_us_ref():
    import uuid

    from callseal.tenancy.context import TenantRef

    return TenantRef(id=uuid.uuid4(), slug="acme-us", region="us")


def test_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abcdef0123456789")
    assert response["X-Request-ID"] == "abcdef0123456789"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert len(generated) == 32
    assert generated.isalnum()
