"""Retention: exactly what is due is crypto-shredded, nothing under a legal hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from calls.models import Call
from callseal.crypto.services import subject_key
from callseal.ledger.events import ERASED
from callseal.ledger.selectors import ledger_head_sequence, ledger_read_stream, ledger_read_tenant
from callseal.ledger.services import ledger_append
from callseal.tenancy.models import Role, Tenant
from callseal.tenancy.services import tenant_policies_validate
from compliance.datakeys import data_key_ref
from compliance.holds import legal_hold_place, legal_hold_release
from compliance.models import DataClass, DataKey, Recording, RecordingKey, RecordingStatus
from compliance.policies import retention_policy_update
from compliance.recording import recording_path
from compliance.retention import retention_run
from compliance.subjects import phone_subject_ref
from compliance.tasks import retention_region
from tests.compliance.conftest import make_call, pcm_ramp, record
from tests.conftest import ALL_DATABASES
from tests.ledger.events import CallStarted
from tests.ledger.helpers import run_verify

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)

OLD = "+14155550111"
HELD = "+14155550122"


def _age(recording_id, days):
    Recording.objects.filter(id=recording_id).update(
        started_at=timezone.now() - timedelta(days=days)
    )


def _note(call, number, data_class, days_ago):
    """A personal field of ``data_class`` for ``call``, sealed under its call-scoped key."""
    ref = data_key_ref(
        subject_ref=phone_subject_ref(number), data_class=data_class, call_id=call.id
    )
    (event,) = ledger_append(
        stream_id=f"call-{call.id}-{data_class}",
        events=[
            CallStarted(twilio_call_sid=call.twilio_call_sid, from_number=number, to_number="+1")
        ],
        actor="test",
        subject=ref,
    )
    DataKey.objects.filter(key_ref=ref).update(
        last_used_at=timezone.now() - timedelta(days=days_ago)
    )
    return ref, event


def test_retention_run_shreds_exactly_what_is_due_and_nothing_under_hold(
    us_context, storage, actor
):
    officer = actor(us_context)
    retention_policy_update(actor=officer, retention_days={"recordings": 30, "raw_transcripts": 7})
    old_call, new_call, held_call, subject_held_call = (make_call() for _ in range(4))
    due = record(call_id=old_call.id, number=OLD, caller=pcm_ramp(800, seed=1))
    fresh = record(call_id=new_call.id, number=OLD, caller=pcm_ramp(800, seed=2))
    call_held = record(call_id=held_call.id, number=OLD, caller=pcm_ramp(800, seed=3))
    subject_held = record(call_id=subject_held_call.id, number=HELD, caller=pcm_ramp(800, seed=4))
    for recording_id in (due, call_held, subject_held):
        _age(recording_id, 31)
    _age(fresh, 29)
    raw_due, raw_due_event = _note(old_call, OLD, DataClass.RAW_TRANSCRIPTS, 8)
    raw_fresh, raw_fresh_event = _note(new_call, OLD, DataClass.RAW_TRANSCRIPTS, 6)
    raw_held, _ = _note(held_call, OLD, DataClass.RAW_TRANSCRIPTS, 8)
    # Redacted transcripts have no retention set: never shredded however old.
    redacted_old, _ = _note(old_call, OLD, DataClass.REDACTED_TRANSCRIPTS, 900)
    legal_hold_place(actor=officer, scope="call", call=held_call.id, reason="case 1")
    legal_hold_place(actor=officer, scope="subject", phone_number=HELD, reason="case 2")
    before = ledger_head_sequence()

    report = retention_run()

    assert report.shredded == {"recordings": [str(due)], "raw_transcripts": [raw_due]}
    assert report.skipped_on_hold == {"recordings": 2, "raw_transcripts": 1}
    statuses = dict(Recording.objects.values_list("id", "status"))
    assert statuses == {
        due: RecordingStatus.SHREDDED,
        fresh: RecordingStatus.FINISHED,
        call_held: RecordingStatus.FINISHED,
        subject_held: RecordingStatus.FINISHED,
    }
    assert set(RecordingKey.objects.values_list("recording_id", flat=True)) == {
        fresh,
        call_held,
        subject_held,
    }
    root = storage / "us"
    assert not recording_path(storage_root=root, tenant_id=us_context.id, recording_id=due).exists()
    assert recording_path(storage_root=root, tenant_id=us_context.id, recording_id=fresh).exists()
    assert subject_key(raw_due, create=False) is None
    for kept in (raw_fresh, raw_held, redacted_old):
        assert subject_key(kept, create=False) is not None
    (shredded_raw,) = ledger_read_stream(stream_id=raw_due_event.stream_id)
    assert shredded_raw.data["from_number"] is ERASED
    (kept_raw,) = ledger_read_stream(stream_id=raw_fresh_event.stream_id)
    assert kept_raw.data["from_number"] == OLD

    events = ledger_read_tenant(after_sequence=before)
    assert [(e.type, e.data["data_class"]) for e in events] == [
        ("retention.shredded", "recordings"),
        ("retention.shredded", "raw_transcripts"),
    ]
    assert events[0].data["recordings"] == [str(due)]
    assert events[0].data["skipped_on_hold"] == 2
    assert events[1].data["keys"] == [raw_due]
    # No caller number in any form (digits only: hashes are hex, so a short fragment such
    # as "555" can occur in them by chance).
    rendered = str([e.data for e in events])
    for number in (OLD, HELD):
        assert number not in rendered
        assert number.removeprefix("+1") not in rendered
    assert run_verify(us_context.slug)[0] == 0

    # A second run finds nothing new: nothing shredded, no event.
    head = ledger_head_sequence()
    again = retention_run()
    assert again.shredded == {"recordings": [], "raw_transcripts": []}
    assert again.skipped_on_hold == {"recordings": 2, "raw_transcripts": 1}
    assert ledger_head_sequence() == head


def test_a_tenant_wide_hold_stops_all_retention(us_context, storage, actor):
    officer = actor(us_context)
    retention_policy_update(actor=officer, retention_days={"recordings": 1})
    recording_id = record(call_id=make_call().id, caller=pcm_ramp(800, seed=5))
    _age(recording_id, 5)
    legal_hold_place(actor=officer, scope="tenant", reason="regulator inquiry")
    report = retention_run()
    assert report.shredded == {"recordings": []}
    assert report.skipped_on_hold == {"recordings": 1}
    assert Recording.objects.get(id=recording_id).status == RecordingStatus.FINISHED


def test_the_subject_key_waits_until_the_subjects_recordings_are_gone(us_context, storage, actor):
    officer = actor(us_context)
    retention_policy_update(
        actor=officer, retention_days={"personal_fields": 30, "recordings": 365}
    )
    call = make_call()
    subject = phone_subject_ref(OLD)
    recording_id = record(call_id=call.id, number=OLD, caller=pcm_ramp(800, seed=6))
    data_key_ref(subject_ref=subject, data_class=DataClass.PERSONAL_FIELDS, call_id=None)
    DataKey.objects.filter(key_ref=subject).update(last_used_at=timezone.now() - timedelta(days=40))
    assert retention_run().shredded["personal_fields"] == []
    assert subject_key(subject, create=False) is not None

    _age(recording_id, 400)
    report = retention_run()
    assert report.shredded == {"recordings": [str(recording_id)], "personal_fields": [subject]}
    assert subject_key(subject, create=False) is None


def test_a_hold_on_a_call_without_recording_keeps_its_callers_own_key(us_context, storage, actor):
    """The subject's own key seals the number of every call of the subject: a hold on one
    such call keeps it, whether or not the call has a recording or call-scoped keys."""
    officer = actor(us_context)
    retention_policy_update(actor=officer, retention_days={"personal_fields": 30})
    subject = phone_subject_ref(OLD)
    call = make_call()
    Call.objects.filter(id=call.id).update(subject_ref=subject)
    own = data_key_ref(subject_ref=subject, data_class=DataClass.PERSONAL_FIELDS, call_id=None)
    ledger_append(
        stream_id=f"call-{call.id}",
        events=[CallStarted(twilio_call_sid=call.twilio_call_sid, from_number=OLD, to_number="+1")],
        actor="test",
        subject=own,
    )
    DataKey.objects.filter(key_ref=own).update(last_used_at=timezone.now() - timedelta(days=40))
    hold = legal_hold_place(actor=officer, scope="call", call=call.twilio_call_sid, reason="m 4")

    report = retention_run()
    assert report.shredded == {"personal_fields": []}
    assert report.skipped_on_hold == {"personal_fields": 1}
    assert ledger_read_stream(stream_id=f"call-{call.id}")[0].data["from_number"] == OLD

    legal_hold_release(actor=officer, hold_id=hold.id, reason="closed")
    assert retention_run().shredded == {"personal_fields": [own]}
    assert ledger_read_stream(stream_id=f"call-{call.id}")[0].data["from_number"] is ERASED


def test_retention_runs_per_region_from_the_beat_schedule(us_context, acme_eu, storage, actor):
    schedule = settings.CELERY_BEAT_SCHEDULE
    for region in settings.REGIONS:
        entry = schedule[f"compliance-retention-{region}"]
        assert entry["task"] == "compliance.retention_region"
        assert entry["args"] == (region,)
        assert entry["options"] == {"region": region}
    retention_policy_update(actor=actor(us_context), retention_days={"recordings": 10})
    recording_id = record(call_id=make_call().id, caller=pcm_ramp(800, seed=7))
    _age(recording_id, 11)
    assert retention_region("eu") == {"acme-eu": 0}
    assert Recording.objects.get(id=recording_id).status == RecordingStatus.FINISHED
    assert retention_region("us") == {"acme-us": 1}
    assert Recording.objects.get(id=recording_id).status == RecordingStatus.SHREDDED


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ({"recordings": -1}, "positive day counts"),
        ({"recordings": 0}, "positive day counts"),
        ({"voicemail": 30}, "unknown data classes in retention_days: voicemail"),
        ({"recordings": "30"}, "positive day counts"),
        ({"recordings": 10**6}, "at most 36500 days"),
    ],
)
def test_bad_retention_policy_is_refused_and_nothing_changes(us_context, actor, days, message):
    officer = actor(us_context)
    before_policies = Tenant.objects.get(id=us_context.id).policies
    before = ledger_head_sequence()
    with pytest.raises(ValidationError, match=message):
        retention_policy_update(actor=officer, retention_days=days)
    assert Tenant.objects.get(id=us_context.id).policies == before_policies
    assert ledger_head_sequence() == before


def test_policy_validation_names_the_allowed_data_classes():
    with pytest.raises(ValidationError, match="allowed: personal_fields, raw_transcripts"):
        tenant_policies_validate({"retention_days": {"x": 1}}, region="us")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.SUPERVISOR])
def test_only_compliance_officers_change_retention(us_context, actor, role):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        retention_policy_update(actor=actor(us_context, role), retention_days={"recordings": 5})
