"""Inference service health per region, for the dashboard: each region's ``/healthz``
polled concurrently with a short timeout and cached for a few seconds, so a dead region
costs the page at most one timeout per cache period and never an error."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache

from inference.auth import client_ssl

CACHE_KEY = "analytics.inference_health"


@dataclass(frozen=True, slots=True)
class RegionHealth:
    region: str
    ok: bool
    detail: str
    latency_ms: int | None


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/healthz", "", ""))


def _probe(region: str, url: str, timeout: float, token: str = "") -> RegionHealth:
    started = time.monotonic()
    # With the region's token the service answers its models and queues (the residency
    # check below needs its region); without, only its status.
    request = urllib.request.Request(  # noqa: S310 - operator-configured endpoint
        _http_url(url), headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    try:
        # https endpoints: verified as the media process's clients verify them (the
        # internal CA and client certificate of INFERENCE_TLS_*, docs/adr/0018).
        tls = client_ssl()
        context = tls if isinstance(tls, ssl.SSLContext) else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310 - operator-configured endpoint
            body = json.loads(response.read(65536) or b"{}")
    except (OSError, ValueError) as exc:
        return RegionHealth(region, False, type(exc).__name__, None)
    elapsed = int((time.monotonic() - started) * 1000)
    if body.get("status") != "ok":
        return RegionHealth(region, False, f"status {body.get('status')!r}", elapsed)
    if body.get("region") not in (None, region):
        # A region's endpoint answered by another region's service: a residency fault.
        return RegionHealth(region, False, f"answered by region {body.get('region')}", elapsed)
    models = body.get("models", {})
    names = sorted({*models.get("asr", {}), *models.get("tts", {})})
    return RegionHealth(region, True, ", ".join(names) or "ok", elapsed)


def inference_health() -> list[RegionHealth]:
    cached: list[RegionHealth] | None = cache.get(CACHE_KEY)
    if cached is not None:
        return cached
    regions = settings.REGIONS
    timeout = settings.CALLSEAL_INFERENCE_HEALTH_TIMEOUT_S
    with ThreadPoolExecutor(max_workers=max(1, len(regions))) as pool:
        results = list(
            pool.map(
                lambda r: _probe(r.name, r.inference_url, timeout, r.inference_token),
                regions.values(),
            )
        )
    cache.set(CACHE_KEY, results, settings.CALLSEAL_INFERENCE_HEALTH_CACHE_S)
    return results
