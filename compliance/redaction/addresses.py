"""Street addresses and postcodes (US, UK, French, German forms), on the normalised text.

Presidio has no address recogniser, and spaCy tags at most the city. An address here is a
house number and a street type, in the order each country says it: "221B Baker Street",
"flat 3, 12 Acacia Avenue" (number first, type last), "17 rue de Rivoli" (number, type,
name), "Hauptstraße 5" / "Berliner Straße 5" (name with its type, then the number). Spoken
numbers are digits by now ("seventeen rue de rivoli" reads "17 rue de rivoli"). A street
name without a number ("the store on Oxford Street") is a place, not someone's address.
A capitalised town right after the street and a comma belongs to the address. Postcodes: the
UK and Canadian shapes anywhere (nothing else looks like them), five digits only right after
a street address or a postcode cue.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

STREET_ADDRESS = "STREET_ADDRESS"
POSTAL_CODE = "POSTAL_CODE"

_STREET_TYPES = (
    "street st road rd avenue ave lane ln drive dr boulevard blvd way court ct place pl "
    "close crescent cres terrace gardens grove square sq parkway pkwy highway hwy circle cir "
    "trail mews hill"
)
# Words that cannot stand between a house number and its street type: "3 kids on the road"
# and "20 minutes down the road" are no addresses.
_NOT_STREET_NAME = (
    "a an the on in at to of and or for from with by down up my your our his her their "
    "is was are were it this that minutes hours days weeks months years times dollars "
    "pounds euros miles kilometers km cents people kids boxes items minute hour day week "
    "month year time dollar pound euro mile cent person kid box item"
)
_NAME_WORD = rf"(?!(?:{'|'.join(_NOT_STREET_NAME.split())})\b)[A-Za-z][\w'\u2019.-]*"
_UNIT = r"(?:(?:flat|apartment|apt|unit|suite)\s+\w+,?\s+)"
_HOUSE = r"\d{1,5}[A-Za-z]?"
_FR_TYPES = "rue avenue av boulevard bd place allée allee chemin impasse quai cours route passage"
_FR_LINK = r"(?:(?:de la|de l'|de|du|des|d'|la|le|les)\s*)?"
_DE_SUFFIX = r"(?:straße|strasse|str\.|weg|platz|allee|gasse|damm|ufer|chaussee)"
_DE_TYPE = r"(?:Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse)"

_STREETS = [
    re.compile(
        rf"\b{_UNIT}?{_HOUSE}\s+(?:{_NAME_WORD}\s+){{1,3}}(?:{'|'.join(_STREET_TYPES.split())})"
        r"\b\.?",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b{_UNIT}?{_HOUSE}(?:\s+(?:bis|ter))?,?\s+(?:{'|'.join(_FR_TYPES.split())})\s+"
        rf"{_FR_LINK}{_NAME_WORD}(?:\s+{_NAME_WORD})?",
        re.IGNORECASE,
    ),
    re.compile(rf"\b[^\W\d_]{{2,}}{_DE_SUFFIX}\s+\d{{1,4}}[a-z]?\b", re.IGNORECASE),
    re.compile(rf"\b[A-ZÄÖÜ][^\W\d_]+\s+{_DE_TYPE}\s+\d{{1,4}}[a-z]?\b"),
]
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")
_CA_POSTCODE = re.compile(r"\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b")
_POSTCODE_CUE = re.compile(
    r"\b(?:post\s?code|postal\s+code|zip(?:\s+code)?|postleitzahl|plz|code\s+postal)"
    r"(?:\s+(?:is|it's|was))?[\s:,]+(\d{4,5}(?:-\d{4})?)\b",
    re.IGNORECASE,
)
_AFTER_STREET = re.compile(r",?\s+(\d{5})\b")
# The town after a street address ("3 Church Lane, Little Snoring"), which spaCy often misses.
_TOWN_AFTER_STREET = re.compile(
    r",\s+(?!(?:Yes|No|Yeah|Thanks|Please|And|But|So|Okay|OK|I)\b)"
    r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2}\b"
)


def find_addresses(text: str) -> list[tuple[str, int, int]]:
    """(type, start, end) of every street address and postcode in `text`."""
    found: list[tuple[str, int, int]] = []

    def add(kind: str, start: int, end: int) -> None:
        if not any(s < end and start < e for _, s, e in found):
            found.append((kind, start, end))

    for pattern in _STREETS:
        for m in pattern.finditer(text):
            town = _TOWN_AFTER_STREET.match(text, m.end())
            add(STREET_ADDRESS, m.start(), town.end() if town else m.end())
    for _, _, end in list(found):
        after = _AFTER_STREET.match(text, end)
        if after:
            add(POSTAL_CODE, after.start(1), after.end(1))
    for pattern in (_UK_POSTCODE, _CA_POSTCODE):
        for m in pattern.finditer(text):
            add(POSTAL_CODE, m.start(), m.end())
    for m in _POSTCODE_CUE.finditer(text):
        add(POSTAL_CODE, m.start(1), m.end(1))
    return sorted(found, key=lambda f: f[1])


class AddressRecognizer(EntityRecognizer):
    """Street addresses and postcodes."""

    def __init__(self) -> None:
        super().__init__(supported_entities=[STREET_ADDRESS, POSTAL_CODE], name="AddressRecognizer")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(kind, start, end, 0.85)
            for kind, start, end in find_addresses(text)
            if kind in entities
        ]
