"""Test calls: an admin places a simulated call to an agent's number from its page.

The run (a scripted caller: waits out the greeting, presses 1 to agree to recording, says an
espeak-ng sentence, waits for the reply) drives calls.simulator against
this deployment's own Twilio webhook and media stream, exactly as a caller through Twilio
would; the call is then an ordinary call (ledger, console, transcript). The result (the
simulator's latency figures) is recorded as ``test_call.finished``.

Runner (CALLSEAL_TEST_CALL_RUNNER): ``celery`` (default) runs it on the region's worker;
``thread`` runs it on a small executor owned by this module, for a single-process
server (the browser tests' daphne) where no worker runs.
"""

from __future__ import annotations

import asyncio
import atexit
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from agents.selectors import agent_get
from analytics.events import AgentTestCallFinished, AgentTestCallRequested, agent_test_call_stream
from analytics.models import AgentTestCall, AgentTestCallStatus, CallSummary
from analytics.selectors import CallVoiceToVoice, call_voice_to_voice
from calls.models import TERMINAL_STATUSES, Call, CallStatus, PhoneNumber
from calls.selectors import call_get_by_sid
from callseal.ledger.envelope import on_commit, record, regional_write
from callseal.ledger.events import RecordedEvent
from callseal.ledger.projections import Projection, register_projection
from callseal.tenancy.context import TenantRef, current_tenant, tenant_context
from callseal.tenancy.models import Membership, Tenant
from callseal.tenancy.permissions import Perm, require

CALLER_SENTENCES = (
    "Hello, I would like to know the status of my order please.",
    "Hi, can you tell me your opening hours on Saturday?",
    "Good morning, I need to change the delivery address for my parcel.",
)
MAX_REPORT_ERROR = 300
_executor: ThreadPoolExecutor | None = None


class AgentTestCallProjection(Projection):
    name = "analytics.test_calls"
    inline = True
    types = ("test_call.requested", "test_call.finished")

    def apply(self, event: RecordedEvent) -> None:
        tenant = current_tenant()
        data = event.data
        if event.type == "test_call.requested":
            AgentTestCall.objects.get_or_create(
                id=uuid.UUID(data["test_call_id"]),
                tenant_id=tenant.id,
                defaults={
                    "agent_id": uuid.UUID(data["agent_id"]),
                    "agent_version": data["agent_version"],
                    "phone_number": data["phone_number"],
                    "twilio_call_sid": data["twilio_call_sid"],
                    "caller_text": data["caller_text"],
                    "status": AgentTestCallStatus.QUEUED,
                    "requested_by": event.metadata.get("actor", ""),
                    "requested_at": event.recorded_at,
                },
            )
        else:
            AgentTestCall.objects.filter(tenant_id=tenant.id, id=data["test_call_id"]).update(
                status=AgentTestCallStatus.FINISHED if data["ok"] else AgentTestCallStatus.FAILED,
                finished_at=event.recorded_at,
                report=data["report"],
            )

    def reset(self) -> None:
        AgentTestCall.objects.filter(tenant_id=current_tenant().id).delete()


register_projection(AgentTestCallProjection)


def _append(test_call_id: uuid.UUID, event: object, actor: str) -> None:
    """Record in the enclosing regional_write; the envelope applies AgentTestCallProjection."""
    record(stream_id=agent_test_call_stream(test_call_id), events=[event], actor=actor)


def agent_test_call_start(
    *, actor: Membership, agent_id: uuid.UUID, base_url: str
) -> AgentTestCall:
    """Record the request and start the run once it commits. Raises ValidationError when
    no phone number of this tenant is answered by the agent."""
    require(actor, Perm.MANAGE_AGENTS)
    tenant = current_tenant()
    agent = agent_get(agent_id=agent_id)
    number = (
        PhoneNumber.objects.filter(tenant_id=tenant.id, agent_id=agent.id)
        .exclude(twilio_auth_token_sealed="")
        .order_by("e164")
        .first()
    )
    if number is None:
        raise ValidationError(
            "Attach this agent to a phone number first (Settings → Phone numbers)."
        )
    test_call_id = uuid.uuid4()
    with regional_write(tenant):
        _append(
            test_call_id,
            AgentTestCallRequested(
                test_call_id=str(test_call_id),
                agent_id=str(agent.id),
                agent_version=agent.version,
                phone_number=number.e164,
                twilio_call_sid="CA" + uuid.uuid4().hex,
                caller_text=random.choice(CALLER_SENTENCES),  # noqa: S311 - not a secret
            ),
            actor=f"user:{actor.user_id}",
        )
        url = (settings.CALLSEAL_SELF_URL or base_url).rstrip("/")
        on_commit(lambda: _dispatch(tenant, test_call_id, url))
    return AgentTestCall.objects.get(tenant_id=tenant.id, id=test_call_id)


