"""Scripted conversations: the simulated caller says each line once the agent has finished
speaking (calls.simulator.run_conversation), and script files are validated
(calls.scripts, ``simulate_calls --script``). Agents here are scripted WebSocket handlers;
the end-to-end run against the real agent is tests/calls/test_simulate_script.py."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from calls.audio import TELEPHONE_RATE, ulaw_decode
from calls.conversations import conversation_result
from calls.scripts import ScriptError, script_parse
from calls.simulator import (
    Account,
    CallerTurn,
    CallReport,
    TurnReport,
    conversation_audio,
    run_conversation,
)
from callseal.ledger.events import RecordedEvent
from tests.calls.test_simulator import _agent_frame, _scripted_agent_account


def _speech(s: float) -> np.ndarray:
    t = np.arange(int(s * TELEPHONE_RATE)) / TELEPHONE_RATE
    return (5000 * np.sin(2 * np.pi * 180 * t)).astype(np.int16)


def _loud(message: dict) -> bool:  # type: ignore[type-arg]
    pcm = ulaw_decode(base64.b64decode(message["media"]["payload"])).astype(np.int32)
    return bool(np.abs(pcm).max() > 1000)


async def _converse(agent, turns, **options):  # type: ignore[no-untyped-def]
    async with _scripted_agent_account(agent) as account:
        return await run_conversation(account, turns, **options)


class _Agent:
    """Greets (0.6 s of audio) when the stream starts; answers each caller utterance, once
    the caller has been silent 200 ms, in two parts 0.8 s apart (two sentences with a
    pause between, as sentence-chunked TTS sends them) unless ``replies`` is False.
    Records, by the stream's own clock (``media.timestamp``), when it sent what."""

    def __init__(self, *, replies: bool = True) -> None:
        self.replies = replies
        self.received: list[dict] = []  # type: ignore[type-arg]
        self.sent_at: list[tuple[str, int]] = []  # (what, caller timestamp when sent)

    async def __call__(self, ws) -> None:  # type: ignore[no-untyped-def]
        frame = _agent_frame()
        quiet = 0
        spoke = False
        tasks: list[asyncio.Task[None]] = []

        async def reply(at: int) -> None:
            self.sent_at.append(("reply-1", at))
            for _ in range(20):
                await ws.send(frame)
            await asyncio.sleep(0.8)
            self.sent_at.append(("reply-2", self.now))
            for _ in range(20):
                await ws.send(frame)

        self.now = 0
        async for raw in ws:
            message = json.loads(raw)
            self.received.append(message)
            if message["event"] == "start":
                self.sent_at.append(("greeting", 0))
                for _ in range(30):
                    await ws.send(frame)
            if message["event"] != "media":
                continue
            self.now = int(message["media"]["timestamp"])
            if _loud(message):
                spoke, quiet = True, 0
                continue
            quiet += 1
            if spoke and quiet == 10 and self.replies:
                spoke = False
                tasks.append(asyncio.create_task(reply(self.now)))
        for task in tasks:
            task.cancel()


def _loud_starts(received: list[dict]) -> list[int]:  # type: ignore[type-arg]
    """The stream timestamps where the caller's sound begins after silence."""
    starts, before = [], False
    for message in received:
        if message["event"] != "media":
            continue
        loud = _loud(message)
        if loud and not before:
            starts.append(int(message["media"]["timestamp"]))
        before = loud
    return starts


def test_the_scripted_caller_speaks_each_line_once_the_agent_has_finished_its_reply():
    agent = _Agent()
    turns = [CallerTurn(audio=_speech(0.4)), CallerTurn(audio=_speech(0.3), dtmf="5")]
    report = asyncio.run(_converse(agent, turns, reply_quiet_s=1.2, reply_timeout_s=20))
    assert report.error is None, report.error
    assert report.ended_by == "caller"
    sent = dict(agent.sent_at)
    starts = _loud_starts(agent.received)
    # Line 1 after the greeting; line 2 (speech, then at once the key's tone) only after
    # the second part of the reply to line 1, never in the pause inside that reply.
    assert len(starts) == 2, starts
    assert starts[0] > sent["greeting"]
    reply_to_1 = next(at for what, at in agent.sent_at if what == "reply-2")
    assert starts[1] > reply_to_1
    # The caller waited for the reply to line 2 before hanging up.
    assert [what for what, _ in agent.sent_at].count("reply-2") == 2
    events = [m["event"] for m in agent.received]
    assert events.count("dtmf") == 1
    assert next(m for m in agent.received if m["event"] == "dtmf")["dtmf"]["digit"] == "5"
    assert events[-1] == "stop"
    assert [t.wait_timed_out for t in report.turns] == [False, False]
    assert all(t.voice_to_voice_ms is not None for t in report.turns)
    # Each turn's place in the stream: its first frame's media.timestamp.
    assert [(t.stream, t.stream_ms) for t in report.turns] == [(1, starts[0]), (1, starts[1])]


