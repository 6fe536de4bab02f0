"""Wrapped keys, per region. Not append-only: destroying a subject key deletes its row."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from callseal.tenancy.residency import RegionalModel


class TenantKey(RegionalModel):
    """The tenant's data key, wrapped by the region master key. One row per tenant."""

    wrapped = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant_id"], name="crypto_tenantkey_one_per_tenant")
        ]


class SubjectKey(RegionalModel):
    """A data subject's key, wrapped by the tenant key; deleting it crypto-shreds the subject."""

    subject_ref = models.CharField(max_length=64)
    wrapped = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant_id", "subject_ref"], name="crypto_subjectkey_tenant_ref_uniq"
            )
        ]
