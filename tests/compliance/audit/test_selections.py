"""Partial exports (one call, one subject, a time range) and exports after an erasure."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from callseal.ledger.selectors import ledger_read_tenant
from compliance.audit.export import ExportError, bundle_export
from compliance.audit.filters import AuditFilter, filter_parse
from compliance.verify import Failure, verify_bundle
from tests.compliance.audit.helpers import (
    CALL_A,
    CALL_B,
    CALLER_B,
    erase_caller_b,
    lines,
    make_log,
    member,
    resign,
)
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def _events(path) -> list[dict]:
    return [json.loads(line) for line in lines(member(path, "events.jsonl"))]


def test_one_call_export_verifies_and_proves_inclusion_in_the_full_log(us_context, tmp_path):
    make_log()
    result = bundle_export(
        audit_filter=AuditFilter(call=CALL_A), out=tmp_path / "a.zip", actor="user:1"
    )
    summary = verify_bundle(str(result.path), pin_key=result.verifier_key)
    assert (summary.events, summary.tree_size) == (4, 11)
    events = _events(result.path)
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert {e["stream"] for e in events} == {f"call-{CALL_A}"}
    proofs = [json.loads(line) for line in lines(member(result.path, "proofs.jsonl"))]
    assert [(p["seq"], p["tree_size"]) for p in proofs] == [(1, 11), (2, 11), (3, 11), (4, 11)]
    manifest = json.loads(member(result.path, "manifest.json"))
    assert manifest["selection"]["contiguous"] is False
    assert manifest["selection"]["stream_ids"] == [f"call-{CALL_A}"]
    # Checkpoints at 4, 8, 11 (the export's own at 11 repeats the last: one per size).
    checkpoints = [json.loads(c) for c in lines(member(result.path, "checkpoints.jsonl"))]
    assert [c["tree_size"] for c in checkpoints] == [4, 8, 11]


def test_a_call_export_cannot_pass_off_an_event_of_another_call(us_context, tmp_path):
    make_log()
    a = bundle_export(audit_filter=AuditFilter(call=CALL_A), out=tmp_path / "a.zip", actor="u")
    b = bundle_export(audit_filter=AuditFilter(call=CALL_B), out=tmp_path / "b.zip", actor="u")
    # Swap in call B's first event with call A's proof for that position.
    events = lines(member(a.path, "events.jsonl"))
    events[0] = lines(member(b.path, "events.jsonl"))[0]
    resign(a.path, tmp_path / "t.zip", {"events.jsonl": b"".join(events)})
    with pytest.raises(Failure) as caught:
        verify_bundle(str(tmp_path / "t.zip"))
    assert caught.value.item == "events.jsonl line 1 (sequence 5)"


def test_export_after_an_erasure_verifies_and_carries_the_erasure(us_context, tmp_path):
    refs = make_log()
    erase_caller_b(refs)
    result = bundle_export(
        audit_filter=AuditFilter(call=CALL_B), out=tmp_path / "b.zip", actor="u", readable=True
    )
    summary = verify_bundle(str(result.path))
    assert (summary.events, summary.erasures) == (4, 1)
    (erasure,) = [json.loads(line) for line in lines(member(result.path, "erasures.jsonl"))]
    assert erasure["type"] == "subject.erased"
    assert erasure["payload"] == {"reason": "erasure request 42", "subject_ref": refs[CALLER_B]}
    assert erasure["seq"] == 12
    # The evidence still holds the ciphertext; the readable rendering says it is erased.
    first = _events(result.path)[0]
    assert set(first["payload"]["from_number"]) == {"$sealed"}
    rows = [json.loads(line) for line in lines(member(result.path, "renderings/events.jsonl"))]
    assert rows[0]["fields"]["from_number"] == "[erased]"
    assert rows[0]["personal_view"] == "redacted-plaintext"
    assert rows[1]["fields"]["redacted_text"] == "my card is <CARD>"


def test_readable_view_redacts_decrypted_personal_fields(us_context, tmp_path):
    make_log()
    result = bundle_export(
        audit_filter=AuditFilter(call=CALL_A), out=tmp_path / "a.zip", actor="u", readable=True
    )
    rows = [json.loads(line) for line in lines(member(result.path, "renderings/events.jsonl"))]
    assert "4155550123" not in json.dumps(rows)
    assert rows[0]["fields"]["from_number"].startswith("<")
    assert json.loads(member(result.path, "manifest.json"))["personal_view"] == "redacted-plaintext"
    csv = member(result.path, "renderings/events.csv").decode()
    assert csv.splitlines()[0].startswith("sequence,recorded_at,type")
    assert "4155550123" not in csv


def test_default_rendering_shows_personal_fields_as_sealed(us_context, tmp_path):
    make_log()
    result = bundle_export(audit_filter=AuditFilter(), out=tmp_path / "f.zip", actor="u")
    rows = [json.loads(line) for line in lines(member(result.path, "renderings/events.jsonl"))]
    assert rows[1]["fields"] == {
        "redacted_text": "my card is <CARD>",
        "speaker": "caller",
        "text": "[sealed]",
    }
    assert rows[1]["personal_view"] == "ciphertext"


def test_full_export_after_erasure_verifies(us_context, tmp_path):
    refs = make_log()
    erase_caller_b(refs)
    result = bundle_export(audit_filter=AuditFilter(), out=tmp_path / "f.zip", actor="u")
    summary = verify_bundle(str(result.path))
    assert (summary.events, summary.erasures, summary.tree_size) == (12, 1, 12)


def test_subject_export_selects_the_subjects_events_and_erasure(us_context, tmp_path):
    refs = make_log()
    erase_caller_b(refs)
    f = filter_parse(subject_phone=CALLER_B)
    assert f.subject_ref == refs[CALLER_B]
    result = bundle_export(audit_filter=f, out=tmp_path / "s.zip", actor="u")
    assert [e["seq"] for e in _events(result.path)] == [5, 6, 7, 8, 12]
    assert CALLER_B not in member(result.path, "manifest.json").decode()
    verify_bundle(str(result.path))


def test_time_range_export_is_a_contiguous_range(us_context, tmp_path):
    make_log()
    times = {e.sequence: e.recorded_at for e in ledger_read_tenant()}
    f = AuditFilter(start=times[5], end=times[9])
    result = bundle_export(audit_filter=f, out=tmp_path / "t.zip", actor="u")
    seqs = [e["seq"] for e in _events(result.path)]
    assert seqs == list(range(5, 9))
    manifest = json.loads(member(result.path, "manifest.json"))
    assert (manifest["selection"]["first_sequence"], manifest["selection"]["last_sequence"]) == (
        5,
        8,
    )
    # Checkpoint 4 anchors the range to what was published before it.
    checkpoints = [
        json.loads(c)["tree_size"] for c in lines(member(result.path, "checkpoints.jsonl"))
    ]
    assert checkpoints == [4, 8, 11]
    verify_bundle(str(result.path))


def test_nothing_to_export_is_a_clear_error(us_context, tmp_path):
    with pytest.raises(ExportError, match="ledger is empty"):
        bundle_export(audit_filter=AuditFilter(), out=tmp_path / "e.zip", actor="u")
    make_log()
    later = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ExportError, match="no events match"):
        bundle_export(audit_filter=AuditFilter(start=later), out=tmp_path / "e.zip", actor="u")
    assert not (tmp_path / "e.zip").exists()
    assert not list(tmp_path.iterdir())


def test_bundle_is_a_zip_whose_manifest_names_the_tenant_and_algorithms(us_context, tmp_path):
    make_log()
    result = bundle_export(audit_filter=AuditFilter(), out=tmp_path / "f.zip", actor="user:3")
    manifest = json.loads(member(result.path, "manifest.json"))
    assert manifest["format"] == "callseal-audit-bundle"
    assert manifest["format_version"] == 1
    assert manifest["tenant"] == {"id": str(us_context.id), "slug": "acme-us", "region": "us"}
    assert manifest["log_origin"] == f"callseal.ledger/us/{us_context.id}"
    assert manifest["algorithms"]["leaf_hash"] == "SHA-256(0x00 || canonical event bytes)"
    assert manifest["signing_key"]["fingerprint"] == result.key_fingerprint
    summary = json.loads(member(result.path, "processing-summary.json"))
    assert summary["data_subjects"] == 2
    assert summary["data_categories"] == [
        {"event_type": "audit_test.call_started", "personal_fields": ["from_number"]},
        {"event_type": "audit_test.turn", "personal_fields": ["text"]},
    ]
    assert summary["regions"]["processing"] == {"audit_test.inference:us": 5, "ledger:us": 11}
    assert zipfile.ZipFile(result.path).testzip() is None
