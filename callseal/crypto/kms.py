"""Key management: a region master key wraps tenant keys; room for a cloud KMS.

``settings.REGIONS[r].key_ref`` picks the implementation: ``file:/path`` is the local one
(a 32-byte key file, mode 0600, created on first use, kept out of the repository under
var/); ``kms:...`` is reserved for a cloud KMS and refused until one is configured.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from functools import cache
from pathlib import Path

from django.conf import settings

from callseal.crypto.aead import KEY_BYTES, new_key, open_sealed, seal


class KeyConfigError(RuntimeError):
    pass


class KeyManager(ABC):
    """Wraps and unwraps data keys under a region's master key."""

    @abstractmethod
    def wrap(self, key: bytes, *, context: bytes) -> bytes: ...

    @abstractmethod
    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes: ...


class LocalKeyManager(KeyManager):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._master = self._load_or_create()

    def _load_or_create(self) -> bytes:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(new_key())
        if self.path.stat().st_mode & 0o077:
            raise KeyConfigError(f"{self.path}: master key file must be mode 0600")
        data = self.path.read_bytes()
        if len(data) != KEY_BYTES:
            raise KeyConfigError(f"{self.path}: a master key file holds exactly 32 bytes")
        return data

    def wrap(self, key: bytes, *, context: bytes) -> bytes:
        return seal(self._master, key, b"callseal/wrap/v1|" + context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        return open_sealed(self._master, wrapped, b"callseal/wrap/v1|" + context)


@cache
def _manager(key_ref: str) -> KeyManager:
    scheme, _, rest = key_ref.partition(":")
    if scheme == "file":
        return LocalKeyManager(Path(rest) / "master.key")
    raise KeyConfigError(f"key reference {key_ref!r}: only file: keys are implemented")


def key_manager(region: str) -> KeyManager:
    try:
        return _manager(settings.REGIONS[region].key_ref)
    except KeyError:
        raise KeyConfigError(f"region {region!r} is not configured") from None
