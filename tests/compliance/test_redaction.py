import json
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import CommandError, call_command

from benchmarks.bench_redaction import ENTITY_TYPES, score
from benchmarks.redaction_corpus import generate
from compliance.redaction import Entity, redact_text, redaction_engine

pytestmark = pytest.mark.slow  # loads the spaCy model once per process


def spans(text):
    return [(e.type, text[e.start : e.end]) for e in redact_text(text).entities]


def test_spoken_card_and_phone_are_redacted_with_offsets_in_the_original():
    text = (
        "yes my card is four one one one one one one one one one one one one one one one "
        "and you can reach me at two one two five five five one two three four"
    )
    result = redact_text(text)
    assert (
        result.redacted_text
        == "yes my card is <CREDIT_CARD> and you can reach me at <PHONE_NUMBER>"
    )
    card = "four one one one one one one one one one one one one one one one"
    assert result.entities == [
        Entity("CREDIT_CARD", text.index(card), text.index(card) + len(card), 1.0),
        Entity("PHONE_NUMBER", text.index("two one two"), len(text), 0.95),
    ]


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("my social is one two three, four five, six seven eight nine", "my social is <US_SSN>"),
        ("email is jane dot doe at outlook dot com thanks", "email is <EMAIL_ADDRESS> thanks"),
        ("I was born on March third nineteen eighty five", "I was born on <DATE_OF_BIRTH>"),
        ("date of birth oh three one five nineteen eighty five", "date of birth <DATE_OF_BIRTH>"),
        (
            "my account number is double four seven eight nine one two three",
            "my account number is <ACCOUNT_NUMBER>",
        ),
        ("card 4556-7375-8689-9855 exp soon", "card <CREDIT_CARD> exp soon"),
        (
            "reach me at j.smith@example.com or 415-555-0100",
            "reach me at <EMAIL_ADDRESS> or <PHONE_NUMBER>",
        ),
        ("my name is John Smith", "my name is <PERSON>"),
        ("I have two kids and three dogs", "I have two kids and three dogs"),
        ("", ""),
    ],
)
def test_redacted_text(text, redacted):
    assert redact_text(text).redacted_text == redacted


def test_placeholder_covers_words_of_overlapping_entities():
    # spaCy sees a PERSON in "John Smith at", our email rule takes "smith at ...": whatever
    # the winner, no word of either span survives.
    text = "it's John Smith at gmail dot com"
    out = redact_text(text).redacted_text
    assert "Smith" not in out
    assert "gmail" not in out


def test_engine_is_one_per_process_and_thread_safe():
    assert redaction_engine() is redaction_engine()
    texts = [
        f"my card is four one one one one one one one one one one one one one one one {i}"
        for i in range(3)
    ]
    texts += ["call me at two one two five five five one two three four", "hello there"] * 4
    expected = [redact_text(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(redact_text, texts)) == expected


def test_presidio_never_reaches_for_the_public_suffix_list():
    import tldextract

    redact_text("mail a@b.com")
    assert tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls == ()


def test_redaction_logs_no_personal_data_even_at_debug():
    records: list[logging.LogRecord] = []

    class Everything(logging.Handler):
        def emit(self, record):
            records.append(record)

    root = logging.getLogger()
    handler, old = Everything(level=logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        redact_text("my card is 4556737586899855 and my name is Jonathan Whitaker")
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    for record in records:
        text = record.getMessage() + repr(record.args)
        assert "4556737586899855" not in text
        assert "Whitaker" not in text


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="unsupported language 'de'"):
        redact_text("hallo", language="de")
    with pytest.raises(ValueError, match="longer than 20000"):
        redact_text("a" * 20_001)
    with pytest.raises(TypeError):
        redact_text(None)  # type: ignore[arg-type]


def test_redact_command_prints_json(capsys):
    call_command("redact", text="my ssn is 078-05-1120 ok", json=True)
    assert json.loads(capsys.readouterr().out) == {
        "redacted_text": "my ssn is <US_SSN> ok",
        "entities": [{"type": "US_SSN", "start": 10, "end": 21, "score": 0.95}],
    }


def test_redact_command_prints_text_and_entities(capsys):
    call_command("redact", text="call two one two five five five one two three four")
    assert capsys.readouterr().out == "call <PHONE_NUMBER>\nPHONE_NUMBER\t5\t50\t0.95\n"


def test_redact_command_rejects_overlong_text():
    with pytest.raises(CommandError, match="longer than"):
        call_command("redact", text="x" * 20_001)


def test_recall_and_precision_on_a_fresh_seed_of_the_evaluation_set():
    samples = generate(per_entity=20, mixed=20, seed=7)
    predictions = [
        [(e.type, e.start, e.end) for e in redact_text(s.text).entities] for s in samples
    ]
    scores = score(samples, predictions)
    for entity in ENTITY_TYPES:
        recall, precision, n = scores[entity]
        assert n >= 20
        assert recall >= 0.95, (entity, recall)
        assert precision >= 0.80, (entity, precision)
