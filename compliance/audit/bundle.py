"""Bundle files written as streams: each hashed while written, then packed into the zip."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callseal.ledger import checkpoint as notes

SUMS_CONTEXT = b"callseal-audit-bundle/v1 SHA256SUMS\n"  # also in compliance/verify.py
# Level 1: the big members are hex hashes and ciphertext, which deflate gains little on.
COMPRESS_LEVEL = 1


class HashedFile:
    """A file under the bundle's scratch folder whose SHA-256 is computed as it is written."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.path = root / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("wb")
        self._digest = hashlib.sha256()
        self.closed_digest: str | None = None

    def write(self, data: bytes) -> None:
        self._digest.update(data)
        self._file.write(data)

    def line(self, value: Any) -> None:
        self.write(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")

    def close(self) -> str:
        self._file.close()
        self.closed_digest = self._digest.hexdigest()
        return self.closed_digest


class CsvFile:
    """A CSV member written through the csv module into a HashedFile."""

    def __init__(self, root: Path, name: str, header: list[str]) -> None:
        self.out = HashedFile(root, name)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self.row(header)

    def row(self, values: list[Any]) -> None:
        self._writer.writerow(values)
        if self._buffer.tell() > 1 << 16:
            self.flush()

    def flush(self) -> None:
        self.out.write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()

    def close(self) -> str:
        self.flush()
        return self.out.close()


def write_small(root: Path, name: str, data: bytes) -> str:
    out = HashedFile(root, name)
    out.write(data)
    return out.close()


def sums_text(digests: dict[str, str]) -> bytes:
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests)).encode()


def sums_signature(sums: bytes, *, key_name: str, private_key: Ed25519PrivateKey) -> bytes:
    """``— <key name> <base64(key id || Ed25519 signature)>``, over a context-prefixed text
    so it can never pass for a checkpoint signature by the same key."""
    kid = notes.key_id(key_name, notes.raw_public_key(private_key))
    signature = private_key.sign(SUMS_CONTEXT + sums)
    return f"\u2014 {key_name} {base64.b64encode(kid + signature).decode()}\n".encode()


def pack(root: Path, names: list[str], out: Path) -> None:
    """Zip ``names`` (relative to ``root``) into ``out`` atomically, streaming each file."""
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(
        partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as bundle:
        for name in names:
            bundle.write(root / name, arcname=name)
    partial.replace(out)
