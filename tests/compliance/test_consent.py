from datetime import UTC, datetime, timedelta

import phonenumbers
import pytest
from phonenumbers import geocoder

from compliance.consent import (
    ALL_PARTY_STATES,
    AnnouncementPlayed,
    CallConsent,
    ConsentDenied,
    ConsentError,
    ConsentGiven,
    ConsentPolicy,
    ConsentRevoked,
    ConsentState,
    Jurisdiction,
    Method,
    Requirement,
    caller_jurisdiction,
    consent_requirement,
)
from compliance.consent_intent import Intent, carries_request, parse_consent_intent
from compliance.us_area_codes import AREA_CODE_STATE

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
V = "rec-notice-v3"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+14155550100", Jurisdiction("US", "CA")),
        ("+12125550100", Jurisdiction("US", "NY")),
        ("+13055550100", Jurisdiction("US", "FL")),
        ("+12065550100", Jurisdiction("US", "WA")),
        ("+16175550100", Jurisdiction("US", "MA")),
        ("+14165550100", Jurisdiction(None, None)),  # Toronto: NANP but not US
        ("+18005550100", Jurisdiction(None, None)),  # toll-free: no state
        ("+442071838750", Jurisdiction(None, None)),
        ("anonymous", Jurisdiction(None, None)),
        ("4155550100", Jurisdiction(None, None)),  # not E.164
        ("", Jurisdiction(None, None)),
    ],
)
def test_caller_jurisdiction_from_area_code(number, expected):
    assert caller_jurisdiction(number) == expected


@pytest.mark.parametrize(
    ("policy", "number", "requirement"),
    [
        (ConsentPolicy.ONE_PARTY, "+14155550100", Requirement.IMPLIED),
        (ConsentPolicy.ALL_PARTY, "+12125550100", Requirement.EXPLICIT),
        (ConsentPolicy.EXPLICIT, "+12125550100", Requirement.EXPLICIT),
        (ConsentPolicy.JURISDICTION, "+14155550100", Requirement.EXPLICIT),  # CA
        (ConsentPolicy.JURISDICTION, "+13125550100", Requirement.EXPLICIT),  # IL
        (ConsentPolicy.JURISDICTION, "+12125550100", Requirement.IMPLIED),  # NY
        (ConsentPolicy.JURISDICTION, "+17135550100", Requirement.IMPLIED),  # TX
        (ConsentPolicy.JURISDICTION, "+442071838750", Requirement.EXPLICIT),  # UK
        (ConsentPolicy.JURISDICTION, "anonymous", Requirement.EXPLICIT),
        ("jurisdiction", "+17025550100", Requirement.EXPLICIT),  # NV, policy as stored text
    ],
)
def test_consent_requirement_by_policy_and_caller(policy, number, requirement):
    assert consent_requirement(policy=policy, caller_number=number).requirement is requirement


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match="'two_party'"):
        consent_requirement(policy="two_party", caller_number="+14155550100")


def test_every_all_party_state_has_area_codes_that_require_explicit_consent():
    states_seen = {AREA_CODE_STATE[code] for code in AREA_CODE_STATE}
    assert states_seen >= ALL_PARTY_STATES
    for code, state in AREA_CODE_STATE.items():
        decision = consent_requirement(policy="jurisdiction", caller_number=f"+1{code}5550100")
        expected = Requirement.EXPLICIT if state in ALL_PARTY_STATES else Requirement.IMPLIED
        assert decision.requirement is expected, code


_STATE_NAMES = {"Florida": "FL", "Washington State": "WA", "Massachusetts": "MA", "Texas": "TX"}


def test_area_code_table_agrees_with_phonenumbers_geography():
    for code, state in AREA_CODE_STATE.items():
        number = phonenumbers.parse(f"+1{code}2550123")
        assert phonenumbers.region_code_for_number(number) == "US", code
        place = geocoder.description_for_number(number, "en")
        if ", " in place:
            assert place.rsplit(", ", 1)[1] == state, (code, place)
        elif place in _STATE_NAMES:
            assert _STATE_NAMES[place] == state, (code, place)
    assert len(AREA_CODE_STATE) > 300


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Yes.", Intent.YES),
        ("yeah", Intent.YES),
        ("Yep, that's fine", Intent.YES),
        ("sure go ahead", Intent.YES),
        ("uh-huh", Intent.YES),
        ("no problem", Intent.YES),
        ("I don't mind", Intent.YES),
        ("Okay.", Intent.YES),
        ("I agree", Intent.YES),
        ("No.", Intent.NO),
        ("nope", Intent.NO),
        ("nah", Intent.NO),
        ("No thank you", Intent.NO),
        ("I'd rather not", Intent.NO),
        ("I do not consent", Intent.NO),
        ("that's not okay", Intent.NO),
        ("please stop recording", Intent.STOP),
        ("Stop the recording, please.", Intent.STOP),
        ("don't record this call", Intent.STOP),
        ("I don\u2019t want to be recorded", Intent.STOP),
        ("no recording please", Intent.STOP),
        ("yes no", None),
        ("don't stop recording", None),
        ("I don't know", None),
        ("hello? is anyone there", None),
        ("", None),
    ],
)
def test_parse_consent_intent_handles_asr_variants(text, intent):
    assert parse_consent_intent(text) is intent


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("No.", False),
        ("Yes, that's fine, go ahead.", False),
        ("No, I don't want that, thanks.", False),
        ("No, I'd rather not.", False),
        ("Sure, no problem at all.", False),
        ("Please stop recording.", False),
        ("Yes that's absolutely fine with me, go ahead", False),
        ("No. What are your opening hours?", True),
        ("How much no no ketchup cost?", True),  # a question misheard with a "no" in it
        ("Yes, and I'd like to check my order.", True),
        ("Stop recording and tell me my balance", True),
        ("no, can you help me", True),
        ("no it is not", False),
        ("No, I'd prefer you didn't.", False),
        ("", False),
    ],
)
def test_carries_request_tells_a_bare_answer_from_one_with_a_question(text, asks):
    assert carries_request(text) is asks


