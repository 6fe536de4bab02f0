"""Routes regional models to the current tenant's region database, global ones to default."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models

from callseal.tenancy.context import current_tenant
from callseal.tenancy.residency import Residency, is_regional, residency_of

DIRECTORY = "default"


class CrossTenantWrite(RuntimeError):
    pass


def region_alias(region: str) -> str:
    try:
        return settings.REGIONS[region].db_alias
    except KeyError:
        raise LookupError(f"region {region!r} is not configured (CALLSEAL_REGIONS)") from None


def regional_aliases() -> set[str]:
    return {region.db_alias for region in settings.REGIONS.values()}


class ResidencyRouter:
    def _route(self, model: type[models.Model], hints: dict[str, Any]) -> str:
        if not is_regional(model):
            return DIRECTORY
        tenant = current_tenant()
        instance = hints.get("instance")
        if instance is not None and getattr(instance, "tenant_id", None) not in (None, tenant.id):
            raise CrossTenantWrite(
                f"{model.__name__} of another tenant touched under tenant {tenant.slug}"
            )
        return region_alias(tenant.region)

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str:
        return self._route(model, hints)

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str:
        return self._route(model, hints)

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool:
        return residency_of(type(obj1)) == residency_of(type(obj2))

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        residency = hints.get("residency")
        if residency is None:
            # Migration hints carry historical models, which lack class attributes such as
            # ``residency``: look the current model up by its label instead.
            hinted = hints.get("model")
            if hinted is not None:
                app_label, model_name = hinted._meta.app_label, hinted._meta.model_name
            model = None
            if model_name is not None:
                try:
                    model = apps.get_model(app_label, model_name)
                except LookupError:
                    model = None
            residency = residency_of(model) if model is not None else Residency.GLOBAL
        if Residency(str(residency)) is Residency.REGIONAL:
            return db in regional_aliases()
        return db == DIRECTORY
