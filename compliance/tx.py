"""Compliance's ledger actor names. (Writes go through callseal.ledger.envelope.)"""

from __future__ import annotations


def actor_name(membership: object) -> str:
    """``user:<id>`` for the ledger's actor metadata: staff ids, no callers' data."""
    return f"user:{getattr(membership, 'user_id', '?')}"
