"""Compliance gates in live calls: the call simulator (a faithful Twilio stand-in) calls a
real daphne whose us region runs the real inference service (Whisper, Piper); callers are
espeak-ng voices. What was recorded is read back by decrypting the recording and
transcribing its caller track with faster-whisper, so "not recorded" means not in the
audio, not merely "no event says so"."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.db import connections

from agents.services import agent_create
from agents.spec import AgentSpec, KnowledgeEntry
from calls.models import Call, PhoneNumber
from calls.services import call_events, phone_number_configure
from calls.simulator import Account, run_call, with_keypad
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant
from compliance.models import Recording, RecordingStatus
from compliance.recording.services import recording_reader
from inference.words import transcribe_words
from tests.agents.voice_servers import Honeypot, base_env, daphne, inference_service
from tests.conftest import ALL_DATABASES
from tests.factories import TenantFactory, UserFactory, membership
from tests.speech import caller_audio

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases=ALL_DATABASES),
]
ACCOUNT_SID = "AC" + "8" * 32
AUTH_TOKEN = "c3" * 16
CALIFORNIA = "+14155550123"  # all-party state: explicit consent under "jurisdiction"
NEW_YORK = "+12125550123"  # one-party state: the announcement suffices
SPEC = AgentSpec(
    name="Front desk",
    system_prompt="You are the friendly phone assistant of Acme Dental.",
    greeting="Hello, Acme Dental.",
    knowledge=(
        KnowledgeEntry("What are your opening hours?", "We are open from nine to five."),
        KnowledgeEntry("Where can I park my car?", "Parking is free behind the building."),
        KnowledgeEntry("Can I bring my dog?", "Guide dogs are welcome."),
    ),
    tools=("escalate_to_human", "end_call", "lookup", "collect_payment"),
    # The callers' words decide what is recorded here: the more accurate model.
    asr_model="base",
)


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("storage")
    return {"REGION_US_STORAGE_ROOT": str(root / "us"), "REGION_EU_STORAGE_ROOT": str(root / "eu")}


@pytest.fixture(scope="module")
def us_inference() -> Iterator[str]:
    with inference_service("us", base_env(), asr_models="base") as server:
        yield server.url


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    connections.close_all()


@pytest.fixture
def line(settings, storage: dict[str, str]) -> tuple[Tenant, PhoneNumber]:  # type: ignore[no-untyped-def]
    # This process reads what the server wrote: the same storage roots.
    settings.REGIONS = {
        name: dataclasses.replace(
            region, storage_root=Path(storage[f"REGION_{name.upper()}_STORAGE_ROOT"])
        )
        for name, region in settings.REGIONS.items()
    }
    tenant: Tenant = TenantFactory(  # type: ignore[assignment]
        slug="acme-us", region="us", policies={"consent_mode": "jurisdiction"}
    )
    with tenant_context(tenant):
        agent = agent_create(actor=membership(user=UserFactory(), tenant=tenant), spec=SPEC)
    number = PhoneNumber.objects.create(tenant=tenant, e164="+13105550100", label="front desk")
    phone_number_configure(
        phone_number=number, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, agent_id=agent.id
    )
    return tenant, number


def _call(
    storage: dict[str, str],
    us_inference: str,
    number: PhoneNumber,
    audio: np.ndarray,
    *,
    caller: str,
    log_path: Path | None = None,
    **kwargs,  # type: ignore[no-untyped-def]
):  # type: ignore[no-untyped-def]
    llm = Honeypot()  # every turn here is a tool or a consent answer: no LLM is needed
    env = {
        **base_env(),
        **storage,
        "CALLSEAL_AGENT_NO_AUDIO_S": "8",
        "REGION_US_INFERENCE_URL": us_inference,
        "REGION_US_LLM_URL": llm.url + "/v1",
    }
    with daphne(env, log_path=log_path) as url:
        account = Account(
            base_url=url, number=number.e164, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
        )
        report = asyncio.run(
            run_call(account, audio, echo=False, trailing_ms=0, caller=caller, **kwargs)
        )
    llm.close()
    assert report.error is None, report.error
    _, events = _events(number.tenant, report.call_sid)
    for event in _of(events, "turn.caller"):
        print("caller:", event.data["redacted_text"])
    # No turn went to the (absent) LLM: one that had would have met LlmUnavailable and
    # fallen back. (The LLM warm-up at the greeting reaches the honeypot and only logs.)
    assert not [e.data for e in _of(events, "agent.fallback")], "a turn needed the LLM"
    assert not [e for e in _of(events, "inference.hop") if e.data["service"] == "llm"]
    return report


def _events(tenant: Tenant, call_sid: str) -> tuple[Call, list]:  # type: ignore[type-arg]
    with tenant_context(tenant):
        call = Call.objects.get(twilio_call_sid=call_sid)
        return call, call_events(call_id=call.id)


def _of(events: list, kind: str) -> list:  # type: ignore[type-arg]
    return [e for e in events if e.type == kind]


def _track(tenant: Tenant, recording: Recording, name: str) -> np.ndarray:
    with tenant_context(tenant), recording_reader(recording) as reader:
        frames = list(reader.track_frames(name))
    total = max((f.start_sample + len(f.pcm) // 2 for f in frames), default=0)
    out = np.zeros(total, dtype=np.int16)
    for f in frames:
        out[f.start_sample : f.start_sample + len(f.pcm) // 2] = np.frombuffer(f.pcm, "<i2")
    return out


def _heard(pcm: np.ndarray, rate: int = 8000) -> str:
    return " ".join(w.text for w in transcribe_words(pcm.tobytes(), rate, region="us")).lower()


def test_nothing_is_recorded_or_kept_raw_before_consent_and_revocation_stops_both(
    line, storage, us_inference
):
    tenant, number = line
    audio = caller_audio(
        (16.0, None),  # greeting + the explicit announcement (a question), never barged
        (0.0, "What are your opening hours?"),
        (7.0, "Yes."),
        (6.0, "Where can I park my car?"),
        (7.0, "Stop recording."),
        (6.0, "Can I bring my dog?"),
        (7.0, None),
    )
    report = _call(storage, us_inference, number, audio, caller=CALIFORNIA)
    call, events = _events(tenant, report.call_sid)

    required = _of(events, "consent.required")
    assert [(e.data["requirement"], e.data["state"]) for e in required] == [("explicit", "CA")]
    played = _of(events, "consent.announcement_played")
    assert len(played) == 1
    assert played[0].data["requirement"] == "explicit"
    given = _of(events, "consent.given")
    assert [(g.data["method"], g.data["signal"]) for g in given] == [("speech", "speech:yes")]
    revoked = _of(events, "consent.revoked")
    assert [r.data["signal"] for r in revoked] == ["speech:stop_recording"]
    assert played[0].data["audio_offset_ms"] < given[0].data["audio_offset_ms"]
    assert given[0].data["audio_offset_ms"] < revoked[0].data["audio_offset_ms"]
    assert played[0].data["announcement_version"] == given[0].data["announcement_version"]

    # Raw words only while consent held; the redacted transcript always.
    turns = _of(events, "turn.caller")
    redacted = [t.data["redacted_text"].lower() for t in turns]
    raw = [t.data["text"] for t in turns]
    assert len(turns) == 5, redacted
    assert "opening" in redacted[0]
    assert raw[0] == ""
    assert "yes" in redacted[1]
    assert raw[1] == ""
    assert "park" in raw[2].lower()
    assert "stop recording" in raw[3].lower()  # said while consent still held
    assert "dog" in redacted[4]
    assert raw[4] == ""

    # One recording, sealed at the revocation, holding only what was said in between.
    with tenant_context(tenant):
        recordings = list(Recording.objects.filter(call_id=call.id))
    assert [r.status for r in recordings] == [RecordingStatus.FINISHED]
    recording = recordings[0]
    caller_track = _track(tenant, recording, "caller")
    consent_at = given[0].data["audio_offset_ms"]
    revoked_at = revoked[0].data["audio_offset_ms"]
    duration_ms = len(caller_track) * 1000 // 8000
    assert abs(duration_ms - (revoked_at - consent_at)) < 1500, (duration_ms, consent_at)
    heard = _heard(caller_track)
    assert "park" in heard, heard
    assert "hours" not in heard, heard
    assert "dog" not in heard, heard
    agent_heard = _heard(_track(tenant, recording, "agent"))
    assert "parking" in agent_heard or "building" in agent_heard, agent_heard
    assert "nine to five" not in agent_heard, agent_heard
    assert "guide dogs" not in agent_heard, agent_heard
    started = [e for e in _recording_events(tenant, recording) if e.type == "recording.started"]
    assert started
    assert started[0].data["storage_region"] == "us"


def _recording_events(tenant: Tenant, recording: Recording) -> list:  # type: ignore[type-arg]
    from callseal.ledger.selectors import ledger_read_stream

    with tenant_context(tenant):
        return ledger_read_stream(stream_id=f"recording-{recording.id}")


def test_an_all_party_state_caller_who_says_no_is_never_recorded(line, storage, us_inference):
    tenant, number = line
    audio = caller_audio(
        (16.0, None),
        (0.0, "No."),
        (7.0, "What are your opening hours?"),
        (7.0, None),
    )
    root = Path(storage["REGION_US_STORAGE_ROOT"])
    files_before = {p for p in root.rglob("*") if p.is_file()}
    report = _call(storage, us_inference, number, audio, caller=CALIFORNIA)
    call, events = _events(tenant, report.call_sid)
    denied = _of(events, "consent.denied")
    assert [(d.data["method"], d.data["signal"]) for d in denied] == [("speech", "speech:no")]
    assert not _of(events, "consent.given")
    with tenant_context(tenant):
        assert not Recording.objects.filter(call_id=call.id).exists()
    turns = _of(events, "turn.caller")
    assert [t.data["text"] for t in turns] == ["", ""]
    assert "opening" in turns[1].data["redacted_text"].lower()
    # The call wrote no file under the region's storage root (cached prompts aside).
    written = {p for p in root.rglob("*") if p.is_file()} - files_before
    assert not [p for p in written if "agent-prompts" not in p.parts], written
    agent = {e.data["kind"]: e.data for e in _of(events, "turn.agent")}
    assert "will not be recorded" in agent["consent"]["text"]


def test_a_refusal_with_a_question_is_acknowledged_and_the_question_answered(
    line, storage, us_inference
):
    """A refusal with a question ("No, I don't agree. Where can I park?"): the refusal is
    evidence and is acknowledged first (the caller must know nothing is recorded), then the
    question gets its answer rather than being swallowed by the consent reply. (A bare "No,"
    opening the sentence is heard as "Oh," by the base model on this audio with the
    service's 10 s encoder window, "No," with Whisper's 30 s one, which mishears other
    openings instead: docs/adr/0005, `python -m benchmarks asr`. Unheard, an explicit
    refusal leaves consent pending, so nothing is recorded either way.)"""
    tenant, number = line
    question = "No, I don't agree. Where can I park my car?"
    audio = caller_audio((16.0, None), (0.0, question), (8.0, None))
    report = _call(storage, us_inference, number, audio, caller=CALIFORNIA)
    call, events = _events(tenant, report.call_sid)
    denied = _of(events, "consent.denied")
    assert [(d.data["method"], d.data["signal"]) for d in denied] == [("speech", "speech:no")]
    with tenant_context(tenant):
        assert not Recording.objects.filter(call_id=call.id).exists()
    turns = _of(events, "turn.caller")
    assert len(turns) == 1
    assert turns[0].data["text"] == ""
    assert "park" in turns[0].data["redacted_text"].lower()
    agent = [(e.data["kind"], e.data["heard_text"]) for e in _of(events, "turn.agent")]
    assert [kind for kind, _ in agent] == ["greeting", "consent", "lookup"], agent
    assert agent[1][1] == "Understood, this call will not be recorded."
    assert "behind the building" in agent[2][1], agent
    assert [t.data["name"] for t in _of(events, "tool.called")] == ["lookup"]


def _luhn_card(prefix: str = "45398") -> str:
    digits = prefix + "".join(str((7 * i + 3) % 10) for i in range(15 - len(prefix)))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def test_card_digits_typed_during_a_payment_appear_in_no_table_log_file_or_recording(
    line, storage, us_inference, tmp_path
):
    tenant, number = line
    card, expiry, code = _luhn_card(), "0931", "837"
    keys: list[tuple[int, str]] = []
    for start_ms, field in ((21000, card), (30000, expiry), (37000, code)):
        for i, key in enumerate(field + "#"):
            keys.append((start_ms + 250 * i, key))
    audio = caller_audio(
        (11.0, None),  # greeting + the implied announcement
        (0.0, "I would like to pay my bill."),
        (32.0, "Can I bring my dog?"),
        (7.0, None),
    )
    audio = with_keypad(audio, keys)
    log_path = tmp_path / "daphne.log"
    report = _call(
        storage,
        us_inference,
        number,
        audio,
        caller=NEW_YORK,
        dtmf=keys,
        log_path=log_path,
    )
    call, events = _events(tenant, report.call_sid)
    assert [g.data["method"] for g in _of(events, "consent.given")] == ["implied"]
    paused, resumed = _of(events, "payment.paused"), _of(events, "payment.resumed")
    assert len(paused) == 1
    assert len(resumed) == 1
    assert (resumed[0].data["outcome"], resumed[0].data["result"]) == ("completed", "approved")
    assert [e.data["dtmf_count"] for e in _of(events, "stream.ended")] == [0]
    tools = [t.data["name"] for t in _of(events, "tool.called")]
    assert tools[0] == "collect_payment"
    assert "dog" in _of(events, "turn.caller")[-1].data["text"].lower()  # consent holds on

    secrets = [card, card[-12:]]  # the number, and any long run of it
    short = [expiry, code]

    def leaks(text: str) -> list[str]:
        found = [s for s in secrets if s in text]
        found += [s for s in short if re.search(rf"(?<![0-9a-f]){s}(?![0-9a-f])", text)]
        return found

    # Every row of every table of every database (ledger payloads included).
    for connection in connections.all():
        alias = connection.alias
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                quoted = connection.ops.quote_name(table)
                cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - names from introspection
                for row in cursor.fetchall():
                    text = " ".join(
                        bytes(v).decode("latin-1") if isinstance(v, (bytes, memoryview)) else str(v)
                        for v in row
                    )
                    assert not [s for s in secrets if s in text], (alias, table)
    # The call's events with personal fields opened.
    opened = json.dumps([e.data for e in events])
    assert not leaks(opened)
    # The server's log (at DEBUG) and every file it wrote.
    log_text = log_path.read_text(errors="replace")
    assert "payment" in log_text  # the log was captured
    assert not leaks(log_text)
    roots = [Path(storage["REGION_US_STORAGE_ROOT"]), Path(settings.VAR_DIR)]
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and path.stat().st_size < 50_000_000:
                data = path.read_bytes().decode("latin-1")
                assert not [s for s in secrets if s in data], path
    # The recording: silence from the pause until after the last key (the tones are in
    # the caller's audio, as on a real line), the caller's words before and after.
    with tenant_context(tenant):
        recording = Recording.objects.get(call_id=call.id)
    caller_track = _track(tenant, recording, "caller")
    base_ms = _of(events, "consent.given")[0].data["audio_offset_ms"]
    pause_ms = paused[0].data["audio_offset_ms"] - base_ms
    resume_ms = resumed[0].data["audio_offset_ms"] - base_ms
    assert pause_ms < keys[0][0] - base_ms
    assert keys[-1][0] + 100 - base_ms < resume_ms
    span = caller_track[pause_ms * 8 : resume_ms * 8]
    assert len(span), (  # seen once in a full run, never alone: say what the recording held
        f"caller track {len(caller_track) // 8} ms, recording {recording.duration_ms} ms "
        f"({recording.status}), pause {pause_ms} ms, resume {resume_ms} ms; log: "
        + " | ".join(
            line[:300]
            for line in log_text.splitlines()
            if '"level": "ERROR"' in line or '"level": "WARNING"' in line
        )[:3000]
    )
    assert not span.any()
    for at_ms, _ in keys:  # no tone anywhere in the recording
        tone = caller_track[(at_ms - base_ms) * 8 : (at_ms - base_ms + 100) * 8]
        assert not tone.any()
    heard = _heard(caller_track)
    assert "pay" in heard, heard
    assert "bring my" in heard, heard  # the question after the payment


def test_the_caller_hears_the_tenants_announcement_and_the_evidence_names_its_version(
    line, storage, us_inference
):
    from callseal.tenancy.models import Role
    from compliance.consent import Requirement, announcement_text, announcement_version
    from compliance.policies import consent_policy_update

    tenant, number = line
    text = "Calls to Acme are recorded to train our staff."
    officer = membership(user=UserFactory(), tenant=tenant, role=Role.COMPLIANCE_OFFICER)
    with tenant_context(tenant):
        consent_policy_update(actor=officer, consent_mode="jurisdiction", announcement=text)
    report = _call(storage, us_inference, number, caller_audio((12.0, None)), caller=NEW_YORK)
    _, events = _events(tenant, report.call_sid)
    greeting = [e.data["text"] for e in _of(events, "turn.agent") if e.data["kind"] == "greeting"]
    assert len(greeting) == 1
    assert text in greeting[0]
    assert settings.CALLSEAL_CONSENT_ANNOUNCEMENT not in greeting[0]
    expected = announcement_version(announcement_text(text, Requirement.IMPLIED))
    played = _of(events, "consent.announcement_played")
    given = _of(events, "consent.given")
    assert [e.data["announcement_version"] for e in played + given] == [expected, expected]