def test_a_caller_whose_reply_never_comes_goes_on_after_the_timeout():
    agent = _Agent(replies=False)
    turns = [CallerTurn(audio=_speech(0.3)), CallerTurn(audio=_speech(0.3))]
    report = asyncio.run(_converse(agent, turns, reply_quiet_s=0.5, reply_timeout_s=2.5))
    assert report.error is None, report.error
    # The greeting ended the first wait; nothing answered line 1, so line 2 came anyway.
    assert [t.wait_timed_out for t in report.turns] == [False, True]
    assert [t.voice_to_voice_ms for t in report.turns] == [None, None]
    assert len(_loud_starts(agent.received)) == 2


def test_agent_audio_already_playing_when_the_caller_stops_is_no_reply_to_time():
    """A hold message that starts while the caller speaks and plays on (paced at real
    time) after they stop: the caller waits for it to end, and the turn has no
    voice-to-voice figure (nothing answered it)."""
    frame = _agent_frame()

    async def agent(ws) -> None:  # type: ignore[no-untyped-def]
        playing = False
        async for raw in ws:
            message = json.loads(raw)
            if message["event"] == "start":
                for _ in range(10):
                    await ws.send(frame)
            if message["event"] == "media" and _loud(message) and not playing:
                playing = True
                # 1.5 s from the caller's first word, paced a little ahead of real time
                # (as our player sends, with a lead), so the caller hears it unbroken.
                for _ in range(15):
                    for _ in range(5):
                        await ws.send(frame)
                    await asyncio.sleep(0.07)

    turns = [CallerTurn(audio=_speech(0.3))]
    report = asyncio.run(_converse(agent, turns, reply_quiet_s=0.5, reply_timeout_s=10))
    assert report.error is None, report.error
    assert [(t.voice_to_voice_ms, t.wait_timed_out) for t in report.turns] == [(None, False)]


def test_conversation_audio_starts_each_line_on_a_frame_with_its_keys_after_its_speech():
    audio, keys, starts = conversation_audio(
        [CallerTurn(audio=_speech(0.25), dtmf="12"), CallerTurn(audio=np.zeros(0), dtmf="#")]
    )
    # 250 ms of speech (2000 samples = 12.5 frames, padded with the keys to whole frames).
    assert keys == [(250, "1"), (450, "2"), (660, "#")]
    assert starts == [0, 33, 43]
    assert len(audio) == 44 * 160
    with pytest.raises(ValueError, match="not a DTMF key"):
        conversation_audio([CallerTurn(audio=np.zeros(0), dtmf="x")])


def test_run_conversation_refuses_an_empty_script_and_a_turn_that_does_nothing():
    account = Account(base_url="http://127.0.0.1:9", number="+1", account_sid="AC", auth_token="")
    with pytest.raises(ValueError, match="at least one caller turn"):
        asyncio.run(run_conversation(account, []))
    with pytest.raises(ValueError, match="says something or presses a key"):
        asyncio.run(run_conversation(account, [CallerTurn(audio=np.zeros(0, dtype=np.int16))]))


GOOD = {
    "scenarios": [
        {
            "name": "Returns",
            "turns": [
                {"caller": "How do I return an item?", "dtmf": "", "expect": {"entry": None}},
                {"caller": "", "dtmf": "1#"},
            ],
        }
    ]
}


def test_a_well_formed_script_parses_with_its_expectations_kept():
    (scenario,) = script_parse(GOOD)
    assert scenario.name == "Returns"
    assert [(t.caller, t.dtmf, t.expect) for t in scenario.turns] == [
        ("How do I return an item?", "", {"entry": None}),
        ("", "1#", {}),
    ]


def _turn(**fields: object) -> dict:  # type: ignore[type-arg]
    return {"scenarios": [{"name": "s", "turns": [fields]}]}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], 'must be an object with a "scenarios" list'),
        ({"scenarios": {}}, 'must be an object with a "scenarios" list'),
        ({"scenarios": []}, "scenarios: 1 to 50 scenarios"),
        ({"scenarios": ["x"]}, "scenarios[0]: must be an object"),
        ({"scenarios": [{"name": " ", "turns": []}]}, "scenarios[0].name: must be text of 1"),
        ({"scenarios": [{"name": "s", "turns": []}]}, "scenarios[0].turns: must be a list of 1"),
        ({"scenarios": [{"name": "s", "turns": [[]]}]}, "scenarios[0].turns[0]: must be an obj"),
        (_turn(caller="hi", say="x"), "scenarios[0].turns[0]: unknown field 'say'"),
        (_turn(caller=3), "scenarios[0].turns[0].caller: must be text"),
        (_turn(caller="x" * 301), "scenarios[0].turns[0].caller: must be text of at most 300"),
        (_turn(caller="hi", dtmf="1a"), "scenarios[0].turns[0].dtmf: up to 20 of the keys"),
        (_turn(caller=" ", dtmf=""), "scenarios[0].turns[0]: says nothing and presses no key"),
        (_turn(caller="hi", expect=[]), "scenarios[0].turns[0].expect: must be an object"),
        (_turn(caller="hi", expect={"route": "kb"}), "unknown expectation 'route'"),
        (_turn(caller="hi", expect={"contains": "x"}), "expect.contains: must be a list of"),
        (_turn(caller="hi", expect={"escalates": 1}), "expect.escalates: must be true or false"),
        (_turn(caller="hi", expect={"max_v2v_ms": 0}), "expect.max_v2v_ms: must be a positive"),
        (_turn(caller="hi", expect={"entry": 5}), "expect.entry: must be text or null"),
    ],
)
def test_a_malformed_script_is_refused_naming_the_field(data, error):
    with pytest.raises(ScriptError) as raised:
        script_parse(data)
    assert error in str(raised.value)


