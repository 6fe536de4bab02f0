"""Canonical event encoding, version 1: the exact bytes a ledger leaf hashes.

Pure Python (no Django) so the standalone audit verifier can reuse it.

An event's canonical bytes are a JSON object with keys in this fixed order, no whitespace,
UTF-8, non-ASCII characters kept as they are:

    {"v":1,"tenant":"<uuid>","seq":<int>,"stream":"<str>","stream_version":<int>,
     "event_id":"<uuid>","type":"<str>","schema_version":<int>,"subject":"<str>"|null,
     "payload":<payload JSON>,"metadata":<metadata JSON>,
     "recorded_at":"YYYY-MM-DDTHH:MM:SS.ffffffZ","prev":"<64 hex>"}

``payload`` and ``metadata`` are themselves canonical JSON (``canonical_json``: keys sorted,
separators ``,`` and ``:``, ``ensure_ascii=False``, no NaN/Infinity) and are stored as that
exact text, so verification concatenates stored text and never re-serialises. Personal
fields inside ``payload`` are ciphertext, so leaves hash ciphertext and erasure keeps every
hash valid. ``prev`` is the previous event's leaf hash in the tenant's chain (64 zeros for
the first event), which ties the hash chain into the Merkle leaves.

leaf hash = SHA-256(0x00 || canonical bytes)   (RFC 9162 section 2.1.1)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CANONICAL_VERSION = 1
GENESIS_HASH = bytes(32)
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def canonical_json(value: Any) -> str:
    """Deterministic JSON text for payloads and metadata."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def format_time(moment: datetime) -> str:
    """UTC with microseconds and a ``Z``: the only time form the encoding accepts."""
    if moment.tzinfo is None:
        raise ValueError("recorded_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# What json.dumps(ensure_ascii=False) does with a str (the C implementation when present).
_dumps = json.encoder.encode_basestring  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class CanonicalFields:
    """The stored columns of one event, exactly as they are hashed."""

    tenant: str
    seq: int
    stream: str
    stream_version: int
    event_id: str
    type: str
    schema_version: int
    subject: str | None
    payload_json: str
    metadata_json: str
    recorded_at: str
    prev: bytes

    def encode(self) -> bytes:
        return encode(self)


def encode(f: CanonicalFields) -> bytes:
    subject = "null" if f.subject is None else _dumps(f.subject)
    return (
        f'{{"v":{CANONICAL_VERSION},"tenant":{_dumps(f.tenant)},"seq":{int(f.seq)},'
        f'"stream":{_dumps(f.stream)},"stream_version":{int(f.stream_version)},'
        f'"event_id":{_dumps(f.event_id)},"type":{_dumps(f.type)},'
        f'"schema_version":{int(f.schema_version)},"subject":{subject},'
        f'"payload":{f.payload_json},"metadata":{f.metadata_json},'
        f'"recorded_at":{_dumps(f.recorded_at)},"prev":"{f.prev.hex()}"}}'
    ).encode()


class BatchEncoder:
    """``encode`` for the events of one append: one tenant, one ``recorded_at``, so those
    fields are JSON-encoded once. Produces exactly ``encode``'s bytes."""

    __slots__ = ("_at", "_start")

    def __init__(self, *, tenant: str, recorded_at: str) -> None:
        self._start = f'{{"v":{CANONICAL_VERSION},"tenant":{_dumps(tenant)},"seq":'
        self._at = f',"recorded_at":{_dumps(recorded_at)},"prev":"'

    def encode(
        self,
        seq: int,
        stream: str,
        stream_version: int,
        event_id: str,
        type: str,
        schema_version: int,
        subject: str | None,
        payload_json: str,
        metadata_json: str,
        prev: bytes,
    ) -> bytes:
        subject_json = "null" if subject is None else _dumps(subject)
        return (
            f'{self._start}{int(seq)},"stream":{_dumps(stream)},'
            f'"stream_version":{int(stream_version)},"event_id":{_dumps(event_id)},'
            f'"type":{_dumps(type)},"schema_version":{int(schema_version)},'
            f'"subject":{subject_json},"payload":{payload_json},"metadata":{metadata_json}'
            f'{self._at}{prev.hex()}"}}'
        ).encode()


def leaf_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + canonical).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()
