"""Tasks a unit of the voice agent starts and owns: each is awaited or cancelled by its
owner when the call ends (no fire-and-forget tasks)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class OwnedTasks:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._tasks.append(task)
        return task

    def drop(self, task: asyncio.Task[Any]) -> None:
        """Cancel without waiting (the listening path must not stall on a socket's close
        handshake); the task stays owned and is awaited when the call ends."""
        task.cancel()
        if task not in self._tasks:
            self._tasks.append(task)

    def forget(self, task: asyncio.Task[Any]) -> None:
        """A finished task no longer needs an owner (a long call starts many)."""
        self._tasks.remove(task)

    async def settled(self) -> None:
        """Wait for the tasks started so far (tests feed a unit, then read its outputs)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def close(self) -> None:
        """Cancel every task and wait for each to finish."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it to finish."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
