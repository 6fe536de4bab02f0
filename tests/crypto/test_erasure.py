"""Crypto-shredding: erase a subject, its personal fields are gone, integrity still holds."""

from __future__ import annotations

import base64
import json

import pytest

from callseal.crypto.aead import DecryptionFailed, open_sealed
from callseal.crypto.models import SubjectKey
from callseal.crypto.services import subject_key, subject_ref_for, tenant_key
from callseal.ledger import store
from callseal.ledger.events import ERASED, SubjectErased
from callseal.ledger.selectors import ledger_read_stream
from callseal.ledger.services import erase_subject, field_associated_data, ledger_append
from callseal.ledger.signing import checkpoint_create
from callseal.tenancy.context import as_ref, tenant_context
from tests.conftest import ALL_DATABASES
from tests.factories import TenantFactory
from tests.ledger.events import CallStarted
from tests.ledger.helpers import run_verify

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def _call(number: str) -> CallStarted:
    return CallStarted(twilio_call_sid="CA1", from_number=number, to_number="+14155550100")


def test_subject_ref_is_a_keyed_hash_per_tenant(us_context, acme_eu):
    ref = subject_ref_for("+14155550123")
    assert len(ref) == 64
    assert ref == subject_ref_for("+14155550123")
    assert "14155550123" not in ref
    with tenant_context(acme_eu):
        assert subject_ref_for("+14155550123") != ref


def test_ciphertext_is_bound_to_tenant_stream_and_event(us_context):
    ref = subject_ref_for("+14155550123")
    (event,) = ledger_append(
        stream_id="call-1", events=[_call("+14155550123")], actor="t", subject=ref
    )
    (record,) = store.select(as_ref(us_context), limit=1)
    sealed = base64.b64decode(json.loads(record.payload_json)["from_number"]["$sealed"])
    key = subject_key(ref, create=False)
    assert key is not None
    right = field_associated_data(us_context.id, "call-1", event.event_id, "from_number")
    assert json.loads(open_sealed(key, sealed, right)) == "+14155550123"
    with pytest.raises(DecryptionFailed):
        open_sealed(
            key,
            sealed,
            field_associated_data(us_context.id, "call-2", event.event_id, "from_number"),
        )


@pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
def test_erasure_destroys_the_key_keeps_other_subjects_and_verification_passes():
    tenant = TenantFactory(slug="erasing-us", region="us")
    with tenant_context(tenant):
        alice, bob = subject_ref_for("+14155550001"), subject_ref_for("+14155550002")
        (a,) = ledger_append(
            stream_id="call-a", events=[_call("+14155550001")], actor="t", subject=alice
        )
        ledger_append(stream_id="call-b", events=[_call("+14155550002")], actor="t", subject=bob)
        checkpoint_create()
        sealed_before = store.select(as_ref(tenant), limit=1)[0].payload_json

        erased = erase_subject(subject_ref=alice, actor="officer:7", reason="GDPR art. 17 #42")

        assert erased.type == "subject.erased"
        assert erased.event == SubjectErased(subject_ref=alice, reason="GDPR art. 17 #42")
        assert "+1415555000" not in erased.data.values()
        assert not SubjectKey.objects.filter(subject_ref=alice).exists()
        assert subject_key(alice, create=False) is None
        (read_a,) = ledger_read_stream(stream_id="call-a")
        assert read_a.data["from_number"] is ERASED
        assert read_a.erased_fields == frozenset({"from_number"})
        assert read_a.data["twilio_call_sid"] == "CA1"
        assert ledger_read_stream(stream_id="call-b")[0].data["from_number"] == "+14155550002"
        # The stored bytes did not change, and no key the tenant still holds opens them
        # (not even a new key for the same subject).
        assert store.select(as_ref(tenant), limit=1)[0].payload_json == sealed_before
        sealed = base64.b64decode(json.loads(sealed_before)["from_number"]["$sealed"])
        ad = field_associated_data(tenant.id, "call-a", a.event_id, "from_number")
        for candidate in (
            subject_key(alice, create=True),
            subject_key(bob, create=False),
            tenant_key(),
        ):
            assert candidate is not None
            with pytest.raises(DecryptionFailed):
                open_sealed(candidate, sealed, ad)
        assert ledger_read_stream(stream_id="call-a")[0].data["from_number"] is ERASED
        checkpoint_create()
    code, out, _ = run_verify("erasing-us")
    assert code == 0
    assert "3 events, 2 checkpoints" in out
