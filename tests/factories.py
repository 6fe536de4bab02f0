from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from callseal.tenancy.models import Membership, Role, Tenant
from callseal.tenancy.services import membership_grant


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    region = "us"
    policies = factory.LazyFunction(
        lambda: {
            "consent_mode": "jurisdiction",
            "inference_fallback_regions": [],
            "retention_days": {},
        }
    )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]  # noqa: N805
        if create:
            obj.save()


def membership(*, user, tenant: Tenant, role: str = Role.ADMIN) -> Membership:  # type: ignore[no-untyped-def]
    return membership_grant(tenant=tenant, user=user, role=role)
