"""Recording encryption throughput against `openssl speed -evp aes-256-gcm`, same machine.

Both figures are MB/s (10^6 bytes). The peer is OpenSSL's raw AES-256-GCM over 16 KiB
blocks; ours is the whole container (record framing, chunking, AEAD, writing to a sink).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
import uuid

from compliance.recording import AesGcmKeyWrapper, RecordingReader, RecordingWriter, TrackSpec
from compliance.recording.format import (
    DEFAULT_CHUNK_SIZE,
    MAX_RECORD_BYTES,
    RecordingHeader,
    key_context,
)

TOTAL_BYTES = 256 * 1024 * 1024
OPENSSL_BLOCK = 16384


class _Sink(io.RawIOBase):
    """Counts the ciphertext (timed run) or keeps it (to feed the decryption run)."""

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self.data: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
        self.size += len(b)
        if self.keep:
            self.data.append(bytes(b))
        return len(b)


def openssl_mb_s() -> float:
    out = subprocess.run(
        ["openssl", "speed", "-evp", "aes-256-gcm", "-seconds", "3", "-bytes", str(OPENSSL_BLOCK)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"^AES-256-GCM\s+([\d.]+)k\s*$", out, re.MULTILINE)
    if not match:
        raise RuntimeError(f"cannot parse openssl speed output:\n{out}")
    return float(match.group(1)) / 1000.0  # openssl prints 1000s of bytes per second


def ours_mb_s(chunk_size: int, frame_bytes: int) -> tuple[float, float]:
    wrapper = AesGcmKeyWrapper(os.urandom(32), key_ref="bench")
    frame = os.urandom(frame_bytes)
    frames = TOTAL_BYTES // frame_bytes
    rid = uuid.uuid4()
    data_key = os.urandom(32)
    header = RecordingHeader(
        recording_id=rid,
        tenant_id=uuid.uuid4(),
        tracks=(TrackSpec("caller", 16000), TrackSpec("agent", 16000)),
        chunk_size=chunk_size,
        key_algorithm=wrapper.algorithm,
        key_ref=wrapper.key_ref,
        wrapped_key=wrapper.wrap(data_key, context=key_context(rid)),
        created_at="2026-01-01T00:00:00+00:00",
    )

    def encrypt(sink: _Sink) -> None:
        writer = RecordingWriter(file=sink, header=header, data_key=data_key)  # type: ignore[arg-type]
        for i in range(frames):
            writer.write(track="caller" if i % 2 else "agent", pcm=frame)
        writer.close()

    start = time.perf_counter()
    encrypt(_Sink(keep=False))
    encrypt_s = time.perf_counter() - start
    kept = _Sink(keep=True)
    encrypt(kept)
    reader_file = io.BytesIO(b"".join(kept.data))
    del kept
    start = time.perf_counter()
    reader = RecordingReader(file=reader_file, key_wrapper=wrapper)
    total = sum(len(c) for c in reader.chunks())
    decrypt_s = time.perf_counter() - start
    assert total >= frames * frame_bytes
    return frames * frame_bytes / encrypt_s / 1e6, frames * frame_bytes / decrypt_s / 1e6


def main() -> int:
    from cryptography.hazmat.backends.openssl.backend import backend

    peer = openssl_mb_s()
    cli = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    print(f"openssl speed -evp aes-256-gcm ({OPENSSL_BLOCK} B blocks): {peer:,.0f} MB/s [{cli}]")
    # The two can differ: cryptography's wheels bundle their own, often newer, OpenSSL.
    print(f"container AEAD: cryptography with {backend.openssl_version_text()}")
    print(f"container over {TOTAL_BYTES // 2**20} MiB, best of 3:")
    for chunk_size, frame_bytes in (
        (DEFAULT_CHUNK_SIZE, MAX_RECORD_BYTES),
        (1 << 20, MAX_RECORD_BYTES),
        (DEFAULT_CHUNK_SIZE, 640),
    ):
        runs = [ours_mb_s(chunk_size, frame_bytes) for _ in range(3)]
        enc = max(r[0] for r in runs)
        dec = max(r[1] for r in runs)
        print(
            f"  chunk {chunk_size // 1024:>5} KiB, frames of {frame_bytes:>7} B: "
            f"encrypt {enc:,.0f} MB/s ({enc / peer:.2f}x openssl), "
            f"decrypt {dec:,.0f} MB/s ({dec / peer:.2f}x openssl)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
