"""Write a signed audit bundle (format: docs/audit-bundle.md) for the current tenant.

Streams: events are read in chunks of 5000 and written to scratch files as they come; only
the sequence numbers of the selected events (8 bytes each), the subject refs seen, and the
tree's levels (64 bytes per event of the log: 64 MB for a million, for the proofs) are held
in memory. The scratch files are then zipped one by one.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callseal.at_rest import private_dir
from callseal.ledger import checkpoint as notes
from callseal.ledger.integrity import record_fault
from callseal.ledger.models import Checkpoint, Event
from callseal.ledger.signing import checkpoint_create, log_origin, public_keys, signing_key
from callseal.ledger.store import StoredRecord
from callseal.tenancy.context import current_tenant
from compliance.audit import selectors
from compliance.audit.bundle import (
    CsvFile,
    HashedFile,
    pack,
    sums_signature,
    sums_text,
    write_small,
)
from compliance.audit.filters import AuditFilter
from compliance.audit.proofs import TreeLevels
from compliance.audit.rendering import Renderer, processing_summary

FORMAT = "callseal-audit-bundle"
FORMAT_VERSION = 1
VERIFIER_SOURCE = Path(__file__).resolve().parent.parent / "verify.py"
Progress = Callable[[str, int, int], None]  # stage, done, total
CSV_HEADER = [
    "sequence",
    "recorded_at",
    "type",
    "schema_version",
    "stream",
    "stream_version",
    "actor",
    "region",
    "subject_ref",
    "fields",
    "personal_fields",
    "personal_view",
]


class ExportError(ValueError):
    """Nothing to export, or the criteria select nothing."""


class LedgerIntegrityError(ExportError):
    """The selected events fail verification: no bundle is written, the faults named."""

    MAX_NAMED = 20

    def __init__(self, faults: list[str]) -> None:
        named = "; ".join(faults[: self.MAX_NAMED])
        more = f" (and {len(faults) - self.MAX_NAMED} more)" if len(faults) > self.MAX_NAMED else ""
        super().__init__(f"ledger integrity check failed: {named}{more}")
        self.faults = faults


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    events: int
    erasures: int
    tree_size: int
    checkpoints: int
    bundle_sha256: str
    key_name: str
    verifier_key: str
    key_fingerprint: str


def key_fingerprint(public_key: bytes) -> str:
    """What an auditor pins out of band: SHA-256 (hex) of the raw Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()


def _sequence_range(f: AuditFilter, tree_size: int) -> tuple[int, int]:
    """The contiguous range a time-only filter covers: first event recorded at or after
    ``from`` to the last recorded before ``to`` (appends stamp times under the head lock)."""
    events = Event.objects.filter(tenant_id=current_tenant().id, sequence__lte=tree_size)
    first, last = 1, tree_size
    if f.start:
        row = events.filter(recorded_at__gte=f.start).order_by("recorded_at", "sequence")
        found = row.values_list("sequence", flat=True).first()
        first = found if found is not None else tree_size + 1
    if f.end:
        row = events.filter(recorded_at__lt=f.end).order_by("-recorded_at", "-sequence")
        found = row.values_list("sequence", flat=True).first()
        last = found if found is not None else 0
    return first, last


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def _proof(seq: int, tree_size: int, leaf: bytes, path: list[bytes]) -> dict[str, Any]:
    return {"seq": seq, "tree_size": tree_size, "leaf": leaf.hex(), "path": [h.hex() for h in path]}


def _line(record: StoredRecord) -> bytes:
    return record.canonical_fields().encode() + b"\n"


def _checkpoint_chain(first_seq: int, tree_size: int) -> list[Checkpoint]:
    """Published checkpoints from the last one before the selection to the export's own,
    one per tree size, so the auditor can link the bundle to checkpoints seen earlier."""
    stored = Checkpoint.objects.filter(tenant_id=current_tenant().id, tree_size__lte=tree_size)
    before = stored.filter(tree_size__lt=first_seq, tree_size__gt=0).order_by("-tree_size").first()
    chain: dict[int, Checkpoint] = {}
    if before is not None:
        chain[before.tree_size] = before
    for cp in stored.filter(tree_size__gte=max(first_seq, 1)).order_by("tree_size", "id"):
        chain.setdefault(cp.tree_size, cp)
    return [chain[size] for size in sorted(chain)]


