"""A real daphne process serving the ASGI application on the test databases, for browser and
WebSocket tests. Tests using it need committed data: mark them transaction=True."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310  (loopback URL we built)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def serve_asgi(extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """daphne on a free port, serving the test databases; yields its base URL."""
    port = free_port()
    env = {**os.environ, "CALLSEAL_SERVE_TEST_DATABASES": "true", **(extra_env or {})}
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
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz")
    except OSError:
        process.kill()
        raise RuntimeError(
            f"daphne did not start: {process.communicate(timeout=10)[1].decode()[-2000:]}"
        ) from None
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def live_server_url(django_db_setup: None) -> Iterator[str]:
    with serve_asgi() as url:
        yield url
