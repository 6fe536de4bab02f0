"""Issue 22, finding 10: one bad broker message must not take the embedded stack down.
Messages are written aside and renamed into the queue (a reader never sees part of one), an
unreadable message is quarantined with one log line, and a worker that dies is restarted by
callseal.supervise (the Procfile's wrapper) instead of honcho stopping every process."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty

import pytest
from django.conf import settings
from kombu import Connection

from callseal import broker
from callseal.ledger.tasks import checkpoint_tenant
from callseal.supervise import next_backoff
from callseal.tenancy.context import tenant_context
from tests.conftest import ALL_DATABASES
from tests.factories import TenantFactory
from tests.ledger.test_checkpoint_tasks import _grow, _purge, _sizes, _wait_for

ROOT = Path(__file__).resolve().parents[1]
QUEUE = "region.us"
# Servers mode (REDIS_URL) uses Redis as the broker: no message files there.
embedded_broker = pytest.mark.skipif(
    bool(settings.REDIS_URL), reason="servers mode: the broker is Redis"
)


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    names = ("queue", "processed", "control")
    for name in names:
        (tmp_path / name).mkdir()
    return {name: tmp_path / name for name in names}


def _connection(folders: dict[str, Path]) -> Connection:
    return Connection(
        "filesystem://",
        transport="callseal.broker:Transport",
        transport_options={
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
        },
    )


def test_finding10_a_truncated_message_is_quarantined_with_one_log_line(folders, caplog):
    caplog.set_level(logging.ERROR, logger="callseal.broker")
    # A queue name of its own: Kombu remembers bindings per process (BrokerState).
    name = f"quarantine-{uuid.uuid4().hex}"
    with _connection(folders) as connection:
        queue = connection.SimpleQueue(name)
        queue.put({"n": 1})
        queue.put({"n": 2})
        first = sorted(folders["queue"].iterdir())[0]
        first.write_bytes(first.read_bytes()[:40])  # a message cut off mid-way
        with pytest.raises(json.JSONDecodeError) as error:
            json.loads(first.read_bytes())
        message = queue.get(timeout=5)
        assert message.payload == {"n": 2}
        message.ack()
        with pytest.raises(Empty):
            queue.get(timeout=0.2)
    quarantined = folders["queue"].parent / "quarantine" / first.name
    assert sorted((folders["queue"].parent / "quarantine").iterdir()) == [quarantined]
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        (
            "callseal.broker",
            f"broker: unreadable message on queue {name} moved to {quarantined} "
            f"(JSONDecodeError: {error.value})",
        )
    ]
    assert list(folders["queue"].iterdir()) == []
    assert list(folders["processed"].iterdir()) == []


def test_finding10_a_writer_never_exposes_a_partial_message(folders, monkeypatch):
    """While a message's bytes are being made durable, before the rename, a reader polling
    the queue finds nothing; afterwards it finds the whole message."""
    seen: list[tuple[list[str], bool]] = []
    real_fsync = os.fsync
    with _connection(folders) as writer, _connection(folders) as reader:
        reading = reader.default_channel

        def fsync_while_a_reader_polls(fd: int) -> None:
            try:
                reading._get(QUEUE)
                found = True
            except Empty:
                found = False
            seen.append((sorted(p.name for p in folders["queue"].iterdir()), found))
            real_fsync(fd)

        monkeypatch.setattr(broker.os, "fsync", fsync_while_a_reader_polls)
        writer.default_channel._put(QUEUE, {"body": "x" * 100_000})
        monkeypatch.setattr(broker.os, "fsync", real_fsync)
        ((names, found),) = seen
        assert found is False
        assert len(names) == 1
        assert names[0].startswith(".")
        assert names[0].endswith(f".{QUEUE}.msg.tmp")
        assert reading._get(QUEUE) == {"body": "x" * 100_000}


@embedded_broker
def test_finding10_the_embedded_broker_keeps_every_folder_under_var():
    assert settings.CELERY_BROKER_TRANSPORT == "callseal.broker:Transport"
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        assert Path(options[key]).parent == settings.VAR_DIR / "celery"
    assert not (ROOT / "control").exists()


def test_finding10_restart_backoff_doubles_to_30_s_and_resets_after_a_healthy_run():
    waits, wait = [], 0.5
    for _ in range(7):
        wait = next_backoff(wait, ran_s=2.0)
        waits.append(wait)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert next_backoff(30.0, ran_s=61.0) == 1.0


# --- real worker processes ----------------------------------------------------------------


@pytest.fixture
def worker(django_db_setup: None, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """worker(supervised=) -> the process (a us worker on the test databases); its output
    goes to tmp_path / "worker.log"."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*, supervised: bool) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "CALLSEAL_SERVE_TEST_DATABASES": "true",
            "CALLSEAL_WORKER_REGION": "us",
            "PYTHONPATH": str(ROOT),
        }
        command = [sys.executable, "-m", "celery", "-A", "callseal", "worker", "-Q", QUEUE]
        command += ["-P", "solo", "--without-mingle", "--without-gossip", "-l", "info"]
        if supervised:
            command = [sys.executable, "-m", "callseal.supervise", "worker-us", "--", *command]
        with (tmp_path / "worker.log").open("wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _publish_checkpoint(tenant) -> Path:  # type: ignore[no-untyped-def]
    """Publish a checkpoint for ``tenant``; the message file it wrote."""
    queue_dir = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    before = set(queue_dir.iterdir())
    with tenant_context(tenant):
        checkpoint_tenant.delay()
    (written,) = set(queue_dir.iterdir()) - before
    return written


@embedded_broker
@pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
def test_finding10_a_truncated_message_does_not_stop_a_real_worker(worker, tmp_path):
    broken, sound = (TenantFactory(slug=f"{n}-us", region="us") for n in ("broken", "sound"))
    _grow(broken, 2)
    _grow(sound, 3)
    _purge(QUEUE)
    truncated = _publish_checkpoint(broken)
    truncated.write_bytes(truncated.read_bytes()[:100])
    _publish_checkpoint(sound)
    process = worker(supervised=False)
    log = tmp_path / "worker.log"
    _wait_for(lambda: _sizes(sound) == [3], log=log)
    assert process.poll() is None
    assert _sizes(broken) == []
    assert log.read_text().count(f"broker: unreadable message on queue {QUEUE} moved to") == 1
    assert (settings.VAR_DIR / "celery" / "quarantine" / truncated.name).exists()


@pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
def test_finding10_a_worker_killed_with_sigkill_is_restarted(worker, tmp_path):
    tenant = TenantFactory(slug="restarted-us", region="us")
    _grow(tenant, 4)
    _purge(QUEUE)
    supervisor = worker(supervised=True)
    log = tmp_path / "worker.log"
    _wait_for(lambda: "ready." in log.read_text(), log=log)
    (first_pid,) = re.findall(r"supervise: worker-us started \(pid (\d+)\)", log.read_text())
    os.kill(int(first_pid), signal.SIGKILL)
    _wait_for(lambda: log.read_text().count("supervise: worker-us started") == 2, log=log)
    assert re.search(
        r"supervise: worker-us was killed by SIGKILL after [\d.]+ s; restarting in 1 s",
        log.read_text(),
    )
    assert supervisor.poll() is None
    # The restarted worker does the work.
    with tenant_context(tenant):
        checkpoint_tenant.delay()
    _wait_for(lambda: _sizes(tenant) == [4], log=log)
    supervisor.terminate()
    assert supervisor.wait(timeout=30) == 0


def test_finding10_a_killed_supervisor_takes_its_command_with_it(tmp_path):
    log = tmp_path / "supervise.log"
    command = [sys.executable, "-c", "import time; time.sleep(600)"]
    with log.open("wb") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "callseal.supervise", "sleeper", "--", *command],
            stdout=out,
            stderr=out,
        )
    try:
        _wait_for(lambda: "supervise: sleeper started" in log.read_text(), log=log)
        (child,) = re.findall(r"started \(pid (\d+)\)", log.read_text())
        supervisor.kill()
        supervisor.wait(timeout=30)
        _wait_for(lambda: not Path(f"/proc/{child}").exists(), log=log, timeout=30)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
