"""Signed checkpoints in the C2SP formats (tlog-checkpoint inside a signed-note).

Pure Python plus ``cryptography`` so the standalone audit verifier can reuse it.

Checkpoint body (https://c2sp.org/tlog-checkpoint)::

    <origin>\n
    <tree size, decimal>\n
    <base64 root hash>\n
    time <RFC 3339 UTC>\n          (our one extension line)

Signed note (https://c2sp.org/signed-note): the body, an empty line, then one line per
signature ``— <key name> <base64(key id (4 bytes) || Ed25519 signature)>``. The key id is
the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key). A verifier key is
written ``<key name>+<8 hex key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_ALG = 0x01
SIG_PREFIX = "\u2014 "  # "— " (em dash, space)
_NAME_RE = re.compile(r"^[^\s+]+$")


class CheckpointError(ValueError):
    """A checkpoint or signed note that does not parse or does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG]) + public_key).digest()[:4]


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(name: str, public_key: bytes) -> str:
    if not _NAME_RE.match(name):
        raise CheckpointError(f"key name {name!r} must not contain spaces or '+'")
    encoded = base64.b64encode(bytes([ED25519_ALG]) + public_key).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    try:
        name, hex_id, encoded = vkey.split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise CheckpointError(f"malformed verifier key {vkey!r}") from exc
    if len(raw) != 33 or raw[0] != ED25519_ALG:
        raise CheckpointError("verifier key is not an Ed25519 key")
    public_key = raw[1:]
    if key_id(name, public_key).hex() != hex_id:
        raise CheckpointError("verifier key id does not match its key")
    return name, public_key


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: datetime

    def body(self) -> str:
        if "\n" in self.origin or not self.origin:
            raise CheckpointError("origin must be one non-empty line")
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\ntime {stamp}\n"


def sign(checkpoint: Checkpoint, *, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note text of ``checkpoint``."""
    body = checkpoint.body()
    signature = private_key.sign(body.encode())
    kid = key_id(name, raw_public_key(private_key))
    return f"{body}\n{SIG_PREFIX}{name} {base64.b64encode(kid + signature).decode()}\n"


def parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint has origin, size and root lines, each ending in \\n")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise CheckpointError(f"tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise CheckpointError("root hash is not base64") from exc
    if len(root) != 32:
        raise CheckpointError("root hash is not 32 bytes")
    stamps = [line[5:] for line in lines[3:-1] if line.startswith("time ")]
    if len(stamps) != 1:
        raise CheckpointError("a Callseal checkpoint carries exactly one time line")
    moment = datetime.strptime(stamps[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return Checkpoint(origin=origin, size=int(size_text), root=root, time=moment)


def open_note(note: str, *, name: str, public_key: bytes) -> Checkpoint:
    """Verify ``note``'s signature by the named key and return its checkpoint.

    Raises CheckpointError when the note is malformed or no valid signature by that key is
    present (signatures by other keys are ignored, as signed-note requires).
    """
    body, sep, signatures = note.rpartition("\n\n")
    if not sep:
        raise CheckpointError("a signed note has a body, an empty line and signatures")
    body += "\n"
    wanted = key_id(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    for line in signatures.split("\n"):
        if not line:
            continue
        if not line.startswith(SIG_PREFIX):
            raise CheckpointError(f"malformed signature line {line!r}")
        signer, _, encoded = line[len(SIG_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise CheckpointError("signature is not base64") from exc
        if signer != name or raw[:4] != wanted:
            continue
        try:
            verifier.verify(raw[4:], body.encode())
        except InvalidSignature as exc:
            raise CheckpointError(f"bad signature by {name}") from exc
        return parse_body(body)
    raise CheckpointError(f"no signature by {name}")
