"""The Twilio Media Streams consumer: transport only.

It authenticates the stream (handshake signature + one-time token bound to the CallSid),
parses and validates each message, decodes caller audio onto the pipeline's bounded queue,
and plays what the pipeline yields through the per-call Player. Malformed input is counted
and logged and never ends a healthy call; a flood of it does. The stream is finalised
exactly once, whichever of stop, disconnect, refusal, flood or the pipeline's hang-up comes
first.

Until a stream is authorised it is a stranger's socket: it must send a valid ``start``
within CALLSEAL_MEDIA_START_TIMEOUT_S, and a peer (and the process) may hold only so many
such sockets (``Admission``). Every stream's inbound messages are rate-limited
(``protocol.RatePolicy``). Each refusal closes with 1008 and logs one line.

Per-frame work (μ-law table lookup, one soxr call) costs tens of microseconds, well below
the cost of handing it to a thread, so it stays on the event loop; the pipeline runs its
heavy stages (ASR, TTS) off the loop itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from calls import services
from calls.audio import PIPELINE_RATE, TELEPHONE_RATE, GapTracker, StreamResampler, ulaw_decode
from calls.models import CallStatus
from calls.pipeline import (
    AgentAudio,
    BargeIn,
    CallerAudio,
    CallerDtmf,
    CallInfo,
    HangUp,
    PipelineInput,
    pipeline_factory,
)
from calls.player import Player
from calls.protocol import (
    Connected,
    Dtmf,
    InboundStream,
    Malformed,
    Mark,
    Media,
    RatePolicy,
    Start,
    Stop,
)
from calls.signatures import websocket_signature, websocket_url
from callseal.observability import call_log_context
from compliance.callgate import CallGate

log = logging.getLogger(__name__)
POLICY_VIOLATION = 1008
_END = object()


class Admission:
    """Unauthenticated media sockets of this process, per peer address and in total."""

    def __init__(self) -> None:
        self.per_peer: dict[str, int] = {}
        self.total = 0

    def admit(self, peer: str) -> bool:
        if (
            self.total >= settings.CALLSEAL_MEDIA_UNAUTHENTICATED_MAX
            or self.per_peer.get(peer, 0) >= settings.CALLSEAL_MEDIA_UNAUTHENTICATED_PER_PEER
        ):
            return False
        self.per_peer[peer] = self.per_peer.get(peer, 0) + 1
        self.total += 1
        return True

    def release(self, peer: str) -> None:
        left = self.per_peer.get(peer, 0) - 1
        if left > 0:
            self.per_peer[peer] = left
        else:
            self.per_peer.pop(peer, None)
        self.total = max(0, self.total - 1)


ADMISSION = Admission()
# Calls with a live stream in this process: a second stream for one of them is refused
# (across processes the token's stream index refuses it: calls.services.stream_authorise).
LIVE_CALLS: dict[str, services.StreamGrant] = {}


class MediaStreamConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Calls take no channel-layer messages: no layer receive loop per call (a Redis
        # poll in servers mode). The one source left is awaited in a plain loop, in the
        # same order and one message at a time: Channels' await_many_dispatch makes a task
        # and an asyncio.wait for every message (its cost is measured in docs/adr/0004).
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        self.admitted = False
        self.grant: services.StreamGrant | None = None
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            # Also when the task is cancelled (a worker shutting down).
            self._leave()

    def _leave(self) -> None:
        if self.admitted:
            self.admitted = False
            ADMISSION.release(self.peer)
        if self.grant is not None and LIVE_CALLS.get(self.grant.call_sid) is self.grant:
            del LIVE_CALLS[self.grant.call_sid]

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels (4.2+) runs close_old_connections in a worker thread before every
        # message: 50 thread hand-offs per second per call for nothing, as every query here
        # goes through database_sync_to_async, which closes old connections in its own
        # thread. That hop was a third of an echo call's CPU (docs/adr/0004).
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        self.peer = str((self.scope.get("client") or ("unknown",))[0])
        self.path_nonce = str(self.scope.get("url_route", {}).get("kwargs", {}).get("nonce", ""))
        if not ADMISSION.admit(self.peer):
            # Refused at the handshake (HTTP 403): no socket is held.
            log.warning(
                "media stream refused",
                extra={"reason": "too_many_unauthenticated", "peer": self.peer},
            )
            self.closing = self.finished = True  # nothing to finalise on the disconnect
            await self.close(code=POLICY_VIOLATION)
            return
        self.admitted = True
        self.inbound = InboundStream(rate=RatePolicy(settings.CALLSEAL_MEDIA_MAX_MESSAGES_PER_S))
        self.gaps = GapTracker()
        self.upsampler: StreamResampler | None = None  # only for pipelines above 8 kHz
        self.pipeline: Any = None
        self.stats = services.StreamStats()
        self.player: Player | None = None
        self.gate: CallGate | None = None
        self.queue: asyncio.Queue[Any] = asyncio.Queue(
            maxsize=settings.CALLSEAL_PIPELINE_QUEUE_FRAMES
        )
        self.tasks: list[asyncio.Task[None]] = []
        self.closing = False
        self.finished = False
        self.signature, self.signature_settings = websocket_signature(self.scope)
        self.url = websocket_url(self.scope)
        await self.accept()
        if not self.signature:
            await self._refuse("unsigned", call_sid="")
            return
        if not self.path_nonce:
            await self._refuse("wrong_stream_url", call_sid="")
            return
        self.tasks.append(asyncio.create_task(self._start_deadline()))

    # --- inbound -----------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        try:
            message = self.inbound.accept(text_data, bytes_data)
        except Malformed as exc:
            if self.inbound.flooded:
                log.warning("media stream flooded", extra={"kind": str(exc.kind)})
                if self.grant is None:
                    await self._refuse("flood", call_sid="")
                else:
                    await self._end("flood")
            elif self.inbound.malformed_total <= 10:
                log.info("malformed media-stream message", extra={"kind": str(exc.kind)})
            return
        if isinstance(message, Media):
            self._on_media(message)
        elif isinstance(message, Mark):
            if self.player is not None:
                self.player.on_mark(message.name)
        elif isinstance(message, Dtmf):
            # Keys of a payment step are card data: not even counted (compliance.pci).
            if self.gate is None or not self.gate.payment_active:
                self.stats.dtmf_count += 1
            self._to_pipeline(CallerDtmf(digit=message.digit))
        elif isinstance(message, Start):
            await self._authorise(message)
        elif isinstance(message, Stop):
            await self._end("stop")
        elif isinstance(message, Connected):
            pass

    def _on_media(self, media: Media) -> None:
        if self.grant is None or media.track not in ("inbound", "inbound_track"):
            return
        pcm = ulaw_decode(media.payload)
        fill = self.gaps.observe(
            chunk=media.chunk, timestamp_ms=media.timestamp_ms, samples=len(pcm)
        )
        if fill.silence_samples:
            pcm = np.concatenate([np.zeros(fill.silence_samples, dtype=np.int16), pcm])
        self.stats.frames_in += 1
        if self.gate is not None:
            pcm = self.gate.caller_audio(pcm)  # silence during a payment; the recording
        if self.upsampler is not None:
            pcm = self.upsampler.process(pcm)
        self._to_pipeline(CallerAudio(pcm=pcm, timestamp_ms=media.timestamp_ms))

    def _to_pipeline(self, item: PipelineInput) -> None:
        if self.grant is None:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A pipeline that falls a second behind loses audio rather than stalling the
            # socket (which would make Twilio drop the stream).
            self.stats.pipeline_overflow += 1

    # --- authorisation -----------------------------------------------------------------
    async def _start_deadline(self) -> None:
        await asyncio.sleep(settings.CALLSEAL_MEDIA_START_TIMEOUT_S)
        if self.grant is None and not self.closing:
            await self._refuse("no_start", call_sid="")

    async def _authorise(self, start: Start) -> None:
        try:
            if start.encoding != "audio/x-mulaw" or start.sample_rate != TELEPHONE_RATE:
                raise services.StreamRefused("media_format")
            live = LIVE_CALLS.get(start.call_sid)
            if live is not None:
                # Attributed to the tenant (a security event in its ledger) only when the
                # handshake is signed with the call's number's token: a stranger who merely
                # names a live CallSid gets the same 1008 and writes nothing.
                signed = await database_sync_to_async(services.stream_signature_valid)(
                    phone_number_id=live.phone_number_id,
                    url=self.url,
                    signature=self.signature,
                    signature_settings=self.signature_settings,
                )
                raise services.StreamRefused(
                    "concurrent_stream", tenant=live.tenant if signed else None
                )
            grant = await database_sync_to_async(services.stream_authorise)(
                token=start.custom_parameters.get("token", ""),
                call_sid=start.call_sid,
                account_sid=start.account_sid,
                url=self.url,
                signature=self.signature,
                signature_settings=self.signature_settings,
                stream_sid=start.stream_sid,
                path_nonce=self.path_nonce,
            )
        except services.StreamRefused as exc:
            await database_sync_to_async(services.stream_refused)(
                reason=exc.reason, tenant=exc.tenant, call_sid=start.call_sid
            )
            await self._refuse(exc.reason, call_sid=start.call_sid)
            return
        gate = CallGate(
            tenant=grant.tenant,
            call_id=grant.call_id,
            call_sid=grant.call_sid,
            subject_ref=grant.subject_ref,
            stream_index=grant.stream_index,
            sample_rate=TELEPHONE_RATE,
        )
        pipeline = pipeline_factory()(
            CallInfo(
                call_sid=grant.call_sid,
                tenant_id=grant.tenant.id,
                region=grant.tenant.region,
                agent_id=grant.agent_id,
                call_id=grant.call_id,
                subject_ref=grant.subject_ref,
                stream_index=grant.stream_index,
                gate=gate,
            )
        )
        if grant.resumed and hasattr(pipeline, "resume"):
            # The call's state is its events: continue from them on whichever worker this is.
            events = await database_sync_to_async(services.call_events_for)(grant=grant)
            pipeline.resume(events)
        input_rate = getattr(pipeline, "input_rate", PIPELINE_RATE)
        if input_rate != TELEPHONE_RATE:
            self.upsampler = StreamResampler(in_rate=TELEPHONE_RATE, out_rate=input_rate)
        self.pipeline = pipeline
        self.grant = grant
        LIVE_CALLS[grant.call_sid] = grant
        if self.admitted:  # authorised: no longer counts against the stranger limits
            self.admitted = False
            ADMISSION.release(self.peer)
        self.gate = gate
        self.player = Player(
            send=self._send_text,
            stream_sid=start.stream_sid,
            lead_ms=settings.CALLSEAL_PLAYER_LEAD_MS,
            on_frame=lambda frame: gate.agent_audio(ulaw_decode(frame)),
        )
        self.tasks.append(asyncio.create_task(self.player.run()))
        self.tasks.append(asyncio.create_task(self._run_pipeline(pipeline, self.player, grant)))

    async def _refuse(self, reason: str, *, call_sid: str) -> None:
        """Close with 1008 and one log line. Runs on the consumer's own task or on the start
        deadline's: the close goes straight to the server, never through a task that the
        disconnect that follows would cancel."""
        if self.closing:
            return
        log.warning(
            "media stream refused",
            extra={"reason": reason, "call_sid": call_sid[:34], "peer": self.peer},
        )
        self._leave()  # a refused socket no longer counts against its peer
        self.closing = True
        await self.base_send({"type": "websocket.close", "code": POLICY_VIOLATION})

    # --- outbound ----------------------------------------------------------------------
    async def _caller(self) -> AsyncIterator[PipelineInput]:
        while True:
            item = await self.queue.get()
            if item is _END:
                return
            yield item

    async def _run_pipeline(
        self, pipeline: Any, player: Player, grant: services.StreamGrant
    ) -> None:
        with call_log_context(grant.call_sid):
            hang_up = False
            try:
                async with contextlib.aclosing(pipeline.run(self._caller())) as outputs:
                    async for out in outputs:
                        if isinstance(out, AgentAudio):
                            player.enqueue(
                                out.pcm,
                                sample_rate=out.sample_rate,
                                text=out.text,
                                mark=out.mark,
                                listener=out.listener,
                            )
                        elif isinstance(out, BargeIn):
                            cutoff = await player.barge_in()
                            await database_sync_to_async(services.playback_interrupted)(
                                grant=grant, cutoff=cutoff
                            )
                        elif isinstance(out, HangUp):
                            hang_up = True
                            break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("call pipeline failed")
                await self._end("pipeline_error")
                return
            if hang_up:
                # The pipeline is closed (its events recorded, its snapshot final) before
                # the stream's end is recorded.
                await self._end("hang_up")

    async def _send_text(self, text: str) -> None:
        # Straight to the server's send: the consumer's send() only builds this message.
        if not self.closing:
            await self.base_send({"type": "websocket.send", "text": text})

    # --- the end -----------------------------------------------------------------------
    async def _end(self, reason: str) -> None:
        if reason == "flood":
            # Stop the flood first (the server drops the connection after a 1008), then
            # record; a normal end records first, so the pipeline is closed before the
            # socket.
            self.closing = True
            await self.base_send({"type": "websocket.close", "code": POLICY_VIOLATION})
            await self._finish(reason)
            return
        await self._finish(reason)
        await self.close(code=1000)

    async def disconnect(self, code: int) -> None:
        await self._finish("disconnected")

    async def _finish(self, reason: str) -> None:
        if self.finished:
            return
        self.finished = True
        self.closing = True
        current = asyncio.current_task()
        owned = [task for task in self.tasks if task is not current]
        for task in owned:
            task.cancel()
        for task in owned:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.gate is not None:
            await self.gate.close()  # seal the recording before the stream's end is recorded
        if self.grant is None:
            return
        self._collect_stats()
        snapshot = getattr(self.pipeline, "snapshot", None)
        await database_sync_to_async(services.stream_finalise)(
            grant=self.grant,
            reason=reason,
            stats=self.stats,
            pipeline_state=snapshot() if snapshot is not None else {},
        )
        if reason in ("stop", "flood", "hang_up"):
            # Twilio sends stop when the call ends; a flood or the pipeline's hang-up ends
            # it from our side (the <Redirect> that follows is then answered with a
            # hang-up).
            status = CallStatus.FAILED if reason == "flood" else CallStatus.COMPLETED
            await database_sync_to_async(services.call_finalise)(
                tenant=self.grant.tenant, call_sid=self.grant.call_sid, status=status
            )

    def _collect_stats(self) -> None:
        self.stats.lost_frames = self.gaps.lost_frames
        self.stats.silence_ms = self.gaps.silence_ms
        self.stats.malformed = dict(self.inbound.malformed)
        if self.player is not None:
            self.stats.frames_out = self.player.stats.frames_sent
            self.stats.marks_sent = self.player.stats.marks_sent
            self.stats.marks_heard = self.player.stats.marks_heard
            self.stats.heard = list(self.player.stats.heard)
