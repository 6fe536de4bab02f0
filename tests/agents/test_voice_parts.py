"""The agent pipeline's parts: context compression, resumption from events, tool routing,
residency endpoints, the /metrics gate, and the listener and coordinator fed frames with
fakes for their neighbours."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from agents import events as ev
from agents.pipeline.turns import TurnConfig, TurnDetector
from agents.pipeline.vad import VadFrame
from agents.spec import AgentSpec, KnowledgeEntry
from agents.voice.context import KEEP_RECENT_TURNS, Conversation, Turn
from agents.voice.endpoints import endpoints_for
from agents.voice.ledger_writer import LedgerWriter
from agents.voice.listening import CallerTurn, Listener
from agents.voice.owned import OwnedTasks
from agents.voice.payment_step import PaymentStep
from agents.voice.pipeline import CallState, Coordinator
from agents.voice.replying import Replier
from agents.voice.speaking import Speaker
from agents.voice.speech import Speech
from agents.voice.tools import route_by_keywords
from agents.voice.wiring import CallUnits
from calls.pipeline import CallInfo
from calls.player import Player
from callseal.regions import load_regions

KB = (KnowledgeEntry("What are your opening hours?", "Nine to five."),)
TOOLS = ("escalate_to_human", "end_call", "lookup")


def test_long_calls_fold_old_turns_into_a_bounded_summary_and_keep_recent_turns():
    conversation = Conversation(system_prompt="Be brief.", budget_chars=600)
    for k in range(40):
        conversation.add("user", f"caller line {k} " + "x" * 40)
        conversation.add("assistant", f"agent line {k} " + "y" * 40)
    assert conversation.size() <= 600
    assert len(conversation.turns) >= KEEP_RECENT_TURNS
    assert conversation.turns[-1].text.startswith("agent line 39")
    assert conversation.compressed_turns == 80 - len(conversation.turns)
    assert sum(len(s) for s in conversation.summary) <= 600 // 4
    system = conversation.messages()[0]["content"]
    assert "Earlier in this call:" in system
    assert conversation.summary[-1] in system


def test_consecutive_caller_turns_merge_into_one_message():
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add("user", "Hello.")
    conversation.add("user", "Are you there?")
    assert [m["content"] for m in conversation.messages()[1:]] == ["Hello. Are you there?"]


def test_a_turn_not_added_yet_is_placed_as_add_would_place_it_without_changing_the_context():
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add("assistant", "Hello, Acme Dental.")
    conversation.add("user", "Hello.")
    pending = conversation.messages(then=Turn("user", " Are you there? "))
    assert [(m["role"], m["content"]) for m in pending[1:]] == [
        ("assistant", "Hello, Acme Dental."),
        ("user", "Hello. Are you there?"),
    ]
    conversation.add("user", "Are you there?")
    assert conversation.messages() == pending  # the reply's prompt is the recorded context's
    after_reply = conversation.messages(then=Turn("assistant", "Yes."))
    assert after_reply[-1] == {"role": "assistant", "content": "Yes."}
    assert conversation.messages(then=Turn("user", "  ")) == conversation.messages()
    assert len(conversation.turns) == 2


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("Can I speak to a real person please", "escalate_to_human"),
        ("I want a representative", "escalate_to_human"),
        ("Okay that's all, goodbye", "end_call"),
        ("what are the opening hours", "lookup"),
        ("I have a toothache", None),
    ],
)
def test_keyword_routing_picks_the_tool_the_caller_asks_for(text, tool):
    assert route_by_keywords(text, tools=TOOLS, knowledge=KB).tool == tool


def test_a_tool_the_agent_lacks_is_never_routed_to():
    assert route_by_keywords("a real person please", tools=("lookup",), knowledge=KB).tool is None


def test_endpoints_are_the_home_region_only_unless_the_policy_names_a_fallback(tmp_path):
    regions = load_regions(
        {"CALLSEAL_REGIONS": "us,eu", "REGION_US_LLM_SERVER": "vllm"},
        var_dir=tmp_path,
        embedded=True,
    )
    home_only = endpoints_for(home="eu", policies={}, regions=regions)
    assert [e.region for e in home_only] == ["eu"]
    with_policy = endpoints_for(
        home="eu", policies={"inference_fallback_regions": ["us", "mars", "eu"]}, regions=regions
    )
    assert [(e.region, e.inference_url, e.llm_server) for e in with_policy] == [
        ("eu", regions["eu"].inference_url, "llama.cpp"),
        ("us", regions["us"].inference_url, "vllm"),
    ]
    malformed = endpoints_for(
        home="eu", policies={"inference_fallback_regions": "us"}, regions=regions
    )
    assert [e.region for e in malformed] == ["eu"]


@pytest.mark.django_db
def test_metrics_need_a_staff_session_or_the_bearer_token(client, django_user_model):
    assert client.get("/metrics").status_code == 404
    with override_settings(CALLSEAL_METRICS_TOKEN="s3cret-token-value"):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
        ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token-value")
        assert ok.status_code == 200
        assert b"callseal_agent_turn_latency_seconds" in ok.content
    staff = django_user_model.objects.create_user("ops", password="pw-123456789", is_staff=True)
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CALLSEAL_AGENT_PEEK_MS", "16"),
        ("CALLSEAL_AGENT_PEEK_MS", "soon"),
        ("CALLSEAL_AGENT_FAINT_DBFS", "-5"),
        ("CALLSEAL_AGENT_FAINT_DBFS", "nan"),
    ],
)
def test_bad_pause_settings_stop_the_start_with_the_settings_name(name, value):
    env = {**os.environ, name: value}
    result = subprocess.run(
        [sys.executable, "-c", "import callseal.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


async def test_an_utterance_counts_the_silences_inside_it_not_the_one_before_it():
    """The player's gaps reach the Speech through its pieces' listeners: the silence
    before the first piece is the reply's latency; one before a later piece is dead air."""

    async def send(text: str) -> None:
        pass

    now = [50.0]
    player = Player(send=send, stream_sid="MZ" + "0" * 32, lead_ms=300, clock=lambda: now[0])
    speech = Speech(kind="reply", turn=1)
    pcm = np.full(320, 3000, dtype=np.int16)  # 40 ms at 8 kHz
    player.enqueue(pcm, sample_rate=8000, text="", mark=False, listener=speech.add_piece(""))
    player.enqueue(pcm, sample_rate=8000, text="Hello.", listener=speech.add_piece("Hello."))
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0.02)
    now[0] += 0.3  # TTS is behind: the next sentence comes 220 ms after the audio ran out
    player.enqueue(pcm, sample_rate=8000, text="Bye.", listener=speech.add_piece("Bye."))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [round(s, 3) for s in speech.underruns] == [0.22]


