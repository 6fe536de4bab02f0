"""The Celery app. Tasks that touch tenant data run on their tenant's region queue.

``TenantTask.apply_async`` stamps the current tenant and its region into the message headers
and routes to that region's queue; ``__call__`` restores the tenant context in the worker and
refuses to run when the worker serves another region (CALLSEAL_WORKER_REGION).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from celery import Celery, Task
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callseal.settings")

TENANT_HEADER = "callseal_tenant"
REGION_HEADER = "callseal_region"


class WrongRegion(RuntimeError):
    pass


class TenantTask(Task):  # type: ignore[misc]
    """Base for tasks on regional data; pass ``region=`` for a region-wide task."""

    def apply_async(  # type: ignore[override]
        self, args: Any = None, kwargs: Any = None, **options: Any
    ) -> Any:
        from callseal.tenancy.context import current_tenant_or_none

        tenant = current_tenant_or_none()
        region = options.pop("region", None) or (tenant.region if tenant else None)
        if region is None:
            raise ValueError(f"{self.name}: no tenant in context and no region= given")
        if region not in settings.REGIONS:
            raise ValueError(f"{self.name}: region {region!r} is not configured")
        headers = dict(options.pop("headers", None) or {})
        headers[REGION_HEADER] = region
        if tenant is not None:
            headers[TENANT_HEADER] = {
                "id": str(tenant.id),
                "slug": tenant.slug,
                "region": tenant.region,
            }
        options.setdefault("queue", settings.REGIONS[region].celery_queue)
        return super().apply_async(args, kwargs, headers=headers, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from callseal.tenancy.context import TenantRef, tenant_context

        headers = getattr(self.request, "headers", None) or {}
        region = headers.get(REGION_HEADER) or getattr(self.request, REGION_HEADER, None)
        worker_region = settings.WORKER_REGION
        if worker_region and region != worker_region:
            raise WrongRegion(
                f"{self.name} is for region {region!r}; this worker serves {worker_region!r}"
            )
        raw = headers.get(TENANT_HEADER) or getattr(self.request, TENANT_HEADER, None)
        if raw:
            ref = TenantRef(id=uuid.UUID(raw["id"]), slug=raw["slug"], region=raw["region"])
            with tenant_context(ref):
                return super().__call__(*args, **kwargs)
        return super().__call__(*args, **kwargs)


app = Celery("callseal", task_cls=TenantTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = "default"
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
app.conf.worker_prefetch_multiplier = 1
app.conf.broker_connection_retry_on_startup = True
app.autodiscover_tasks()
