"""The agent's per-turn ASR session (agents/voice/speech.py ``AsrTurn``) over a real
inference service: peeks keep the audio, and a peek never outlives its stream."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from agents.voice.speech import AsrTurn
from inference.client import AsrStream, InferenceClient, InferenceError
from tests.inference.conftest import TOKEN
from tests.speech import librivox, silence

pytestmark = pytest.mark.slow


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def connect_to(url: str):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def connect() -> AsyncIterator[tuple[AsrStream, str]]:
        async with (
            InferenceClient(url, token=TOKEN) as client,
            client.asr(partials=False) as stream,
        ):
            yield stream, url

    return connect


async def test_a_peek_leaves_the_turn_whole_for_the_flush(inference_server):
    async with inference_server() as url:
        turn = AsrTurn(connect_to(url))
        turn.send(librivox("0880"))
        turn.send(silence(0.2))
        peeked = await turn.peek()
        turn.send(librivox("0930"))  # the caller went on
        text = await turn.flush()
        await turn.close()
    assert peeked is not None
    assert words(peeked)[:3] == ["he", "was", "not"]
    assert "amiable" not in peeked.lower()
    assert words(text)[:3] == ["he", "was", "not"]  # one segment: the peek took nothing away
    assert words(text)[-2:] == ["amiable", "himself"]
    assert turn.segments == [text]


async def test_a_peek_outstanding_when_the_stream_breaks_answers_none(inference_server):
    streams: list[AsrStream] = []
    connected = asyncio.Event()

    @asynccontextmanager
    async def connect() -> AsyncIterator[tuple[AsrStream, str]]:
        async with connect_to(url)() as (stream, endpoint):
            streams.append(stream)
            connected.set()
            yield stream, endpoint

    async with inference_server() as url:
        turn = AsrTurn(connect)
        turn.send(librivox("0870"))
        await asyncio.wait_for(connected.wait(), 10)
        peek = turn.peek()
        await streams[0].ws.close()  # the connection to the region's service is gone
        assert await asyncio.wait_for(peek, 10) is None  # no answer will come: not a hang
        with pytest.raises((InferenceError, OSError)):  # as INFERENCE_ERRORS has them
            await asyncio.wait_for(turn.flush(), 10)  # the flush says what went wrong
        await asyncio.wait_for(turn.close(), 10)
