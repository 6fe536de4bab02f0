"""The global directory: tenants and memberships. No personal data of callers lives here."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from callseal.tenancy.residency import GlobalModel

SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    SUPERVISOR = "supervisor", "Supervisor"
    AGENT = "agent", "Agent"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    AUDITOR = "auditor", "Auditor"


class Tenant(GlobalModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.CharField(
        max_length=48,
        unique=True,
        validators=[RegexValidator(SLUG_RE, "lower-case letters, digits and dashes")],
    )
    name = models.CharField(max_length=120)
    # Fixed at creation: moving a tenant between regions is a data migration, not an edit.
    region = models.CharField(max_length=16, editable=False)
    policies = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(GlobalModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=24, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_user_tenant_uniq")
        ]
        ordering: ClassVar = ["tenant__slug"]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.tenant_id}:{self.role}"
