"""compliance/verify.py repeats the ledger's pure algorithms: prove they agree on the same
vectors, and that the verifier needs nothing but the standard library and cryptography."""

from __future__ import annotations

import ast
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callseal.ledger import canonical, checkpoint, merkle
from compliance import verify
from compliance.audit.proofs import TreeLevels

VERIFY = Path(verify.__file__)


def _leaves(n: int) -> list[bytes]:
    return [canonical.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def _fields(**changes) -> canonical.CanonicalFields:
    base: dict[str, Any] = {
        "tenant": str(uuid.UUID(int=7)),
        "seq": 3,
        "stream": "call-é",
        "stream_version": 2,
        "event_id": str(uuid.UUID(int=9)),
        "type": "call.turn",
        "schema_version": 1,
        "subject": "ab" * 32,
        "payload_json": canonical.canonical_json({"text": 'naïve "q"\n', "n": 1.5, "l": [1, None]}),
        "metadata_json": canonical.canonical_json({"actor": "twilio", "region": "eu"}),
        "recorded_at": "2026-01-02T03:04:05.000006Z",
        "prev": bytes(range(32)),
    }
    base.update(changes)
    return canonical.CanonicalFields(**base)


@pytest.mark.parametrize(
    "fields",
    [
        _fields(),
        _fields(subject=None),
        _fields(seq=1, prev=canonical.GENESIS_HASH),
        _fields(payload_json=canonical.canonical_json({"x": {"$sealed": "AAEC"}, "e": "\u2014"})),
    ],
)
def test_canonical_encoding_and_leaf_hash_agree(fields):
    import json

    encoded = fields.encode()
    parsed = json.loads(encoded)
    assert verify.canonical_line(parsed) == encoded
    assert tuple(parsed) == verify.CANONICAL_KEYS
    assert verify.leaf_hash(encoded) == canonical.leaf_hash(encoded)


def test_merkle_proofs_agree_for_every_size_up_to_70():
    for size in range(1, 71):
        leaves = _leaves(size)
        tree = TreeLevels(leaves)
        root = merkle.root(leaves)
        compact = verify.CompactRange()
        for leaf in leaves:
            compact.append(leaf)
        assert compact.root() == root == tree.range_root(0, size)
        for index in range(size):
            path = merkle.inclusion_proof(index, leaves)
            assert tree.inclusion_proof(index, size) == path
            assert verify.verify_inclusion(leaves[index], index, size, path, root)
            assert not verify.verify_inclusion(leaves[index], index, size, path, bytes(32))
        for old in range(1, size + 1):
            proof = merkle.consistency_proof(old, leaves)
            assert tree.consistency_proof(old, size) == proof
            old_root = merkle.root(leaves[:old])
            assert verify.verify_consistency(old, size, proof, old_root, root)
            assert merkle.verify_consistency(old, size, proof, old_root, root)


def test_proofs_of_a_smaller_tree_come_from_a_larger_trees_levels():
    leaves = _leaves(45)
    tree = TreeLevels(leaves)
    for size in (1, 17, 32, 44):
        for index in range(size):
            assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(index, leaves[:size])


def test_checkpoint_notes_and_keys_agree():
    private = Ed25519PrivateKey.generate()
    name = f"callseal.ledger/us/{uuid.UUID(int=5)}"
    cp = checkpoint.Checkpoint(
        origin=name, size=12, root=bytes(range(32)), time=datetime(2026, 1, 2, tzinfo=UTC)
    )
    note = checkpoint.sign(cp, name=name, private_key=private)
    public = checkpoint.raw_public_key(private)
    ours = verify.open_note(note, name=name, public_key=public)
    assert (ours.origin, ours.size, ours.root, ours.time) == (cp.origin, cp.size, cp.root, cp.time)
    vkey = checkpoint.verifier_key(name, public)
    assert verify.parse_verifier_key(vkey) == checkpoint.parse_verifier_key(vkey)
    assert verify.key_id(name, public) == checkpoint.key_id(name, public)
    forged = note.replace("\n12\n", "\n13\n")
    with pytest.raises(ValueError, match="bad signature"):
        verify.open_note(forged, name=name, public_key=public)
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.open_note(forged, name=name, public_key=public)


def test_verifier_imports_only_the_standard_library_and_cryptography():
    tree = ast.parse(VERIFY.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"cryptography"}


def test_verifier_runs_without_django_or_callseal_on_the_path(tmp_path):
    copy = tmp_path / "verify.py"
    copy.write_bytes(VERIFY.read_bytes())
    code = (
        "import runpy, sys; sys.argv=['verify.py', '--help'];"
        "\ntry: runpy.run_path('verify.py', run_name='__main__')"
        "\nexcept SystemExit: pass"
        "\nassert not [m for m in sys.modules"
        " if m.split('.')[0] in ('django', 'callseal', 'compliance')]"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Verify a Callseal audit bundle offline" in done.stdout
