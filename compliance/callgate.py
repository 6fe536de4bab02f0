"""The compliance gate of one media stream: what may be heard by ASR and the recorder.

The Media Streams consumer makes one for every authorised stream and hands it to the
pipeline (``CallInfo.gate``). The transport feeds it every caller frame before the
pipeline sees it and every agent frame as it goes out on the line; the pipeline (which
hears the caller) feeds it consent decisions and payment steps. The gate:

- silences caller audio while a payment step runs and a short guard after it (PCI pause),
  for ASR and recording alike, and tells the transport not to count the keys pressed;
- writes the caller and agent tracks into an encrypted recording (compliance.recording)
  only while consent holds: the recording opens at the first frame after consent and is
  sealed when consent is revoked or the stream ends. Nothing from before consent is ever
  written: frames are dropped, not buffered, until then.

Audio offsets (consent and payment evidence) are positions in the stream's caller audio,
the Twilio media timeline the recording shares (a recording's sample 0 is the stream
offset at which consent held; ``recording.started`` does not need to say it, the consent
event does).

Recording I/O: appending is in-memory encryption plus a buffered write per 64 KiB chunk,
cheap enough for the event loop; opening and sealing touch the database and run in
threads, in order, on one task of the gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from channels.db import database_sync_to_async

from callseal.crypto.services import subject_ref_for
from callseal.ledger.events import RecordedEvent
from callseal.tenancy.context import TenantRef, tenant_context
from compliance import events as ev
from compliance.consent import (
    AnnouncementPlayed,
    CallConsent,
    ConsentDenied,
    ConsentGiven,
    ConsentRevoked,
    Evidence,
    Method,
    Requirement,
)
from compliance.pci import PaymentCapture
from compliance.recording.format import TrackSpec

log = logging.getLogger(__name__)
ACTOR = "compliance.recorder"
CALLER, AGENT = "caller", "agent"
# Frames that arrive while the recording file is being opened (after consent) are kept
# for at most this long; a database that slow loses the start rather than memory.
MAX_PENDING_S = 10


class CallGate:
    def __init__(
        self,
        *,
        tenant: TenantRef,
        call_id: uuid.UUID,
        call_sid: str,
        subject_ref: str,
        stream_index: int,
        sample_rate: int = 8000,
    ) -> None:
        self.tenant = tenant
        self.call_id = call_id
        self.call_sid = call_sid
        self.subject_ref = subject_ref  # "" for a withheld number: the call is its subject
        self.stream_index = stream_index
        self.sample_rate = sample_rate
        self.consent: CallConsent | None = None  # set by a pipeline that asks for consent
        self.payment: PaymentCapture | None = None
        self.recordings: list[uuid.UUID] = []  # opened by this stream, in order
        self._caller_pos = 0  # samples of caller audio seen by this stream
        self._agent_pos = 0
        self._recording = False  # frames are written (or pending) only while True
        self._session: Any = None  # compliance.recording.services.RecordingSession
        self._base = 0  # stream sample at the recording's sample 0
        self._pending: list[tuple[str, int, bytes]] = []
        self._pending_samples = 0
        self._ops: list[asyncio.Task[None]] = []
        self._closed = False

    # --- the transport's side (event loop, per 20 ms frame) ------------------------------
    @property
    def offset_ms(self) -> int:
        return self._caller_pos * 1000 // self.sample_rate

    @property
    def payment_active(self) -> bool:
        """True while keys are card data: the transport must not count or log them."""
        return self.payment is not None and self.payment.active

    def caller_audio(self, pcm: np.ndarray) -> np.ndarray:
        """One caller frame (int16 at ``sample_rate``) → what ASR and the recorder may hear."""
        capture = self.payment
        if capture is not None and capture.masking:
            pcm = np.frombuffer(capture.mask_audio(pcm.tobytes()), dtype=np.int16)
        elif capture is not None:
            self.payment = None  # the step and its guard are over
        if self._recording:
            self._write(CALLER, self._caller_pos, pcm)
        self._caller_pos += len(pcm)
        return pcm

    def agent_audio(self, pcm: np.ndarray) -> None:
        """One agent frame as it goes out on the line (int16 at ``sample_rate``)."""
        start = max(self._agent_pos, self._caller_pos)
        if self._recording:
            self._write(AGENT, start, pcm)
        self._agent_pos = start + len(pcm)

    def _write(self, track: str, start: int, pcm: np.ndarray) -> None:
        at = start - self._base
        if at < 0:
            return
        if self._session is None:
            if self._pending_samples < MAX_PENDING_S * self.sample_rate:
                self._pending.append((track, at, pcm.astype("<i2").tobytes()))
                self._pending_samples += len(pcm)
            return
        self._append(track, at, pcm.astype("<i2").tobytes())

    def _append(self, track: str, at: int, data: bytes) -> None:
        from compliance.recording.services import recording_append

        try:
            recording_append(session=self._session, track=track, pcm=data, start_sample=at)
        except Exception:
            # A write that fails must not end the call; the recording stops here and is
            # sealed with what it has.
            log.exception("recording write failed; recording stopped")
            self._stop()

    # --- the pipeline's side --------------------------------------------------------------
    def consent_begin(
        self,
        *,
        requirement: Requirement | str,
        announcement_version: str,
        earlier: Iterable[Evidence] = (),
    ) -> CallConsent:
        """Consent for this stream, continuing the call's evidence from earlier streams."""
        self.consent = CallConsent.replay(
            requirement=Requirement(requirement),
            announcement_version=announcement_version,
            events=earlier,
        )
        self.sync()
        return self.consent

    def sync(self) -> None:
        """Start or stop recording to match consent (call after every consent change)."""
        allowed = self.consent is not None and self.consent.recording_allowed
        if allowed and not self._recording and not self.recordings and not self._closed:
            self._recording = True
            self._base = self._caller_pos
            self._agent_pos = max(self._agent_pos, self._caller_pos)
            self._run(self._open())
        elif not allowed and self._recording:
            self._stop()

    def payment_begin(self, capture: PaymentCapture) -> None:
        self.payment = capture

    def evidence_event(self, evidence: Evidence) -> object:
        """The ledger event of one consent record of this stream."""
        at = evidence.at.astimezone(UTC).isoformat()
        version, offset = evidence.announcement_version, evidence.audio_offset_ms
        if isinstance(evidence, AnnouncementPlayed):
            return ev.ConsentAnnouncementPlayed(
                announcement_version=version,
                at=at,
                audio_offset_ms=offset,
                requirement=str(evidence.requirement),
                stream_index=self.stream_index,
            )
        kinds: dict[type, Any] = {
            ConsentGiven: ev.ConsentGivenEvent,
            ConsentDenied: ev.ConsentDeniedEvent,
            ConsentRevoked: ev.ConsentRevokedEvent,
        }
        decided: Any = evidence
        return kinds[type(evidence)](
            announcement_version=version,
            at=at,
            audio_offset_ms=offset,
            method=str(decided.method),
            signal=decided.signal,
            stream_index=self.stream_index,
        )

    # --- recording lifecycle (ordered, off the loop) --------------------------------------
    def _run(self, op: Any) -> None:
        previous = self._ops[-1] if self._ops else None

        async def ordered() -> None:
            if previous is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.shield(previous)
            await op

        self._ops.append(asyncio.get_running_loop().create_task(ordered()))

    async def _open(self) -> None:
        from compliance.recording.services import recording_start

        def start() -> Any:
            with tenant_context(self.tenant):
                # The same subject as the call's raw transcript (agents.voice.records).
                subject = self.subject_ref or subject_ref_for(f"call:{self.call_sid}")
                return recording_start(
                    call_id=self.call_id,
                    subject_ref=subject,
                    actor=ACTOR,
                    tracks=(
                        TrackSpec(CALLER, self.sample_rate),
                        TrackSpec(AGENT, self.sample_rate),
                    ),
                )

        try:
            session = await database_sync_to_async(start)()
        except Exception:
            log.exception("recording could not start")
            self._recording = False
            self._pending.clear()
            return
        self.recordings.append(session.recording_id)
        self._session = session
        pending, self._pending, self._pending_samples = self._pending, [], 0
        for track, at, data in pending:
            self._append(track, at, data)
        if not self._recording:  # consent withdrawn while the file was being opened
            self._run(self._seal())

    def _stop(self) -> None:
        self._recording = False
        self._pending.clear()
        self._pending_samples = 0
        if self._session is not None:
            self._run(self._seal())

    async def _seal(self) -> None:
        from compliance.recording.services import recording_finish

        session, self._session = self._session, None
        if session is None:
            return

        def finish() -> None:
            with tenant_context(self.tenant):
                recording_finish(session=session, actor=ACTOR)

        try:
            await database_sync_to_async(finish)()
        except Exception:
            log.exception("recording could not be sealed")

    async def close(self) -> None:
        """The stream ended: seal the recording (whatever consent says now)."""
        self._closed = True
        if self.payment is not None and self.payment.active:
            self.payment.cancel()
        if self._recording:
            self._stop()
        for task in list(self._ops):
            with contextlib.suppress(Exception):
                await asyncio.shield(task)


