"""PCI pause: while a `collect_payment` step runs, DTMF goes only to memory and the
recorder and ASR hear silence.

Digits live in `SecretDigits` objects that refuse to be printed, logged, pickled or
serialised; the payment step hands them to the processor with `reveal()` and then `wipe()`s
them. The pause and resume records carry no digits and no digit counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn, Protocol

logger = logging.getLogger(__name__)

_DIGITS = frozenset("0123456789")
_DTMF = frozenset("0123456789*#ABCD")
MAX_FIELD_DIGITS = 19  # the longest primary account number
# DTMF tones are about 70-100 ms and Twilio reports the key after the tone, so the audio
# around the terminating key is kept silent a little longer after the step ends.
DEFAULT_GUARD_MS = 500


class PciError(ValueError):
    """Misuse of the payment capture (not active, bad digit, bad audio)."""


class SecretDigits:
    """Digits held only in memory. Printing shows a mask; pickling and copying refuse."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value = bytearray()

    def __len__(self) -> int:
        return len(self._value)

    def _append(self, digit: str) -> None:
        self._value += digit.encode("ascii")

    def reveal(self) -> str:
        """The digits, for the payment processor call only."""
        return self._value.decode("ascii")

    def wipe(self) -> None:
        # Best effort: overwrite in place before releasing (Python may hold other copies of
        # strings made by reveal(); callers keep those local and short-lived).
        for i in range(len(self._value)):
            self._value[i] = 0
        self._value.clear()

    def __repr__(self) -> str:
        return "SecretDigits(<redacted>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretDigits cannot be pickled or serialised")

    def __copy__(self) -> NoReturn:
        raise TypeError("SecretDigits cannot be copied")

    def __deepcopy__(self, memo: dict[int, Any]) -> NoReturn:
        raise TypeError("SecretDigits cannot be copied")


@dataclass(frozen=True, slots=True)
class PaymentPaused:
    step_id: str
    at: datetime
    audio_offset_ms: int


@dataclass(frozen=True, slots=True)
class PaymentResumed:
    step_id: str
    at: datetime
    audio_offset_ms: int
    outcome: str  # "completed" (every field entered) or "cancelled"


def silence_like(audio: bytes, *, encoding: str = "pcm_s16le") -> bytes:
    """Silence of the same length: zero samples for PCM16, 0xFF bytes for μ-law."""
    if encoding == "pcm_s16le":
        return bytes(len(audio))
    if encoding == "mulaw":
        return b"\xff" * len(audio)
    raise PciError(f"unknown audio encoding {encoding!r}")


