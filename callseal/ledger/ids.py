"""Time-ordered event ids (UUID version 7, RFC 9562 section 5.7).

The unique (tenant_id, event_id) index is what makes retries idempotent. Random (version 4)
ids put every inserted event on a random page of that index, so each append dirties (and
after a checkpoint writes in full to the WAL) one page per event; version 7 ids start with
the time in milliseconds, so one append's events land on the same rightmost pages. Eight
lines rather than a dependency; Python's own ``uuid.uuid7`` arrives in 3.14.
"""

from __future__ import annotations

import os
import time
import uuid


def new_event_id() -> uuid.UUID:
    """48 bits of Unix time in ms, version 7, 74 random bits, RFC 4122 variant."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant 10
    return uuid.UUID(int=value)
