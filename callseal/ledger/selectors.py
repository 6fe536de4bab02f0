"""Reads of the ledger: streams, the tenant's log, heads, checkpoints and proofs."""

from __future__ import annotations

from dataclasses import dataclass

from callseal.ledger import merkle, store
from callseal.ledger.events import RecordedEvent
from callseal.ledger.models import Checkpoint
from callseal.ledger.reading import decode
from callseal.tenancy.context import current_tenant

MAX_LIMIT = 10_000


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1-{MAX_LIMIT}")
    return limit


def ledger_read_stream(
    *, stream_id: str, after_version: int = 0, limit: int = 1000
) -> list[RecordedEvent]:
    """The stream's events in version order, personal fields opened (or ERASED)."""
    tenant = current_tenant()
    records = store.select(
        tenant, stream_id=stream_id, after_version=after_version, limit=_limit(limit)
    )
    keys: dict[str, bytes | None] = {}
    return [decode(r, keys=keys) for r in records]


def ledger_read_tenant(
    *, after_sequence: int = 0, limit: int = 1000, types: tuple[str, ...] = ()
) -> list[RecordedEvent]:
    """The current tenant's events after ``after_sequence``, in sequence order."""
    tenant = current_tenant()
    records = store.select(tenant, after_sequence=after_sequence, limit=_limit(limit), types=types)
    keys: dict[str, bytes | None] = {}
    return [decode(r, keys=keys) for r in records]


def ledger_head_sequence() -> int:
    return store.head(current_tenant()).sequence


def ledger_leaf_hashes(*, tree_size: int) -> list[bytes]:
    """The first ``tree_size`` leaf hashes (for proofs), read in chunks."""
    tenant = current_tenant()
    leaves: list[bytes] = []
    for record in store.iterate(tenant):
        if record.sequence > tree_size:
            break
        leaves.append(record.leaf_hash)
    if len(leaves) != tree_size:
        raise ValueError(f"the log holds {len(leaves)} events, not {tree_size}")
    return leaves


@dataclass(frozen=True, slots=True)
class InclusionProof:
    sequence: int  # leaf index + 1
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]


def ledger_inclusion_proof(*, sequence: int, tree_size: int) -> InclusionProof:
    """Proof that event ``sequence`` is in the tree of the first ``tree_size`` events."""
    leaves = ledger_leaf_hashes(tree_size=tree_size)
    if not 1 <= sequence <= tree_size:
        raise ValueError(f"sequence {sequence} is outside a tree of size {tree_size}")
    path = merkle.inclusion_proof(sequence - 1, leaves)
    return InclusionProof(sequence, tree_size, leaves[sequence - 1], path)


def ledger_consistency_proof(*, old_size: int, new_size: int) -> list[bytes]:
    return merkle.consistency_proof(old_size, ledger_leaf_hashes(tree_size=new_size))


def ledger_checkpoints() -> list[Checkpoint]:
    tenant = current_tenant()
    return list(Checkpoint.objects.filter(tenant_id=tenant.id).order_by("tree_size", "id"))