def _dispatch(tenant: TenantRef, test_call_id: uuid.UUID, base_url: str) -> None:
    global _executor
    if settings.CALLSEAL_TEST_CALL_RUNNER == "thread":
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-call")
            atexit.register(_executor.shutdown, wait=False, cancel_futures=True)
        _executor.submit(
            agent_test_call_run, tenant=tenant, test_call_id=test_call_id, base_url=base_url
        )
        return
    from analytics.tasks import run_test_call

    with tenant_context(tenant):
        run_test_call.delay(str(test_call_id), base_url)


def speak(text: str) -> Any:
    """The caller's sentence as 8 kHz PCM, synthesised by espeak-ng."""
    from calls.simulator import speak as simulator_speak

    return simulator_speak(text)


# Piper's en_US voices speak about 14 characters a second; the caller waits as if at 10,
# plus a margin, from the greeting's first audio before answering the recording question.
GREETING_CHARS_PER_S = 10
GREETING_MARGIN_S = 4.0
REPLY_WAIT_S = 9.0
# The test caller's script starts when it hears the greeting (at most this long after the
# answer): a greeting that starts late must not have the key pressed during the announcement.
LISTEN_FIRST_S = 20.0


def test_caller_script(
    greeting: str, caller_text: str, announcement: str
) -> tuple[Any, list[tuple[int, str]]]:
    """What the test caller does once it hears the greeting (``LISTEN_FIRST_S``): waits
    out the greeting and the recording announcement, presses 1 (yes to recording, by
    keypad so that it never depends on ASR), waits for the acknowledgement, says its
    sentence, then waits for the reply. Audio and (ms, key), timed from the greeting."""
    import numpy as np

    from calls.audio import TELEPHONE_RATE
    from calls.simulator import DTMF_TONE_MS, with_keypad
    from compliance.consent import Requirement, announcement_text

    spoken = f"{greeting} {announcement_text(announcement, Requirement.EXPLICIT)}"
    key_ms = round((len(spoken) / GREETING_CHARS_PER_S + GREETING_MARGIN_S) * 1000)
    sentence_ms = key_ms + DTMF_TONE_MS + 3500  # "Thank you. How can I help you today?"

    def silence(ms: int) -> Any:
        return np.zeros(ms * TELEPHONE_RATE // 1000, dtype=np.int16)

    sentence = speak(caller_text)
    audio = np.concatenate([silence(sentence_ms), sentence, silence(int(REPLY_WAIT_S * 1000))])
    keys = [(key_ms, "1")]
    return with_keypad(audio, keys), keys


def agent_test_call_run(*, tenant: TenantRef, test_call_id: uuid.UUID, base_url: str) -> None:
    """Place the call and record its result (never raises: a failure is a result)."""
    from calls import services
    from calls.simulator import Account, run_call
    from compliance.policies import consent_announcement_base

    with tenant_context(tenant):
        test_call = AgentTestCall.objects.get(tenant_id=tenant.id, id=test_call_id)
        report: dict[str, Any]
        try:
            number = PhoneNumber.objects.get(e164=test_call.phone_number, tenant_id=tenant.id)
            account = Account(
                base_url=base_url,
                number=number.e164,
                account_sid=number.twilio_account_sid,
                auth_token=services.phone_number_auth_token(number),
            )
            echo = settings.CALLSEAL_CALL_PIPELINE.endswith(".EchoPipeline")
            keys: list[tuple[int, str]] = []
            if echo:
                audio = speak(test_call.caller_text)
            else:
                greeting = str(agent_get(agent_id=test_call.agent_id).spec.get("greeting", ""))
                tenant_row = Tenant.objects.get(id=tenant.id)
                announcement = consent_announcement_base(dict(tenant_row.policies or {}))
                audio, keys = test_caller_script(greeting, test_call.caller_text, announcement)
            result = asyncio.run(
                run_call(
                    account,
                    audio,
                    dtmf=keys,
                    echo=echo,
                    call_sid=test_call.twilio_call_sid,
                    listen_first_s=0.0 if echo else LISTEN_FIRST_S,
                )
            )
            report = {
                "answer_to_first_audio_ms": _round(result.answer_to_first_audio_ms),
                "voice_to_voice_ms": _round(result.voice_to_voice_ms),
                "frames_sent": result.frames_sent,
                "frames_received": result.frames_received,
                "streams": result.streams,
                "error": (result.error or "")[:MAX_REPORT_ERROR],
            }
        except Exception as exc:  # recorded as the run's failure
            report = {"error": f"{type(exc).__name__}: {exc}"[:MAX_REPORT_ERROR]}
        with regional_write(tenant):
            _append(
                test_call_id,
                AgentTestCallFinished(
                    test_call_id=str(test_call_id), ok=not report["error"], report=report
                ),
                actor="console.test_call",
            )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def agent_test_call_get(*, test_call_id: uuid.UUID) -> AgentTestCall:
    from callseal.tenancy.selectors import tenant_object_get

    return tenant_object_get(AgentTestCall, id=test_call_id)


class AgentTestCallState(StrEnum):
    """Where a test call stands, as its page says it (agent_test_call_view)."""

    QUEUED = "queued"  # requested; the call has not reached the voice webhook yet
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"  # the call completed and the test caller reported success
    FELL_BACK = "fell_back"  # the agent apologised and handed over (agent.fallback)
    FAILED = "failed"  # the run failed, or the call ended busy/unanswered/failed

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


@dataclass(frozen=True, slots=True)
class AgentTestCallView:
    run: AgentTestCall
    call: Call | None
    state: AgentTestCallState
    v2v: CallVoiceToVoice
    fallbacks: int
    done: bool  # nothing on the page changes any more: it stops following the call


def agent_test_call_state(
    *, run_status: str, call_status: str | None, fallbacks: int
) -> AgentTestCallState:
    """The state a test call's page shows, from its run, its call (None: the webhook has
    not seen it yet) and the agent's fallbacks on that call."""
    run_over = run_status in (AgentTestCallStatus.FINISHED, AgentTestCallStatus.FAILED)
    if call_status is None:
        return AgentTestCallState.FAILED if run_over else AgentTestCallState.QUEUED
    if fallbacks:
        return AgentTestCallState.FELL_BACK
    if call_status == CallStatus.RINGING:
        return AgentTestCallState.RINGING
    if call_status not in TERMINAL_STATUSES or not run_over:
        # The call is over but the test caller has not reported yet: a verdict now could
        # flip to "failed" a moment later (e.g. it heard no reply).
        return AgentTestCallState.IN_PROGRESS
    if call_status == CallStatus.COMPLETED and run_status != AgentTestCallStatus.FAILED:
        return AgentTestCallState.COMPLETED
    return AgentTestCallState.FAILED


def agent_test_call_view(*, test_call_id: uuid.UUID) -> AgentTestCallView:
    """A test call as its page shows it: the run, the call it placed (once the webhook
    has seen it), an honest state, and the call's voice-to-voice by the same definition
    as the call page (analytics.selectors.call_voice_to_voice). Tenant-scoped: another
    tenant's test call is not found."""
    run = agent_test_call_get(test_call_id=test_call_id)
    call = call_get_by_sid(call_sid=run.twilio_call_sid)
    fallbacks = 0
    if call is not None:
        summary = CallSummary.objects.filter(tenant_id=run.tenant_id, call_id=call.id).first()
        fallbacks = summary.fallbacks if summary is not None else 0
    run_over = run.status in (AgentTestCallStatus.FINISHED, AgentTestCallStatus.FAILED)
    return AgentTestCallView(
        run=run,
        call=call,
        state=agent_test_call_state(
            run_status=run.status,
            call_status=call.status if call is not None else None,
            fallbacks=fallbacks,
        ),
        v2v=call_voice_to_voice(call_id=call.id)
        if call is not None
        else CallVoiceToVoice(0, None, None),
        fallbacks=fallbacks,
        done=run_over and (call is None or call.status in TERMINAL_STATUSES),
    )


def agent_test_calls_recent(*, agent_id: uuid.UUID, limit: int = 5) -> list[AgentTestCall]:
    return list(
        AgentTestCall.objects.filter(tenant_id=current_tenant().id, agent_id=agent_id)[:limit]
    )
