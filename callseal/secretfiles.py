"""Secrets generated on first use for the embedded default (no configuration): one file
each in the secrets directory (``callseal.at_rest``: outside the data directory, 0700),
mode 0600, linked into place whole so that concurrent processes agree on one value.

Django-free: the inference service (which has no ORM) reads the same files as the web and
media processes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from callseal.at_rest import FILE_MODE, private_dir


def generated_secret(secrets_dir: Path, name: str) -> str:
    """The secret called ``name`` in ``secrets_dir``, generated (256 bits, URL-safe) the
    first time."""
    path = secrets_dir / name
    if not path.exists():
        private_dir(secrets_dir)
        # Written whole to a private temporary file, then linked into place: a reader never
        # sees a half-written secret, and of two racing processes the first link wins.
        tmp = secrets_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it to generate a new secret")
    return value
