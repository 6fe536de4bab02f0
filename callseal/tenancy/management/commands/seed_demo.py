"""Create the demo tenants, users and numbers (idempotent) and print the logins' usernames
and where their password is kept (settings.SECRETS_DIR, never printed)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agents.demo import demo_agent_seed
from calls.models import PhoneNumber
from calls.services import phone_number_configure
from callseal.at_rest import private_file_create, private_file_write
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Membership, Role, Tenant
from callseal.tenancy.services import membership_grant, tenant_create, user_create

DEMO_TENANTS = [
    # slug, name, region, number, consent policy
    ("acme-us", "Acme Inc. (US)", "us", "+14155550100", "jurisdiction"),
    ("acme-eu", "Acme GmbH (EU)", "eu", "+493055510000", "explicit"),
]
DEMO_ROLES = [("admin", Role.ADMIN), ("compliance", Role.COMPLIANCE_OFFICER)]


def demo_twilio_account(slug: str) -> tuple[str, str]:
    """(account SID, auth token) of a demo tenant's stand-in Twilio account, kept in the
    secrets directory so that the call simulator can sign requests as Twilio would."""
    path = Path(settings.SECRETS_DIR) / f"demo-twilio-{slug}"
    private_file_create(path, f"AC{secrets.token_hex(16)} {secrets.token_hex(16)}\n".encode())
    account_sid, auth_token = path.read_text().split()
    return account_sid, auth_token


def demo_credentials_path() -> Path:
    return Path(settings.SECRETS_DIR) / "demo-credentials.txt"


def _demo_password() -> str:
    """One password for every demo login: $CALLSEAL_DEMO_PASSWORD, else generated once into
    the secrets directory."""
    configured = os.environ.get("CALLSEAL_DEMO_PASSWORD", "")
    if configured:
        if len(configured) < 12:
            raise CommandError("CALLSEAL_DEMO_PASSWORD: must be at least 12 characters")
        return configured
    path = Path(settings.SECRETS_DIR) / "demo-password"
    private_file_create(path, secrets.token_urlsafe(12).encode())
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Create demo tenants acme-us (region us) and acme-eu (region eu) with logins."

    def handle(self, *args: Any, **options: Any) -> None:
        missing = {region for _, _, region, _, _ in DEMO_TENANTS} - set(settings.REGIONS)
        if missing:
            raise CommandError(
                f"the demo needs regions {', '.join(sorted(missing))} in CALLSEAL_REGIONS"
            )
        password = _demo_password()
        user_model = get_user_model()
        lines: list[str] = []
        usernames: list[str] = []
        with transaction.atomic(using="default"):
            for slug, name, region, number, consent in DEMO_TENANTS:
                tenant = Tenant.objects.filter(slug=slug).first() or tenant_create(
                    slug=slug, name=name, region=region, policies={"consent_mode": consent}
                )
                phone_number, _ = PhoneNumber.objects.get_or_create(
                    e164=number, defaults={"tenant": tenant, "label": f"{name} main line"}
                )
                account_sid, auth_token = demo_twilio_account(slug)
                phone_number_configure(
                    phone_number=phone_number,
                    account_sid=account_sid,
                    auth_token=auth_token,
                    agent_id=phone_number.agent_id,
                )
                for suffix, role in DEMO_ROLES:
                    username = f"{slug}-{suffix}"
                    user: Any = user_model.objects.filter(username=username).first()
                    if user is None:
                        user = user_create(
                            username=username, email=f"{username}@example.com", password=password
                        )
                    else:
                        user.set_password(password)
                        user.save(update_fields=["password"])
                    membership_grant(tenant=tenant, user=user, role=role)
                    usernames.append(username)
                    lines.append(
                        f"{username:<22} {password}   {role.label} of {slug} "
                        f"(region {region}, number {number})"
                    )
                # The number answers with the tenant's demo AI agent (agents/demo.py).
                admin = Membership.objects.get(tenant=tenant, user__username=f"{slug}-admin")
                with tenant_context(tenant):
                    demo_agent_seed(actor=admin, phone_number=phone_number)
        # The password goes to a 0600 file, never to the output (make run's log).
        private_file_write(demo_credentials_path(), ("\n".join(lines) + "\n").encode())
        self.stdout.write(
            f"Demo logins: {', '.join(usernames)}; their password is in {demo_credentials_path()}"
        )
        if settings.REQUIRE_2FA:
            self.stdout.write(
                "Admins and compliance officers set up a TOTP authenticator on first sign-in"
                " (CALLSEAL_REQUIRE_2FA=false skips it in a local demo)."
            )
