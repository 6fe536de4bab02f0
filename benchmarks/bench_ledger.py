"""Ledger vs eventsourcing's PostgreSQL recorder, same machine, same run, same database server.

Needs PostgreSQL: uses DATABASE_URL / REGION_*_DATABASE_URL when set, else its own bench
databases (callseal_bench_*) on 127.0.0.1, created like `manage.py db_bootstrap` does.
Figures: single-event appends/s and 50-event batch appends (events/s), each with 1 thread
and with 8 threads over 8 tenants (the peer: 8 threads on its one table), and ledger_verify
events/s (peer: reading the same number of events). Both sides commit through the same
server with its durability settings (printed), each measure alternates the two sides over
BENCH_LEDGER_ROUNDS rounds and reports medians, and the load average is printed.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

SINGLE = int(os.environ.get("BENCH_LEDGER_SINGLE", "400"))
BATCHES = int(os.environ.get("BENCH_LEDGER_BATCHES", "60"))
VERIFY_EVENTS = int(os.environ.get("BENCH_LEDGER_VERIFY", "60000"))
ROUNDS = int(os.environ.get("BENCH_LEDGER_ROUNDS", "3"))
THREADS = 8


def _configure() -> None:
    if not os.environ.get("DATABASE_URL"):
        base = "postgresql://callseal_owner@127.0.0.1:5432/callseal_bench"
        os.environ["DATABASE_URL"] = f"{base}_directory"
        os.environ["REGION_US_DATABASE_URL"] = f"{base}_us"
        os.environ["REGION_EU_DATABASE_URL"] = f"{base}_eu"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callseal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("db_bootstrap", verbosity=0)
    call_command("migrate_all", verbosity=0)


def _threads(n: int, work: Callable[[int], None]) -> float:
    from django.db import connections

    barrier = threading.Barrier(n + 1)

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def _peer_recorder():  # type: ignore[no-untyped-def]
    from django.conf import settings
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    cfg = settings.DATABASES[settings.REGIONS["us"].db_alias]
    datastore = PostgresDatastore(
        dbname=cfg["NAME"],
        host=cfg["HOST"] or "127.0.0.1",
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        password=cfg["PASSWORD"] or "",
        pool_size=THREADS + 1,
    )
    recorder = PostgresApplicationRecorder(
        datastore, events_table_name=f"bench_es_{uuid.uuid4().hex[:8]}"
    )
    recorder.create_table()
    return datastore, recorder


def _server_settings() -> str:
    from django.conf import settings
    from django.db import connections

    with connections[settings.REGIONS["us"].db_alias].cursor() as cursor:
        values = []
        for name in ("fsync", "synchronous_commit", "wal_sync_method", "server_version"):
            cursor.execute(f"SHOW {name}")
            values.append(f"{name}={cursor.fetchone()[0]}")
    return " ".join(values)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    _configure()
    from eventsourcing.persistence import StoredEvent

    from callseal.ledger.registry import register_event
    from callseal.ledger.services import ledger_append
    from callseal.ledger.verify import verify_tenant
    from callseal.tenancy.context import TenantRef, tenant_context

    @register_event("bench.noted", version=1)
    @dataclass(frozen=True, slots=True)
    class Noted:
        text: str

    def tenant() -> TenantRef:
        return TenantRef(id=uuid.uuid4(), slug="bench", region="us")

    event = Noted(text="state")
    datastore, peer = _peer_recorder()
    print(f"load average at start: {os.getloadavg()}; both on one server: {_server_settings()}")

    def ours_appends(n: int, size: int, t: TenantRef) -> None:
        with tenant_context(t):
            for _ in range(n):
                ledger_append(stream_id=f"s{uuid.uuid4().hex}", events=[event] * size, actor="b")

    def peer_appends(n: int, size: int) -> None:
        for _ in range(n):
            oid = uuid.uuid4()
            peer.insert_events([StoredEvent(oid, v, "topic", b"state") for v in range(1, size + 1)])

    ours_appends(20, 1, tenant())  # warm up (connections, prepared statements)
    peer_appends(20, 1)

    # Each measure alternates ours and the peer over ROUNDS rounds (the machine is shared,
    # so load drifts) and reports the medians.
    cases: list[tuple[str, int, int, int]] = [
        ("single appends/s, 1 thread", 1, SINGLE, 1),
        ("single appends/s, 8 threads/8 tenants", THREADS, SINGLE, 1),
        ("batch-50 events/s, 1 thread", 1, BATCHES, 50),
        ("batch-50 events/s, 8 threads/8 tenants", THREADS, BATCHES // 2, 50),
    ]

    def measure(threads: int, n: int, size: int) -> tuple[float, float]:
        ours_rates, peer_rates = [], []
        total = threads * n * size
        for _ in range(ROUNDS):
            tenants = [tenant() for _ in range(threads)]

            def ours(i: int, tenants: list[TenantRef] = tenants) -> None:
                ours_appends(n, size, tenants[i])

            ours_rates.append(total / _threads(threads, ours))
            peer_rates.append(total / _threads(threads, lambda i: peer_appends(n, size)))
        return _median(ours_rates), _median(peer_rates)

    figures = [(name, *measure(threads, n, size)) for name, threads, n, size in cases]

    # Verification: a tenant with VERIFY_EVENTS events, recomputed end to end.
    verify_tenant_ref = tenant()
    ours_appends(VERIFY_EVENTS // 500, 500, verify_tenant_ref)
    ours_rates, peer_rates = [], []
    for _ in range(ROUNDS):
        with tenant_context(verify_tenant_ref):
            started = time.perf_counter()
            report = verify_tenant(verify_tenant_ref)
            ours_rates.append(report.events / (time.perf_counter() - started))
            assert report.fault is None
            assert report.events == VERIFY_EVENTS // 500 * 500
        started = time.perf_counter()
        position, read = 0, 0
        while read < VERIFY_EVENTS:
            got = peer.select_notifications(position, 5000, inclusive_of_start=False)
            if not got:
                break
            read += len(got)
            position = got[-1].id
        peer_rates.append(read / (time.perf_counter() - started))
    figures.append(("verify events/s (peer: plain read)", _median(ours_rates), _median(peer_rates)))
    datastore.close()

    print(f"{'measure':42} {'callseal':>12} {'eventsourcing':>14} {'ratio':>7}")
    for name, mine, peer_rate in figures:
        print(f"{name:42} {mine:12,.0f} {peer_rate:14,.0f} {mine / peer_rate:7.2f}")
    print(f"verify: {figures[-1][1] * 60:,.0f} events/minute (target 1,000,000)")
    best_batch = max(figures[2][1], figures[3][1])
    print(f"batch-50: {best_batch:,.0f} events/s (target 15,000)")
    print(f"medians of {ROUNDS} alternating rounds; load average at end: {os.getloadavg()}")
    return 0