class _Ledger(LedgerWriter):
    """The real writer's event builders; what they append is kept in a list."""

    def __init__(self) -> None:
        super().__init__(
            tenant=None,  # type: ignore[arg-type]
            call_id=uuid.uuid4(),
            transcript_key="",
            home_region="eu",
            stream_index=0,
        )
        self.events: list[object] = []

    def append(self, event: object, *, personal: bool = False, keep_raw: bool = True) -> None:
        self.events.append(event)


async def test_while_a_peek_is_out_partials_start_no_read_ahead_and_the_peek_does():
    """The LLM server reads ahead one request at a time: a partial arriving after the peek
    was sent carries older words than the peek's and would hold that one slot (and the
    cores the peek's pass needs) when the peek's own read-ahead comes."""
    read: list[tuple[int, str]] = []

    class Signals:  # the coordinator, as the listener sees it: listening, reading ahead
        listening = True

        async def read_ahead(self, number: int, text: str) -> None:
            read.append((number, text))

    listener = Listener(
        Signals(),  # type: ignore[arg-type]
        turns=TurnDetector(TurnConfig(end_silence_ms=600)),
        new_asr=lambda on_partial: None,  # type: ignore[arg-type,return-value]
    )
    turn = listener.turn = CallerTurn(number=1, started_s=0.0, asr=None)  # type: ignore[arg-type]
    listener.on_partial(1, "what are your")
    await listener.tasks.settled()
    turn.peek = asyncio.get_running_loop().create_future()  # the caller's level dropped
    listener.on_partial(1, "what are your opening")
    await listener.tasks.settled()
    listener.on_partial(1, "what are your opening hours", peek=True)
    await listener.tasks.settled()
    assert read == [(1, "what are your"), (1, "what are your opening hours")]


