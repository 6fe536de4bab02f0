"""The tenant's own recording announcement: validated, versioned, an event on change
(issue 21, item 9)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role, Tenant
from compliance.consent import Requirement, announcement_text, announcement_version
from compliance.forms import CONSENT_LABELS
from compliance.policies import (
    consent_announcement_base,
    consent_announcement_versions,
    consent_policy_update,
)
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
TEXT = "Calls to Acme are recorded to train our staff."


def _changes(tenant: Tenant) -> list[tuple[str, dict, dict]]:  # type: ignore[type-arg]
    with tenant_context(tenant):
        return [
            (e.data["policy"], e.data["old"], e.data["new"])
            for e in ledger_read_stream(stream_id="compliance-policies")
        ]


def test_a_new_announcement_is_a_new_version_and_one_event(acme_us, actor, settings):
    officer = actor(acme_us)
    with tenant_context(acme_us):
        before = consent_announcement_versions(
            consent_policy_update(actor=officer, consent_mode="jurisdiction")
        )
        assert before["explicit"] == announcement_version(
            announcement_text(settings.CALLSEAL_CONSENT_ANNOUNCEMENT, Requirement.EXPLICIT)
        )
        policies = consent_policy_update(
            actor=officer, consent_mode="jurisdiction", announcement=f"  {TEXT}\n"
        )
    assert policies["consent_announcement"] == TEXT
    assert consent_announcement_base(policies) == TEXT
    after = consent_announcement_versions(policies)
    assert after == {
        "explicit": announcement_version(announcement_text(TEXT, Requirement.EXPLICIT)),
        "implied": announcement_version(announcement_text(TEXT, Requirement.IMPLIED)),
    }
    assert after["explicit"] != before["explicit"]
    assert _changes(acme_us) == [
        ("consent_announcement", {"consent_announcement": ""}, {"consent_announcement": TEXT})
    ]
    assert Tenant.objects.get(id=acme_us.id).policies["consent_announcement"] == TEXT


def test_the_deployments_text_is_kept_as_following_the_deployment(acme_us, actor, settings):
    officer = actor(acme_us)
    with tenant_context(acme_us):
        consent_policy_update(actor=officer, consent_mode="jurisdiction", announcement=TEXT)
        policies = consent_policy_update(
            actor=officer,
            consent_mode="jurisdiction",
            announcement=settings.CALLSEAL_CONSENT_ANNOUNCEMENT,
        )
    assert policies["consent_announcement"] == ""
    assert consent_announcement_base(policies) == settings.CALLSEAL_CONSENT_ANNOUNCEMENT
    assert [c[0] for c in _changes(acme_us)] == ["consent_announcement"] * 2


def test_an_overlong_announcement_is_refused_and_nothing_changes(acme_us, actor):
    with tenant_context(acme_us), pytest.raises(ValidationError) as info:
        consent_policy_update(actor=actor(acme_us), consent_mode="explicit", announcement="x" * 301)
    assert info.value.messages == [
        "consent_announcement must be at most 300 characters (it has 301)"
    ]
    assert _changes(acme_us) == []
    assert Tenant.objects.get(id=acme_us.id).policies["consent_mode"] == "jurisdiction"


def test_only_compliance_officers_change_the_announcement(acme_us, actor):
    with tenant_context(acme_us), pytest.raises(PermissionDenied):
        consent_policy_update(
            actor=actor(acme_us, Role.ADMIN), consent_mode="jurisdiction", announcement=TEXT
        )


def test_each_consent_mode_has_its_own_description():
    assert len(set(CONSENT_LABELS.values())) == len(CONSENT_LABELS) == 4
