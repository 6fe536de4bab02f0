"""The embedded default's Celery broker: Kombu's filesystem transport, made safe against a
half-written or unreadable message (issue 22 finding 10; docs/adr/0012).

Kombu writes a message file in place, so a polling worker can read it before it is complete,
fail on the JSON and exit. Here a writer writes ``.<name>.tmp`` (a name no queue matches),
flushes it to disk and renames it into the queue: a reader sees the whole file or none of it.
A reader claims a message by renaming it into the processed folder (one reader wins; the
same filesystem, so nothing is copied), and a file that still does not parse is moved to
``quarantine/`` beside the queue with one log line instead of killing the worker.

settings.CELERY_BROKER_TRANSPORT names this transport for ``filesystem://`` URLs.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)
TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"


class Channel(filesystem.Channel):
    # The signatures of kombu's filesystem Channel (its stubs mark them as overrides too).
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``payload`` on ``queue``: written aside, synced, then renamed into place."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"{TEMP_PREFIX}{name}{TEMP_SUFFIX}")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to {self.data_folder_out}") from exc

    def _get(self, queue: str) -> Any:  # type: ignore[override]
        """The oldest readable message of ``queue``; unreadable ones are quarantined."""
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except OSError:  # another consumer took it
                continue
            try:
                with open(claimed, "rb") as handle:
                    raw = handle.read()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {claimed!r} from queue.") from exc
            try:
                payload = loads(bytes_to_str(raw))
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
                self._quarantine(claimed, queue=queue, error=exc)
                continue
            if not self.store_processed:
                os.remove(claimed)
            return payload
        raise Empty()

    def _quarantine(self, path: str, *, queue: str, error: Exception) -> None:
        folder = Path(self.data_folder_in).parent / "quarantine"
        folder.mkdir(mode=0o700, exist_ok=True)
        target = folder / Path(path).name
        os.rename(path, target)
        logger.error(
            "broker: unreadable message on queue %s moved to %s (%s: %s)",
            queue,
            target,
            type(error).__name__,
            error,
        )


class Transport(filesystem.Transport):
    Channel = Channel
