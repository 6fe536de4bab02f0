import hashlib
import io
import struct
import uuid
from pathlib import Path

import cryptography_vectors
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from compliance.recording import (
    AesGcmKeyWrapper,
    AesKwKeyWrapper,
    Frame,
    RecordingCorrupt,
    RecordingHeader,
    RecordingReader,
    RecordingWriter,
    TrackSpec,
    recording_path,
)
from compliance.recording.format import PREFIX, RECORD, TAG_BYTES, associated_data, nonce

KEK = bytes(range(32))
TENANT = uuid.UUID("11111111-1111-4111-8111-111111111111")
TRACKS = (TrackSpec("caller", 8000), TrackSpec("agent", 8000))
CHUNK = 1024


def wrapper(kek: bytes = KEK) -> AesGcmKeyWrapper:
    return AesGcmKeyWrapper(kek, key_ref="subject:test")


def pcm(n_samples: int, seed: int) -> bytes:
    return bytes((seed + i) % 256 for i in range(n_samples * 2))


def write_recording(root: Path, recording_id: uuid.UUID, frames: list[Frame]) -> Path:
    with RecordingWriter.create(
        storage_root=root,
        tenant_id=TENANT,
        recording_id=recording_id,
        tracks=TRACKS,
        key_wrapper=wrapper(),
        chunk_size=CHUNK,
    ) as writer:
        for f in frames:
            writer.write(track=f.track, pcm=f.pcm, start_sample=f.start_sample)
    return recording_path(storage_root=root, tenant_id=TENANT, recording_id=recording_id)


def call_frames(n: int = 40, seed: int = 0) -> list[Frame]:
    frames = []
    for i in range(n):
        frames.append(Frame("caller", i * 160, pcm(160, seed + i)))
        if i % 3 == 0:  # the agent track has gaps while the agent is silent
            frames.append(Frame("agent", i * 160, pcm(160, seed + 1000 + i)))
    return frames


def read_all(path: Path, kek: bytes = KEK) -> list[Frame]:
    with RecordingReader.open(path, key_wrapper=wrapper(kek)) as reader:
        return list(reader.frames())


def chunk_offsets(data: bytes) -> tuple[int, list[bytes]]:
    (_, _, length) = PREFIX.unpack_from(data)
    start = PREFIX.size + length
    body = data[start:]
    size = CHUNK + TAG_BYTES
    return start, [body[i : i + size] for i in range(0, len(body), size)]


def test_round_trip_returns_every_frame_of_both_tracks(tmp_path):
    frames = call_frames()
    path = write_recording(tmp_path, uuid.uuid4(), frames)
    assert read_all(path) == frames
    assert len(chunk_offsets(path.read_bytes())[1]) > 3


def test_recording_is_stored_under_the_storage_root_by_tenant(tmp_path):
    rid = uuid.uuid4()
    path = write_recording(tmp_path, rid, call_frames(2))
    assert path == tmp_path / "recordings" / str(TENANT) / f"{rid}.csrec"
    assert list(path.parent.iterdir()) == [path]


