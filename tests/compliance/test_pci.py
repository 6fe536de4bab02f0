import copy
import json
import logging
import pickle
import re
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from compliance.pci import PaymentCapture, PaymentPaused, PaymentResumed, PciError, SecretDigits
from compliance.recording import AesGcmKeyWrapper, RecordingReader, RecordingWriter, TrackSpec

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CARD = "4556737586899855"
EXPIRY = "0731"
CVV = "842"
SECRETS = (CARD, EXPIRY, CVV, CARD[:4], CARD[-4:])
# Standard DTMF frequency pairs (ITU-T Q.23).
_ROWS = {"1": 697, "2": 697, "3": 697, "4": 770, "5": 770, "6": 770, "7": 852, "8": 852,
         "9": 852, "*": 941, "0": 941, "#": 941}  # fmt: skip
_COLS = {"1": 1209, "4": 1209, "7": 1209, "*": 1209, "2": 1336, "5": 1336, "8": 1336,
         "0": 1336, "3": 1477, "6": 1477, "9": 1477, "#": 1477}  # fmt: skip


def tone(key: str, *, rate: int = 8000, ms: int = 20) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    wave = np.sin(2 * np.pi * _ROWS[key] * t) + np.sin(2 * np.pi * _COLS[key] * t)
    return (wave * 8000).astype("<i2").tobytes()


def keys() -> str:
    return f"{CARD}#{EXPIRY}#{CVV}#"


def test_captured_fields_are_revealed_only_on_request():
    capture = PaymentCapture(step_id="pay-1")
    paused = capture.start(at=T0, audio_offset_ms=1000)
    for key in "12*" + keys():  # '*' clears the mistyped start of the card number
        assert capture.dtmf(key) is True
    resumed, values = capture.finish(at=T0, audio_offset_ms=9000)
    assert paused == PaymentPaused("pay-1", T0, 1000)
    assert resumed == PaymentResumed("pay-1", T0, 9000, "completed")
    assert {name: v.reveal() for name, v in values.items()} == {
        "card_number": CARD,
        "expiry": EXPIRY,
        "security_code": CVV,
    }
    values["card_number"].wipe()
    assert values["card_number"].reveal() == ""


def test_keys_are_not_consumed_outside_a_payment_step():
    capture = PaymentCapture(step_id="pay-1")
    assert capture.dtmf("1") is False
    with pytest.raises(PciError, match="not active"):
        capture.finish(at=T0, audio_offset_ms=0)


def test_unfinished_step_is_cancelled_and_extra_keys_are_not_kept():
    capture = PaymentCapture(step_id="pay-2", fields=("card_number",))
    capture.start(at=T0, audio_offset_ms=0)
    for key in "1" * 25:
        capture.dtmf(key)
    resumed, values = capture.finish(at=T0, audio_offset_ms=5)
    assert resumed.outcome == "cancelled"
    assert values["card_number"].reveal() == "1" * 19


def test_bad_key_is_rejected_without_echoing_it():
    capture = PaymentCapture(step_id="pay-3")
    capture.start(at=T0, audio_offset_ms=0)
    with pytest.raises(PciError) as info:
        capture.dtmf("4556")
    assert "4556" not in str(info.value)


def test_secret_digits_never_print_pickle_copy_or_serialise():
    capture = PaymentCapture(step_id="pay-4")
    capture.start(at=T0, audio_offset_ms=0)
    for key in keys():
        capture.dtmf(key)
    resumed, values = capture.finish(at=T0, audio_offset_ms=1)
    secret = values["card_number"]
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", repr(values), repr(resumed)]
    assert all(CARD not in s and CARD[-4:] not in s for s in shown)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        copy.deepcopy(values)
    with pytest.raises(TypeError):
        json.dumps({"card": secret})
    assert isinstance(secret, SecretDigits)


def test_payment_digits_never_reach_any_log_record(caplog):
    records: list[logging.LogRecord] = []

    class Everything(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler = Everything(level=logging.DEBUG)
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        capture = PaymentCapture(step_id="pay-5")
        capture.start(at=T0, audio_offset_ms=0)
        for key in keys():
            capture.dtmf(key)
        _, values = capture.finish(at=T0, audio_offset_ms=1)
        logging.getLogger("callseal.test").debug("captured %s", values)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert len(records) >= len(keys())  # the capture does log, at DEBUG, on every key
    standard = set(vars(logging.makeLogRecord({})))
    for record in records:
        extras = {k: v for k, v in vars(record).items() if k not in standard}
        text = f"{record.getMessage()} {record.args!r} {extras!r}"
        assert not any(s in text for s in SECRETS), text


def test_recorder_and_asr_get_silence_during_payment_and_the_guard():
    capture = PaymentCapture(step_id="pay-6", guard_ms=40)
    speech = tone("5")  # any non-silent 20 ms frame
    assert capture.mask_audio(speech) == speech
    capture.start(at=T0, audio_offset_ms=0)
    assert capture.mask_audio(tone("4")) == bytes(320)
    assert capture.mask_audio(b"\x12" * 160, encoding="mulaw") == b"\xff" * 160
    capture.finish(at=T0, audio_offset_ms=1)
    assert capture.mask_audio(tone("#")) == bytes(320)  # guard: 40 ms = two frames
    assert capture.mask_audio(tone("#")) == bytes(320)
    assert capture.mask_audio(speech) == speech


def test_payment_tones_never_reach_the_recording_file(tmp_path):
    capture = PaymentCapture(step_id="pay-7")
    wrapper = AesGcmKeyWrapper(b"\x07" * 32, key_ref="subject:t")
    rid = uuid.uuid4()
    writer = RecordingWriter.create(
        storage_root=tmp_path,
        tenant_id=uuid.uuid4(),
        recording_id=rid,
        tracks=(TrackSpec("caller", 8000),),
        key_wrapper=wrapper,
        chunk_size=1024,
    )
    writer.write(track="caller", pcm=capture.mask_audio(tone("5")))
    capture.start(at=T0, audio_offset_ms=20)
    for key in keys():
        capture.dtmf(key)
        writer.write(track="caller", pcm=capture.mask_audio(tone(key)))
    capture.finish(at=T0, audio_offset_ms=2000)
    for _ in range(30):  # 25 frames of guard (500 ms), then normal audio again
        writer.write(track="caller", pcm=capture.mask_audio(tone("5")))
    path = writer.close()
    assert path is not None
    data = path.read_bytes()
    # Four or more digits cannot turn up in 60 KB of ciphertext by chance (the 3-digit CVV
    # could, about once in 300 runs); the clear header is checked for every secret.
    assert not any(s.encode() in data for s in SECRETS if len(s) >= 4)
    with RecordingReader.open(path, key_wrapper=wrapper) as reader:
        # The clear header holds random ids and nonces (uuid, hex, base64) where a secret's
        # digits turn up by chance (22 headers in 1,500); a secret written there would
        # stand as a value of its own.
        header = repr(reader.header)
        alone = [rf"(?<![\w+/=-]){s}(?![\w+/=-])" for s in SECRETS]
        assert not any(re.search(pattern, header) for pattern in alone), header
        frames = list(reader.frames())
    assert frames[0].pcm == tone("5")
    payment = frames[1 : 1 + len(keys())]
    assert all(f.pcm == bytes(320) for f in payment)
    assert frames[-1].pcm == tone("5")
