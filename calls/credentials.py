"""Sealing of tenants' Twilio auth tokens at rest (AES-256-GCM).

The key is derived with HKDF from DJANGO_SECRET_KEY until the key-management service of
callseal.crypto takes over (docs/adr/0004): the sealed format carries a version prefix so
that tokens can be re-sealed under the new key without guessing which key sealed them.
The account SID is the associated data, so a sealed token copied onto another account's
row does not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

VERSION = "v1"
_INFO = b"callseal/calls/twilio-auth-token/v1"
_NONCE_BYTES = 12


class CredentialError(ValueError):
    """A sealed credential is malformed or was sealed under another key or account."""


def _key() -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        settings.SECRET_KEY.encode()
    )


def seal_auth_token(*, auth_token: str, account_sid: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key()).encrypt(nonce, auth_token.encode(), account_sid.encode())
    return f"{VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def open_auth_token(*, sealed: str, account_sid: str) -> str:
    version, _, body = sealed.partition(":")
    if version != VERSION or not body:
        raise CredentialError(f"sealed auth token: unknown format {version!r}")
    try:
        raw = base64.urlsafe_b64decode(body.encode())
        nonce, ciphertext = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return AESGCM(_key()).decrypt(nonce, ciphertext, account_sid.encode()).decode()
    except (ValueError, InvalidTag) as exc:
        raise CredentialError("sealed auth token does not open with this key and account") from exc