class PaymentCapture:
    """DTMF capture for one payment step of `fields` fields, each ended by '#'.

    '*' clears the field being entered. While active (and for `guard_ms` of audio after),
    `mask_audio` returns silence; the call path must feed every DTMF event here first and
    pass it on (to consent handling) only when `dtmf` returns False.
    """

    def __init__(
        self,
        *,
        step_id: str,
        fields: tuple[str, ...] = ("card_number", "expiry", "security_code"),
        sample_rate: int = 8000,
        guard_ms: int = DEFAULT_GUARD_MS,
    ) -> None:
        if not fields or len(set(fields)) != len(fields):
            raise PciError("fields must be distinct and non-empty")
        if sample_rate not in (8000, 16000) or guard_ms < 0:
            raise PciError("sample_rate must be 8000 or 16000 and guard_ms non-negative")
        self.step_id = step_id
        self.fields = fields
        self._values = {name: SecretDigits() for name in fields}
        self._current = 0
        self.active = False
        self._guard_bytes_total = sample_rate * 2 * guard_ms // 1000
        self._guard_bytes_left = 0

    def start(self, *, at: datetime, audio_offset_ms: int) -> PaymentPaused:
        if self.active:
            raise PciError("payment capture already active")
        self.active = True
        logger.info("payment capture paused recording", extra={"step_id": self.step_id})
        return PaymentPaused(self.step_id, at, audio_offset_ms)

    def dtmf(self, digit: str) -> bool:
        """Consume one key while active; True when consumed (the caller must not log it)."""
        if not self.active:
            return False
        if not isinstance(digit, str) or digit not in _DTMF:
            # The offending value is not echoed: it may be a digit in an unexpected shape.
            raise PciError("not a DTMF key")
        if self._current >= len(self.fields):
            return True  # extra keys after the last field are swallowed, never kept
        field = self._values[self.fields[self._current]]
        if digit == "#":
            self._current += 1
        elif digit == "*":
            field.wipe()
        elif digit in _DIGITS and len(field) < MAX_FIELD_DIGITS:
            field._append(digit)
        logger.debug(
            "payment key received", extra={"step_id": self.step_id, "field": self._current}
        )
        return True

    @property
    def complete(self) -> bool:
        return self._current >= len(self.fields)

    @property
    def field_index(self) -> int:
        """The field being entered (== len(fields) once every field is done)."""
        return self._current

    @property
    def masking(self) -> bool:
        """True while caller audio must be silenced (the step, then its guard)."""
        return self.active or self._guard_bytes_left > 0

    def cancel(self) -> None:
        """End the step without a result (the call ended): every digit is wiped."""
        self.active = False
        for value in self._values.values():
            value.wipe()
        self._values = {}

    def mask_audio(self, audio: bytes, *, encoding: str = "pcm_s16le") -> bytes:
        """What the recorder and ASR may receive for this frame."""
        if self.active:
            return silence_like(audio, encoding=encoding)
        if self._guard_bytes_left > 0:
            # μ-law frames are half the bytes of PCM16 for the same duration.
            used = len(audio) * (2 if encoding == "mulaw" else 1)
            self._guard_bytes_left = max(0, self._guard_bytes_left - used)
            return silence_like(audio, encoding=encoding)
        return audio

    def finish(
        self, *, at: datetime, audio_offset_ms: int
    ) -> tuple[PaymentResumed, dict[str, SecretDigits]]:
        """End the step; returns the resume record and the captured fields (wipe them after use)."""
        if not self.active:
            raise PciError("payment capture is not active")
        self.active = False
        self._guard_bytes_left = self._guard_bytes_total
        outcome = "completed" if self.complete else "cancelled"
        logger.info("payment capture resumed recording", extra={"step_id": self.step_id})
        values, self._values = self._values, {}
        return PaymentResumed(self.step_id, at, audio_offset_ms, outcome), values


@dataclass(frozen=True, slots=True)
class PaymentResult:
    approved: bool
    reason: str = ""  # why it was declined; never contains the digits

    def __str__(self) -> str:
        return "approved" if self.approved else f"declined:{self.reason}"


class PaymentProcessor(Protocol):
    """What the collect_payment step hands the captured fields to (``reveal()`` inside,
    nothing kept). ``CALLSEAL_PAYMENT_PROCESSOR`` names the class."""

    def authorise(self, fields: dict[str, SecretDigits], *, reference: str) -> PaymentResult: ...


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= MAX_FIELD_DIGITS:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


class CardCheckProcessor:
    """Checks what a card gateway refuses before charging (Luhn, an expiry MMYY that has not
    passed, a 3-4 digit security code) and approves what passes. It moves no money: a
    deployment points ``CALLSEAL_PAYMENT_PROCESSOR`` at its gateway's adapter."""

    def __init__(self, *, today: date | None = None) -> None:
        self.today = today

    def authorise(self, fields: dict[str, SecretDigits], *, reference: str) -> PaymentResult:
        needed = ("card_number", "expiry", "security_code")
        if any(name not in fields or not len(fields[name]) for name in needed):
            return PaymentResult(False, "incomplete")
        if not luhn_valid(fields["card_number"].reveal()):
            return PaymentResult(False, "invalid_card_number")
        expiry = fields["expiry"].reveal()
        if len(expiry) != 4 or not 1 <= int(expiry[:2]) <= 12:
            return PaymentResult(False, "invalid_expiry")
        today = self.today or datetime.now(UTC).date()
        if (2000 + int(expiry[2:]), int(expiry[:2])) < (today.year, today.month):
            return PaymentResult(False, "expired")
        if len(fields["security_code"]) not in (3, 4):
            return PaymentResult(False, "invalid_security_code")
        return PaymentResult(True)
