"""Real servers for the voice agent's tests: the regional inference service and the
llama.cpp server as subprocesses on free loopback ports, a daphne serving the test
databases with a region's endpoints pointed at them, and a loopback listener that counts
every connection (standing at the URLs of a region that must receive nothing)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], *, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback URL we built
                return
        except urllib.error.HTTPError:
            return  # it answers (401 without the region's token): it is up
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        _stop(self.process)


@contextmanager
def inference_service(
    region: str, env: Mapping[str, str], *, asr_models: str = "tiny.en"
) -> Iterator[Server]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "inference", "serve", "--region", region, "--port", str(port)],
        cwd=ROOT,
        env={**env, "INFERENCE_ASR_MODELS": asr_models, "INFERENCE_PARTIAL_INTERVAL_MS": "700"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", process)
        yield Server(url=url, process=process)
    finally:
        _stop(process)


@contextmanager
def llm_server(env: Mapping[str, str], *, log_path: Path | None = None) -> Iterator[Server]:
    """llama.cpp's server; with ``log_path`` its log (prompt reuse, timings) goes there."""
    port = free_port()
    log = log_path.open("wb") if log_path is not None else None
    process = subprocess.Popen(
        [sys.executable, "-m", "inference", "llm", "--region", "us", "--port", str(port)],
        cwd=ROOT,
        # INFERENCE_LLM_LOG "-": the server's output stays on this process's pipe (the
        # log file the caller reads), not in var/log/llm-us.log.
        env={**env, "INFERENCE_LLM_CTX": "2048", "INFERENCE_LLM_LOG": "-"},
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_http(url + "/models", process)
        yield Server(url=url, process=process)
    finally:
        _stop(process)
        if log is not None:
            log.close()


class Honeypot:
    """A loopback listener that accepts and counts connections (and closes them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@contextmanager
def daphne(env: Mapping[str, str], *, log_path: Path | None = None) -> Iterator[str]:
    """The ASGI app on the test databases (tests using it must commit: transaction=True).
    With ``log_path``, everything it logs at DEBUG goes to that file."""
    port = free_port()
    log = log_path.open("wb") if log_path is not None else None
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "callseal.asgi:application",
        ],
        cwd=ROOT,
        env={
            **env,
            "CALLSEAL_SERVE_TEST_DATABASES": "true",
            "CALLSEAL_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "CALLSEAL_LOG_LEVEL": "DEBUG" if log is not None else "WARNING",
        },
        stdout=log or subprocess.DEVNULL,
        stderr=log or subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", process, timeout=60)
        yield url
    finally:
        _stop(process)
        if log is not None:
            log.close()
        if process.stderr is not None:
            tail = process.stderr.read().decode(errors="replace")[-3000:]
            if "Traceback" in tail:
                print(tail)


def base_env() -> dict[str, str]:
    return dict(os.environ)