def test_consent_parsers_refuse_what_is_not_text():
    with pytest.raises(TypeError):
        parse_consent_intent(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        carries_request(b"no")  # type: ignore[arg-type]


def explicit_call() -> CallConsent:
    consent = CallConsent(requirement=Requirement.EXPLICIT, announcement_version=V)
    consent.announcement_played(at=at(0), audio_offset_ms=0)
    return consent


def test_nothing_is_allowed_before_the_announcement():
    consent = CallConsent(requirement=Requirement.IMPLIED, announcement_version=V)
    assert consent.speech(text="yes", at=at(1), audio_offset_ms=1000) == []
    assert consent.state is ConsentState.PENDING
    assert not consent.recording_allowed
    assert not consent.raw_transcript_allowed


def test_implied_consent_holds_once_the_announcement_is_played():
    consent = CallConsent(requirement=Requirement.IMPLIED, announcement_version=V)
    events = consent.announcement_played(at=at(0.5), audio_offset_ms=500)
    assert events == [
        AnnouncementPlayed(V, at(0.5), 500, Requirement.IMPLIED),
        ConsentGiven(V, at(0.5), 500, Method.IMPLIED, "implied:announcement"),
    ]
    assert consent.recording_allowed
    assert consent.raw_transcript_allowed


def test_explicit_consent_waits_for_yes_by_speech():
    consent = explicit_call()
    assert consent.state is ConsentState.AWAITING
    assert not consent.recording_allowed
    assert consent.speech(text="um, hello", at=at(2), audio_offset_ms=2000) == []
    events = consent.speech(text="yeah sure", at=at(3), audio_offset_ms=3120)
    assert events == [ConsentGiven(V, at(3), 3120, Method.SPEECH, "speech:yes")]
    assert consent.recording_allowed


def test_explicit_consent_by_dtmf_and_refusal_by_dtmf():
    consent = explicit_call()
    assert consent.dtmf(digit="1", at=at(4), audio_offset_ms=4000) == [
        ConsentGiven(V, at(4), 4000, Method.DTMF, "dtmf:1")
    ]
    refused = explicit_call()
    assert refused.dtmf(digit="2", at=at(4), audio_offset_ms=4000) == [
        ConsentDenied(V, at(4), 4000, Method.DTMF, "dtmf:2")
    ]
    assert not refused.recording_allowed


def test_refusal_is_final_for_the_call():
    consent = explicit_call()
    consent.speech(text="no", at=at(3), audio_offset_ms=3000)
    assert consent.speech(text="yes", at=at(5), audio_offset_ms=5000) == []
    assert consent.dtmf(digit="1", at=at(6), audio_offset_ms=6000) == []
    assert consent.state is ConsentState.DENIED
    assert not consent.raw_transcript_allowed


def test_consent_revoked_mid_call_stops_recording():
    consent = explicit_call()
    consent.speech(text="yes", at=at(3), audio_offset_ms=3000)
    assert consent.speech(text="no, that's not my account", at=at(20), audio_offset_ms=20000) == []
    assert consent.recording_allowed
    events = consent.speech(text="please stop recording", at=at(30), audio_offset_ms=30000)
    assert events == [ConsentRevoked(V, at(30), 30000, Method.SPEECH, "speech:stop_recording")]
    assert not consent.recording_allowed
    assert not consent.raw_transcript_allowed


def test_implied_consent_revoked_by_stop_key():
    consent = CallConsent(requirement=Requirement.IMPLIED, announcement_version=V)
    consent.announcement_played(at=at(0), audio_offset_ms=0)
    assert consent.dtmf(digit="5", at=at(9), audio_offset_ms=9000) == []
    assert consent.dtmf(digit="9", at=at(10), audio_offset_ms=10000) == [
        ConsentRevoked(V, at(10), 10000, Method.DTMF, "dtmf:9")
    ]
    assert consent.state is ConsentState.REVOKED


def test_replay_rebuilds_the_same_state():
    consent = explicit_call()
    consent.dtmf(digit="1", at=at(2), audio_offset_ms=2000)
    consent.speech(text="stop recording", at=at(9), audio_offset_ms=9000)
    rebuilt = CallConsent.replay(
        requirement=Requirement.EXPLICIT, announcement_version=V, events=consent.evidence
    )
    assert rebuilt.state is ConsentState.REVOKED
    assert rebuilt.evidence == consent.evidence


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"digit": "12", "at": T0, "audio_offset_ms": 0}, "not a DTMF digit"),
        ({"digit": "x", "at": T0, "audio_offset_ms": 0}, "not a DTMF digit"),
        ({"digit": "1", "at": datetime(2026, 1, 1), "audio_offset_ms": 0}, "timezone-aware"),
        ({"digit": "1", "at": T0, "audio_offset_ms": -5}, "non-negative"),
        ({"digit": "1", "at": T0, "audio_offset_ms": 1.5}, "non-negative"),
    ],
)
def test_bad_inputs_are_rejected_without_changing_state(kwargs, message):
    consent = explicit_call()
    with pytest.raises(ConsentError, match=message):
        consent.dtmf(**kwargs)
    assert consent.state is ConsentState.AWAITING
    assert len(consent.evidence) == 1
