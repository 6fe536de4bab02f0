"""Chunk an LLM's token stream into sentences for TTS, so speech starts after the first
sentence rather than after the whole reply."""

from __future__ import annotations

import re

# Abbreviations whose full stop does not end a sentence in a spoken reply.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "approx",
        "no",
        "dept",
        "inc",
        "ltd",
        "co",
        "corp",
    ]
)
_BOUNDARY = re.compile(r"[.!?…]+[\"')\]]*\s+|\n+")
MAX_CHARS = 250  # a runaway sentence is cut at a comma or space so TTS is not starved


class SentenceChunker:
    def __init__(self, *, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars
        self._buffer = ""

    def feed(self, delta: str) -> list[str]:
        """Add a token delta; return the sentences it completed."""
        self._buffer += delta
        sentences: list[str] = []
        search_from = 0
        while True:
            match = _BOUNDARY.search(self._buffer, search_from)
            if match is None:
                break
            candidate = self._buffer[: match.end()]
            if self._is_false_boundary(self._buffer[: match.start() + 1]):
                search_from = match.end()
                continue
            if candidate.strip():
                sentences.append(candidate.strip())
            self._buffer = self._buffer[match.end() :]
            search_from = 0
        while len(self._buffer) > self.max_chars:
            cut = max(
                self._buffer.rfind(", ", 0, self.max_chars),
                self._buffer.rfind(" ", 0, self.max_chars),
            )
            cut = cut + 1 if cut > 0 else self.max_chars
            sentences.append(self._buffer[:cut].strip())
            self._buffer = self._buffer[cut:].lstrip()
        return sentences

    def flush(self) -> list[str]:
        """The stream ended: whatever is left is the last sentence."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    @staticmethod
    def _is_false_boundary(text: str) -> bool:
        if not text.endswith("."):
            return False
        words = text[:-1].split()
        last = words[-1].lower() if words else ""
        # "Dr. Smith", "e.g. this", or a lone initial such as "J. Smith".
        return last.rstrip(".") in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
