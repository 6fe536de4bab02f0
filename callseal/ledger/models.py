"""The event store, its per-tenant head, checkpoints, signing keys and projection positions.

All regional. ``Event`` and ``Checkpoint`` are append-only: the application role gets
SELECT/INSERT only, and triggers (migration 0002) reject UPDATE/DELETE/TRUNCATE.
Hashes, payload and metadata are stored exactly as hashed (see callseal.ledger.canonical).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from callseal.tenancy.residency import RegionalModel


class Event(RegionalModel):
    append_only = True

    # Every lookup starts with tenant_id and the unique (tenant_id, sequence) index serves
    # it: a plain tenant_id index would only cost each append one more index insert.
    tenant_id = models.UUIDField(editable=False)
    id = models.BigAutoField(primary_key=True)
    sequence = models.BigIntegerField()
    stream_id = models.CharField(max_length=200)
    stream_version = models.BigIntegerField()
    event_id = models.UUIDField()
    type = models.CharField(max_length=200)
    schema_version = models.PositiveIntegerField()
    # NULL (no subject) is distinct from any ref and hashed as JSON null.
    subject_ref = models.CharField(max_length=64, null=True)  # noqa: DJ001
    payload = models.TextField()  # canonical JSON text, personal fields sealed
    metadata = models.TextField()  # canonical JSON text
    recorded_at = models.DateTimeField()
    prev_hash = models.BinaryField()
    leaf_hash = models.BinaryField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant_id", "sequence"], name="ledger_event_seq_uniq"),
            models.UniqueConstraint(
                fields=["tenant_id", "stream_id", "stream_version"],
                name="ledger_event_stream_version_uniq",
            ),
            models.UniqueConstraint(fields=["tenant_id", "event_id"], name="ledger_event_id_uniq"),
        ]
        indexes: ClassVar = [
            # Only events about a data subject need finding by subject.
            models.Index(
                fields=["tenant_id", "subject_ref"],
                name="ledger_event_subject_idx",
                condition=models.Q(subject_ref__isnull=False),
            ),
            # Audit search and export (compliance.audit): by type in sequence, by time.
            models.Index(fields=["tenant_id", "type", "sequence"], name="ledger_event_type_seq"),
            models.Index(fields=["tenant_id", "recorded_at"], name="ledger_event_recorded"),
        ]


class TenantHead(RegionalModel):
    """The tenant's chain head, locked (SELECT ... FOR UPDATE) by every append."""

    tenant_id = models.UUIDField(editable=False)  # the unique constraint below indexes it
    sequence = models.BigIntegerField(default=0)
    last_hash = models.BinaryField()
    # Packed Merkle compact range over leaves [0, sequence): O(log n) hashes.
    frontier = models.BinaryField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant_id"], name="ledger_head_one_per_tenant")
        ]


class SigningKey(RegionalModel):
    """The tenant's Ed25519 checkpoint key in this region; the private half wrapped."""

    name = models.CharField(max_length=200)
    public_key = models.BinaryField()
    wrapped_private_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant_id", "name"], name="ledger_signingkey_uniq")
        ]


class Checkpoint(RegionalModel):
    append_only = True

    tree_size = models.BigIntegerField()
    root_hash = models.BinaryField()
    signed_note = models.TextField()
    key_name = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["tenant_id", "tree_size"])]


class ProjectionPosition(RegionalModel):
    """The last tenant sequence a projection applied: replays and redeliveries are no-ops."""

    name = models.CharField(max_length=200)
    position = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant_id", "name"], name="ledger_projection_uniq")
        ]


class IntegrityCheck(RegionalModel):
    """The latest scheduled verification of the tenant's whole log (``ledger_verify``'s
    code): a read model for the alarm on the console and ``/metrics``, one row a tenant."""

    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    events = models.BigIntegerField(default=0)
    fault_sequence = models.BigIntegerField(null=True)
    fault = models.TextField(blank=True)  # Fault.describe(): sequence, problem, hashes
    failing_since = models.DateTimeField(null=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant_id"], name="ledger_integrity_one_per_tenant")
        ]
