"""The pure modules the audit verifier reuses: RFC 9162 proofs and C2SP checkpoints."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callseal.ledger import checkpoint as notes
from callseal.ledger import merkle
from callseal.ledger.canonical import BatchEncoder, CanonicalFields, leaf_hash

LEAVES = [leaf_hash(bytes([i])) for i in range(33)]


def _reference_root(leaves: list[bytes]) -> bytes:
    # RFC 9162 MTH written directly from the definition.
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(
        b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:])
    ).digest()


def test_leaf_hash_prefixes_zero_byte():
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@pytest.mark.parametrize("size", range(34))
def test_compact_range_root_equals_rfc9162_tree_hash(size):
    compact = merkle.CompactRange()
    compact.extend(LEAVES[:size])
    assert compact.root() == _reference_root(LEAVES[:size])
    unpacked = merkle.CompactRange.unpack(size, compact.pack())
    assert unpacked.root() == compact.root()


def test_every_inclusion_proof_verifies_and_a_wrong_leaf_does_not():
    for size in range(1, 34):
        tree_root = _reference_root(LEAVES[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(index, LEAVES[:size])
            assert merkle.verify_inclusion(LEAVES[index], index, size, proof, tree_root)
            assert not merkle.verify_inclusion(
                LEAVES[index - 1] if index else LEAVES[1], index, size, proof, tree_root
            )


def test_every_consistency_proof_verifies_and_a_forked_tree_does_not():
    forked = [*LEAVES[:5], leaf_hash(b"forged"), *LEAVES[6:]]
    for new in range(1, 34):
        for old in range(1, new + 1):
            proof = merkle.consistency_proof(old, LEAVES[:new])
            old_root, new_root = _reference_root(LEAVES[:old]), _reference_root(LEAVES[:new])
            assert merkle.verify_consistency(old, new, proof, old_root, new_root)
            if old > 5:
                assert not merkle.verify_consistency(
                    old, new, proof, _reference_root(forked[:old]), new_root
                )


def test_canonical_encoding_is_the_documented_bytes():
    fields = CanonicalFields(
        tenant="00000000-0000-0000-0000-000000000001",
        seq=1,
        stream="call-1",
        stream_version=1,
        event_id="00000000-0000-0000-0000-000000000002",
        type="t",
        schema_version=1,
        subject=None,
        payload_json='{"a":"é"}',
        metadata_json="{}",
        recorded_at="2026-01-01T00:00:00.000000Z",
        prev=bytes(32),
    )
    assert (
        fields.encode()
        == (
            '{"v":1,"tenant":"00000000-0000-0000-0000-000000000001","seq":1,"stream":"call-1",'
            '"stream_version":1,"event_id":"00000000-0000-0000-0000-000000000002","type":"t",'
            '"schema_version":1,"subject":null,"payload":{"a":"é"},"metadata":{},'
            '"recorded_at":"2026-01-01T00:00:00.000000Z","prev":"' + "0" * 64 + '"}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("stream", "subject", "kind"),
    [
        ("call-1", None, "t"),
        ('quote"back\\slash\nnewline', "ref-1", "x.y"),
        ("ünïcødé ☎ \u2028", "sübject", "tÿpe"),
    ],
)
def test_batch_encoder_produces_exactly_the_canonical_bytes(stream, subject, kind):
    tenant, at = "00000000-0000-0000-0000-00000000000a", "2026-01-01T00:00:00.000001Z"
    encoder = BatchEncoder(tenant=tenant, recorded_at=at)
    for seq, prev in ((1, bytes(32)), (2**40, bytes(range(32)))):
        fields = CanonicalFields(
            tenant=tenant,
            seq=seq,
            stream=stream,
            stream_version=seq + 1,
            event_id="00000000-0000-0000-0000-000000000002",
            type=kind,
            schema_version=3,
            subject=subject,
            payload_json='{"a":"é\\u0000"}',
            metadata_json='{"actor":"u"}',
            recorded_at=at,
            prev=prev,
        )
        assert (
            encoder.encode(
                seq,
                stream,
                seq + 1,
                "00000000-0000-0000-0000-000000000002",
                kind,
                3,
                subject,
                '{"a":"é\\u0000"}',
                '{"actor":"u"}',
                prev,
            )
            == fields.encode()
        )


def test_signed_checkpoint_round_trips_and_names_its_key():
    key = Ed25519PrivateKey.generate()
    cp = notes.Checkpoint("example.com/log", 7, bytes(range(32)), datetime(2026, 1, 1, tzinfo=UTC))
    note = notes.sign(cp, name="example.com/log", private_key=key)
    assert note.startswith("example.com/log\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
    assert "\n\n\u2014 example.com/log " in note
    public = notes.raw_public_key(key)
    assert notes.open_note(note, name="example.com/log", public_key=public) == cp
    vkey = notes.verifier_key("example.com/log", public)
    assert notes.parse_verifier_key(vkey) == ("example.com/log", public)


def test_checkpoint_with_altered_size_or_foreign_key_is_rejected():
    key = Ed25519PrivateKey.generate()
    cp = notes.Checkpoint("o", 7, bytes(32), datetime(2026, 1, 1, tzinfo=UTC))
    note = notes.sign(cp, name="o", private_key=key)
    public = notes.raw_public_key(key)
    with pytest.raises(notes.CheckpointError, match="bad signature"):
        notes.open_note(note.replace("\n7\n", "\n8\n"), name="o", public_key=public)
    forged = notes.sign(cp, name="o", private_key=Ed25519PrivateKey.generate())
    with pytest.raises(notes.CheckpointError, match="no signature by o"):
        notes.open_note(forged, name="o", public_key=public)
