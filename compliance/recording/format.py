"""The recording container's byte layout (format version 1); see docs/adr/0007.

    file   = magic(8) ‖ version(u16) ‖ header_len(u32) ‖ header(JSON) ‖ chunk*
    chunk  = AES-256-GCM(data_key, nonce(i), plaintext_i, ad(i, final)) ‖ tag(16)
    nonce  = 0x00000000 ‖ i(u64)        (the data key is fresh per recording, so never reused)
    ad     = "CSREC-CHUNK\\0" ‖ recording_id(16) ‖ SHA-256(header bytes) ‖ i(u64) ‖ final(u8)

Every chunk holds exactly `chunk_size` plaintext bytes except the last, which holds 0 to
`chunk_size` bytes and is the only one sealed with final = 1. The plaintext stream is a
sequence of records: track(u8) ‖ start_sample(u64) ‖ length(u32) ‖ PCM16LE bytes.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from dataclasses import dataclass
from typing import Any

MAGIC = b"CSREC\r\n\x1a"
FORMAT_VERSION = 1
AEAD_NAME = "AES-256-GCM"
TAG_BYTES = 16
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
# 64 KiB is about one second of both tracks at 16 kHz: little audio is lost if the process
# dies, and per-chunk overhead stays below 0.03 %.
DEFAULT_CHUNK_SIZE = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
SAMPLE_RATES = (8000, 16000)
ENCODING = "pcm_s16le"

PREFIX = struct.Struct(">8sHI")
RECORD = struct.Struct(">BQI")
MAX_RECORD_BYTES = 1024 * 1024
_AD_LABEL = b"CSREC-CHUNK\x00"
_INDEX = struct.Struct(">Q")


class RecordingCorrupt(Exception):
    """The container is malformed, truncated, reordered, spliced, tampered or wrongly keyed."""


@dataclass(frozen=True, slots=True)
class TrackSpec:
    name: str
    sample_rate: int

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or len(self.name) > 32:
            raise ValueError(f"track name must be a short identifier, got {self.name!r}")
        if self.sample_rate not in SAMPLE_RATES:
            raise ValueError(f"sample_rate must be one of {SAMPLE_RATES}, got {self.sample_rate}")


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    recording_id: uuid.UUID
    tenant_id: uuid.UUID
    tracks: tuple[TrackSpec, ...]
    chunk_size: int
    key_algorithm: str
    key_ref: str
    wrapped_key: bytes
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "recording_id": str(self.recording_id),
            "tenant_id": str(self.tenant_id),
            "tracks": [
                {"name": t.name, "sample_rate": t.sample_rate, "encoding": ENCODING}
                for t in self.tracks
            ],
            "chunk_size": self.chunk_size,
            "aead": AEAD_NAME,
            "key_wrap": {
                "algorithm": self.key_algorithm,
                "key_ref": self.key_ref,
                "wrapped_key": base64.b64encode(self.wrapped_key).decode("ascii"),
            },
            "created_at": self.created_at,
        }

    def encode(self) -> bytes:
        body = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return PREFIX.pack(MAGIC, FORMAT_VERSION, len(body)) + body

    def track_index(self, name: str) -> int:
        for i, track in enumerate(self.tracks):
            if track.name == name:
                return i
        raise ValueError(f"no track {name!r} in this recording")


def key_context(recording_id: uuid.UUID) -> bytes:
    """What the wrapped data key is bound to (for wrappers that accept a context)."""
    return b"callseal-recording-key:v1:" + recording_id.bytes


def nonce(index: int) -> bytes:
    return b"\x00\x00\x00\x00" + _INDEX.pack(index)


def associated_data(
    *, recording_id: uuid.UUID, header_digest: bytes, index: int, final: bool
) -> bytes:
    return _AD_LABEL + recording_id.bytes + header_digest + _INDEX.pack(index) + bytes([final])


def decode_header(body: bytes) -> RecordingHeader:
    """Parse and validate the JSON header; every problem is a RecordingCorrupt."""
    try:
        raw = json.loads(body)
        if raw["format"] != FORMAT_VERSION or raw["aead"] != AEAD_NAME:
            raise RecordingCorrupt(f"unsupported format {raw['format']!r}/{raw['aead']!r}")
        tracks = tuple(
            TrackSpec(name=t["name"], sample_rate=t["sample_rate"]) for t in raw["tracks"]
        )
        if not tracks or len(tracks) > 8 or any(t["encoding"] != ENCODING for t in raw["tracks"]):
            raise RecordingCorrupt("tracks must be 1-8 pcm_s16le tracks")
        if len({t.name for t in tracks}) != len(tracks):
            raise RecordingCorrupt("duplicate track names")
        chunk_size = raw["chunk_size"]
        if type(chunk_size) is not int or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise RecordingCorrupt(f"chunk_size out of range: {chunk_size!r}")
        wrap = raw["key_wrap"]
        return RecordingHeader(
            recording_id=uuid.UUID(raw["recording_id"]),
            tenant_id=uuid.UUID(raw["tenant_id"]),
            tracks=tracks,
            chunk_size=chunk_size,
            key_algorithm=str(wrap["algorithm"]),
            key_ref=str(wrap["key_ref"]),
            wrapped_key=base64.b64decode(wrap["wrapped_key"], validate=True),
            created_at=str(raw["created_at"]),
        )
    except RecordingCorrupt:
        raise
    except (ValueError, KeyError, TypeError) as exc:  # JSON, UUID, base64 and shape errors
        raise RecordingCorrupt(f"malformed header: {exc}") from exc
