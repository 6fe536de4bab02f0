"""Chunk an LLM's token stream into sentences for TTS, so speech starts after the first
sentence rather than after the whole reply. With ``first_clause_words`` set, the reply's
first chunk may end at a clause (a comma, semicolon, colon or dash) once it has that many
words: the caller hears "Our opening hours are nine to five," while the LLM is still writing
the rest, and the clause is long enough (~1 s of speech) to cover the next chunk's TTS.
A first sentence with no such mark is cut before a conjunction or preposition once it has
two words more ("We take new patients | at the moment."), and only when the phrase after
the cut has begun, so the remainder is never a lone word. Such a chunk ends without
punctuation; ``spoken`` gives TTS a comma there, so it is said as a clause, not a
sentence. The same early cuts apply to the chunks after it until the reply has
``EARLY_CUT_WORDS`` words out: a short first sentence ("That's a good one.", ~1 s) followed
by a long one left the caller in silence while the LLM wrote and Piper read the whole long
sentence (turn.underrun, ADR 10); once ~3 s of speech is queued, whole sentences are
ready before it plays out."""

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
_CLAUSE = re.compile(r"[,;:]\s+|\s+[\u2014\u2013-]+\s+")  # comma, semicolon, colon, dashes
# Words a spoken phrase can start with: a comma-less first sentence may be cut before one.
_PHRASE_STARTS = frozenset(
    [
        "and",
        "but",
        "or",
        "so",
        "because",
        "since",
        "which",
        "who",
        "that",
        "when",
        "where",
        "while",
        "if",
        "than",
        "to",
        "for",
        "with",
        "from",
        "at",
        "in",
        "on",
        "by",
        "about",
        "after",
        "before",
        "until",
        "unless",
        "during",
        "through",
        "into",
        "over",
        "under",
    ]
)
_WORD = re.compile(r"\S+")
PHRASE_EXTRA_WORDS = 2  # a phrase cut needs this many words more than a clause cut
EARLY_CUT_WORDS = 10  # chunks may end early (clause, phrase) until this many words are out
MAX_CHARS = 250  # a runaway sentence is cut at a comma or space so TTS is not starved


class SentenceChunker:
    def __init__(self, *, max_chars: int = MAX_CHARS, first_clause_words: int = 0) -> None:
        if first_clause_words < 0:
            raise ValueError("first_clause_words must be 0 (off) or more")
        self.max_chars = max_chars
        self.first_clause_words = first_clause_words
        self._buffer = ""
        self._words_out = 0  # words in the chunks returned since the reply began

    def feed(self, delta: str) -> list[str]:
        """Add a token delta; return the sentences it completed."""
        self._buffer += delta
        sentences: list[str] = []
        if self.first_clause_words and self._words_out < EARLY_CUT_WORDS:
            sentences.extend(self._early_clause())
        while (end := self._sentence_end()) is not None:
            candidate, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
            if candidate:
                sentences.append(candidate)
        while len(self._buffer) > self.max_chars:
            cut = max(
                self._buffer.rfind(", ", 0, self.max_chars),
                self._buffer.rfind(" ", 0, self.max_chars),
            )
            cut = cut + 1 if cut > 0 else self.max_chars
            sentences.append(self._buffer[:cut].strip())
            self._buffer = self._buffer[cut:].lstrip()
        self._words_out += sum(len(s.split()) for s in sentences)
        return sentences

    def _sentence_end(self) -> int | None:
        """Where the buffer's first sentence ends (after its trailing space), if it does."""
        search_from = 0
        while (match := _BOUNDARY.search(self._buffer, search_from)) is not None:
            if not self._is_false_boundary(self._buffer[: match.start() + 1]):
                return match.end()
            search_from = match.end()
        return None

    def _early_clause(self) -> list[str]:
        """The buffer's opening clause, if it has enough words and ends before the
        buffer's first sentence does."""
        sentence_end = self._sentence_end()
        for match in _CLAUSE.finditer(self._buffer):
            if sentence_end is not None and match.end() > sentence_end:
                break
            clause = self._buffer[: match.end()].strip()
            if len(clause.split()) >= self.first_clause_words:
                self._buffer = self._buffer[match.end() :]
                return [clause]
        if sentence_end is None:
            return self._early_phrase()
        return []

    def _early_phrase(self) -> list[str]:
        """Cut before the first phrase-starting word that follows enough words, once the
        word after it has begun (the buffer is inside a sentence with no clause mark)."""
        words = list(_WORD.finditer(self._buffer))
        if words and words[-1].group()[-1] in ",;:":
            return []  # a clause mark waits for its space ("5,000"): the better cut
        # The last word may still be growing ("at" → "attend"): the phrase starter must be
        # followed by a word that has begun.
        for i in range(self.first_clause_words + PHRASE_EXTRA_WORDS, len(words) - 1):
            if words[i].group().lower() in _PHRASE_STARTS:
                phrase = self._buffer[: words[i].start()].strip()
                if phrase[-1].isalnum():
                    self._buffer = self._buffer[words[i].start() :]
                    return [phrase]
        return []

    def flush(self) -> list[str]:
        """The stream ended: whatever is left is the last sentence."""
        rest, self._buffer = self._buffer.strip(), ""
        self._words_out = 0
        return [rest] if rest else []

    @staticmethod
    def spoken(chunk: str) -> str:
        """The text TTS gets for a chunk: one that ends without punctuation (a phrase
        cut, or the end of a reply that stopped mid-sentence at its token limit) gets a
        comma, so it is read as a clause rather than with a sentence's falling end."""
        return f"{chunk}," if chunk and chunk[-1].isalnum() else chunk

    @staticmethod
    def _is_false_boundary(text: str) -> bool:
        if not text.endswith("."):
            return False
        words = text[:-1].split()
        last = words[-1].lower() if words else ""
        # "Dr. Smith", "e.g. this", or a lone initial such as "J. Smith".
        return last.rstrip(".") in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
