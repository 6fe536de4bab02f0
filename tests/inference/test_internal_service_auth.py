"""Issue 22, finding 4 (unauthenticated internal services): the region's inference service
and LLM server admit only holders of the region's token, bound what one call or tenant may
hold, close idle sockets, and the LLM server shows no docs, CORS or model path and bounds
every request."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inference import assets
from inference.auth import Caller, CallerLimits, OverLimit
from inference.client import InferenceBusy, InferenceClient, InferenceError
from inference.config import region_config
from inference.llm_guard import GuardConfig, LlmGuard
from inference.llm_server import llm_server_argv, llm_server_env
from tests.inference.conftest import TOKEN, free_port

pytestmark = pytest.mark.slow

TENANT = "6f1c2d3e-0000-4000-8000-000000000001"
OTHER_TENANT = "6f1c2d3e-0000-4000-8000-000000000002"


async def _handshake_status(url: str, path: str, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url + path, headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def test_unauthenticated_internal_services_asr_and_tts_refuse_without_the_token(
    inference_server,
):
    async with inference_server() as url:
        for path in ("/asr", "/tts"):
            assert await _handshake_status(url, path, {}) == 401
            assert (
                await _handshake_status(url, path, {"Authorization": "Bearer " + "x" * 37}) == 401
            )
            assert await _handshake_status(url, path, {"Authorization": TOKEN}) == 401
            assert await _handshake_status(url, path, {"Authorization": f"Bearer {TOKEN}"}) == 101
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/healthz") as response:
                anonymous = (response.status, await response.json())
            async with session.get(url + "/nothing") as response:
                unknown = response.status
        async with InferenceClient(url, token="wrong-" + TOKEN) as client:
            with pytest.raises(InferenceError) as refused:
                await client.transcribe(b"\x00\x00" * 1600)
        async with InferenceClient(url, token=TOKEN) as client:
            health = await client.health()
    # Liveness for anyone; models, queues and jobs only for the token's holders.
    assert anonymous == (200, {"status": "ok"})
    assert unknown == 401
    assert refused.value.code == "unauthorized"
    assert health["region"] == "us"
    assert health["sockets"] == {"per_call": 4, "per_tenant": 32, "open": 0, "refused": 0}


async def test_unauthenticated_internal_services_an_idle_socket_is_closed_and_released(
    inference_server,
):
    async with (
        inference_server(idle_timeout_s=1.0, tts_idle_timeout_s=1.5, max_sockets_per_call=1) as url,
        InferenceClient(url, token=TOKEN, tenant=TENANT, call="call-1") as client,
    ):
        async with client.asr(model="tiny.en") as idle:
            # Nothing sent after start: the service closes the socket as idle.
            msg = await asyncio.wait_for(idle.ws.receive(), 30)
            assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 1008, "idle")
        async with client.tts() as idle_tts:
            msg = await asyncio.wait_for(idle_tts.ws.receive(), 30)
            assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 1008, "idle")
        # The call's only socket is free again: a new one for the same call is admitted,
        # and transcribes while audio flows.
        async with client.asr(model="tiny.en", partials=False) as again:
            await again.send_audio(b"\x00\x00" * 16000)
            await again.end()
            kinds = [e.kind async for e in again.events()]
        health = await client.health()
    assert kinds == ["final", "end"]
    assert health["sockets"]["open"] == 0


async def test_unauthenticated_internal_services_sockets_are_limited_per_call_and_tenant(
    inference_server,
):
    async with inference_server(max_sockets_per_call=2, max_sockets_per_tenant=3) as url:
        call_1 = InferenceClient(url, token=TOKEN, tenant=TENANT, call="call-1")
        call_2 = InferenceClient(url, token=TOKEN, tenant=TENANT, call="call-2")
        other = InferenceClient(url, token=TOKEN, tenant=OTHER_TENANT, call="call-9")
        try:
            async with call_1.asr() as _a, call_1.tts() as _b:
                with pytest.raises(InferenceBusy, match="HTTP 429"):
                    async with call_1.tts():
                        pass
                async with call_2.asr():
                    with pytest.raises(InferenceBusy, match="HTTP 429"):
                        async with call_2.tts():
                            pass
                    # Another tenant is not affected by this one's use.
                    async with other.asr() as theirs:
                        assert theirs.ready["type"] == "ready"
                health = await call_1.health()
            # Closed sockets are given back.
            async with call_1.asr(), call_1.tts():
                pass
        finally:
            for client in (call_1, call_2, other):
                await client.close()
        assert (
            await _handshake_status(
                url, "/asr", {"Authorization": f"Bearer {TOKEN}", "X-Callseal-Call": "c"}
            )
            == 400
        )
    assert health["sockets"] == {"per_call": 2, "per_tenant": 3, "open": 2, "refused": 2}


# --- the LLM server ------------------------------------------------------------------------

MAX_TOKENS = 64
# SmolLM2's <|endoftext|>, <|im_start|> and <|im_end|>: banned, the model writes until its
# max_tokens unless stopped.
NEVER_STOP = {"0": -100.0, "1": -100.0, "2": -100.0}


@pytest.fixture(scope="module")
def guarded_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Region us's LLM server as ``python -m inference llm`` starts it, with small limits."""
    import os

    port = free_port()
    log_path = Path(tmp_path_factory.mktemp("guarded")) / "server.log"
    env = {
        **llm_server_env(dict(os.environ)),
        "INFERENCE_LLM_CTX": "1024",
        "INFERENCE_LLM_MAX_TOKENS": str(MAX_TOKENS),
        "INFERENCE_LLM_MAX_REQUEST_MS": "100",
    }
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            llm_server_argv(region="us", host="127.0.0.1", port=port),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(url + "/v1/models", timeout=2)  # noqa: S310
                except urllib.error.HTTPError:
                    break  # answering (401)
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(log_path.read_text(errors="replace")[-2000:])
                    time.sleep(0.3)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _request(
    url: str, *, token: str | None, method: str = "GET", body: Any = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_unauthenticated_internal_services_llm_needs_the_token_and_shows_no_docs_or_cors(
    guarded_llm,
):
    token = region_config("us").llm_token
    model_path = str(assets.llm_gguf(region="us").path)
    chat = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    assert _request(guarded_llm + "/v1/models", token=None)[0] == 401
    assert _request(guarded_llm + "/v1/models", token="x" * 43)[0] == 401
    assert (
        _request(guarded_llm + "/v1/chat/completions", token=None, method="POST", body=chat)[0]
        == 401
    )
    bodies = []
    for path in ("/docs", "/redoc", "/openapi.json", "/v1/extras/tokenize", "/v1/engines"):
        status, _, body = _request(guarded_llm + path, token=token)
        assert status == 404, path
        bodies.append(body)
    status, headers, body = _request(
        guarded_llm + "/v1/models", token=token, Origin="https://evil.example"
    )
    bodies.append(body)
    assert status == 200
    assert json.loads(body)["data"][0]["id"] == "SmolLM2-135M-Instruct.Q4_1"
    assert not [h for h in headers if h.lower().startswith("access-control-")]
    preflight = _request(
        guarded_llm + "/v1/chat/completions",
        token=token,
        method="OPTIONS",
        Origin="https://evil.example",
        Access_Control_Request_Method="POST",
    )
    assert preflight[0] == 405
    assert not [h for h in preflight[1] if h.lower().startswith("access-control-")]
    assert not [b for b in bodies if model_path.encode() in b or b"gguf" in b.lower()]


def test_unauthenticated_internal_services_llm_bounds_tokens_and_duration(guarded_llm):
    token = region_config("us").llm_token
    messages = [{"role": "user", "content": "Count from one to one thousand."}]
    url = guarded_llm + "/v1/chat/completions"
    over = _request(url, token=token, method="POST", body={"messages": messages, "max_tokens": 65})
    assert over[0] == 400
    assert json.loads(over[2])["error"]["message"] == "max_tokens is at most 64 on this server"
    # No max_tokens: the server's cap applies (the model is never allowed to stop early).
    status, _, body = _request(
        url, token=token, method="POST", body={"messages": messages, "logit_bias": NEVER_STOP}
    )
    assert status == 200
    assert json.loads(body)["usage"]["completion_tokens"] == MAX_TOKENS
    # A streamed reply is stopped at the request's time limit (100 ms here), well before
    # its 64 tokens, and without the stream's [DONE].
    status, _, streamed = _request(
        url,
        token=token,
        method="POST",
        body={"messages": messages, "logit_bias": NEVER_STOP, "stream": True},
    )
    events = [line for line in streamed.decode().splitlines() if line.startswith("data: ")]
    assert status == 200
    assert events
    assert "data: [DONE]" not in events
    assert len(events) < MAX_TOKENS


async def test_unauthenticated_internal_services_llm_requests_are_limited_per_caller():
    """The guard's per-call and per-tenant limits, in front of an app that holds each
    request until released."""
    release = asyncio.Event()
    served: list[str] = []
    reached = asyncio.Condition()

    async def arrived(count: int) -> None:
        async with reached:
            await reached.wait_for(lambda: len(served) >= count)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        served.append(dict(scope["headers"]).get(b"x-callseal-call", b"").decode())
        async with reached:
            reached.notify_all()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    guard = LlmGuard(app, GuardConfig(token=TOKEN, max_per_call=1, max_per_tenant=2))

    async def call(tenant: str, call_id: str) -> int:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/chat/completions",
            "headers": [
                (b"authorization", f"Bearer {TOKEN}".encode()),
                (b"x-callseal-tenant", tenant.encode()),
                (b"x-callseal-call", call_id.encode()),
            ],
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b'{"messages": []}', "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await guard(scope, receive, send)
        return int(sent[0]["status"])

    first = asyncio.create_task(call(TENANT, "a"))
    second = asyncio.create_task(call(TENANT, "b"))
    await arrived(2)
    assert await call(TENANT, "a") == 429  # the call's one request is in flight
    assert await call(TENANT, "c") == 429  # the tenant's two are
    third = asyncio.create_task(call(OTHER_TENANT, "z"))
    await arrived(3)
    release.set()
    assert [await first, await second, await third] == [200, 200, 200]
    assert served == ["a", "b", "z"]


def test_caller_limits_give_back_what_they_hold():
    limits = CallerLimits(per_call=1, per_tenant=1)
    with (
        limits.hold(Caller(tenant="t", call="c")),
        pytest.raises(OverLimit),
        limits.hold(Caller(tenant="t", call="d")),
    ):
        pass
    with limits.hold(Caller(tenant="t", call="c")):
        assert limits.snapshot()["open"] == 1
    assert limits.snapshot() == {"per_call": 1, "per_tenant": 1, "open": 0, "refused": 1}


# --- TLS and mutual TLS -----------------------------------------------------------------


def _certificates(directory: Path) -> dict[str, str]:
    """A private CA, a server certificate for 127.0.0.1 and a client certificate (PEM)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    paths: dict[str, str] = {}

    def issue(name: str, issuer: tuple[x509.Name, Any] | None, **kind: Any) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer[0] if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), True)
        )
        if kind.get("ip"):
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(kind["ip"]))]),
                critical=False,
            )
        cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        paths[name] = str(directory / f"{name}.pem")
        paths[f"{name}.key"] = str(directory / f"{name}.key")
        return subject, key

    ca = issue("ca", None)
    issue("server", ca, ip="127.0.0.1")
    issue("client", ca)
    return paths


async def test_unauthenticated_internal_services_tls_and_mutual_tls(
    inference_server, tmp_path, monkeypatch
):
    pem = _certificates(tmp_path)
    tls = {
        "tls_cert_file": pem["server"],
        "tls_key_file": pem["server.key"],
        "tls_client_ca_file": pem["ca"],
    }
    monkeypatch.setenv("INFERENCE_TLS_CA_FILE", pem["ca"])
    async with inference_server(**tls) as url:
        assert url.startswith("https://")
        # Without a client certificate the TLS handshake itself is refused.
        async with InferenceClient(url, token=TOKEN) as anonymous:
            with pytest.raises(InferenceError) as refused:
                await anonymous.health()
        monkeypatch.setenv("INFERENCE_TLS_CLIENT_CERT_FILE", pem["client"])
        monkeypatch.setenv("INFERENCE_TLS_CLIENT_KEY_FILE", pem["client.key"])
        async with InferenceClient(url, token=TOKEN) as client, client.tts() as tts:
            chunks = [c async for c in tts.stream("Hello.", speak_id="s1")]
            health = await client.health()
        plain = InferenceClient(url.replace("https://", "http://"), token=TOKEN)
        with pytest.raises(InferenceError):
            await plain.health()
        await plain.close()
    assert refused.value.code == "unavailable"
    assert chunks
    assert health["region"] == "us"
