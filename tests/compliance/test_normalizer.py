import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.redaction.normalizer import normalize
from compliance.redaction.numbers import words_to_digits
from compliance.redaction.recognizers import cue_before, find_numbers, luhn_ok


def mapped(text: str, needle: str) -> str:
    """The original words behind `needle` in the normalised text."""
    n = normalize(text)
    start = n.text.index(needle)
    a, b = n.to_original(start, start + len(needle))
    return text[a:b]


@pytest.mark.parametrize(
    ("words", "digits"),
    [
        ("four one one one", "4111"),
        ("oh three", "03"),
        ("double five six", "556"),
        ("triple seven", "777"),
        ("twenty one", "21"),
        ("nineteen eighty five", "1985"),
        ("twenty oh five", "2005"),
        ("two thousand twelve", "2012"),
        ("nineteen hundred", "1900"),
        ("five hundred twenty", "520"),
        ("one eight hundred five five five", "1800555"),
    ],
)
def test_words_to_digits(words, digits):
    assert words_to_digits(words.split()) == digits


def test_spoken_card_becomes_digits_and_maps_back_to_the_words():
    text = "my card is four one one one one one one one one one one one one one one one thanks"
    n = normalize(text)
    assert n.text == "my card is 4111111111111111 thanks"
    assert mapped(text, "4111111111111111") == text[11:-7]
    assert mapped(text, "thanks") == "thanks"


def test_dash_and_comma_groups():
    assert normalize("two one two dash five five five dash one two three four").text == (
        "212-555-1234"
    )
    assert normalize("one two three, four five, six seven eight nine").text == "123 45 6789"
    assert normalize("twenty-one").text == "21"


def test_oh_is_zero_only_among_numbers():
    assert normalize("oh, I see. it's oh seven seven double oh nine").text == (
        "oh, I see. it's 077009"
    )
    assert normalize("oh no").text == "oh no"


def test_written_digits_stay_as_written():
    text = "card 4111 1111 1111 1111 or (212) 555-1234"
    assert normalize(text).text == text


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("it is john dot smith at gmail dot com", "it is john.smith@gmail.com"),
        ("email j smith eight two at yahoo dot co dot uk", "email jsmith82@yahoo.co.uk"),
        ("it's j o h n at example dot org", "it's john@example.org"),
        ("my email is diaz brian at example dot net", "my email is diazbrian@example.net"),
        ("mail nancy zero five at adams-nash dot com", "mail nancy05@adams-nash.com"),
        ("x at smith dash jones dot io", "x@smith-jones.io"),
        ("j underscore doe at mail dot example dot com", "j_doe@mail.example.com"),
        ("meet me at noon", "meet me at noon"),
        ("I'm at home dot", "I'm at home dot"),
    ],
)
def test_spoken_emails(text, normalized):
    assert normalize(text).text == normalized


def test_email_maps_back_to_every_spoken_word():
    text = "it's jane dot doe at outlook dot com, thanks"
    assert mapped(text, "jane.doe@outlook.com") == "jane dot doe at outlook dot com"


def test_spelled_letters_and_ordinal_days():
    assert normalize("account a b one two three four").text == "account ab1234"
    assert normalize("born March third nineteen eighty five").text == "born March 3 1985"
    assert normalize("the twenty first of June").text == "the 21 of June"
    assert normalize("the second thing").text == "the second thing"


def test_cue_is_the_nearest_word_and_stops_at_an_earlier_number():
    text = "my social is 123456789 and reach me at 2125551234"
    assert cue_before(text, text.index("123456789")) == "ssn"
    assert cue_before(text, text.index("2125551234")) == "phone"
    assert cue_before("my account number is 5", 21) == "account"
    assert cue_before("the number is 5", 14) == "number"


def test_numbers_are_typed_by_cue_then_shape():
    def kinds(text):
        return [(f.entity, text[f.start : f.end]) for f in find_numbers(text)]

    assert kinds("card 4111111111111111") == [("CREDIT_CARD", "4111111111111111")]
    assert kinds("it's 4111111111111111") == [("CREDIT_CARD", "4111111111111111")]
    assert kinds("it's 4111111111111112") == [("ACCOUNT_NUMBER", "4111111111111112")]
    assert kinds("ssn 078-05-1120") == [("US_SSN", "078-05-1120")]
    assert kinds("policy number 2125551234") == [("ACCOUNT_NUMBER", "2125551234")]
    assert kinds("it's 2125551234") == [("PHONE_NUMBER", "2125551234")]
    assert kinds("the expiry is 0327 and code 123") == []
    assert kinds("I have 2 kids") == []
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")


_WORDS = ["four", "oh", "double", "at", "dot", "com", "gmail", "j", "a", "twenty", "one",
          "hundred", "dash", "March", "third", "hello", "7", "-", ",", "the", "of"]  # fmt: skip


@given(st.lists(st.sampled_from(_WORDS), max_size=25), st.sampled_from([" ", ", ", "  "]))
def test_offset_map_stays_inside_the_original_and_in_order(words, sep):
    text = sep.join(words)
    n = normalize(text)
    previous_end = 0
    for start in range(len(n.text)):
        a, b = n.to_original(start, start + 1)
        assert 0 <= a < b <= len(text)
        assert b >= previous_end
        previous_end = b
    if n.text:
        assert n.to_original(0, len(n.text)) == (0, len(text)) or text[0].isspace()


def test_unchanged_text_maps_character_for_character():
    text = "Hello there, how are you?"
    n = normalize(text)
    assert n.text == text
    assert [n.to_original(i, i + 1) for i in range(len(text))] == [
        (i, i + 1) for i in range(len(text))
    ]
