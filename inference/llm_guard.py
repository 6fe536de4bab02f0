"""The guard in front of llama.cpp's OpenAI-compatible app (``llama_cpp.server``), in the
same process: what the region's LLM server lets through.

- Only the region's token gets in (``Authorization: Bearer``, constant-time compare; 401).
  llama.cpp's own ``api_key`` compares with ``==`` and leaves its docs open, so it is not
  used.
- Only the OpenAI routes the agent calls exist: ``/v1/models``, ``/v1/chat/completions``
  and ``/v1/completions``. Everything else (``/docs``, ``/redoc``, ``/openapi.json``, the
  extras) is 404, and the app's allow-every-origin CORS middleware is removed: browsers
  get no ``Access-Control-*`` header at all.
- No request may monopolise the server, which runs one completion at a time:
  ``max_tokens`` is required to be at most ``max_tokens`` (absent: set to it), ``n`` is 1,
  a streamed completion is stopped after ``max_request_s`` (llama.cpp checks for a
  disconnected client between tokens, and the guard reports one; a reply in one piece is
  bounded by its ``max_tokens``), and one call or tenant
  may have only so many requests in flight (429).
- A server error's body (which can name the model file) is replaced by a generic one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from inference.auth import Caller, CallerError, CallerLimits, OverLimit, bearer_ok

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTES = {
    "/v1/models": "GET",
    "/v1/chat/completions": "POST",
    "/v1/completions": "POST",
}
MAX_BODY_BYTES = 1 << 20


@dataclass
class GuardConfig:
    token: str = field(repr=False)
    max_tokens: int = 128
    max_request_s: float = 20.0
    max_per_call: int = 4
    max_per_tenant: int = 16


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def limit_body(body: bytes, *, cap: int) -> bytes:
    """The completion request with ``max_tokens`` checked (set to ``cap`` when absent);
    ``Refused`` (400) for anything else."""
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Refused(400, "bad_json", f"the body is not JSON ({exc})") from exc
    if not isinstance(request, dict):
        raise Refused(400, "bad_request", "the body is a JSON object")
    tokens = request.get("max_tokens")
    if tokens is None:
        request["max_tokens"] = cap
    elif isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise Refused(400, "bad_request", "max_tokens is a positive integer")
    elif tokens > cap:
        raise Refused(400, "max_tokens", f"max_tokens is at most {cap} on this server")
    if request.get("n", 1) != 1:
        raise Refused(400, "bad_request", "n must be 1")
    return json.dumps(request).encode()


class LlmGuard:
    """ASGI middleware around llama.cpp's app (see the module docstring)."""

    def __init__(self, app: App, config: GuardConfig) -> None:
        self.app = app
        self.config = config
        self.callers = CallerLimits(per_call=config.max_per_call, per_tenant=config.max_per_tenant)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # no WebSockets here
        try:
            caller = self._admit(scope)
            body = await self._body(scope, receive)
        except Refused as exc:
            await _refuse(send, exc)
            return
        try:
            with self.callers.hold(caller):
                await self._forward(scope, body, receive, send)
        except OverLimit as exc:
            log.warning(
                "refused an LLM request of tenant %s call %s: %s", caller.tenant, caller.call, exc
            )
            await _refuse(send, Refused(429, "busy", str(exc)))

    def _admit(self, scope: Scope) -> Caller:
        if not bearer_ok(_header(scope, b"authorization"), self.config.token):
            log.warning("refused %s %s: no valid token", scope["method"], scope["path"])
            raise Refused(401, "unauthorized", "a valid bearer token is required")
        method = ROUTES.get(scope["path"])
        if method is None:
            raise Refused(404, "not_found", "no such endpoint")
        if scope["method"] != method:
            raise Refused(405, "method_not_allowed", f"{scope['path']} takes {method}")
        headers = {
            name: _header(scope, name.lower().encode())
            for name in ("X-Callseal-Tenant", "X-Callseal-Call")
        }
        try:
            return Caller.from_headers(headers)
        except CallerError as exc:
            raise Refused(400, "bad_caller", str(exc)) from exc

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        if scope["method"] != "POST":
            return b""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "bad_request", "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise Refused(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return limit_body(b"".join(chunks), cap=self.config.max_tokens)

    async def _forward(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        deadline = time.monotonic() + self.config.max_request_s
        body_sent = False
        status = [0]
        expired = [False]
        finished = [False]

        async def inner_receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            if status[0] and time.monotonic() >= deadline:
                # llama.cpp asks between streamed tokens whether the client is still there
                # (a reply in one piece cannot be stopped: its max_tokens bounds it).
                if not expired[0]:
                    expired[0] = True
                    log.warning(
                        "stopped an LLM request at its %ss limit", self.config.max_request_s
                    )
                return {"type": "http.disconnect"}
            return await receive()

        async def inner_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                headers = [
                    (k, v)
                    for k, v in message.get("headers", ())
                    if not k.lower().startswith(b"access-control-")
                ]
                if status[0] >= 500:
                    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and status[0] >= 500:
                # The body may name the model's path: answer a fixed text instead.
                more = message.get("more_body", False)
                message = {
                    "type": "http.response.body",
                    "body": b"" if more else b'{"error":{"code":"server_error"}}',
                    "more_body": more,
                }
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished[0] = True
            await send(message)

        headers = [
            (k, v)
            for k, v in scope.get("headers", ())
            if k.lower() not in (b"content-length", b"origin")
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, inner_receive, inner_send)
        if status[0] and not finished[0]:
            # A stream stopped at the limit: the app saw its client leave, so end the
            # response here (the client gets a complete response without "[DONE]").
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _refuse(send: Send, exc: Refused) -> None:
    body = json.dumps({"error": {"code": exc.code, "message": str(exc)}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="callseal-llm"'))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def without_cors(app: Any) -> Any:
    """llama.cpp's FastAPI app without its CORS middleware (allow every origin, with
    credentials); its docs routes stay behind the guard's 404."""
    from starlette.middleware.cors import CORSMiddleware

    app.user_middleware = [m for m in app.user_middleware if m.cls is not CORSMiddleware]
    app.middleware_stack = None  # rebuilt from user_middleware on first use
    return app
