"""Server time of the console's pages on demo data (the issue's budget: 300 ms a page).

Seeds the demo tenants plus CALLS calls with AI turns (two turns each, latency, inference
hops; the AI event types are registered as tests/analytics/ai_events.py does until the
pipeline registers them) into a fresh var directory, then times each page in process with
Django's test client (server time: middleware, views, queries, templates; no network),
median and p95 of REPEAT requests. Peer in the same run: the bare /healthz view.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALLS = int(os.environ.get("BENCH_CONSOLE_CALLS", "400"))
REPEAT = 20


def _worker() -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate_all", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from calls.models import Call, PhoneNumber
    from callseal.tenancy.context import tenant_context
    from callseal.tenancy.models import Tenant
    from tests.analytics.conftest import CallDriver

    tenant = Tenant.objects.get(slug="acme-us")
    number = PhoneNumber.objects.get(tenant=tenant)
    started = time.perf_counter()
    for i in range(CALLS):
        call = CallDriver(tenant, number)
        call.turn("my order is 5521", "my order is 5521", "It ships tomorrow.", 500 + i % 400)
        call.turn("thanks", "thanks", "You're welcome.", 600 + i % 300)
        if i % 20:
            call.end("completed")
    print(f"seeded {CALLS} calls in {time.perf_counter() - started:.1f} s")
    with tenant_context(tenant):
        some = Call.objects.filter(tenant_id=tenant.id).order_by("-started_at").first()
    assert some is not None
    from django.contrib.auth import get_user_model

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="acme-us-admin"))
    pages = {
        "/healthz (peer)": "/healthz",
        "dashboard": "/",
        "dashboard figures": "/dashboard/figures/",
        "calls list": "/calls/",
        "calls list, filtered": "/calls/?outcome=contained&status=completed",
        "call detail": f"/calls/{some.id}/",
        "live call view": f"/calls/{some.id}/live/",
    }
    peer = None
    for name, url in pages.items():
        client.get(url)
        times = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        median = statistics.median(times)
        p95 = sorted(times)[int(0.95 * len(times)) - 1]
        peer = peer or median
        print(f"{name:<24} median {median:7.1f} ms  p95 {p95:7.1f} ms  x{median / peer:5.1f} peer")
    return 0


def main() -> int:
    var = ROOT / "var" / "bench-console"
    subprocess.run(["rm", "-rf", str(var)], check=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.endswith("DATABASE_URL") or k in ("REDIS_URL",))
    }
    env.update(
        CALLSEAL_VAR_DIR=str(var),
        CALLSEAL_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="callseal.settings",
    )
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_console", "--worker"],
        env=env,
        cwd=ROOT,
        check=False,
    ).returncode


if __name__ == "__main__":
    sys.exit(_worker() if "--worker" in sys.argv else main())
