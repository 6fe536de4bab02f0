"""Every model declares where it lives: the global directory or the tenant's region.

Global models hold no personal data of callers; regional models carry ``tenant_id`` and are
routed to the database of the current tenant's region. tests/test_residency.py fails when a
model declares neither.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Residency(StrEnum):
    GLOBAL = "global"
    REGIONAL = "regional"


# Django's own apps keep staff accounts, sessions and content types in the directory.
THIRD_PARTY_GLOBAL_APPS = frozenset(
    {"auth", "contenttypes", "sessions", "admin", "messages", "otp_totp"}
)


def residency_of(model: type[models.Model]) -> Residency | None:
    declared = getattr(model, "residency", None)
    if declared is not None:
        return Residency(declared)
    if model._meta.app_label in THIRD_PARTY_GLOBAL_APPS:
        return Residency.GLOBAL
    return None


def is_regional(model: type[models.Model]) -> bool:
    return residency_of(model) is Residency.REGIONAL


class GlobalModel(models.Model):
    residency = Residency.GLOBAL

    class Meta:
        abstract = True


class RegionalModel(models.Model):
    """A tenant-owned row in the tenant's region database, guarded by row-level security."""

    residency = Residency.REGIONAL
    tenant_id = models.UUIDField(db_index=True, editable=False)

    class Meta:
        abstract = True
