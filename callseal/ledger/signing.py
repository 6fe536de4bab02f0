"""Checkpoint signing: one Ed25519 key per tenant and region, private half wrapped."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.db import transaction

from callseal.crypto.aead import open_sealed, seal
from callseal.crypto.services import tenant_key
from callseal.ledger import checkpoint as notes
from callseal.ledger import store
from callseal.ledger.models import Checkpoint, SigningKey
from callseal.tenancy.context import TenantRef, current_tenant


def log_origin(tenant: TenantRef) -> str:
    """The checkpoint origin line, also the signing key's name (no spaces or '+')."""
    return f"callseal.ledger/{tenant.region}/{tenant.id}"


def _context(tenant: TenantRef, name: str) -> bytes:
    return f"callseal/signing/v1|{tenant.id}|{name}".encode()


def signing_key(tenant: TenantRef | None = None) -> tuple[str, Ed25519PrivateKey]:
    """The tenant's checkpoint key in its region, made on first use."""
    tenant = tenant or current_tenant()
    name = log_origin(tenant)
    row = SigningKey.objects.filter(tenant_id=tenant.id, name=name).first()
    if row is None:
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        SigningKey.objects.bulk_create(
            [
                SigningKey(
                    tenant_id=tenant.id,
                    name=name,
                    public_key=notes.raw_public_key(private),
                    wrapped_private_key=seal(tenant_key(tenant), raw, _context(tenant, name)),
                )
            ],
            ignore_conflicts=True,
        )
        row = SigningKey.objects.get(tenant_id=tenant.id, name=name)
    raw = open_sealed(tenant_key(tenant), bytes(row.wrapped_private_key), _context(tenant, name))
    return name, Ed25519PrivateKey.from_private_bytes(raw)


def public_keys(tenant: TenantRef | None = None) -> dict[str, bytes]:
    """Key name -> raw Ed25519 public key, for verifiers and export bundles."""
    tenant = tenant or current_tenant()
    return {
        row.name: bytes(row.public_key) for row in SigningKey.objects.filter(tenant_id=tenant.id)
    }


def checkpoint_create(*, only_if_grown: bool = False) -> Checkpoint | None:
    """Sign the current tree head of the current tenant and store the checkpoint.

    With ``only_if_grown`` (the schedule), nothing is made when the latest checkpoint
    already covers every event, and None is returned.
    """
    tenant = current_tenant()
    head = store.head(tenant)
    latest = Checkpoint.objects.filter(tenant_id=tenant.id).order_by("-tree_size", "-id").first()
    if only_if_grown and latest is not None and latest.tree_size >= head.sequence:
        return None
    if only_if_grown and head.sequence == 0:
        return None
    name, private = signing_key(tenant)
    now = datetime.now(UTC)
    body = notes.Checkpoint(
        origin=log_origin(tenant), size=head.sequence, root=head.compact.root(), time=now
    )
    note = notes.sign(body, name=name, private_key=private)
    with transaction.atomic(using=store.alias_for(tenant)):
        return Checkpoint.objects.create(
            tenant_id=tenant.id,
            tree_size=head.sequence,
            root_hash=head.compact.root(),
            signed_note=note,
            key_name=name,
            created_at=now,
        )
