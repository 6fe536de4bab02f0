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


def second_factor_verified(client, user):  # type: ignore[no-untyped-def]
    """Give ``user`` a confirmed TOTP device and mark ``client``'s session as verified with
    it, as the two-factor step does after a correct code (tests that force_login)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True, name="test")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


def totp_code(device) -> str:  # type: ignore[no-untyped-def]
    """The code an authenticator app shows now for ``device`` (RFC 6238)."""
    from django_otp.oath import totp

    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"
