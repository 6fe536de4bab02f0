"""Time to first audio and first token, the two numbers a caller hears as lag.

- TTS: first PCM chunk through the inference service's WebSocket vs Piper called in the
  same process (the peer: what the service adds on top of the model).
- LLM: first streamed token from the llama.cpp server vs the whole reply without streaming
  (the peer: what streaming saves before TTS can start).
Both servers run on free loopback ports and are stopped at the end.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from inference.client import InferenceClient
from inference.config import ServiceConfig, region_config
from inference.llm import LlmClient
from inference.llm_server import llm_server_argv
from inference.server import Service, build_app
from inference.tts import load_tts_engines

BENCH_TOKEN = "bench-inference-token-" + "x" * 16  # the in-process service's token

SENTENCES = [
    "Thank you for calling Acme Dental.",
    "Your appointment is confirmed for Tuesday at ten.",
    "Is there anything else I can help you with today?",
    "I will transfer you to a colleague now.",
    "Please hold the line.",
]
PROMPT = [
    {"role": "system", "content": "You are a brief, friendly phone agent for a dentist."},
    {"role": "user", "content": "Hi, can I move my appointment to Friday?"},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def tts_latency() -> tuple[float, float]:
    engines = load_tts_engines(region="us")
    engine = engines["en_US-joe-medium"]
    direct = []
    for text in SENTENCES:
        started = time.perf_counter()
        next(iter(engine.synthesize(text)))
        direct.append(time.perf_counter() - started)
    config = ServiceConfig(
        region="us",
        host="127.0.0.1",
        port=free_port(),
        asr_models=(),
        asr_concurrency=1,
        tts_concurrency=1,
        max_waiting=4,
        cpu_threads=2,
        partial_interval_s=1.0,
        max_frame_bytes=1 << 20,
        cache_dir=Path(tempfile.gettempdir()),
        token=BENCH_TOKEN,
    )
    service = Service(config=config, asr={}, tts=engines, executor=ThreadPoolExecutor(2))
    runner = web.AppRunner(build_app(service))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.port).start()
    served = []
    try:
        async with (
            InferenceClient(f"http://127.0.0.1:{config.port}", token=BENCH_TOKEN) as client,
            client.tts(sample_rate=8000) as tts,
        ):
            for text in SENTENCES:
                started = time.perf_counter()
                await tts.speak(text)
                await tts.receive()
                served.append(time.perf_counter() - started)
                while isinstance(await tts.receive(), bytes):
                    pass
    finally:
        await runner.cleanup()
    return statistics.median(served), statistics.median(direct)


async def llm_latency(url: str) -> tuple[float, float]:
    client = LlmClient(url, token=region_config("us").llm_token)
    await client.model_name()
    first, whole = [], []
    for _ in range(5):
        started = time.perf_counter()
        async for _delta in client.stream_chat(PROMPT, max_tokens=48):
            first.append(time.perf_counter() - started)
            break
        started = time.perf_counter()
        async for _delta in client.stream_chat(PROMPT, max_tokens=48):
            pass
        whole.append(time.perf_counter() - started)
    await client.close()
    return statistics.median(first), statistics.median(whole)


def with_llm_server() -> tuple[float, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile() as log:
        argv = llm_server_argv(region="us", host="127.0.0.1", port=port)
        server = subprocess.Popen(argv, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(url + "/models", timeout=2):  # noqa: S310
                        break
                except urllib.error.HTTPError:
                    break  # answering (401 without the region's token)
                except OSError:
                    time.sleep(0.5)
            return asyncio.run(llm_latency(url))
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> int:
    served, direct = asyncio.run(tts_latency())
    print(f"TTS first audio (median of {len(SENTENCES)} sentences, Piper joe-medium, 8 kHz out)")
    print(f"  via service WebSocket {served * 1000:7.1f} ms")
    print(f"  Piper in-process      {direct * 1000:7.1f} ms   ratio {served / direct:.2f}")
    first, whole = with_llm_server()
    print("LLM (SmolLM2-135M Q4_1 on llama.cpp server, median of 5, max 48 tokens)")
    print(f"  first streamed token  {first * 1000:7.1f} ms")
    print(f"  whole reply           {whole * 1000:7.1f} ms   ratio {first / whole:.2f}")
    return 0
