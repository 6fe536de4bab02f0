"""Scheduled and on-demand checkpoints: the Celery tasks, their beat entries, real workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery.beat import ScheduleEntry, Scheduler
from django.conf import settings

from callseal.celery import REGION_HEADER, WrongRegion, app
from callseal.ledger.selectors import ledger_checkpoints
from callseal.ledger.services import ledger_append
from callseal.ledger.signing import checkpoint_create
from callseal.ledger.tasks import checkpoint_region, checkpoint_tenant
from callseal.tenancy.context import tenant_context
from tests.conftest import ALL_DATABASES
from tests.factories import TenantFactory
from tests.ledger.events import NoteAdded

ROOT = Path(__file__).resolve().parents[2]


def _grow(tenant, count: int) -> None:
    with tenant_context(tenant):
        ledger_append(
            stream_id="notes", events=[NoteAdded(text=str(i)) for i in range(count)], actor="t"
        )


def _sizes(tenant) -> list[int]:
    with tenant_context(tenant):
        return [c.tree_size for c in ledger_checkpoints()]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_checkpoint_region_signs_each_grown_tenant_of_that_region_only():
    first = TenantFactory(slug="first-us", region="us")
    second = TenantFactory(slug="second-us", region="us")
    empty = TenantFactory(slug="empty-us", region="us")
    elsewhere = TenantFactory(slug="elsewhere-eu", region="eu")
    _grow(first, 3)
    _grow(second, 2)
    _grow(elsewhere, 1)

    assert checkpoint_region("us") == 2
    assert (_sizes(first), _sizes(second), _sizes(empty), _sizes(elsewhere)) == ([3], [2], [], [])

    assert checkpoint_region("us") == 0  # nothing grew since
    _grow(second, 1)
    assert checkpoint_region("us") == 1
    assert (_sizes(first), _sizes(second)) == ([3], [2, 3])
    assert checkpoint_region("eu") == 1
    assert _sizes(elsewhere) == [1]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_checkpoint_tenant_signs_the_tenant_in_context_even_when_unchanged(us_context):
    _grow(us_context, 4)
    assert checkpoint_tenant() is True
    assert checkpoint_tenant() is True
    assert _sizes(us_context) == [4, 4]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_checkpoint_task_with_another_regions_header_is_refused_and_signs_nothing(settings):
    tenant = TenantFactory(slug="refused-us", region="us")
    _grow(tenant, 2)
    settings.WORKER_REGION = "eu"
    result = checkpoint_region.apply(args=("us",), headers={REGION_HEADER: "us"})
    assert result.failed()
    assert isinstance(result.result, WrongRegion)
    assert str(result.result) == (
        "ledger.checkpoint_region is for region 'us'; this worker serves 'eu'"
    )
    assert _sizes(tenant) == []


def test_beat_schedules_one_checkpoint_per_region_every_minute():
    assert {
        name: entry
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] == "ledger.checkpoint_region"
    } == {
        f"ledger-checkpoint-{region}": {
            "task": "ledger.checkpoint_region",
            "schedule": 60.0,
            "args": (region,),
            "options": {"region": region},
        }
        for region in settings.REGIONS
    }
    assert app.tasks["ledger.checkpoint_region"] is checkpoint_region._get_current_object()


def test_beat_sends_each_regions_checkpoint_to_that_regions_queue(monkeypatch):
    sent: list[dict[str, object]] = []

    def capture(self, args=None, kwargs=None, **options):  # the broker publish
        sent.append({"task": self.name, "args": tuple(args or ()), **options})

    monkeypatch.setattr("celery.app.task.Task.apply_async", capture)
    scheduler = Scheduler(app, lazy=True)
    for region in settings.REGIONS:
        name = f"ledger-checkpoint-{region}"
        entry = ScheduleEntry(name=name, app=app, **settings.CELERY_BEAT_SCHEDULE[name])
        scheduler.apply_async(entry, producer=object())
    # Region-wide: the region header, no tenant header (beat adds its own marker).
    assert [(s["task"], s["args"], s["queue"], s["headers"]) for s in sent] == [
        (
            "ledger.checkpoint_region",
            (region,),
            settings.REGIONS[region].celery_queue,
            {"celery_beat_task": True, REGION_HEADER: region},
        )
        for region in settings.REGIONS
    ]


# --- real worker processes ----------------------------------------------------------------


@pytest.fixture
def start_worker(django_db_setup: None, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """start_worker(region=, queue=) -> its log file: `celery -A callseal worker` serving the
    test databases (CALLSEAL_SERVE_TEST_DATABASES) on this run's broker."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*, region: str, queue: str) -> Path:
        log = tmp_path / f"worker-{region}.log"
        env = {
            **os.environ,
            "CALLSEAL_SERVE_TEST_DATABASES": "true",
            "CALLSEAL_WORKER_REGION": region,
            "PYTHONPATH": str(ROOT),
        }
        command = [sys.executable, "-m", "celery", "-A", "callseal", "worker", "-Q", queue]
        command += ["-P", "solo", "--without-mingle", "--without-gossip", "-l", "info"]
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=out)
            )
        return log

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _purge(queue: str) -> None:
    """Drop leftovers of earlier runs from the queue."""
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)  # type: ignore[attr-defined]


def _wait_for(check: Callable[[], bool], *, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


@pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
def test_region_worker_process_makes_the_requested_checkpoint(start_worker):
    tenant = TenantFactory(slug="worked-us", region="us")
    _grow(tenant, 5)
    queue = settings.REGIONS["us"].celery_queue
    _purge(queue)
    # Published before the worker starts: the filesystem transport can lose a message that
    # a polling consumer opens while it is still being written.
    with tenant_context(tenant):
        checkpoint_tenant.delay()
    log = start_worker(region="us", queue=queue)
    _wait_for(lambda: _sizes(tenant) == [5], log=log)
    # The worker signed with the tenant's key: the next local checkpoint verifies alike.
    with tenant_context(tenant):
        local = checkpoint_create()
        assert local is not None
        assert [c.key_name for c in ledger_checkpoints()] == [local.key_name] * 2


@pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
def test_worker_of_another_region_refuses_a_us_checkpoint(start_worker):
    tenant = TenantFactory(slug="misrouted-us", region="us")
    _grow(tenant, 2)
    # An eu worker wrongly consuming the us queue (a misconfiguration) must not run us tasks.
    queue = settings.REGIONS["us"].celery_queue
    _purge(queue)
    with tenant_context(tenant):
        checkpoint_tenant.delay()
    log = start_worker(region="eu", queue=queue)
    _wait_for(lambda: "WrongRegion" in log.read_text(), log=log)
    assert "is for region 'us'; this worker serves 'eu'" in log.read_text()
    assert _sizes(tenant) == []