def _command(path: Path, **options: object) -> None:
    call_command("simulate_calls", tenant="acme-us", script=path, **options)


def test_simulate_calls_refuses_a_bad_script_file_with_a_clear_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"scenarios": [')
    with pytest.raises(CommandError, match=r"broken\.json: not valid JSON \(Expecting value"):
        _command(broken)
    with pytest.raises(CommandError, match=r"missing\.json: no such file"):
        _command(tmp_path / "missing.json")
    shape = tmp_path / "shape.json"
    shape.write_text(json.dumps(_turn(caller="hi", dtmf="abc")))
    with pytest.raises(CommandError, match=r"shape\.json: scenarios\[0\]\.turns\[0\]\.dtmf"):
        _command(shape)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    with pytest.raises(CommandError, match="--audio: not with --script"):
        _command(good, audio=[tmp_path / "x.wav"])
    with pytest.raises(CommandError, match="--calls: not with --script"):
        _command(good, calls=3)
    with pytest.raises(CommandError, match=r"--caller: an E\.164 number"):
        _command(good, caller="12345")


def _event(event_type: str, **data: object) -> RecordedEvent:
    return RecordedEvent(
        sequence=0,
        stream_id="call-x",
        stream_version=0,
        event_id=uuid.uuid4(),
        type=event_type,
        schema_version=1,
        subject_ref=None,
        data=dict(data),
        metadata={},
        recorded_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),  # one clock: unused
        leaf_hash=b"",
        erased_fields=frozenset(),
    )


def _said(kind: str, text: str, turn: int) -> RecordedEvent:
    return _event("turn.agent", kind=kind, heard_text=text, redacted_text=text, turn=turn)


def test_replies_are_read_from_the_ledger_in_order_from_where_each_turn_began():
    """Consent pressed at 27.2 s of the stream (the turn that began at 26 s), line 1 said
    from 30 s (its words ended at 32.1 s), line 2 from 42 s; the agent fell back on line 1
    and then only played its hold message: line 2 has no reply and no voice-to-voice."""
    report = CallReport(
        call_sid="CA1",
        turns=[
            TurnReport(stream=1, stream_ms=26_000, waited_ms=1.0, voice_to_voice_ms=900.0),
            TurnReport(stream=1, stream_ms=30_000, waited_ms=1.0, voice_to_voice_ms=1600.0),
            TurnReport(stream=1, stream_ms=42_000, waited_ms=1.0, voice_to_voice_ms=20.0),
        ],
    )
    events = [
        _said("greeting", "Hello.", 0),
        _event("consent.announcement_played", audio_offset_ms=25_600, stream_index=1),
        _event("consent.given", audio_offset_ms=27_200, stream_index=1),
        _said("consent", "Thank you.", 0),
        _event(
            "turn.caller",
            text="",
            redacted_text="where is my order",
            ended_ms=32_100,
            stream_index=1,
            turn=1,
        ),
        _said("apology", "I'm sorry.", 1),
        _said("hold", "Please hold.", 1),
    ]
    scenario = script_parse(
        {
            "scenarios": [
                {"name": "s", "turns": [{"caller": "Where is my order?"}, {"caller": "Hello?"}]}
            ]
        }
    )[0]
    result = conversation_result(scenario=scenario, report=report, events=events, consent_keys="1")
    assert (result.greeting, result.consent_keys, result.consent_heard) == (
        "Hello.",
        "1",
        "Thank you.",
    )
    assert [
        (t.said, t.heard, t.agent_kinds, t.recognised, t.voice_to_voice_ms) for t in result.turns
    ] == [
        (
            "Where is my order?",
            "I'm sorry. Please hold.",
            ["apology", "hold"],
            "where is my order",
            1600.0,
        ),
        ("Hello?", "", [], "", None),
    ]
