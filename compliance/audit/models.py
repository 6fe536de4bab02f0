"""Export jobs started from the console (regional: the bundle stays in the tenant's region)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models

from callseal.tenancy.residency import RegionalModel


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class AuditExport(RegionalModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.CharField(max_length=200)  # ledger actor, e.g. "user:12"
    criteria = models.JSONField()  # AuditFilter.criteria(): subject refs, never phone numbers
    readable = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    stage = models.CharField(max_length=16, blank=True)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    events = models.BigIntegerField(default=0)
    tree_size = models.BigIntegerField(default=0)
    file_name = models.CharField(max_length=300, blank=True)
    bundle_sha256 = models.CharField(max_length=64, blank=True)
    key_fingerprint = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [models.Index(fields=["tenant_id", "-created_at"])]