@dataclass(frozen=True, slots=True)
class CallConsentRecord:
    """A call's consent so far, read back from its ledger events (for a new stream)."""

    requirement: Requirement
    announcement_version: str | None
    evidence: list[Evidence]


def consent_from_events(events: Iterable[RecordedEvent]) -> CallConsentRecord:
    """``consent.required`` and the evidence events of earlier streams, in order. A call
    without ``consent.required`` (started before consent gating) needs explicit consent."""
    requirement = Requirement.EXPLICIT
    version: str | None = None
    evidence: list[Evidence] = []
    for event in events:
        data = event.data
        if event.type == "consent.required":
            requirement = Requirement(data["requirement"])
            continue
        if event.type not in _EVIDENCE:
            continue
        at = datetime.fromisoformat(data["at"])
        version = data["announcement_version"]
        offset = int(data["audio_offset_ms"])
        if event.type == "consent.announcement_played":
            evidence.append(
                AnnouncementPlayed(version, at, offset, Requirement(data["requirement"]))
            )
        else:
            cls = _EVIDENCE[event.type]
            evidence.append(cls(version, at, offset, Method(data["method"]), data["signal"]))
    return CallConsentRecord(requirement, version, evidence)


_EVIDENCE: dict[str, Any] = {
    "consent.announcement_played": AnnouncementPlayed,
    "consent.given": ConsentGiven,
    "consent.denied": ConsentDenied,
    "consent.revoked": ConsentRevoked,
}
