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


class RoleGrantStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class RoleGrant(GlobalModel):
    """A requested privileged role that a second person must approve (docs/adr/0019)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="role_grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(max_length=24, choices=Role.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=RoleGrantStatus.choices, default=RoleGrantStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            # One open request per user and tenant: a new request replaces nothing silently.
            models.UniqueConstraint(
                fields=["tenant", "user"],
                condition=models.Q(status="pending"),
                name="role_grant_one_pending",
            )
        ]


class LoginThrottle(GlobalModel):
    """Consecutive failed sign-ins of one account (``account:<username>``) or one address
    (``ip:<address>``), and until when further attempts are refused."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True)
    locked_until = models.DateTimeField(null=True)
