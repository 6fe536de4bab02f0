"""Liveness and readiness probes."""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database(alias: str) -> dict[str, Any]:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means not ready
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _check_broker() -> dict[str, Any]:
    from callseal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises transport-specific errors
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _check_channel_layer() -> dict[str, Any]:
    layer = get_channel_layer()
    if layer is None:
        return {"ok": False, "error": "no channel layer"}
    try:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.send)(channel, {"type": "readyz.ping"})
        message = async_to_sync(layer.receive)(channel)
    except Exception as exc:  # redis errors, timeouts
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": message.get("type") == "readyz.ping"}


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    started = time.monotonic()
    checks: dict[str, Any] = {"directory": _check_database("default")}
    for region in settings.REGIONS.values():
        checks[f"region:{region.name}"] = _check_database(region.db_alias)
    checks["broker"] = _check_broker()
    checks["channel_layer"] = _check_channel_layer()
    ready = all(c["ok"] for c in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return JsonResponse(body, status=200 if ready else 503)