async def test_a_speculative_reply_the_caller_talks_over_leaves_none_of_its_words_behind(
    tmp_path: Path,
) -> None:
    """At the pause inside a question a speculative reply takes ASR's words so far (the
    peek) and holds until the turn ends; the caller goes on speaking, which voids it. When
    the turn ends before the next peek has answered, the turn must wait for that answer,
    not record the half sentence the voided reply had read."""
    half, whole = "Could you tell me,", "Could you tell me, where I can park my car?"
    loop = asyncio.get_running_loop()
    peeks: list[asyncio.Future[str | None]] = []

    class Asr:  # ASR's side of one turn, answering peeks when the test says
        provenance, endpoint = None, ""

        def send(self, samples: np.ndarray) -> None:
            pass

        def peek(self) -> asyncio.Future[str | None]:
            peeks.append(loop.create_future())
            return peeks[-1]

        async def flush(self) -> str:
            return whole

        async def close(self) -> None:
            pass

    answered: list[str] = []

    class Consent:  # the consent step: every answer is about consent
        state = None
        tasks = OwnedTasks()

        def raw_allowed(self) -> bool:
            return False

        async def reply(self, turn: CallerTurn, text: str) -> bool:
            await turn.committed.wait()  # a speculative reply holds here, as a real one does
            answered.append(text)
            turn.outcome.set()
            return True

    ledger = _Ledger()
    conversation = Conversation(system_prompt="Be brief.")
    out: asyncio.Queue[object] = asyncio.Queue()
    speaker = Speaker(
        out=out,  # type: ignore[arg-type]
        writer=ledger,
        conversation=conversation,
        raw_allowed=lambda: False,
        endpoints=[],
        clients={},
        voice="joe-us",
        home_region="eu",
        storage_root=tmp_path,
    )
    consent = Consent()
    units = CallUnits(
        out=out,  # type: ignore[arg-type]
        writer=ledger,
        speaker=speaker,
        consent=consent,  # type: ignore[arg-type]
        payment=PaymentStep(gate=None, writer=ledger, speaker=speaker, stream_index=0),
        replier=Replier(
            spec=AgentSpec(name="Desk", system_prompt="Be brief.", greeting="Hello."),
            conversation=conversation,
            endpoints=[],
            llms={},
            speaker=speaker,
            consent=consent,  # type: ignore[arg-type]
            writer=ledger,
            call_id=uuid.uuid4(),
        ),
        listener=lambda signals: Listener(
            signals,
            turns=TurnDetector(TurnConfig(end_silence_ms=600)),
            new_asr=lambda on_partial: Asr(),  # type: ignore[arg-type,return-value]
        ),
        conversation=conversation,
        greeting="Hello.",
        escalation_queue="general",
        connections=(),
    )
    info = CallInfo(call_sid="CA" + "0" * 32, tenant_id=uuid.uuid4(), region="eu", agent_id=None)
    coordinator = Coordinator(info, units, resumed=None)
    coordinator.state = CallState.LISTENING  # the greeting was heard
    listener = coordinator.listener

    at = [0.0]

    async def frames(count: int, *, speech: bool) -> None:
        for _ in range(count):
            samples = np.full(512, 0.1 if speech else 0.0, dtype=np.float32)
            await listener.on_frame(VadFrame(at[0], 0.9 if speech else 0.0, samples))
            at[0] += 0.032
            await asyncio.sleep(0)

    await frames(12, speech=True)  # "Could you tell me,"
    await frames(6, speech=False)  # the pause: a peek, then a speculative reply
    assert len(peeks) == 1
    assert listener.turn is not None
    assert listener.turn.speculative
    peeks[0].set_result(half)
    for _ in range(5):
        await asyncio.sleep(0)
    assert listener.turn.text == half  # the speculative reply read the words so far
    await frames(12, speech=True)  # "where I can park my car?": the reply is void
    await frames(20, speech=False)  # another peek, another speculation, the turn's end
    turn = listener.turn
    assert turn.committed.is_set()
    assert len(peeks) == 2
    assert not peeks[1].done()
    peeks[1].set_result(whole)
    assert turn.reply is not None
    await turn.reply
    caller = [e for e in ledger.events if isinstance(e, ev.TurnCaller)]
    assert [e.text for e in caller] == [whole]
    assert answered == [whole]
    assert [t.text for t in conversation.turns] == [whole]
    await coordinator.tasks.close()
    await listener.close()
