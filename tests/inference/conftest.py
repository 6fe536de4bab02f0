"""One load of every model per test session; each test gets a real aiohttp server on an
ephemeral loopback port built over those warm engines, with the limits it needs."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from inference.asr import AsrEngine, load_asr_engines
from inference.config import ServiceConfig
from inference.server import Service, build_app, server_ssl_context
from inference.tts import TtsEngine, load_tts_engines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclasses.dataclass(frozen=True)
class Engines:
    asr: dict[str, AsrEngine]
    tts: dict[str, TtsEngine]


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Engines:
    cache = Path(tmp_path_factory.getbasetemp()) / "models"
    return Engines(
        asr=load_asr_engines(
            region="us", names=("tiny.en", "base"), cache_dir=cache, cpu_threads=2, num_workers=2
        ),
        tts=load_tts_engines(region="us"),
    )


# The region's bearer token in these tests' services (clients pass it: token=TOKEN).
TOKEN = "test-inference-token-" + "x" * 16


def service_config(**overrides: object) -> ServiceConfig:
    config = ServiceConfig(
        region="us",
        host="127.0.0.1",
        port=0,
        asr_models=("tiny.en", "base"),
        asr_concurrency=2,
        tts_concurrency=2,
        max_waiting=4,
        cpu_threads=2,
        partial_interval_s=0.5,
        max_frame_bytes=64 * 1024,
        cache_dir=Path("/nonexistent"),
        token=TOKEN,
    )
    return dataclasses.replace(config, **overrides)  # type: ignore[arg-type]


ServerFactory = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
def inference_server(engines: Engines) -> ServerFactory:
    """``async with inference_server(asr_concurrency=1) as url:`` serves on a free port."""

    @asynccontextmanager
    async def serve(**overrides: object) -> AsyncIterator[str]:
        config = service_config(**overrides)
        executor = ThreadPoolExecutor(max_workers=config.asr_concurrency + config.tts_concurrency)
        service = Service(config=config, asr=engines.asr, tts=engines.tts, executor=executor)
        runner = web.AppRunner(build_app(service))
        await runner.setup()
        port = free_port()
        site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_ssl_context(config))
        await site.start()
        try:
            yield f"{'https' if config.tls_cert_file else 'http'}://127.0.0.1:{port}"
        finally:
            await runner.cleanup()

    return serve
