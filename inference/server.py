"""The per-region inference service: an aiohttp application with ``/healthz`` and the
streaming WebSocket endpoints ``/asr`` and ``/tts`` (protocol in docs/adr/0005).

Only holders of the region's token get in (``inference.auth``; ``/healthz`` answers others
with its status alone), one call or tenant holds a bounded number of sockets, and a socket
left idle is closed within seconds (docs/adr/0018).

Models load once, before the socket opens, and stay warm. Model calls run in a thread
pool sized to the concurrency limits (CTranslate2 and onnxruntime release the GIL), never
on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from inference.asr import AsrEngine, load_asr_engines
from inference.auth import Caller, CallerError, CallerLimits, OverLimit, bearer_ok
from inference.config import ServiceConfig
from inference.limits import Admission
from inference.tts import TtsEngine, load_tts_engines

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_CONTROL_BYTES = 16 * 1024
CLOSE_TIMEOUT_S = 1.0  # how long a closing socket waits for the peer's close frame


class ProtocolError(Exception):
    """A client broke the protocol; ``code`` is the machine-readable reason."""

    def __init__(self, code: str, message: str, *, close: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.close = close


@dataclass
class Service:
    config: ServiceConfig
    asr: dict[str, AsrEngine]
    tts: dict[str, TtsEngine]
    executor: ThreadPoolExecutor
    # Jobs done since start, by kind ("asr.final", "asr.peek", "asr.peek_skipped",
    # "asr.partial"): how often speculative work paid off is visible on /healthz.
    jobs: Counter[str] = field(default_factory=Counter)
    asr_admission: Admission = field(init=False)
    tts_admission: Admission = field(init=False)
    callers: CallerLimits = field(init=False)

    def __post_init__(self) -> None:
        self.callers = CallerLimits(
            per_call=self.config.max_sockets_per_call,
            per_tenant=self.config.max_sockets_per_tenant,
        )
        self.asr_admission = Admission(
            "asr", concurrency=self.config.asr_concurrency, max_waiting=self.config.max_waiting
        )
        self.tts_admission = Admission(
            "tts", concurrency=self.config.tts_concurrency, max_waiting=self.config.max_waiting
        )

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    def provenance(self, service: str, info: dict[str, str]) -> dict[str, str]:
        return {"region": self.config.region, "service": service, **info}


def load_service(config: ServiceConfig) -> Service:
    """Load every model of the region (blocking; minutes at worst on first run)."""
    asr = load_asr_engines(
        region=config.region,
        names=config.asr_models,
        cache_dir=config.cache_dir,
        cpu_threads=config.cpu_threads,
        num_workers=config.asr_concurrency,
        window_s=config.asr_window_s,
    )
    tts = load_tts_engines(region=config.region, cpu_threads=config.cpu_threads)
    executor = ThreadPoolExecutor(
        max_workers=config.asr_concurrency + config.tts_concurrency,
        thread_name_prefix="inference",
    )
    return Service(config=config, asr=asr, tts=tts, executor=executor)


SERVICE_KEY = web.AppKey("service", Service)


AUTHENTICATED_KEY = web.RequestKey("authenticated", bool)
_OPEN_PATHS = frozenset({"/healthz"})


@web.middleware
async def require_token(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse every request without the region's token (401, before any WebSocket opens);
    ``/healthz`` alone answers, with less, to anyone (liveness probes)."""
    token = request.app[SERVICE_KEY].config.token
    request[AUTHENTICATED_KEY] = bearer_ok(request.headers.get("Authorization"), token)
    if not request[AUTHENTICATED_KEY] and request.path not in _OPEN_PATHS:
        log.warning(
            "refused %s %s from %s: no valid token", request.method, request.path, request.remote
        )
        return web.json_response(
            {
                "type": "error",
                "code": "unauthorized",
                "message": "a valid bearer token is required",
            },
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="callseal-inference"'},
        )
    return await handler(request)


