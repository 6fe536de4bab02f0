"""Phone numbers (directory) and the call read model (regional)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.core.validators import RegexValidator
from django.db import models

from callseal.tenancy.models import Tenant
from callseal.tenancy.residency import GlobalModel, RegionalModel

E164 = RegexValidator(r"^\+[1-9]\d{6,14}$", "an E.164 number such as +14155550100")


class PhoneNumber(GlobalModel):
    """A business number routed to a tenant. Global: inbound webhooks find the tenant by it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="phone_numbers")
    e164 = models.CharField(max_length=16, unique=True, validators=[E164])
    label = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["e164"]

    def __str__(self) -> str:
        return self.e164


class CallStatus(models.TextChoices):
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class Call(RegionalModel):
    """Read model of a call, projected from the ledger. Holds no raw personal data."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    twilio_call_sid = models.CharField(max_length=34)
    to_number = models.CharField(max_length=16)
    # The caller's number, masked to its last two digits; the full number is ledger ciphertext.
    from_masked = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.RINGING)
    region = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-started_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant_id", "twilio_call_sid"], name="call_tenant_sid_uniq"
            )
        ]
        indexes: ClassVar = [models.Index(fields=["tenant_id", "-started_at"])]
