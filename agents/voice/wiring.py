"""One call's units, wired: the agent version the call uses (``call.agent_assigned`` on
its first stream), the inference endpoints its tenant's policy allows, and the listener,
replier, speaker, consent and payment steps and ledger writer that the coordinator
(agents/voice/pipeline.py) drives."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from channels.db import database_sync_to_async
from django.conf import settings

from agents.catalog import service_voice
from agents.pipeline.turns import TurnConfig, TurnDetector
from agents.pipeline.vad import VadStream
from agents.voice import records
from agents.voice.consent_step import ConsentStep, consent_begin, raw_transcript_allowed
from agents.voice.context import Conversation, ResumedState
from agents.voice.endpoints import endpoints_for
from agents.voice.ledger_writer import LedgerWriter
from agents.voice.listening import EXECUTOR, Listener, TurnSignals, asr_factory
from agents.voice.payment_step import PaymentStep
from agents.voice.replying import Replier
from agents.voice.speaking import Outbox, Speaker
from calls.pipeline import CallInfo
from compliance.consent import announcement_text
from compliance.policies import consent_announcement_base
from inference.client import InferenceClient
from inference.llm import LlmClient, LlmServer


@dataclass(frozen=True, slots=True)
class CallUnits:
    out: Outbox
    writer: LedgerWriter
    speaker: Speaker
    consent: ConsentStep
    payment: PaymentStep
    replier: Replier
    listener: Callable[[TurnSignals], Listener]
    conversation: Conversation
    greeting: str  # the greeting and the recording announcement, one utterance
    escalation_queue: str
    connections: Sequence[Any]  # inference and LLM clients, closed when the call ends


async def call_units(info: CallInfo, resumed: ResumedState | None) -> CallUnits:
    assert info.call_id is not None
    assert info.agent_id is not None
    setup = await database_sync_to_async(records.agent_call_setup)(
        tenant_id=info.tenant_id,
        call_id=info.call_id,
        call_sid=info.call_sid,
        agent_id=info.agent_id,
        subject_ref=info.subject_ref,
        resumed_version=resumed.agent_version if resumed else None,
    )
    spec = setup.spec
    endpoints = endpoints_for(home=info.region, policies=setup.policies, regions=settings.REGIONS)
    conversation = Conversation(system_prompt=spec.system_prompt)
    announcement = announcement_text(
        consent_announcement_base(setup.policies), setup.consent.requirement
    )
    consent = consent_begin(info.gate, record=setup.consent, announcement=announcement)
    for turn in resumed.history if resumed else ():
        conversation.add(turn.role, turn.text)
    vad = await asyncio.get_running_loop().run_in_executor(EXECUTOR, VadStream)
    tenant, call = str(info.tenant_id), str(info.call_id)
    clients = {
        e.region: InferenceClient(
            e.inference_url, token=e.inference_token, tenant=tenant, call=call
        )
        for e in endpoints
    }
    llms = {
        e.region: LlmClient(
            e.llm_url,
            server=cast(LlmServer, e.llm_server),
            token=e.llm_token,
            tenant=tenant,
            call=call,
        )
        for e in endpoints
    }
    writer = LedgerWriter(
        tenant=setup.tenant,
        call_id=info.call_id,
        transcript_key=setup.transcript_key,
        home_region=info.region,
        stream_index=info.stream_index,
    )
    out: Outbox = asyncio.Queue()
    speaker = Speaker(
        out=out,
        writer=writer,
        conversation=conversation,
        raw_allowed=functools.partial(raw_transcript_allowed, consent),
        endpoints=endpoints,
        clients=clients,
        voice=service_voice(spec.voice),
        home_region=info.region,
        storage_root=settings.REGIONS[info.region].storage_root,
    )
    consent_step = ConsentStep(gate=info.gate, consent=consent, writer=writer, speaker=speaker)
    new_asr = asr_factory(
        endpoints=endpoints, clients=clients, model=spec.asr_model, language=spec.language
    )
    return CallUnits(
        out=out,
        writer=writer,
        speaker=speaker,
        consent=consent_step,
        payment=PaymentStep(
            gate=info.gate, writer=writer, speaker=speaker, stream_index=info.stream_index
        ),
        replier=Replier(
            spec=spec,
            conversation=conversation,
            endpoints=endpoints,
            llms=llms,
            speaker=speaker,
            consent=consent_step,
            writer=writer,
            call_id=info.call_id,
        ),
        listener=lambda signals: Listener(
            signals,
            turns=TurnDetector(TurnConfig(end_silence_ms=spec.end_of_speech_ms)),
            new_asr=new_asr,
            vad=vad,
        ),
        conversation=conversation,
        greeting=f"{spec.greeting} {announcement}".strip(),
        escalation_queue=str(setup.policies.get("escalation_queue") or "general")[:80],
        connections=[*clients.values(), *llms.values()],
    )
