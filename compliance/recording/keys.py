"""Wrapping of a recording's data key by the data subject's key.

The subject key lives in the ledger's key management; this module only needs something that
can wrap and unwrap 32 bytes, so the recorder takes any `KeyWrapper`.
"""

from __future__ import annotations

import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

KEY_BYTES = 32
_GCM_NONCE_BYTES = 12


class KeyUnwrapFailed(Exception):
    """The wrapped key is not authentic under this wrapping key (wrong key or tampered)."""


class KeyWrapper(Protocol):
    """Wraps a data key under a key-encryption key named by `key_ref`.

    `context` is bound to the wrapped key where the algorithm allows it (AES-GCM does,
    AES-KW does not), so a wrapped key moved to another recording fails to unwrap.
    """

    @property
    def algorithm(self) -> str: ...

    @property
    def key_ref(self) -> str: ...

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes: ...


def _check_kek(kek: bytes) -> bytes:
    if not isinstance(kek, bytes) or len(kek) != KEY_BYTES:
        raise ValueError(f"key-encryption key must be {KEY_BYTES} bytes")
    return kek


def _check_ref(key_ref: str) -> str:
    if not key_ref or len(key_ref) > 200 or not key_ref.isprintable():
        raise ValueError("key_ref must be 1-200 printable characters")
    return key_ref


class AesGcmKeyWrapper:
    """AES-256-GCM key wrapping: random 96-bit nonce ‖ ciphertext ‖ tag, context as AAD."""

    algorithm = "A256GCMKW"

    def __init__(self, kek: bytes, *, key_ref: str) -> None:
        self._aead = AESGCM(_check_kek(kek))
        self.key_ref = _check_ref(key_ref)

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        nonce = os.urandom(_GCM_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        nonce, sealed = wrapped[:_GCM_NONCE_BYTES], wrapped[_GCM_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, sealed, context)
        except InvalidTag as exc:
            raise KeyUnwrapFailed(self.key_ref) from exc


class AesKwKeyWrapper:
    """RFC 3394 AES key wrap (NIST SP 800-38F KW). Deterministic; ignores `context`."""

    algorithm = "A256KW"

    def __init__(self, kek: bytes, *, key_ref: str) -> None:
        self._kek = _check_kek(kek)
        self.key_ref = _check_ref(key_ref)

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        return aes_key_wrap(self._kek, data_key)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._kek, wrapped)
        except InvalidUnwrap as exc:
            raise KeyUnwrapFailed(self.key_ref) from exc
