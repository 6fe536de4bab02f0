"""Flipping any byte of any member, or an insider re-signing a changed bundle, is caught
and the failing item named."""

from __future__ import annotations

import zipfile

import pytest

from compliance.audit.export import bundle_export
from compliance.audit.filters import AuditFilter
from compliance.verify import Failure, verify_bundle
from tests.compliance.audit.helpers import flip, lines, make_log, member, resign, rezip
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)

MEMBERS = [
    "events.jsonl",
    "proofs.jsonl",
    "checkpoints.jsonl",
    "erasures.jsonl",
    "erasure-proofs.jsonl",
    "keys/verifier-keys.txt",
    "manifest.json",
    "processing-summary.json",
    "renderings/events.csv",
    "renderings/events.jsonl",
    "verify.py",
    "README.txt",
    "SHA256SUMS",
    "SHA256SUMS.sig",
]


@pytest.fixture
def bundle(us_context, tmp_path):
    refs = make_log()
    from callseal.ledger.services import erase_subject

    erase_subject(subject_ref=refs["+14155550188"], actor="user:9", reason="request 42")
    return bundle_export(audit_filter=AuditFilter(), out=tmp_path / "b.zip", actor="user:1").path


def _fails(path) -> Failure:
    with pytest.raises(Failure) as caught:
        verify_bundle(str(path))
    return caught.value


def test_every_member_is_listed_and_the_bundle_verifies(bundle):
    with zipfile.ZipFile(bundle) as z:
        assert sorted(z.namelist()) == sorted(MEMBERS)
    summary = verify_bundle(str(bundle))
    assert (summary.events, summary.erasures, summary.tree_size) == (12, 1, 12)


@pytest.mark.parametrize("name", MEMBERS)
def test_flipping_any_byte_of_any_member_fails_naming_it(bundle, tmp_path, name):
    data = member(bundle, name)
    # First, last, and a spread of positions between: every one must be caught.
    positions = sorted({0, len(data) - 1, *range(1, len(data) - 1, max(1, len(data) // 23))})
    for at in positions:
        target = tmp_path / f"t{at}.zip"
        rezip(bundle, target, {name: flip(data, at)})
        failure = _fails(target)
        if name == "SHA256SUMS.sig":
            assert failure.item in ("SHA256SUMS.sig", "SHA256SUMS"), (at, failure)
        elif name.startswith("keys/"):
            assert failure.item.startswith("keys/verifier-keys.txt") or failure.item in (
                "SHA256SUMS",
                "SHA256SUMS.sig",
            ), (at, failure)
        else:
            assert failure.item == name, (at, failure)


def test_dropping_a_member_or_adding_one_fails(bundle, tmp_path):
    rezip(bundle, tmp_path / "drop.zip", {"proofs.jsonl": None})
    assert str(_fails(tmp_path / "drop.zip")) == "proofs.jsonl: listed in SHA256SUMS but missing"
    rezip(bundle, tmp_path / "add.zip", {"extra.txt": b"x"})
    assert _fails(tmp_path / "add.zip").item == "extra.txt"


def test_a_pinned_fingerprint_of_another_key_fails(bundle):
    with pytest.raises(Failure) as caught:
        verify_bundle(str(bundle), pin_fingerprint="0" * 64)
    assert caught.value.item == "keys/verifier-keys.txt"


# --- an insider with the signing key: the structure itself must give the change away ----


def test_dropping_an_event_from_a_full_export_is_detected(bundle, tmp_path, us_context):
    events = lines(member(bundle, "events.jsonl"))
    proofs = lines(member(bundle, "proofs.jsonl"))
    changes = {
        "events.jsonl": b"".join(events[:4] + events[5:]),
        "proofs.jsonl": b"".join(proofs[:4] + proofs[5:]),
    }
    resign(bundle, tmp_path / "t.zip", changes)
    failure = _fails(tmp_path / "t.zip")
    assert str(failure) == (
        "events.jsonl line 5 (sequence 6): sequence 5 is missing from a contiguous range"
    )


def test_dropping_the_last_event_is_detected(bundle, tmp_path, us_context):
    events = lines(member(bundle, "events.jsonl"))
    proofs = lines(member(bundle, "proofs.jsonl"))
    resign(
        bundle,
        tmp_path / "t.zip",
        {"events.jsonl": b"".join(events[:-1]), "proofs.jsonl": b"".join(proofs[:-1])},
    )
    assert str(_fails(tmp_path / "t.zip")) == "events.jsonl: ends at 11, not at 12"


@pytest.mark.parametrize("line_no", [1, 6, 12])
def test_a_changed_event_is_named_by_line_and_sequence(bundle, tmp_path, us_context, line_no):
    events = lines(member(bundle, "events.jsonl"))
    line = events[line_no - 1]
    at = line.index(b'"payload":') + 12
    events[line_no - 1] = flip(line, at)
    resign(bundle, tmp_path / "t.zip", {"events.jsonl": b"".join(events)})
    failure = _fails(tmp_path / "t.zip")
    assert failure.item.startswith(f"events.jsonl line {line_no}")


@pytest.mark.parametrize("line_no", [1, 7, 12])
def test_a_changed_proof_hash_is_named(bundle, tmp_path, us_context, line_no):
    proofs = lines(member(bundle, "proofs.jsonl"))
    line = proofs[line_no - 1]
    at = line.index(b'"path":["') + 9
    proofs[line_no - 1] = line[:at] + (b"0" if line[at : at + 1] != b"0" else b"1") + line[at + 1 :]
    resign(bundle, tmp_path / "t.zip", {"proofs.jsonl": b"".join(proofs)})
    failure = _fails(tmp_path / "t.zip")
    assert failure.item == f"proofs.jsonl line {line_no} (sequence {line_no})"
    assert failure.problem == "does not prove inclusion in checkpoint 12"


def test_a_changed_checkpoint_is_named(bundle, tmp_path, us_context):
    checkpoints = lines(member(bundle, "checkpoints.jsonl"))
    line = checkpoints[1]
    at = line.index(b"\\n") + 3  # inside the tree size line
    checkpoints[1] = flip(line, at)
    resign(bundle, tmp_path / "t.zip", {"checkpoints.jsonl": b"".join(checkpoints)})
    failure = _fails(tmp_path / "t.zip")
    assert failure.item == "checkpoints.jsonl line 2"


def test_an_inconsistent_consistency_proof_is_named(bundle, tmp_path, us_context):
    import json

    checkpoints = lines(member(bundle, "checkpoints.jsonl"))
    entry = json.loads(checkpoints[2])
    entry["consistency"][0] = "ab" * 32
    checkpoints[2] = json.dumps(entry).encode() + b"\n"
    resign(bundle, tmp_path / "t.zip", {"checkpoints.jsonl": b"".join(checkpoints)})
    failure = _fails(tmp_path / "t.zip")
    assert failure.item == "checkpoints.jsonl line 3"
    assert "is not an extension of tree" in failure.problem
