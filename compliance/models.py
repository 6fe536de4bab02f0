"""Compliance read models and key rows, all regional (docs/adr/0009).

None of these rows holds a caller's personal data in clear: subjects are named by their
``subject_ref`` (a keyed hash), phone numbers appear masked to their last two digits.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models

from callseal.tenancy.residency import RegionalModel


class DataClass(models.TextChoices):
    """What a tenant sets retention for (tenant policy ``retention_days``)."""

    RECORDINGS = "recordings", "Call recordings"
    RAW_TRANSCRIPTS = "raw_transcripts", "Raw transcripts"
    REDACTED_TRANSCRIPTS = "redacted_transcripts", "Redacted transcripts"
    PERSONAL_FIELDS = "personal_fields", "Personal fields in events"


class RecordingKind(models.TextChoices):
    ORIGINAL = "original", "Original"
    REDACTED = "redacted", "Redacted"


class RecordingStatus(models.TextChoices):
    RECORDING = "recording", "Recording"
    FINISHED = "finished", "Finished"
    ABORTED = "aborted", "Aborted"
    SHREDDED = "shredded", "Shredded"


class Recording(RegionalModel):
    """Read model of one encrypted recording file (original or redacted copy)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call_id = models.UUIDField()
    subject_ref = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=RecordingKind.choices)
    source_id = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RecordingStatus.choices)
    tracks = models.JSONField(default=list)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    # SHA-256 of the encrypted file as published; also in recording.finished.
    sha256 = models.CharField(max_length=64, blank=True)
    shredded_at = models.DateTimeField(null=True, blank=True)
    shred_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering: ClassVar = ["-started_at"]
        indexes: ClassVar = [
            models.Index(fields=["tenant_id", "subject_ref"]),
            models.Index(fields=["tenant_id", "call_id"]),
        ]


class RecordingKey(RegionalModel):
    """A recording's key-encryption key, wrapped by the caller's subject key.

    Deleting the row shreds the recording even if a copy of the file survives in a backup;
    destroying the subject key shreds every recording of the subject.
    """

    recording_id = models.UUIDField(unique=True)
    subject_ref = models.CharField(max_length=64)
    wrapped = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)


class DataKey(RegionalModel):
    """Index of the ledger subject keys that hold one data class of one subject.

    ``key_ref`` is what the call path passes as ``subject=`` to ``ledger_append``; a call-
    scoped key per data class lets retention shred one class of one call without touching
    the rest. ``call_id`` null is the subject's own key (``subject_ref`` itself).
    """

    key_ref = models.CharField(max_length=64)
    subject_ref = models.CharField(max_length=64)
    data_class = models.CharField(max_length=24, choices=DataClass.choices)
    call_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    destroyed_at = models.DateTimeField(null=True, blank=True)
    destroyed_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant_id", "key_ref"], name="compliance_datakey_ref_uniq"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["tenant_id", "subject_ref"])]


class HoldScope(models.TextChoices):
    TENANT = "tenant", "Whole tenant"
    CALL = "call", "One call"
    SUBJECT = "subject", "One data subject"


class LegalHold(RegionalModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scope = models.CharField(max_length=16, choices=HoldScope.choices)
    call_id = models.UUIDField(null=True, blank=True)
    subject_ref = models.CharField(max_length=64, blank=True)
    # What the console shows: the call id, or the number masked to its last two digits.
    target_label = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=200)
    placed_by = models.CharField(max_length=150)
    placed_at = models.DateTimeField()
    released_by = models.CharField(max_length=150, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering: ClassVar = ["-placed_at"]


class ErasureStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    REFUSED = "refused", "Refused (legal hold)"


class ErasureRequest(RegionalModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_ref = models.CharField(max_length=64)
    number_masked = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=ErasureStatus.choices)
    message = models.CharField(max_length=300, blank=True)
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    keys_destroyed = models.IntegerField(default=0)
    recordings_shredded = models.IntegerField(default=0)
    # Ledger sequence of the erasure.completed proof event.
    proof_sequence = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-requested_at"]


class PlaybackGrant(RegionalModel):
    """One user's short-lived permission to fetch one recording, with the reason they gave.

    The audio URL names only this row's random id: the reason (free text that may describe
    the caller) travels once in a POST body and never reaches URLs or access logs.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recording_id = models.UUIDField()
    user_id = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["tenant_id", "created_at"])]
