"""Start the region's OpenAI-compatible LLM server: llama.cpp's (``llama_cpp.server``) on
the packaged SmolLM2 model, or an operator's GGUF (``REGION_<R>_LLM_GGUF``), behind the
guard of inference/llm_guard.py (the region's token, no docs or CORS, bounded requests).
Production GPU regions run ``vllm serve`` instead (docker-compose.yml; ``--api-key`` with
the region's token); the client is the same."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from callseal.at_rest import FILE_MODE, private_dir
from inference import assets
from inference.config import env_int, region_config, tls_files, var_dir

if TYPE_CHECKING:
    from inference.llm_guard import GuardConfig


def llm_server_argv(*, region: str, host: str | None, port: int | None) -> list[str]:
    url = urlsplit(region_config(region).llm_url)
    location = assets.llm_gguf(region=region)
    return [
        sys.executable,
        "-m",
        "inference.llm_server",
        "--region",
        region,
        "--model",
        str(location.path),
        "--model_alias",
        location.name,
        "--host",
        host or url.hostname or "127.0.0.1",
        "--port",
        str(port if port is not None else (url.port or 8801)),
        "--n_ctx",
        str(env_int("INFERENCE_LLM_CTX", 4096, minimum=256)),
        "--n_threads",
        str(env_int("INFERENCE_LLM_THREADS", default_llm_threads(), minimum=1)),
        # The server's default computes and keeps the logits of every prompt token (for
        # logprobs, which the agent never asks for): with a warm prefix, the first token
        # came 10 ms later (p50 55 vs 45 ms), and the score matrix is n_ctx x vocab
        # floats (805 MB for SmolLM2 at 4096) instead of n_batch rows (docs/adr/0005).
        "--logits_all",
        "false",
    ]


def default_llm_threads() -> int:
    """Half the cores: the call's TTS synthesises sentence one while llama.cpp writes
    sentence two, and both slow down sharply when their threads outnumber the cores (on 2
    cores, Piper's first audio took 270-500 ms beside a 2-thread llama.cpp, 150 ms beside a
    1-thread one; docs/adr/0005)."""
    return max(1, (os.cpu_count() or 2) // 2)


def llm_server_env(environ: dict[str, str]) -> dict[str, str]:
    """The server's environment without HOST/PORT: llama_cpp.server's settings read them
    from the environment over the command line, and process managers (honcho, Foreman) set
    PORT for every process, which would move the server off its region's port."""
    return {k: v for k, v in environ.items() if k not in {"HOST", "PORT"}}


def llm_log_path(region: str) -> Path | None:
    """Where the server's output goes: ``INFERENCE_LLM_LOG`` (``-``: this process's own
    output), by default ``<var>/log/llm-<region>.log``. llama.cpp prints its whole model
    dump while loading, which would fill the first screen of ``make run``."""
    configured = os.environ.get("INFERENCE_LLM_LOG", "")
    if configured == "-":
        return None
    return Path(configured) if configured else var_dir() / "log" / f"llm-{region}.log"


def exec_llm_server(*, region: str, host: str | None, port: int | None) -> None:
    """Replace this process with the server, so signals from honcho reach it directly; its
    output goes to the region's log file, announced in one line."""
    argv = llm_server_argv(region=region, host=host, port=port)
    log = llm_log_path(region)
    if log is not None:
        private_dir(log.parent)
        address = f"{argv[argv.index('--host') + 1]}:{argv[argv.index('--port') + 1]}"
        print(f"llm-{region}: llama.cpp server on {address}, its output in {log}", flush=True)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        os.dup2(fd, sys.stdout.fileno())
        os.dup2(fd, sys.stderr.fileno())
        os.close(fd)
    os.execve(argv[0], argv, llm_server_env(dict(os.environ)))  # noqa: S606 - fixed argv


def guard_config(region: str) -> GuardConfig:
    """The guard's limits (``INFERENCE_LLM_*``) and the region's token."""
    from inference.llm_guard import GuardConfig

    per_call = env_int("INFERENCE_LLM_MAX_PER_CALL", 4, minimum=1)
    return GuardConfig(
        token=region_config(region).llm_token,
        max_tokens=env_int("INFERENCE_LLM_MAX_TOKENS", 128, minimum=1),
        max_request_s=env_int("INFERENCE_LLM_MAX_REQUEST_MS", 20_000, minimum=100) / 1000,
        max_per_call=per_call,
        max_per_tenant=max(per_call, env_int("INFERENCE_LLM_MAX_PER_TENANT", 16, minimum=1)),
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m inference.llm_server --region R <llama_cpp.server options>``: the
    options of ``llama_cpp.server`` (parsed by its own code), served behind the guard."""
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings, Settings

    from inference.llm_guard import LlmGuard, without_cors

    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--region", required=True)
    known, rest = first.parse_known_args(argv)
    parser = argparse.ArgumentParser(prog="python -m inference.llm_server")
    add_args_from_model(parser, Settings)
    args = parser.parse_args(rest)
    server_settings: ServerSettings = parse_model_from_args(ServerSettings, args)  # type: ignore[assignment]
    model_settings: ModelSettings = parse_model_from_args(ModelSettings, args)  # type: ignore[assignment]
    guard = guard_config(known.region)
    cert, key = tls_files()
    app = LlmGuard(
        without_cors(create_app(server_settings=server_settings, model_settings=[model_settings])),
        guard,
    )
    uvicorn.run(
        app,
        host=server_settings.host,
        port=server_settings.port,
        ssl_keyfile=key or None,
        ssl_certfile=cert or None,
        # No "Server: uvicorn" banner, no access log lines carrying request paths.
        server_header=False,
        access_log=False,
    )


if __name__ == "__main__":
    main()
