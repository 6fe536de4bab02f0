"""Key management: a region master key wraps tenant keys; room for a cloud KMS.

``settings.REGIONS[r].key_ref`` picks the implementation: ``file:/path`` is the local one
(a 32-byte key file, mode 0600 in a 0700 directory, created on first use; by default under
settings.SECRETS_DIR, outside the data directory); ``env:NAME`` reads the key, base64, from
the environment variable NAME (servers mode: a secret manager injects it, nothing is on
disk); ``kms:...`` is reserved for a cloud KMS and refused until one is configured.
"""

from __future__ import annotations

import base64
import binascii
import os
from abc import ABC, abstractmethod
from functools import cache
from pathlib import Path

from django.conf import settings

from callseal.at_rest import private_dir
from callseal.crypto.aead import KEY_BYTES, new_key, open_sealed, seal


class KeyConfigError(RuntimeError):
    pass


class KeyManager(ABC):
    """Wraps and unwraps data keys under a region's master key."""

    @abstractmethod
    def wrap(self, key: bytes, *, context: bytes) -> bytes: ...

    @abstractmethod
    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes: ...


class _MasterKeyManager(KeyManager):
    _master: bytes

    def wrap(self, key: bytes, *, context: bytes) -> bytes:
        return seal(self._master, key, b"callseal/wrap/v1|" + context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        return open_sealed(self._master, wrapped, b"callseal/wrap/v1|" + context)


class EnvKeyManager(_MasterKeyManager):
    """The master key, base64, from an environment variable (``env:NAME``)."""

    def __init__(self, name: str) -> None:
        raw = os.environ.get(name, "")
        if not raw:
            raise KeyConfigError(f"key reference env:{name}: ${name} is not set")
        try:
            master = base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise KeyConfigError(f"key reference env:{name}: ${name} is not base64") from None
        if len(master) != KEY_BYTES:
            raise KeyConfigError(f"key reference env:{name}: ${name} must decode to 32 bytes")
        self._master = master


class LocalKeyManager(_MasterKeyManager):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._master = self._load_or_create()

    def _load_or_create(self) -> bytes:
        private_dir(self.path.parent)
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


@cache
def _manager(key_ref: str) -> KeyManager:
    scheme, _, rest = key_ref.partition(":")
    if scheme == "file":
        return LocalKeyManager(Path(rest) / "master.key")
    if scheme == "env":
        return EnvKeyManager(rest)
    raise KeyConfigError(f"key reference {key_ref!r}: only file: and env: keys are implemented")


def key_manager(region: str) -> KeyManager:
    try:
        return _manager(settings.REGIONS[region].key_ref)
    except KeyError:
        raise KeyConfigError(f"region {region!r} is not configured") from None
