"""Per-service admission: a fixed number of jobs run at once, a bounded number wait, and
the rest are refused at once with ``Busy`` so an overloaded region degrades instead of
collapsing (every caller waiting ever longer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Busy(Exception):
    def __init__(self, service: str, *, running: int, waiting: int) -> None:
        super().__init__(f"{service} is busy: {running} running, {waiting} waiting (the limit)")
        self.service = service


class Admission:
    def __init__(self, service: str, *, concurrency: int, max_waiting: int) -> None:
        if concurrency < 1 or max_waiting < 0:
            raise ValueError("concurrency must be >= 1 and max_waiting >= 0")
        self.service = service
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self._slots = asyncio.Semaphore(concurrency)
        self.running = 0
        self.waiting = 0
        self.refused = 0

    @asynccontextmanager
    async def slot(self, *, wait: bool = True) -> AsyncIterator[None]:
        """Hold one of the service's slots; ``wait=False`` refuses rather than queues (for
        optional work such as partial transcripts)."""
        if self.running >= self.concurrency and (not wait or self.waiting >= self.max_waiting):
            self.refused += 1
            raise Busy(self.service, running=self.running, waiting=self.waiting)
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()

    def snapshot(self) -> dict[str, int]:
        return {
            "concurrency": self.concurrency,
            "max_waiting": self.max_waiting,
            "running": self.running,
            "waiting": self.waiting,
            "refused": self.refused,
        }
