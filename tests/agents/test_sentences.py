from __future__ import annotations

from agents.pipeline.sentences import EARLY_CUT_WORDS, SentenceChunker


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


def test_chunks_may_end_at_a_clause_of_enough_words_until_the_reply_has_enough_words_out():
    chunker = SentenceChunker(first_clause_words=4)
    assert chunker.feed("Sure,") == []
    assert chunker.feed(" our opening hours are") == []  # "Sure," alone is too short
    assert chunker.feed(" nine to five,") == []  # no space yet: could be "5,000"
    assert chunker.feed(" Monday") == ["Sure, our opening hours are nine to five,"]
    # Eight words out are not yet enough speech ahead: the next chunk may end early too.
    second = chunker.feed(" to Friday, and on weekends, ten")
    assert second == ["Monday to Friday, and on weekends,"]
    # Fourteen words out: later chunks are whole sentences again, commas or not.
    assert EARLY_CUT_WORDS <= 14
    assert chunker.feed(" to two, except holidays. Bye") == ["ten to two, except holidays."]
    assert chunker.flush() == ["Bye"]
    # A flush ends the reply: the next one may start with a clause again.
    assert chunker.feed("Yes, we are open today, ") == ["Yes, we are open today,"]


def test_a_first_sentence_shorter_than_a_clause_is_still_one_chunk():
    chunker = SentenceChunker(first_clause_words=4)
    assert chunker.feed("Yes, sure. Our hours, as listed, are ") == ["Yes, sure."]
    # Two words out: the next sentence's clause may still be cut.
    assert chunker.feed("nine to five. ") == ["Our hours, as listed,", "are nine to five."]


def test_a_long_sentence_after_a_short_first_one_is_cut_so_speech_does_not_run_dry():
    """A reply from the voice bench that left the caller 99 ms of silence mid-reply: the
    long second sentence was one chunk, written and synthesised whole while the ~1 s
    first one played."""
    chunker = SentenceChunker(first_clause_words=3)
    reply = (
        "That's a good one. Old-asposed is the opposite of old, which means to be "
        "unforgiving and untouchable. "
    )
    chunks = [c for token in reply.split(" ") for c in chunker.feed(token + " ")]
    assert chunks == [
        "That's a good one.",
        "Old-asposed is the opposite of old,",
        "which means to be unforgiving and untouchable.",
    ]


def test_first_clause_words_must_not_be_negative():
    import pytest

    with pytest.raises(ValueError, match="first_clause_words"):
        SentenceChunker(first_clause_words=-1)


def test_a_whole_text_at_once_still_starts_with_its_clause():
    chunker = SentenceChunker(first_clause_words=4)
    text = "We are open nine to five, Monday to Friday. Call us back any time. "
    assert chunker.feed(text) == [
        "We are open nine to five,",
        "Monday to Friday.",
        "Call us back any time.",
    ]


def test_a_dash_ends_a_first_clause_too():
    chunker = SentenceChunker(first_clause_words=4)
    assert chunker.feed("We are open today \u2014 nine to five") == ["We are open today \u2014"]


def test_a_comma_less_first_sentence_is_cut_before_a_phrase_once_the_phrase_has_begun():
    chunker = SentenceChunker(first_clause_words=4)
    # Six words, then "at": the cut waits for the word after it, so the rest is not "at."
    assert chunker.feed("Yes we do take new patients at") == []
    assert chunker.feed(" the") == ["Yes we do take new patients"]
    assert chunker.feed(" moment. We are") == ["at the moment."]
    # A sentence that has ended by the time it is looked at is one chunk.
    assert chunker.feed(" open today and tomorrow from nine until five. ") == [
        "We are open today and tomorrow from nine until five."
    ]


def test_a_phrase_cut_needs_more_words_than_a_clause_and_a_real_word_boundary():
    chunker = SentenceChunker(first_clause_words=4)
    # "to" after four words is too early for a cut without a comma.
    assert chunker.feed("I would be happy to help you with") == []
    assert chunker.feed(" that today") == ["I would be happy to help you"]
    chunker = SentenceChunker(first_clause_words=4)
    # "attend" is not "at"; a sentence that ends first is one chunk.
    assert chunker.feed("Please bring your card when you attend. ") == [
        "Please bring your card when you attend."
    ]
    assert SentenceChunker().feed("We take new patients at the moment and on weekends ") == []


def test_a_chunk_cut_mid_sentence_is_spoken_as_a_clause():
    assert SentenceChunker.spoken("Yes we do take new patients") == "Yes we do take new patients,"
    assert SentenceChunker.spoken("at the moment.") == "at the moment."
    assert SentenceChunker.spoken("nine to five,") == "nine to five,"
    assert SentenceChunker.spoken("") == ""