@contextmanager
def socket_admission(request: web.Request) -> Iterator[web.Response | None]:
    """Hold one of the caller's sockets while the block runs; yields the refusal to send
    instead (400 for a malformed caller header, 429 over the call's or tenant's limit)."""
    service = request.app[SERVICE_KEY]
    try:
        caller = Caller.from_headers(request.headers)
    except CallerError as exc:
        yield web.json_response(
            {"type": "error", "code": "bad_caller", "message": str(exc)}, status=400
        )
        return
    try:
        with service.callers.hold(caller):
            yield None
    except OverLimit as exc:
        log.warning("refused a socket of tenant %s call %s: %s", caller.tenant, caller.call, exc)
        yield web.json_response({"type": "error", "code": "busy", "message": str(exc)}, status=429)


async def client_messages(
    ws: web.WebSocketResponse, *, idle_s: float, busy: Callable[[], bool]
) -> AsyncIterator[Any]:
    """The socket's messages, as ``async for msg in ws`` gives them, except that a socket
    with no message for ``idle_s`` while ``busy()`` is false is closed (1008 "idle"): an
    idle client must not keep a region's capacity."""
    while True:
        try:
            msg = await ws.receive(timeout=idle_s)
        except TimeoutError:
            if busy():
                continue
            await ws.close(code=1008, message=b"idle")
            return
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            return
        yield msg


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    if not request[AUTHENTICATED_KEY]:
        return web.json_response({"status": "ok"})
    return web.json_response(
        {
            "status": "ok",
            "region": service.config.region,
            "models": {
                "asr": {name: engine.info.as_dict() for name, engine in service.asr.items()},
                "tts": {
                    name: {**engine.info.as_dict(), "sample_rate": engine.sample_rate}
                    for name, engine in service.tts.items()
                },
            },
            "queues": {
                "asr": service.asr_admission.snapshot(),
                "tts": service.tts_admission.snapshot(),
            },
            "jobs": dict(sorted(service.jobs.items())),
            "sockets": service.callers.snapshot(),
        }
    )


def parse_control(data: str) -> dict[str, Any]:
    if len(data) > MAX_CONTROL_BYTES:
        raise ProtocolError(
            "too_large", f"control message over {MAX_CONTROL_BYTES} bytes", close=1009
        )
    try:
        message = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc}", close=1007) from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("bad_message", 'a control message is an object with a "type"')
    return message


async def send_error(
    ws: web.WebSocketResponse, error: ProtocolError, provenance: dict[str, str]
) -> None:
    if not ws.closed:
        await ws.send_json(
            {"type": "error", "code": error.code, "message": str(error), **provenance}
        )
        if error.close is not None:
            await ws.close(code=error.close, message=error.code.encode())


def build_app(service: Service) -> web.Application:
    from inference.asr_ws import asr_socket
    from inference.tts_ws import tts_socket

    app = web.Application(middlewares=[require_token])
    app[SERVICE_KEY] = service
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/asr", asr_socket)
    app.router.add_get("/tts", tts_socket)

    async def _shutdown(app: web.Application) -> None:
        app[SERVICE_KEY].executor.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(_shutdown)
    return app


def serve(config: ServiceConfig) -> None:
    log.info("loading models for region %s", config.region)
    service = load_service(config)
    log.info(
        "region %s ready: asr=%s tts=%s; listening on %s:%s",
        config.region,
        ",".join(service.asr),
        ",".join(service.tts),
        config.host,
        config.port,
    )
    web.run_app(
        build_app(service),
        host=config.host,
        port=config.port,
        print=None,
        ssl_context=server_ssl_context(config),
    )


def server_ssl_context(config: ServiceConfig) -> ssl.SSLContext | None:
    """TLS when a certificate is configured; with a client CA, clients need one too."""
    if not config.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    if config.tls_client_ca_file:
        context.load_verify_locations(config.tls_client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
