from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calls.protocol import (
    FloodPolicy,
    InboundStream,
    Malformed,
    MalformedKind,
    Media,
    Start,
    parse_message,
)
from tests.calls.conftest import start_message

SID = "MZ" + "0" * 32


def media(seq: int, *, chunk: int = 1, ts: int = 0, payload: str | None = None) -> str:
    body = payload if payload is not None else base64.b64encode(b"\xff" * 160).decode()
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "streamSid": SID,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(ts),
                "payload": body,
            },
        }
    )


def started() -> InboundStream:
    stream = InboundStream()
    stream.accept(start_message(call_sid="CA" + "a" * 32, account_sid="AC" + "1" * 32, token="t"))
    return stream


def test_start_is_parsed_into_a_typed_message():
    message = parse_message(start_message(call_sid="CA" + "a" * 32, account_sid="AC1", token="x"))
    assert isinstance(message, Start)
    assert (message.sequence, message.custom_parameters, message.sample_rate) == (
        1,
        {"token": "x"},
        8000,
    )


def test_media_payload_is_decoded():
    message = parse_message(media(2, chunk=1, ts=0))
    assert message == Media(2, SID, "inbound", 1, 0, b"\xff" * 160)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("{not json", MalformedKind.INVALID_JSON),
        ("[]", MalformedKind.WRONG_TYPE),
        ('{"event": "dance"}', MalformedKind.UNKNOWN_EVENT),
        ('{"event": 5}', MalformedKind.UNKNOWN_EVENT),
        (media(2, payload="@@@@"), MalformedKind.BAD_BASE64),
        (media(2, payload=base64.b64encode(b"\xff" * 1601).decode()), MalformedKind.OVERSIZED),
        ("x" * 20000, MalformedKind.OVERSIZED),
        (media(2).replace('"chunk": "1"', '"chunk": 1'), MalformedKind.WRONG_TYPE),
        (
            media(2).replace('"sequenceNumber": "2"', '"sequenceNumber": "-2"'),
            MalformedKind.WRONG_TYPE,
        ),
        (
            '{"event": "mark", "sequenceNumber": "3", "streamSid": "MZ", "mark": []}',
            MalformedKind.WRONG_TYPE,
        ),
        (
            '{"event": "dtmf", "sequenceNumber": "3", "streamSid": "MZ", '
            '"dtmf": {"track": "inbound_track", "digit": "x"}}',
            MalformedKind.WRONG_TYPE,
        ),
    ],
)
def test_malformed_messages_are_classified(text, kind):
    with pytest.raises(Malformed) as raised:
        parse_message(text)
    assert raised.value.kind is kind


def test_binary_frames_are_malformed():
    with pytest.raises(Malformed) as raised:
        parse_message(None, b"\x00\x01")
    assert raised.value.kind is MalformedKind.BINARY_FRAME


def test_media_before_start_is_counted():
    stream = InboundStream()
    with pytest.raises(Malformed):
        stream.accept(media(2))
    assert stream.malformed == {MalformedKind.MEDIA_BEFORE_START: 1}


def test_sequence_numbers_must_go_forward():
    stream = started()
    stream.accept(media(2, chunk=1))
    stream.accept(media(3, chunk=2, ts=20))
    for seq in (3, 2):
        with pytest.raises(Malformed):
            stream.accept(media(seq, chunk=3, ts=40))
    assert stream.malformed == {MalformedKind.SEQUENCE_BACKWARDS: 2}
    assert stream.accept(media(4, chunk=3, ts=40)).sequence == 4


def test_a_message_for_another_stream_is_refused():
    stream = started()
    with pytest.raises(Malformed) as raised:
        stream.accept(media(2).replace(SID, "MZ" + "9" * 32))
    assert raised.value.kind is MalformedKind.WRONG_STREAM


def test_flood_policy_tolerates_bursts_and_trips_on_sustained_garbage():
    policy = FloodPolicy(capacity=50, leak_per_s=10)
    assert not any(policy.record(now=0.0) for _ in range(50))
    assert policy.record(now=0.0)
    slow = FloodPolicy(capacity=50, leak_per_s=10)
    # Five bad messages a second for a minute never adds up to a flood.
    assert not any(slow.record(now=i * 0.2) for i in range(300))


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_parser_never_raises_anything_but_malformed_on_text(text):
    with contextlib.suppress(Malformed):
        parse_message(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.sampled_from(["connected", "start", "media", "dtmf", "mark", "stop"]),
    st.dictionaries(
        st.sampled_from(
            [
                "sequenceNumber",
                "streamSid",
                "start",
                "media",
                "dtmf",
                "mark",
                "stop",
                "protocol",
                "version",
            ]
        ),
        json_values,
    ),
)
def test_parser_never_raises_anything_but_malformed_on_wrong_shapes(event, body):
    with contextlib.suppress(Malformed):
        parse_message(json.dumps({"event": event, **body}))
