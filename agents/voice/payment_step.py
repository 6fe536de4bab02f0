"""The collect_payment step (compliance/pci.py): caller audio is silenced (for ASR and the
recording) from before the first prompt until a guard after the last key; keys go only to
the capture's memory and on to the processor; the events carry no digits. The
coordinator holds the call in its payment state while ``collect`` runs."""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings
from django.utils import timezone

from agents.voice.ledger_writer import LedgerWriter
from agents.voice.listening import CallerTurn
from agents.voice.speaking import Speaker
from compliance.callgate import CallGate
from compliance.events import PaymentPausedEvent, PaymentResumedEvent
from compliance.pci import PaymentCapture, PaymentProcessor, SecretDigits

log = logging.getLogger(__name__)
PAYMENT_FIELDS = (
    "Please type your card number on the keypad, then press the hash key.",
    "Now the expiry date, as four digits, month then year, then hash.",
    "And the security code from the back of the card, then hash.",
)
PAYMENT_RESULTS = {
    "approved": "Thank you, your payment was approved.",
    "declined": "I'm sorry, the card details were not accepted, so no payment was taken.",
    "timed_out": "I didn't receive the card details, so no payment was taken.",
    "error": "I'm sorry, the payment could not be processed, so no payment was taken.",
    "unavailable": "I'm sorry, I can't take a payment on this call.",
}


class PaymentStep:
    def __init__(
        self, *, gate: CallGate | None, writer: LedgerWriter, speaker: Speaker, stream_index: int
    ) -> None:
        self.gate = gate
        self.writer = writer
        self.speaker = speaker
        self.stream_index = stream_index
        self.capture: PaymentCapture | None = None
        self._keys = asyncio.Event()

    def key(self, digit: str) -> bool:
        """A key while the step collects: kept in memory only, never logged (True)."""
        capture = self.capture
        if capture is None or not capture.active:
            return False
        capture.dtmf(digit)
        self._keys.set()
        return True

    def begin(self, turn: CallerTurn) -> PaymentCapture | None:
        """Start capturing (``payment.paused``); None without a transport gate: keys could
        not be kept out of the recording."""
        gate = self.gate
        if gate is None:
            return None
        step_id = f"pay-{self.stream_index}-{turn.number}"
        capture = PaymentCapture(step_id=step_id, sample_rate=gate.sample_rate)
        paused = capture.start(at=timezone.now(), audio_offset_ms=gate.offset_ms)
        gate.payment_begin(capture)
        self.capture = capture
        self.writer.append(
            PaymentPausedEvent(
                step_id=step_id,
                at=paused.at.isoformat(),
                audio_offset_ms=paused.audio_offset_ms,
                stream_index=self.stream_index,
            )
        )
        return capture

    async def collect(self, turn: CallerTurn, capture: PaymentCapture) -> str:
        """Prompt for the fields, authorise, and record ``payment.resumed``; the key of
        the result to announce (``PAYMENT_RESULTS``)."""
        gate = self.gate
        assert gate is not None
        step_id = capture.step_id
        outcome, result = "cancelled", ""  # unless the keys come in (or time out)
        try:
            outcome = await self._keys_entered(turn, capture)
            _, values = capture.finish(at=timezone.now(), audio_offset_ms=gate.offset_ms)
            try:
                if outcome == "completed":
                    result = str(await asyncio.to_thread(_authorise, values, step_id))
            finally:
                for value in values.values():
                    value.wipe()
        finally:
            if capture.active:  # cancelled: the call ended during the step
                capture.cancel()
            self.capture = None
            self.writer.append(
                PaymentResumedEvent(
                    step_id=step_id,
                    at=timezone.now().isoformat(),
                    audio_offset_ms=gate.offset_ms,
                    outcome=outcome,
                    result=result,
                    stream_index=self.stream_index,
                )
            )
        return result.split(":")[0] if outcome == "completed" else outcome

    async def unavailable(self, turn: CallerTurn) -> None:
        prompt = await self.speaker.prompt(PAYMENT_RESULTS["unavailable"], turn=turn.number)
        await self.speaker.play(prompt, kind="payment", turn=turn.number)
        turn.outcome.set()

    async def announce(self, turn: CallerTurn, key: str) -> None:
        prompt = await self.speaker.prompt(PAYMENT_RESULTS[key], turn=turn.number)
        await self.speaker.play(prompt, kind="payment", turn=turn.number)

    async def _keys_entered(self, turn: CallerTurn, capture: PaymentCapture) -> str:
        """Prompt field by field until every field is entered ("completed") or the caller
        enters nothing for CALLSEAL_PAYMENT_TIMEOUT_S ("timed_out")."""
        loop = asyncio.get_running_loop()
        prompted = -1
        deadline = 0.0
        while not capture.complete:
            if capture.field_index != prompted:
                prompted = capture.field_index
                prompt = await self.speaker.prompt(PAYMENT_FIELDS[prompted], turn=turn.number)
                await self.speaker.play(prompt, kind="payment", turn=turn.number)
                turn.outcome.set()
                deadline = loop.time() + settings.CALLSEAL_PAYMENT_TIMEOUT_S
            self._keys.clear()
            try:
                await asyncio.wait_for(self._keys.wait(), deadline - loop.time())
            except TimeoutError:
                return "timed_out"
        return "completed"


def _authorise(values: dict[str, SecretDigits], reference: str) -> str:
    """Hand the captured fields to the configured processor (in a thread)."""
    from django.utils.module_loading import import_string

    try:
        processor: PaymentProcessor = import_string(settings.CALLSEAL_PAYMENT_PROCESSOR)()
        return str(processor.authorise(values, reference=reference))
    except Exception as exc:
        # The message may echo what the processor was given: only the type is logged.
        log.error("payment processor failed: %s", type(exc).__name__)
        return "error:processor"
