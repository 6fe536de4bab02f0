"""Pipecat 1.14's voice agent, the peer of benchmarks/bench_voice_agent.py. Runs in its own
virtualenv (var/bench-venvs/pipecat, pipecat-ai==1.14.0 with its websocket, silero,
whisper, piper and openai extras), never in the project's.

Pipecat's own services throughout, as its Twilio examples wire them: FastAPI WebSocket
transport + TwilioFrameSerializer; Silero VAD and the default user-turn strategies (VAD stop
0.2 s, then the bundled smart-turn v3 model); WhisperSTTService (faster-whisper) on the
same local model directory, device and compute type as our inference service; the
OpenAI-compatible OpenAILLMService pointed at the same llama.cpp server; PiperTTSService
on the same voice file. Nothing is downloaded: the model directory and the voice's folder
are local paths, and HF_HUB_OFFLINE=1 makes any slip fail. Pipecat builds its services per
call (as its examples do); the Whisper model and the Piper voice they load are kept loaded
across calls here (as our inference service keeps its models), so no call pays a model load.

A probe (an observer) writes one JSON line per user turn to --timings: monotonic times of
the VAD stop, the final transcription, the first LLM text, the first TTS audio and the
output transport's BotStartedSpeakingFrame, so the benchmark can show where time goes.

Usage: python pipecat_agent_server.py --port P --whisper-dir D --voice-dir D --voice V
       --llm-url URL --llm-model M --system-prompt S --greeting G [--timings FILE]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pipecat.services.piper.tts as pipecat_piper
import pipecat.services.whisper.stt as pipecat_whisper
import uvicorn
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.task import PipelineParams
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

app = FastAPI()
ARGS = argparse.Namespace()
_LOADED: dict[tuple, object] = {}


def _keep_loaded(load):
    def cached(*args, **kwargs):
        key = (load, args, tuple(sorted(kwargs.items())))
        if key not in _LOADED:
            _LOADED[key] = load(*args, **kwargs)
        return _LOADED[key]

    return cached


class _PiperVoice:
    load = staticmethod(_keep_loaded(pipecat_piper.PiperVoice.load))


pipecat_whisper.WhisperModel = _keep_loaded(pipecat_whisper.WhisperModel)
pipecat_piper.PiperVoice = _PiperVoice


class TurnProbe(BaseObserver):
    """Per user turn: when each stage first produced something (time.monotonic)."""

    def __init__(self, call_sid: str, path: str | None) -> None:
        super().__init__(observe_every_push=False)  # once per frame: when it appeared
        self.call_sid = call_sid
        self.path = path
        self.turn: dict[str, float] | None = None

    def _flush(self) -> None:
        if self.turn is not None and self.path:
            with open(self.path, "a") as out:
                out.write(json.dumps({"call_sid": self.call_sid, **self.turn}) + "\n")

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        now = time.monotonic()
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            if data.direction != FrameDirection.DOWNSTREAM:
                return  # the same event is broadcast upstream too
            self._flush()
            self.turn = {"vad_stop": now}
            return
        if self.turn is None:
            return
        if isinstance(frame, TranscriptionFrame):
            self.turn.setdefault("transcription", now)
        elif isinstance(frame, LLMTextFrame):
            self.turn.setdefault("llm_first_text", now)
        elif isinstance(frame, TTSAudioRawFrame):
            self.turn.setdefault("tts_first_audio", now)
        elif isinstance(frame, BotStartedSpeakingFrame):
            self.turn.setdefault("first_out", now)  # the output transport sends audio

    def close(self) -> None:
        self._flush()
        self.turn = None


@app.post("/twilio/voice")
async def voice(request: Request) -> Response:
    host = request.headers["host"]
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="ws://{host}/ws"></Stream>'
        "</Connect></Response>"
    )
    return Response(content=twiml, media_type="text/xml")


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    messages = websocket.iter_text()
    await messages.__anext__()  # connected
    start = json.loads(await messages.__anext__())["start"]
    serializer = TwilioFrameSerializer(
        stream_sid=start["streamSid"],
        call_sid=start["callSid"],
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
            audio_out_10ms_chunks=2,  # 20 ms, Twilio's frame size
        ),
    )
    stt = WhisperSTTService(
        device="cpu",
        compute_type="int8",
        settings=WhisperSTTService.Settings(model=ARGS.whisper_dir),
    )
    llm = OpenAILLMService(
        base_url=ARGS.llm_url,
        api_key="unused",
        settings=OpenAILLMService.Settings(
            model=ARGS.llm_model,
            system_instruction=ARGS.system_prompt,
            max_tokens=ARGS.max_tokens,
            temperature=0.3,
        ),
    )
    tts = PiperTTSService(
        download_dir=Path(ARGS.voice_dir),
        settings=PiperTTSService.Settings(voice=ARGS.voice),
    )
    context = LLMContext()
    aggregators = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
    )
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            aggregators.user(),
            llm,
            tts,
            transport.output(),
            aggregators.assistant(),
        ]
    )
    probe = TurnProbe(start["callSid"], ARGS.timings)
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=8000),
        observers=[probe],
    )

    @transport.event_handler("on_client_connected")
    async def on_connected(transport, client):
        await worker.queue_frames([TTSSpeakFrame(ARGS.greeting)])

    @transport.event_handler("on_client_disconnected")
    async def on_disconnected(transport, client):
        await worker.cancel()

    try:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()
    finally:
        probe.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--whisper-dir", required=True)
    parser.add_argument("--voice-dir", required=True)
    parser.add_argument("--voice", required=True)
    parser.add_argument("--llm-url", required=True)
    parser.add_argument("--llm-model", required=True)
    parser.add_argument("--system-prompt", required=True)
    parser.add_argument("--greeting", required=True)
    parser.add_argument("--max-tokens", type=int, default=60)
    parser.add_argument("--timings")
    parser.add_argument("--log-level", default="WARNING")
    parser.parse_args(namespace=ARGS)
    # Pipecat logs every frame at DEBUG by default; a fair comparison runs it quiet.
    logger.remove()
    logger.add(sys.stderr, level=ARGS.log_level)
    uvicorn.run(app, host="127.0.0.1", port=ARGS.port, log_level="warning", ws="websockets")


if __name__ == "__main__":
    main()
