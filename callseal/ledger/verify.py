"""Recompute a tenant's whole ledger: every leaf, the chain, the tree, every checkpoint.

Streams events in chunks (never the whole log in memory) and stops at the first fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callseal.ledger import checkpoint as notes
from callseal.ledger import store
from callseal.ledger.canonical import GENESIS_HASH, BatchEncoder, format_time, leaf_hash
from callseal.ledger.merkle import CompactRange
from callseal.ledger.models import Checkpoint
from callseal.ledger.signing import public_keys
from callseal.tenancy.context import TenantRef


@dataclass(frozen=True, slots=True)
class Fault:
    sequence: int  # the first bad sequence number (for a checkpoint: its tree size)
    problem: str
    expected: str
    found: str

    def describe(self, slug: str) -> str:
        return (
            f"tenant {slug}: sequence {self.sequence}: {self.problem}: "
            f"expected {self.expected}, found {self.found}"
        )


@dataclass(frozen=True, slots=True)
class Report:
    events: int
    checkpoints: int
    root: bytes
    fault: Fault | None


def _check_note(cp: Checkpoint, keys: dict[str, bytes], root: bytes) -> Fault | None:
    public = keys.get(cp.key_name)
    if public is None:
        return Fault(
            cp.tree_size, "checkpoint signed by an unknown key", "a tenant key", cp.key_name
        )
    try:
        opened = notes.open_note(cp.signed_note, name=cp.key_name, public_key=public)
    except notes.CheckpointError as exc:
        return Fault(
            cp.tree_size,
            f"checkpoint signature invalid ({exc})",
            "a valid Ed25519 signature",
            "none",
        )
    if opened.size != cp.tree_size or opened.root != bytes(cp.root_hash):
        return Fault(
            cp.tree_size,
            "checkpoint row differs from its signed note",
            f"{opened.size}/{opened.root.hex()}",
            f"{cp.tree_size}/{bytes(cp.root_hash).hex()}",
        )
    if opened.root != root:
        return Fault(
            cp.tree_size, "checkpoint root inconsistent with the log", root.hex(), opened.root.hex()
        )
    return None


def verify_tenant(
    tenant: TenantRef, *, chunk: int = 5000, progress: Callable[[int], None] | None = None
) -> Report:
    checkpoints = list(Checkpoint.objects.filter(tenant_id=tenant.id).order_by("tree_size", "id"))
    keys = public_keys(tenant)
    pending = 0  # index into checkpoints
    compact = CompactRange()
    prev = GENESIS_HASH
    expected_seq = 1

    def checkpoints_at(size: int) -> Fault | None:
        nonlocal pending
        while pending < len(checkpoints) and checkpoints[pending].tree_size == size:
            fault = _check_note(checkpoints[pending], keys, compact.root())
            if fault:
                return fault
            pending += 1
        return None

    def report(fault: Fault | None) -> Report:
        return Report(compact.size, len(checkpoints), compact.root(), fault)

    fault = checkpoints_at(0)
    if fault:
        return report(fault)
    encoder_key: tuple[object, object] = (None, None)
    encoder = BatchEncoder(tenant="", recorded_at="")
    for record in store.iterate(tenant, chunk=chunk):
        if record.sequence != expected_seq:
            return report(
                Fault(
                    expected_seq,
                    f"event missing (next stored is {record.sequence})",
                    f"prev hash {prev.hex()}",
                    f"prev hash {record.prev_hash.hex()}",
                )
            )
        # The events of one append share their time: encode the shared fields once.
        if (record.tenant_id, record.recorded_at) != encoder_key:
            encoder_key = (record.tenant_id, record.recorded_at)
            encoder = BatchEncoder(
                tenant=str(record.tenant_id), recorded_at=format_time(record.recorded_at)
            )
        computed = leaf_hash(
            encoder.encode(
                record.sequence,
                record.stream_id,
                record.stream_version,
                str(record.event_id),
                record.type,
                record.schema_version,
                record.subject_ref,
                record.payload_json,
                record.metadata_json,
                record.prev_hash,
            )
        )
        if computed != record.leaf_hash:
            return report(
                Fault(record.sequence, "leaf hash mismatch", computed.hex(), record.leaf_hash.hex())
            )
        if record.prev_hash != prev:
            return report(
                Fault(record.sequence, "chain broken", prev.hex(), record.prev_hash.hex())
            )
        compact.append(computed)
        prev = computed
        expected_seq += 1
        fault = checkpoints_at(compact.size)
        if fault:
            return report(fault)
        if progress is not None and compact.size % chunk == 0:
            progress(chunk)
    if pending < len(checkpoints):
        cp = checkpoints[pending]
        return report(
            Fault(
                compact.size + 1,
                "event missing (a checkpoint covers more)",
                f"{cp.tree_size} events",
                f"{compact.size} events",
            )
        )
    head = store.head(tenant)
    if head.sequence != compact.size or head.last_hash != prev:
        return report(
            Fault(
                compact.size + 1 if head.sequence > compact.size else head.sequence,
                "head disagrees with the stored events",
                f"{head.sequence}/{head.last_hash.hex()}",
                f"{compact.size}/{prev.hex()}",
            )
        )
    return report(None)
