"""Streaming writer and reader of encrypted multi-track call recordings.

The writer seals audio as the call runs; nothing but the final chunk is held back, so a
crash loses at most one chunk. The reader decrypts chunk by chunk and never holds the whole
file. Plaintext it yields before the end is provisional: a truncated or spliced file raises
RecordingCorrupt when the reader gets there, and consumers must discard what they derived.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callseal.at_rest import FILE_MODE, private_dir
from compliance.recording.format import (
    DEFAULT_CHUNK_SIZE,
    FORMAT_VERSION,
    MAGIC,
    MAX_CHUNK_SIZE,
    MAX_HEADER_BYTES,
    MAX_RECORD_BYTES,
    MIN_CHUNK_SIZE,
    PREFIX,
    RECORD,
    TAG_BYTES,
    RecordingCorrupt,
    RecordingHeader,
    TrackSpec,
    associated_data,
    decode_header,
    key_context,
    nonce,
)
from compliance.recording.keys import KEY_BYTES, KeyUnwrapFailed, KeyWrapper

SUFFIX = ".csrec"
PARTIAL_SUFFIX = ".csrec.partial"


def recording_path(*, storage_root: Path, tenant_id: uuid.UUID, recording_id: uuid.UUID) -> Path:
    """Where a finished recording lives under its region's storage root."""
    if not isinstance(tenant_id, uuid.UUID) or not isinstance(recording_id, uuid.UUID):
        raise TypeError("tenant_id and recording_id must be UUIDs")
    return Path(storage_root) / "recordings" / str(tenant_id) / f"{recording_id}{SUFFIX}"


@dataclass(frozen=True, slots=True)
class Frame:
    track: str
    start_sample: int
    pcm: bytes