def test_empty_recording_and_exact_chunk_multiple_round_trip(tmp_path):
    assert read_all(write_recording(tmp_path, uuid.uuid4(), [])) == []
    # Two records that fill exactly two chunks: the second full chunk must be the final one.
    first = pcm(500, 7)
    second = pcm((2 * CHUNK - 2 * RECORD.size - len(first)) // 2, 9)
    frames = [Frame("caller", 0, first), Frame("agent", 0, second)]
    path = write_recording(tmp_path, uuid.uuid4(), frames)
    _, chunks = chunk_offsets(path.read_bytes())
    assert [len(c) for c in chunks] == [CHUNK + TAG_BYTES] * 2
    assert read_all(path) == frames


def test_track_frames_filters_one_track(tmp_path):
    frames = call_frames(9)
    path = write_recording(tmp_path, uuid.uuid4(), frames)
    with RecordingReader.open(path, key_wrapper=wrapper()) as reader:
        assert list(reader.track_frames("agent")) == [f for f in frames if f.track == "agent"]


@pytest.mark.parametrize("drop_bytes", [TAG_BYTES + 1, 1, "last_chunk", "two_chunks"])
def test_truncated_recording_fails_to_decrypt(tmp_path, drop_bytes):
    path = write_recording(tmp_path, uuid.uuid4(), call_frames())
    data = path.read_bytes()
    _, chunks = chunk_offsets(data)
    if drop_bytes == "last_chunk":
        cut = data[: len(data) - len(chunks[-1])]
    elif drop_bytes == "two_chunks":
        cut = data[: len(data) - len(chunks[-1]) - len(chunks[-2])]
    else:
        cut = data[: len(data) - int(drop_bytes)]
    path.write_bytes(cut)
    with pytest.raises(RecordingCorrupt, match="chunk"):
        read_all(path)


def test_reordered_chunks_fail_to_decrypt(tmp_path):
    path = write_recording(tmp_path, uuid.uuid4(), call_frames())
    data = path.read_bytes()
    start, chunks = chunk_offsets(data)
    chunks[1], chunks[2] = chunks[2], chunks[1]
    path.write_bytes(data[:start] + b"".join(chunks))
    with pytest.raises(RecordingCorrupt, match="chunk 1 fails authentication"):
        read_all(path)


def test_chunk_spliced_from_another_recording_fails_to_decrypt(tmp_path):
    a = write_recording(tmp_path, uuid.uuid4(), call_frames(seed=0))
    b = write_recording(tmp_path, uuid.uuid4(), call_frames(seed=0))
    start_a, chunks_a = chunk_offsets(a.read_bytes())
    _, chunks_b = chunk_offsets(b.read_bytes())
    chunks_a[2] = chunks_b[2]
    a.write_bytes(a.read_bytes()[:start_a] + b"".join(chunks_a))
    with pytest.raises(RecordingCorrupt, match="chunk 2 fails authentication"):
        read_all(a)


def test_wrong_key_fails(tmp_path):
    path = write_recording(tmp_path, uuid.uuid4(), call_frames(3))
    with pytest.raises(RecordingCorrupt, match="does not unwrap"):
        read_all(path, kek=b"\x01" * 32)


def test_tampered_header_fails(tmp_path):
    path = write_recording(tmp_path, uuid.uuid4(), call_frames(3))
    data = path.read_bytes()
    # Change a digit of created_at: still valid JSON in canonical form, so only the chunk
    # authentication (which binds the header digest) can notice.
    i = data.index(b'"created_at":"') + len(b'"created_at":"') + 3
    tampered = data[:i] + bytes([ord("0") + (data[i] - ord("0") + 1) % 10]) + data[i + 1 :]
    path.write_bytes(tampered)
    with pytest.raises(RecordingCorrupt, match="chunk 0 fails authentication"):
        read_all(path)


def test_wrapped_key_moved_to_another_recording_fails(tmp_path):
    a = write_recording(tmp_path, uuid.uuid4(), call_frames(3))
    b = write_recording(tmp_path, uuid.uuid4(), call_frames(3))
    key_a = RecordingReader.open(a, key_wrapper=wrapper()).header.wrapped_key
    key_b = RecordingReader.open(b, key_wrapper=wrapper()).header.wrapped_key
    import base64

    data = b.read_bytes().replace(base64.b64encode(key_b), base64.b64encode(key_a))
    b.write_bytes(data)
    with pytest.raises(RecordingCorrupt, match="does not unwrap"):
        read_all(b)


def test_garbage_and_short_files_are_rejected_with_clear_errors(tmp_path):
    bad = tmp_path / "bad.csrec"
    bad.write_bytes(b"RIFF....WAVEfmt ")
    with pytest.raises(RecordingCorrupt, match="bad magic"):
        read_all(bad)
    bad.write_bytes(b"CSR")
    with pytest.raises(RecordingCorrupt, match="shorter than the header prefix"):
        read_all(bad)


def test_reader_streams_in_chunk_sized_reads(tmp_path):
    path = write_recording(tmp_path, uuid.uuid4(), call_frames(200))
    reads: list[int] = []

    class Spy(io.BufferedReader):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    with path.open("rb", buffering=0) as raw:
        reader = RecordingReader(file=Spy(raw), key_wrapper=wrapper())
        first = next(reader.frames())
        assert first == Frame("caller", 0, pcm(160, 0))
        # Only the header and two sealed chunks (current + look-ahead) were read so far.
        assert len(reads) == 4
        assert all(0 < n <= CHUNK + TAG_BYTES for n in reads)
    assert path.stat().st_size > 20 * CHUNK


def test_writer_rejects_bad_input_without_losing_earlier_frames(tmp_path):
    rid = uuid.uuid4()
    frames = call_frames(2)
    with RecordingWriter.create(
        storage_root=tmp_path,
        tenant_id=TENANT,
        recording_id=rid,
        tracks=TRACKS,
        key_wrapper=wrapper(),
        chunk_size=CHUNK,
    ) as writer:
        for f in frames:
            writer.write(track=f.track, pcm=f.pcm, start_sample=f.start_sample)
        with pytest.raises(ValueError, match="no track 'music'"):
            writer.write(track="music", pcm=b"\0\0")
        with pytest.raises(ValueError, match="even number"):
            writer.write(track="caller", pcm=b"\0")
        with pytest.raises(ValueError, match="must not overlap"):
            writer.write(track="caller", pcm=b"\0\0", start_sample=0)
    assert (
        read_all(recording_path(storage_root=tmp_path, tenant_id=TENANT, recording_id=rid))
        == frames
    )


def test_aborted_recording_stays_partial_and_reads_as_truncated(tmp_path):
    rid = uuid.uuid4()
    writer = RecordingWriter.create(
        storage_root=tmp_path,
        tenant_id=TENANT,
        recording_id=rid,
        tracks=TRACKS,
        key_wrapper=wrapper(),
        chunk_size=CHUNK,
    )

    def dropped_call() -> None:
        with writer:
            for f in call_frames():
                writer.write(track=f.track, pcm=f.pcm, start_sample=f.start_sample)
            raise RuntimeError("call dropped")

    with pytest.raises(RuntimeError, match="call dropped"):
        dropped_call()
    final = recording_path(storage_root=tmp_path, tenant_id=TENANT, recording_id=rid)
    assert not final.exists()
    partial = final.with_name(f"{rid}.csrec.partial")
    with pytest.raises(RecordingCorrupt, match="truncated"):
        read_all(partial)


# Known-answer vector for the container layout: a fixed data key and header must give
# exactly these bytes, and chunk 0 must open with the documented nonce and associated data.
FIXED_HEADER = RecordingHeader(
    recording_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
    tenant_id=TENANT,
    tracks=(TrackSpec("caller", 16000),),
    chunk_size=1024,
    key_algorithm="A256KW",
    key_ref="subject:vector",
    wrapped_key=AesKwKeyWrapper(KEK, key_ref="subject:vector").wrap(b"\x42" * 32, context=b""),
    created_at="2026-01-01T00:00:00+00:00",
)
FIXED_SHA256 = "0fd5febe794ac2a4aead525dbce8054c11f297b4945dc71c1dc7e802b85245bc"


def test_container_matches_fixed_vector_and_documented_layout():
    out = io.BytesIO()
    writer = RecordingWriter(file=out, header=FIXED_HEADER, data_key=b"\x42" * 32)
    writer.write(track="caller", pcm=bytes(range(256)) * 6)
    writer.close()
    data = out.getvalue()
    assert hashlib.sha256(data).hexdigest() == FIXED_SHA256
    header = FIXED_HEADER.encode()
    sealed0 = data[len(header) : len(header) + 1024 + TAG_BYTES]
    ad = associated_data(
        recording_id=FIXED_HEADER.recording_id,
        header_digest=hashlib.sha256(header).digest(),
        index=0,
        final=False,
    )
    plain0 = AESGCM(b"\x42" * 32).decrypt(nonce(0), sealed0, ad)
    assert plain0[: RECORD.size] == struct.pack(">BQI", 0, 0, 1536)
    reader = RecordingReader(
        file=io.BytesIO(data), key_wrapper=AesKwKeyWrapper(KEK, key_ref="subject:vector")
    )
    assert list(reader.frames()) == [Frame("caller", 0, bytes(range(256)) * 6)]


def _rsp_cases(path: Path) -> list[dict[str, str]]:
    cases: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("[") or not line or line.startswith("#"):
            if line.startswith("[IVlen") or line.startswith("[PTlen"):
                current = {}
            continue
        key, _, value = line.partition("=")
        current[key.strip()] = value.strip()
        if key.strip() == "Tag":
            cases.append(current)
            current = {}
    return cases


VECTORS = Path(cryptography_vectors.__file__).parent


def test_aes_256_gcm_primitive_matches_nist_cavp_vectors():
    cases = [
        c
        for c in _rsp_cases(VECTORS / "ciphers/AES/GCM/gcmEncryptExtIV256.rsp")
        if len(c["IV"]) == 24 and len(c["Tag"]) == 32
    ]
    assert len(cases) >= 100
    for c in cases:
        aead = AESGCM(bytes.fromhex(c["Key"]))
        out = aead.encrypt(
            bytes.fromhex(c["IV"]), bytes.fromhex(c["PT"]), bytes.fromhex(c["AAD"]) or None
        )
        assert out.hex() == c["CT"] + c["Tag"], c["Count"]


def test_aes_kw_wrapper_matches_nist_sp800_38f_vectors():
    text = (VECTORS / "keywrap/kwtestvectors/KW_AE_256.txt").read_text()
    section = text.split("[PLAINTEXT LENGTH = 256]")[1].split("[PLAINTEXT LENGTH")[0]
    cases = _rsp_cases_kw(section)
    assert len(cases) == 100
    for c in cases:
        w = AesKwKeyWrapper(bytes.fromhex(c["K"]), key_ref="nist")
        assert w.wrap(bytes.fromhex(c["P"]), context=b"").hex() == c["C"]
        assert w.unwrap(bytes.fromhex(c["C"]), context=b"").hex() == c["P"]


def _rsp_cases_kw(section: str) -> list[dict[str, str]]:
    cases: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in section.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            current[key.strip()] = value.strip()
            if key.strip() == "C":
                cases.append(current)
                current = {}
    return cases
