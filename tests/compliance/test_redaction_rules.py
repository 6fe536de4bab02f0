"""The meaning-keeping rules alone, on normalised text: no spaCy, no database."""

import pytest

from compliance.redaction.addresses import find_addresses
from compliance.redaction.context import personal_date, personal_place
from compliance.redaction.normalizer import normalize
from compliance.redaction.recognizers import find_numbers


class Anchor:
    def __init__(self, entity_type: str, start: int, end: int) -> None:
        self.entity_type, self.start, self.end = entity_type, start, end


def test_every_dash_between_digits_is_a_hyphen_and_maps_back():
    text = "card 4111\u20131111\u20111111\u22121111 ok"
    n = normalize(text)
    assert n.text == "card 4111-1111-1111-1111 ok"
    assert n.to_original(5, 24) == (5, 24)
    assert [(f.entity, n.text[f.start : f.end]) for f in find_numbers(n.text)] == [
        ("CREDIT_CARD", "4111-1111-1111-1111")
    ]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("get hold of me on 07911 123 456", "PHONE_NUMBER"),  # UK mobile, trunk 0
        ("it's 01 45 67 89 12", "PHONE_NUMBER"),  # French landline
        ("it's 0012345678", "ACCOUNT_NUMBER"),  # "00" is an international prefix, not a trunk
    ],
)
def test_a_national_number_with_its_trunk_zero_is_a_phone(text, kind):
    assert [f.entity for f in find_numbers(text)] == [kind]


def test_spelled_words_are_the_letters_said_one_by_one():
    n = normalize("that's K O W A L S K I, account a b one two, I am fine")
    assert [n.text[s:e] for s, e in n.spelled_words()] == ["KOWALSKI"]
    n = normalize("spelled B-E-L-L-O, not the T-shirt")
    assert n.text == "spelled BELLO, not the T-shirt"
    assert [n.text[s:e] for s, e in n.spelled_words()] == ["BELLO"]
    assert n.to_original(8, 13) == (8, 17)


@pytest.mark.parametrize(
    ("text", "date", "personal"),
    [
        ("the sale ends on the 25 of November", "25 of November", False),
        ("the promo ends on the 31st of December 2026", "31st of December 2026", False),
        ("what time do you close on Friday", "Friday", False),
        ("it has been three weeks", "three weeks", False),
        ("it's the 5 of May 1970", "5 of May 1970", True),  # a full date this old: a birth
        ("my appointment is on March the 5", "March the 5", True),
        ("I'm booked in for the 3 of June", "3 of June", True),
        ("I was born in 1982", "1982", True),
        ("we moved here in 2005", "2005", False),
    ],
)
def test_a_date_is_personal_only_as_a_calendar_date_tied_to_the_person(text, date, personal):
    start = text.index(date)
    assert personal_date(text, start, start + len(date)) is personal


def test_a_date_next_to_an_identifier_is_personal():
    text = "account 88231907 was opened on the 2 of May"
    date = text.index("2 of May")
    assert not personal_date(text, date, len(text))
    account = Anchor("ACCOUNT_NUMBER", 8, 16)
    assert personal_date(text, date, len(text), [account])


def test_a_place_is_personal_where_the_caller_lives_or_in_an_address():
    assert personal_place("I live in Leeds", 10, 15)
    assert not personal_place("we fly to Leeds", 10, 15)
    text = "48 boulevard Voltaire, 75011 Paris"
    postcode = Anchor("POSTAL_CODE", text.index("75011"), text.index("75011") + 5)
    assert personal_place(text, text.index("Paris"), len(text), [postcode])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I live at 17 rue de Rivoli", [("STREET_ADDRESS", "17 rue de Rivoli")]),
        ("it's 221B Baker Street, NW1 6XE", [
            ("STREET_ADDRESS", "221B Baker Street"), ("POSTAL_CODE", "NW1 6XE"),
        ]),
        ("Hauptstraße 5, 10115 Berlin", [
            ("STREET_ADDRESS", "Hauptstraße 5"), ("POSTAL_CODE", "10115"),
        ]),
        ("flat 3, 12 Acacia Avenue", [("STREET_ADDRESS", "flat 3, 12 Acacia Avenue")]),
        ("3 Church Lane, Little Snoring", [("STREET_ADDRESS", "3 Church Lane, Little Snoring")]),
        ("5 Main Street, Thanks", [("STREET_ADDRESS", "5 Main Street")]),
        ("zip code is 90210", [("POSTAL_CODE", "90210")]),
        ("I walked 3 blocks down Main Street", []),
        ("we waited 20 minutes on the road", []),
        ("is the store on Oxford Street open", []),
        ("I ordered 10115 units", []),
    ],
)  # fmt: skip
def test_addresses_need_a_house_number_and_a_street(text, found):
    assert [(k, text[s:e]) for k, s, e in find_addresses(text)] == found