class RecordingWriter:
    """Appends PCM16 frames of named tracks; `close()` seals the final chunk and publishes."""

    def __init__(self, *, file: BinaryIO, header: RecordingHeader, data_key: bytes) -> None:
        self._file = file
        self.header = header
        encoded = header.encode()
        self._digest = hashlib.sha256(encoded).digest()
        self._aead = AESGCM(data_key)
        self._buffer = bytearray()
        self._index = 0
        self._cursors = [0] * len(header.tracks)
        self._closed = False
        file.write(encoded)

    @classmethod
    def create(
        cls,
        *,
        storage_root: Path,
        tenant_id: uuid.UUID,
        recording_id: uuid.UUID,
        tracks: Sequence[TrackSpec],
        key_wrapper: KeyWrapper,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> RecordingWriter:
        """Start a recording with a fresh data key, wrapped by `key_wrapper`."""
        if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be in [{MIN_CHUNK_SIZE}, {MAX_CHUNK_SIZE}]")
        data_key = secrets.token_bytes(KEY_BYTES)
        header = RecordingHeader(
            recording_id=recording_id,
            tenant_id=tenant_id,
            tracks=tuple(tracks),
            chunk_size=chunk_size,
            key_algorithm=key_wrapper.algorithm,
            key_ref=key_wrapper.key_ref,
            wrapped_key=key_wrapper.wrap(data_key, context=key_context(recording_id)),
            created_at=datetime.now(tz=UTC).isoformat(),
        )
        if len({t.name for t in header.tracks}) != len(header.tracks) or not header.tracks:
            raise ValueError("tracks must be non-empty with distinct names")
        final = recording_path(
            storage_root=storage_root, tenant_id=tenant_id, recording_id=recording_id
        )
        private_dir(final.parent)  # 0700 folders, 0600 files: docs/adr/0012
        partial = final.with_name(final.name.removesuffix(SUFFIX) + PARTIAL_SUFFIX)
        # "x": a recording id is written once; a second writer would reuse no nonce (the key
        # is fresh) but would clobber evidence.
        if final.exists():
            raise FileExistsError(final)
        file = os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb")
        writer = cls(file=file, header=header, data_key=data_key)
        writer._paths = (partial, final)
        return writer

    _paths: tuple[Path, Path] | None = None

    def write(self, *, track: str, pcm: bytes, start_sample: int | None = None) -> None:
        """Append `pcm` (PCM16LE) to `track`, at `start_sample` or right after its last frame."""
        if self._closed:
            raise ValueError("recording is closed")
        index = self.header.track_index(track)
        if len(pcm) % 2 or not 0 < len(pcm) <= MAX_RECORD_BYTES:
            raise ValueError("pcm must be a non-empty even number of bytes, at most 1 MiB")
        start = self._cursors[index] if start_sample is None else start_sample
        if start < self._cursors[index]:
            raise ValueError(f"track {track!r} frames must not overlap (start {start})")
        self._cursors[index] = start + len(pcm) // 2
        self._buffer += RECORD.pack(index, start, len(pcm))
        self._buffer += pcm
        self._seal_full_chunks()

    def _seal_full_chunks(self) -> None:
        size = self.header.chunk_size
        # Keep at least one byte back: only close() knows which chunk is the final one.
        if len(self._buffer) <= size:
            return
        view = memoryview(self._buffer)
        offset = 0
        while len(self._buffer) - offset > size:
            self._file.write(self._seal(view[offset : offset + size], final=False))
            offset += size
        view.release()
        del self._buffer[:offset]

    def _seal(self, plaintext: memoryview | bytes, *, final: bool) -> bytes:
        ad = associated_data(
            recording_id=self.header.recording_id,
            header_digest=self._digest,
            index=self._index,
            final=final,
        )
        sealed = self._aead.encrypt(nonce(self._index), plaintext, ad)
        self._index += 1
        return sealed

    def close(self) -> Path | None:
        """Seal the final chunk, fsync, and move the file to its published name."""
        if self._closed:
            return self._paths[1] if self._paths else None
        self._file.write(self._seal(bytes(self._buffer), final=True))
        self._buffer.clear()
        self._closed = True
        self._file.flush()
        if self._paths is None:
            return None
        os.fsync(self._file.fileno())
        self._file.close()
        partial, final = self._paths
        partial.rename(final)
        return final

    def abort(self) -> None:
        """Stop without a final chunk: the .partial file stays and reads as truncated."""
        self._closed = True
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class RecordingReader:
    """Decrypts a recording chunk by chunk; see the module docstring on provisional data."""

    def __init__(self, *, file: BinaryIO, key_wrapper: KeyWrapper) -> None:
        self._file = file
        prefix = file.read(PREFIX.size)
        if len(prefix) != PREFIX.size:
            raise RecordingCorrupt("file shorter than the header prefix")
        magic, version, length = PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise RecordingCorrupt("not a Callseal recording (bad magic)")
        if version != FORMAT_VERSION or not 0 < length <= MAX_HEADER_BYTES:
            raise RecordingCorrupt(f"unsupported version {version} or header length {length}")
        body = file.read(length)
        if len(body) != length:
            raise RecordingCorrupt("file shorter than its header")
        self.header = decode_header(body)
        if self.header.encode() != prefix + body:
            raise RecordingCorrupt("header is not in canonical form")
        self._digest = hashlib.sha256(prefix + body).digest()
        if self.header.key_ref != key_wrapper.key_ref:
            raise RecordingCorrupt(
                f"recording is keyed by {self.header.key_ref!r}, not {key_wrapper.key_ref!r}"
            )
        try:
            data_key = key_wrapper.unwrap(
                self.header.wrapped_key, context=key_context(self.header.recording_id)
            )
        except KeyUnwrapFailed as exc:
            raise RecordingCorrupt("data key does not unwrap (wrong key or tampered)") from exc
        self._aead = AESGCM(data_key)

    @classmethod
    def open(cls, path: Path, *, key_wrapper: KeyWrapper) -> RecordingReader:
        file = Path(path).open("rb")  # noqa: SIM115 - the reader owns it until close()
        try:
            return cls(file=file, key_wrapper=key_wrapper)
        except BaseException:
            file.close()
            raise

    def chunks(self) -> Iterator[bytes]:
        """Plaintext chunks in order; raises RecordingCorrupt at the first bad chunk."""
        sealed_size = self.header.chunk_size + TAG_BYTES
        index = 0
        current = self._file.read(sealed_size)
        while True:
            following = self._file.read(sealed_size) if len(current) == sealed_size else b""
            final = not following
            if len(current) < TAG_BYTES:
                raise RecordingCorrupt(f"chunk {index} is missing or cut short (truncated)")
            ad = associated_data(
                recording_id=self.header.recording_id,
                header_digest=self._digest,
                index=index,
                final=final,
            )
            try:
                yield self._aead.decrypt(nonce(index), current, ad)
            except InvalidTag as exc:
                raise RecordingCorrupt(
                    f"chunk {index} fails authentication (truncated, reordered, spliced or "
                    "tampered)"
                ) from exc
            if final:
                return
            current = following
            index += 1

    def frames(self) -> Iterator[Frame]:
        """Every frame of every track, in the order written."""
        buffer = bytearray()
        for chunk in self.chunks():
            buffer += chunk
            offset = 0
            while len(buffer) - offset >= RECORD.size:
                track, start, length = RECORD.unpack_from(buffer, offset)
                if track >= len(self.header.tracks) or length > MAX_RECORD_BYTES:
                    raise RecordingCorrupt(f"bad record at chunk stream offset {offset}")
                end = offset + RECORD.size + length
                if end > len(buffer):
                    break
                yield Frame(
                    self.header.tracks[track].name, start, bytes(buffer[offset + RECORD.size : end])
                )
                offset = end
            del buffer[:offset]
        if buffer:
            raise RecordingCorrupt("stream ends inside a record")

    def track_frames(self, track: str) -> Iterator[Frame]:
        self.header.track_index(track)
        return (frame for frame in self.frames() if frame.track == track)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
