"""One write transaction on the current tenant's region database, ledger appends included."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from callseal.ledger import store
from callseal.tenancy.context import current_tenant
from callseal.tenancy.router import region_alias


def region_db() -> str:
    return region_alias(current_tenant().region)


@contextmanager
def regional_write() -> Iterator[str]:
    """Read-model rows and ledger events commit together (STYLE: one transaction)."""
    alias = region_db()
    with store.writing(alias), transaction.atomic(using=alias):
        yield alias


def actor_name(membership: object) -> str:
    """``user:<id>`` for the ledger's actor metadata: staff ids, no callers' data."""
    return f"user:{getattr(membership, 'user_id', '?')}"
