"""Fixed phrases (greeting, consent announcement, apology, hand-over, goodbye, hold)
synthesised once per configuration and replayed from a cache, so the first words play at
once after answer and the apology plays even when the inference service is down.

The cache key covers the region, voice, rate and text: a changed greeting is a new entry.
Entries live in memory and on disk under the region's storage root (the audio is business
text, not personal data, but it stays in the region that synthesised it), with the
provenance of the TTS session that made them, for the call's ``inference.hop`` event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calls.audio import Pcm
from inference.client import InferenceClient, Provenance

RATE = 8000  # the phone line's rate: the player sends it without resampling


@dataclass(frozen=True, slots=True)
class CachedPrompt:
    text: str
    pcm: Pcm
    provenance: Provenance
    endpoint: str


_memory: dict[str, CachedPrompt] = {}
_locks: dict[str, asyncio.Lock] = {}


def _key(region: str, voice: str, text: str) -> str:
    return hashlib.sha256(f"v1|{region}|{voice}|{RATE}|{text}".encode()).hexdigest()


def _load(path: Path, text: str) -> CachedPrompt | None:
    meta_path = path.with_suffix(".json")
    if not (path.exists() and meta_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    pcm = np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.int16)
    return CachedPrompt(
        text=text, pcm=pcm, provenance=Provenance(**meta["provenance"]), endpoint=meta["endpoint"]
    )


def _store(path: Path, prompt: CachedPrompt) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(prompt.pcm.astype("<i2").tobytes())
    tmp.replace(path)
    meta = {
        "provenance": {
            "region": prompt.provenance.region,
            "service": prompt.provenance.service,
            "model": prompt.provenance.model,
            "model_version": prompt.provenance.model_version,
            "engine": prompt.provenance.engine,
        },
        "endpoint": prompt.endpoint,
    }
    path.with_suffix(".json").write_text(json.dumps(meta))


async def cached_prompt(
    *, client: InferenceClient, endpoint: str, region: str, voice: str, text: str, root: Path
) -> CachedPrompt:
    """The phrase's audio at 8 kHz: from memory, from disk, or synthesised now."""
    key = _key(region, voice, text)
    if key in _memory:
        return _memory[key]
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        if key in _memory:
            return _memory[key]
        path = root / "agent-prompts" / f"{key}.pcm"
        prompt = await asyncio.to_thread(_load, path, text)
        if prompt is None:
            chunks: list[bytes] = []
            async with client.tts(voice=voice, sample_rate=RATE) as tts:
                async for chunk in tts.stream(text, speak_id="prompt"):
                    chunks.append(chunk)
                provenance = tts.provenance
            pcm = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.int16)
            prompt = CachedPrompt(text=text, pcm=pcm, provenance=provenance, endpoint=endpoint)
            await asyncio.to_thread(_store, path, prompt)
        _memory[key] = prompt
        return prompt
