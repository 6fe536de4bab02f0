"""Phone numbers (directory) and the call read model (regional)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.core.validators import RegexValidator
from django.db import models

from callseal.tenancy.models import Tenant
from callseal.tenancy.residency import GlobalModel, RegionalModel

E164 = RegexValidator(r"^\+[1-9]\d{6,14}$", "an E.164 number such as +14155550100")
ACCOUNT_SID = RegexValidator(r"^AC[0-9a-f]{32}$", "a Twilio account SID: AC and 32 hex digits")
CALL_SID_RE = r"^CA[0-9a-f]{32}$"


class TwilioAccount(GlobalModel):
    """Which tenant a Twilio account belongs to: exactly one (the unique SID enforces it in
    the database, whatever races the services lose). Held while any of the tenant's numbers
    uses the account."""

    account_sid = models.CharField(max_length=34, unique=True, validators=[ACCOUNT_SID])
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="twilio_accounts")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.account_sid


class PhoneNumber(GlobalModel):
    """A business number routed to a tenant. Global: inbound webhooks find the tenant by it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="phone_numbers")
    e164 = models.CharField(max_length=16, unique=True, validators=[E164])
    label = models.CharField(max_length=80, blank=True)
    twilio_account_sid = models.CharField(max_length=34, blank=True, validators=[ACCOUNT_SID])
    # AES-GCM ciphertext (calls.credentials); never the token itself.
    twilio_auth_token_sealed = models.TextField(blank=True)
    # The AI agent answering this number; a plain id until the agents app has its model.
    agent_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["e164"]

    def __str__(self) -> str:
        return self.e164


class CallStatus(models.TextChoices):
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    BUSY = "busy", "Busy"
    NO_ANSWER = "no_answer", "No answer"
    CANCELED = "canceled", "Canceled"
    FAILED = "failed", "Failed"


TERMINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.NO_ANSWER,
        CallStatus.CANCELED,
        CallStatus.FAILED,
    }
)


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
    phone_number_id = models.UUIDField(null=True, blank=True)
    agent_id = models.UUIDField(null=True, blank=True)
    # Media streams opened for this call: more than one means it resumed after a drop.
    stream_count = models.PositiveIntegerField(default=0)
    # Highest status-callback SequenceNumber applied; Twilio retries and reorders them.
    status_sequence = models.IntegerField(default=-1)
    # The caller's data-subject reference (a keyed hash, not the number): turn events that
    # may repeat what the caller said are sealed under this subject's key.
    subject_ref = models.CharField(max_length=64, blank=True)
    # Last version of the call's ledger stream applied to this row (calls.projections).
    ledger_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["-started_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant_id", "twilio_call_sid"], name="call_tenant_sid_uniq"
            )
        ]
        indexes: ClassVar = [models.Index(fields=["tenant_id", "-started_at"])]


class StreamToken(RegionalModel):
    """A one-time, short-lived credential for one media stream of one call.

    Only the SHA-256 of the secret is stored: the secret travels once, inside TwiML, to
    Twilio, and comes back in ``start.customParameters``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call_sid = models.CharField(max_length=34)
    phone_number_id = models.UUIDField()
    token_hash = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Which stream of the call this token opens (1, then one more per followed <Redirect>).
    stream_index = models.PositiveIntegerField(default=1)
    # Random path segment of the stream URL (/media-stream/<nonce>/): Twilio signs the URL,
    # so every handshake signature differs and one captured handshake opens nothing else.
    path_nonce = models.CharField(max_length=32, blank=True)
    # SHA-256 of the one-time secret in this TwiML's <Redirect> URL: following it once is
    # the only way to get the next stream's token.
    redirect_hash = models.CharField(max_length=64, blank=True, db_index=True)
    redirect_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["tenant_id", "call_sid"])]
