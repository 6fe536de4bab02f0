from __future__ import annotations

from agents.pipeline.sentences import SentenceChunker


def chunk(deltas: list[str]) -> list[str]:
    chunker = SentenceChunker()
    out = [s for d in deltas for s in chunker.feed(d)]
    return out + chunker.flush()


def test_sentences_come_out_as_soon_as_they_end():
    chunker = SentenceChunker()
    assert chunker.feed("Hello") == []
    assert chunker.feed(" there. How") == ["Hello there."]
    assert chunker.feed(" can I help?") == []  # no space yet: could be "?!" or a quote
    assert chunker.feed(" ") == ["How can I help?"]
    assert chunker.flush() == []


def test_abbreviations_initials_and_decimals_do_not_split():
    tokens = ["Dr.", " Smith", " and", " J.", " Doe", " charge", " $3.50", " each.", " Bye"]
    assert chunk(tokens) == ["Dr. Smith and J. Doe charge $3.50 each.", "Bye"]


def test_newlines_end_a_sentence_and_runaway_text_is_cut():
    assert chunk(["Line one\n", "line two"]) == ["Line one", "line two"]
    long = ("word " * 80).strip()
    pieces = chunk([long])
    assert all(len(p) <= 250 for p in pieces)
    assert " ".join(pieces) == long
