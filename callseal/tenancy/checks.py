"""System checks: every model declares its residency; every region's storage is usable."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core import checks

from callseal.tenancy.residency import Residency, residency_of


@checks.register(checks.Tags.models)
def check_model_residency(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for model in apps.get_models():
        residency = residency_of(model)
        if residency is None:
            errors.append(
                checks.Error(
                    f"{model._meta.label} declares no residency",
                    hint="subclass GlobalModel or RegionalModel (callseal.tenancy.residency)",
                    obj=model,
                    id="callseal.E001",
                )
            )
        elif residency is Residency.REGIONAL and not any(
            f.name == "tenant_id" for f in model._meta.concrete_fields
        ):
            errors.append(
                checks.Error(
                    f"{model._meta.label} is regional without tenant_id",
                    obj=model,
                    id="callseal.E002",
                )
            )
    return errors
