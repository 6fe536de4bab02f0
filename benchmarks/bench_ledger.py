"""Ledger vs eventsourcing's PostgreSQL recorder, same machine, same run, same database server.

Needs PostgreSQL: uses DATABASE_URL / REGION_*_DATABASE_URL when set, else its own bench
databases (callseal_bench_*) on 127.0.0.1, created like `manage.py db_bootstrap` does.
Figures: single-event appends/s (1 thread; 8 threads over 8 tenants), 50-event batch
appends (events/s), and ledger_verify events/s (peer: reading the same number of events).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

SINGLE = int(os.environ.get("BENCH_LEDGER_SINGLE", "400"))
BATCHES = int(os.environ.get("BENCH_LEDGER_BATCHES", "60"))
VERIFY_EVENTS = int(os.environ.get("BENCH_LEDGER_VERIFY", "60000"))
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
    figures: list[tuple[str, float, float]] = []

    # Single-event appends, 1 thread.
    def ours_single(n: int, t: TenantRef) -> None:
        with tenant_context(t):
            for i in range(n):
                ledger_append(stream_id=f"s{i}", events=[event], actor="bench")

    def peer_single(n: int) -> None:
        for _ in range(n):
            peer.insert_events([StoredEvent(uuid.uuid4(), 1, "topic", b"state")])

    ours_single(20, tenant())  # warm up
    peer_single(20)
    started = time.perf_counter()
    ours_single(SINGLE, tenant())
    ours = SINGLE / (time.perf_counter() - started)
    started = time.perf_counter()
    peer_single(SINGLE)
    figures.append(("single appends/s, 1 thread", ours, SINGLE / (time.perf_counter() - started)))

    # Single-event appends, 8 threads over 8 tenants.
    tenants = [tenant() for _ in range(THREADS)]
    ours = THREADS * SINGLE / _threads(THREADS, lambda i: ours_single(SINGLE, tenants[i]))
    theirs = THREADS * SINGLE / _threads(THREADS, lambda i: peer_single(SINGLE))
    figures.append(("single appends/s, 8 threads/8 tenants", ours, theirs))

    # 50-event batches, 1 thread.
    batch_tenant = tenant()
    started = time.perf_counter()
    with tenant_context(batch_tenant):
        for i in range(BATCHES):
            ledger_append(stream_id=f"b{i}", events=[event] * 50, actor="bench")
    ours = BATCHES * 50 / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(BATCHES):
        oid = uuid.uuid4()
        peer.insert_events([StoredEvent(oid, v, "topic", b"state") for v in range(1, 51)])
    figures.append(("batch-50 events/s", ours, BATCHES * 50 / (time.perf_counter() - started)))

    # Verification: a tenant with VERIFY_EVENTS events, recomputed end to end.
    verify_tenant_ref = tenant()
    with tenant_context(verify_tenant_ref):
        for i in range(VERIFY_EVENTS // 500):
            ledger_append(stream_id=f"v{i}", events=[event] * 500, actor="bench")
        started = time.perf_counter()
        report = verify_tenant(verify_tenant_ref)
        ours = report.events / (time.perf_counter() - started)
        assert report.fault is None
    started = time.perf_counter()
    position, read = 0, 0
    while read < VERIFY_EVENTS:
        got = peer.select_notifications(position, 5000, inclusive_of_start=False)
        if not got:
            break
        read += len(got)
        position = got[-1].id
    figures.append(
        ("verify events/s (peer: plain read)", ours, read / (time.perf_counter() - started))
    )
    datastore.close()

    print(f"{'measure':42} {'callseal':>12} {'eventsourcing':>14} {'ratio':>7}")
    for name, mine, peer_rate in figures:
        print(f"{name:42} {mine:12,.0f} {peer_rate:14,.0f} {mine / peer_rate:7.2f}")
    print(f"verify: {figures[-1][1] * 60:,.0f} events/minute (target 1,000,000)")
    print(f"batch-50: {figures[2][1]:,.0f} events/s (target 15,000)")
    return 0
