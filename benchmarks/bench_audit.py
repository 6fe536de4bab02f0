"""Audit export and offline verification of N events (default 1,000,000): seconds, peak MB.

    BENCH_AUDIT_EVENTS=1000000 python -m benchmarks audit

Uses DATABASE_URL / REGION_*_DATABASE_URL when set (PostgreSQL), else SQLite in a scratch
CALLSEAL_VAR_DIR. Events are bulk-appended in batches of 2000 per call stream: one sealed
turn through ledger_append, the rest through the ledger's batch append (store.append). Export and
verification each run in their own process, so their peak RSS (ru_maxrss) is their own.
Peers in the same run: export vs `ledger_verify` of the same log (both stream every event
and rebuild the tree); verify vs `sha256sum` of the bundle (the floor: reading its bytes).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Module level: the event class below resolves its annotations against these globals.
from callseal.ledger.registry import Personal, register_event

EVENTS = int(os.environ.get("BENCH_AUDIT_EVENTS", "1000000"))
BATCH = 2000
SLUG = "bench-audit"


def _setup() -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("CALLSEAL_VAR_DIR", tempfile.mkdtemp(prefix="bench-audit-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callseal.settings")
    import django

    django.setup()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(phase: str, *args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_audit", phase, *args],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{phase} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _generate() -> None:
    from dataclasses import dataclass

    from django.core.management import call_command

    from callseal.crypto.services import subject_ref_for
    from callseal.ledger.services import ledger_append
    from callseal.ledger.signing import checkpoint_create
    from callseal.tenancy.context import tenant_context
    from callseal.tenancy.models import Tenant

    @register_event("bench.turn", version=1)
    @dataclass(frozen=True, slots=True)
    class Turn:
        redacted_text: str
        text: Personal[str]

    @register_event("bench.hop", version=1)
    @dataclass(frozen=True, slots=True)
    class Hop:
        service: str
        region: str

    if os.environ.get("DATABASE_URL"):
        call_command("db_bootstrap", verbosity=0)
    call_command("migrate_all", verbosity=0)
    tenant, _ = Tenant.objects.get_or_create(
        slug=SLUG, defaults={"name": "Bench", "region": "us", "policies": {}}
    )
    from callseal.ledger import store
    from callseal.ledger.canonical import canonical_json

    with tenant_context(tenant) as ref:
        from callseal.ledger.selectors import ledger_head_sequence

        have = ledger_head_sequence()
        started = time.perf_counter()
        batch_no = have // BATCH
        while have < EVENTS:
            n = min(BATCH, EVENTS - have)
            subject = subject_ref_for(f"+1415555{batch_no:06d}")
            # One Turn sealed through ledger_append per batch (real ciphertext and subject
            # key), then the rest stored through the ledger's batch append as prepared rows.
            ledger_append(
                stream_id=f"call-bench-{batch_no}",
                events=[Turn(redacted_text="turn: <PHONE_NUMBER>", text="415 555 0100")],
                actor="bench",
                subject=subject,
            )
            metadata = canonical_json({"actor": "bench", "region": "us"})
            store.append(
                tenant=ref,
                stream_id=f"call-bench-{batch_no}",
                expected_version=None,
                records=[
                    store.Prepared(
                        event_id=uuid.uuid4(),
                        type="bench.hop",
                        schema_version=1,
                        subject_ref=subject,
                        payload_json=canonical_json({"region": "us", "service": f"asr-{i}"}),
                        metadata_json=metadata,
                    )
                    for i in range(n - 1)
                ],
            )
            have += n
            batch_no += 1
            if batch_no % 25 == 0:
                rate = have / (time.perf_counter() - started)
                print(f"  generated {have:,} events ({rate:,.0f}/s)", flush=True)
            if have % 100_000 == 0:
                checkpoint_create()
        checkpoint_create(only_if_grown=True)


def _phase_export(out: str) -> None:
    from callseal.tenancy.context import tenant_context
    from callseal.tenancy.models import Tenant
    from compliance.audit.export import bundle_export
    from compliance.audit.filters import AuditFilter

    tenant = Tenant.objects.get(slug=SLUG)
    with tenant_context(tenant):
        started = time.perf_counter()
        result = bundle_export(audit_filter=AuditFilter(), out=Path(out), actor="bench")
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb(), "events": result.events}))


def _phase_ledger_verify() -> None:
    from callseal.ledger.verify import verify_tenant
    from callseal.tenancy.context import tenant_context
    from callseal.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    with tenant_context(tenant) as ref:
        started = time.perf_counter()
        report = verify_tenant(ref)
        seconds = time.perf_counter() - started
    assert report.fault is None, report.fault
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb()}))


def _phase_verify(bundle: str) -> None:
    from compliance.verify import verify_bundle

    started = time.perf_counter()
    summary = verify_bundle(bundle)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb(), "events": summary.events}))


def main() -> int:
    _setup()
    print(f"N = {EVENTS:,} events (BENCH_AUDIT_EVENTS)", flush=True)
    from django.db import connections

    vendor = connections["region_us"].vendor if "region_us" in connections else "?"
    print(f"database: {vendor}", flush=True)
    started = time.perf_counter()
    _generate()
    print(f"generation: {time.perf_counter() - started:.1f}s", flush=True)
    connections.close_all()
    with tempfile.TemporaryDirectory(prefix="bench-audit-out-") as scratch:
        bundle = str(Path(scratch) / "bundle.zip")
        export = _child("export", bundle)
        peer_export = _child("ledger_verify")
        size_mb = Path(bundle).stat().st_size / 1e6
        verify = _child("verify", bundle)
        began = time.perf_counter()
        subprocess.run(["sha256sum", bundle], check=True, capture_output=True)
        peer_verify = time.perf_counter() - began
    print(f"{'measure':34} {'seconds':>9} {'peak MB':>9} {'peer s':>9} {'ratio':>7}")
    print(
        f"{'export (peer: ledger_verify)':34} {export['seconds']:9.1f} {export['peak_mb']:9.0f}"
        f" {peer_export['seconds']:9.1f} {export['seconds'] / peer_export['seconds']:7.2f}"
    )
    print(
        f"{'verify.py (peer: sha256sum)':34} {verify['seconds']:9.1f} {verify['peak_mb']:9.0f}"
        f" {peer_verify:9.1f} {verify['seconds'] / peer_verify:7.2f}"
    )
    print(f"bundle: {size_mb:,.0f} MB for {int(export['events']):,} events")
    return 0


if __name__ == "__main__" and len(sys.argv) > 1:
    _setup()
    phase, *rest = sys.argv[1:]
    {"export": _phase_export, "ledger_verify": _phase_ledger_verify, "verify": _phase_verify}[
        phase
    ](*rest)
