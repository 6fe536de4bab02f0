"""Shared fixtures. Tests run on the embedded default, or on PostgreSQL + Redis when
DATABASE_URL / REDIS_URL are set (CI runs both)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connections

from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role, Tenant
from callseal.tenancy.roles import as_owner
from tests.factories import TenantFactory, UserFactory, membership, second_factor_verified

ALL_DATABASES = "__all__"
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_mode() -> bool:
    return bool(settings.DATABASE_URL)


def pytest_sessionstart(session: pytest.Session) -> None:
    # In CI an unreachable Redis is a failure, not a skip (PostgreSQL fails on its own
    # when the test databases cannot be created).
    if IN_CI and os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests last: they hold an event loop on the main thread while they run.
    items.sort(key=lambda item: "/browser/" in str(item.fspath))


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment: None,
    django_db_blocker: pytest.FixtureRequest,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """Create the test databases as the owner role; tests then run as the app role."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        with as_owner():
            db_cfg = setup_databases(verbosity=0, interactive=False, aliases=set(connections))  # type: ignore[arg-type]
        for conn in connections.all():
            conn.close()
    yield
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        for conn in connections.all():
            conn.close()
        with as_owner():
            _end_other_sessions()
            for conn in connections.all():
                conn.close()
            teardown_databases(db_cfg, verbosity=0)


def _end_other_sessions() -> None:
    """Async tests leave connections open in executor threads; end them before dropping."""
    for conn in connections.all():
        if conn.vendor != "postgresql":
            continue
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def acme_us(db: None) -> Tenant:
    return TenantFactory(slug="acme-us", name="Acme US", region="us")  # type: ignore[return-value]


@pytest.fixture
def acme_eu(db: None) -> Tenant:
    return TenantFactory(slug="acme-eu", name="Acme EU", region="eu")  # type: ignore[return-value]


@pytest.fixture
def us_context(acme_us: Tenant) -> Iterator[Tenant]:
    with tenant_context(acme_us):
        yield acme_us


@pytest.fixture
def eu_context(acme_eu: Tenant) -> Iterator[Tenant]:
    with tenant_context(acme_eu):
        yield acme_eu


@pytest.fixture
def login_as(client):  # type: ignore[no-untyped-def]
    """login_as(tenant, role) -> the logged-in user; the client is that user's browser,
    past the second factor where the role needs one."""

    def _login(tenant: Tenant, role: str = Role.ADMIN):  # type: ignore[no-untyped-def]
        user = UserFactory()
        membership(user=user, tenant=tenant, role=role)
        client.force_login(user)
        second_factor_verified(client, user)
        return user

    return _login