def bundle_export(
    *,
    audit_filter: AuditFilter,
    out: Path,
    actor: str,
    readable: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Sign a fresh checkpoint, then write the bundle of the selected events to ``out``.

    ``readable`` renders personal fields decrypted and redacted in the CSV and JSON Lines
    renderings (marked so); the evidence (events.jsonl) always holds them as ciphertext.
    Raises ExportError when the log is empty or nothing matches.
    """
    tenant = current_tenant()
    report = progress or (lambda stage, done, total: None)
    head = checkpoint_create()
    assert head is not None  # without only_if_grown a checkpoint is always made
    tree_size = int(head.tree_size)
    if tree_size == 0:
        raise ExportError("the tenant's ledger is empty")
    key_name, private = signing_key(tenant)
    public = notes.raw_public_key(private)
    contiguous = audit_filter.contiguous
    private_dir(out.parent)  # exports hold decrypted data: 0700 (docs/adr/0012)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".audit-export-") as scratch:
        root = Path(scratch)
        digests: dict[str, str] = {}
        sequences = array("q")
        subjects: set[str] = set()
        renderer = Renderer(readable=readable)
        if contiguous:
            first, last = _sequence_range(audit_filter, tree_size)
            records = selectors.matching_records(AuditFilter(), after=first - 1, up_to=last)
            total = max(last - first + 1, 0)
        else:
            records = selectors.matching_records(audit_filter, up_to=tree_size)
            total = 0
        events = HashedFile(root, "events.jsonl")
        rendered = HashedFile(root, "renderings/events.jsonl")
        table = CsvFile(root, "renderings/events.csv", CSV_HEADER)
        faults: list[str] = []
        for record in records:
            fault = record_fault(record)
            if fault is not None:
                faults.append(f"event {record.sequence} {fault}")
                continue
            if faults:
                continue  # the export fails: only the remaining faults are of interest
            events.write(_line(record))
            sequences.append(record.sequence)
            if record.subject_ref:
                subjects.add(record.subject_ref)
            row = renderer.row(record)
            rendered.line(row)
            table.row([_cell(row[h]) for h in CSV_HEADER])
            if len(sequences) % 5000 == 0:
                report("events", len(sequences), total)
        if faults:
            raise LedgerIntegrityError(faults)
        report("events", len(sequences), total or len(sequences))
        for member in (events, rendered):
            digests[member.name] = member.close()
        digests[table.out.name] = table.close()
        if not sequences:
            raise ExportError("no events match these criteria")
        first, last = sequences[0], sequences[-1]

        erasures = selectors.erasure_records(subject_refs=subjects, up_to=tree_size)
        if contiguous:
            in_range = selectors.matching_records(
                AuditFilter(types=(selectors.ERASURE_TYPE,)), after=first - 1, up_to=last
            )
            by_seq = {r.sequence: r for r in [*erasures, *in_range]}
            erasures = [by_seq[s] for s in sorted(by_seq)]
        erasure_file = HashedFile(root, "erasures.jsonl")
        for record in erasures:
            fault = record_fault(record)
            if fault is not None:
                raise LedgerIntegrityError([f"event {record.sequence} {fault}"])
            erasure_file.write(_line(record))
        digests[erasure_file.name] = erasure_file.close()

        report("tree", 0, tree_size)
        try:
            tree = TreeLevels(selectors.leaf_hashes(tree_size=tree_size))
        except ValueError as exc:  # an event is missing from the stored log
            raise LedgerIntegrityError([str(exc)]) from exc
        report("tree", tree_size, tree_size)
        proofs = HashedFile(root, "proofs.jsonl")
        for done, seq in enumerate(sequences, start=1):
            path = tree.inclusion_proof(seq - 1, tree_size)
            proofs.line(_proof(seq, tree_size, tree.leaf(seq - 1), path))
            if done % 5000 == 0:
                report("proofs", done, len(sequences))
        report("proofs", len(sequences), len(sequences))
        digests[proofs.name] = proofs.close()
        erasure_proofs = HashedFile(root, "erasure-proofs.jsonl")
        for record in erasures:
            path = tree.inclusion_proof(record.sequence - 1, tree_size)
            erasure_proofs.line(_proof(record.sequence, tree_size, record.leaf_hash, path))
        digests[erasure_proofs.name] = erasure_proofs.close()

        chain = _checkpoint_chain(first, tree_size)
        checkpoints = HashedFile(root, "checkpoints.jsonl")
        previous: int | None = None
        for cp in chain:
            consistency = tree.consistency_proof(previous, cp.tree_size) if previous else []
            checkpoints.line(
                {
                    "tree_size": cp.tree_size,
                    "note": cp.signed_note,
                    "consistency": [h.hex() for h in consistency],
                }
            )
            previous = cp.tree_size
        digests[checkpoints.name] = checkpoints.close()
        del tree

        vkeys = "".join(
            notes.verifier_key(name, key) + "\n"
            for name, key in sorted(public_keys(tenant).items())
        )
        digests["keys/verifier-keys.txt"] = write_small(
            root, "keys/verifier-keys.txt", vkeys.encode()
        )
        vkey = notes.verifier_key(key_name, public)
        criteria = audit_filter.criteria()
        selection = {
            **criteria,
            "contiguous": contiguous,
            "first_sequence": first,
            "last_sequence": last,
        }
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "created_by": actor,
            "tenant": {"id": str(tenant.id), "slug": tenant.slug, "region": tenant.region},
            "log_origin": log_origin(tenant),
            "tree_size": tree_size,
            "selection": selection,
            "counts": {
                "events": len(sequences),
                "erasures": len(erasures),
                "checkpoints": len(chain),
            },
            "personal_view": renderer.view,
            "algorithms": {
                "canonical_encoding": "callseal canonical event encoding v1",
                "leaf_hash": "SHA-256(0x00 || canonical event bytes)",
                "node_hash": "SHA-256(0x01 || left || right)",
                "tree": "RFC 9162 section 2.1 Merkle tree, inclusion and consistency proofs",
                "checkpoint": "C2SP tlog-checkpoint in a C2SP signed note, Ed25519",
                "sums_signature": "Ed25519 over 'callseal-audit-bundle/v1 SHA256SUMS\\n'"
                " || SHA256SUMS",
                "personal_fields": "AES-256-GCM under a per-data-subject key (ciphertext here)",
            },
            "signing_key": {"name": key_name, "vkey": vkey, "fingerprint": key_fingerprint(public)},
        }
        digests["manifest.json"] = write_small(
            root, "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        )
        summary = processing_summary(renderer=renderer, selection=selection, erasures=erasures)
        digests["processing-summary.json"] = write_small(
            root,
            "processing-summary.json",
            json.dumps(summary, indent=2, ensure_ascii=False).encode(),
        )
        digests["verify.py"] = write_small(root, "verify.py", VERIFIER_SOURCE.read_bytes())
        digests["README.txt"] = write_small(root, "README.txt", _readme(vkey, public).encode())
        sums = sums_text(digests)
        write_small(root, "SHA256SUMS", sums)
        write_small(
            root, "SHA256SUMS.sig", sums_signature(sums, key_name=key_name, private_key=private)
        )
        report("zip", 0, 1)
        pack(root, ["SHA256SUMS", "SHA256SUMS.sig", *sorted(digests)], out)
        report("zip", 1, 1)
    digest = hashlib.sha256()
    with out.open("rb") as bundle:
        for block in iter(lambda: bundle.read(1 << 20), b""):
            digest.update(block)
    return ExportResult(
        path=out,
        events=len(sequences),
        erasures=len(erasures),
        tree_size=tree_size,
        checkpoints=len(chain),
        bundle_sha256=digest.hexdigest(),
        key_name=key_name,
        verifier_key=vkey,
        key_fingerprint=key_fingerprint(public),
    )


def _readme(vkey: str, public: bytes) -> str:
    return (
        "Callseal audit bundle (format version 1; see docs/audit-bundle.md).\n\n"
        "Verify it offline with Python 3.11+ and the `cryptography` package:\n\n"
        "    python verify.py BUNDLE.zip --fingerprint <fingerprint you were given>\n\n"
        "Compare the signing key with one obtained out of band, never only with this file:\n"
        f"    verifier key: {vkey}\n"
        f"    fingerprint:  {key_fingerprint(public)}\n\n"
        "events.jsonl holds the events exactly as hashed (personal fields as ciphertext);\n"
        "renderings/ holds readable copies (see manifest.json personal_view).\n"
    )
