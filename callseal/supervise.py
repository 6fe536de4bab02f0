"""Keep one process running: ``python -m callseal.supervise NAME -- COMMAND...``.

honcho (``make run``) stops every process when one exits, so a Celery worker that crashes
would take the web and media processes, and every live call, with it (issue 22 finding 10).
The Procfile runs each worker through this wrapper instead: when the command exits for any
reason it is started again after a backoff (1 s, doubling to 30 s; back to 1 s once it has
run for a minute), with one log line per exit. SIGTERM / SIGINT / SIGHUP are passed on to
the command, and the wrapper then exits with the command's status; the command gets SIGTERM
if the wrapper itself is killed (docs/adr/0012).
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
HEALTHY_AFTER_S = 60.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


def _end_with_supervisor() -> None:
    """Run in the child before exec: SIGTERM it when the wrapper dies, even of SIGKILL
    (Linux), so a killed wrapper never leaves a worker running unsupervised."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def next_backoff(previous: float, *, ran_s: float) -> float:
    """The wait before the next start, given the last wait and how long the run lasted."""
    if ran_s >= HEALTHY_AFTER_S:
        return FIRST_BACKOFF_S
    return min(MAX_BACKOFF_S, previous * 2)


def describe_exit(status: int) -> str:
    if status < 0:
        return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"


def _say(name: str, message: str) -> None:
    print(f"supervise: {name} {message}", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(self, name: str, command: list[str]) -> None:
        self.name = name
        self.command = command
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self) -> int:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._stop)
        backoff = FIRST_BACKOFF_S / 2
        while not self.stopping.is_set():
            started = time.monotonic()
            self.child = subprocess.Popen(  # noqa: S603 - the Procfile's command
                self.command, preexec_fn=_end_with_supervisor
            )
            _say(self.name, f"started (pid {self.child.pid})")
            status = self.child.wait()
            if self.stopping.is_set():
                return status if status >= 0 else 128 - status
            ran_s = time.monotonic() - started
            backoff = next_backoff(backoff, ran_s=ran_s)
            _say(
                self.name,
                f"{describe_exit(status)} after {ran_s:.1f} s; restarting in {backoff:g} s",
            )
            self.stopping.wait(backoff)
        return 0


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].strip():
        print("usage: python -m callseal.supervise NAME -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    return Supervisor(argv[0], argv[2:]).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
