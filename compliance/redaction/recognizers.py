"""Recognisers for numbers and dates as callers say them, run on the normalised text.

One recogniser types every digit string at once (card, SSN, phone, account), because the
same nine or ten digits can be any of them and only the words before them tell which: the
nearest cue word within a few words wins, then the shape (Luhn for cards, SSA rules for
SSNs, NANP rules for phones) decides the score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from compliance.redaction.context import CALENDAR_DATE, DATE_TIME

CREDIT_CARD = "CREDIT_CARD"
US_SSN = "US_SSN"
PHONE_NUMBER = "PHONE_NUMBER"
ACCOUNT_NUMBER = "ACCOUNT_NUMBER"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
CARD_SECURITY_CODE = "CARD_SECURITY_CODE"
CALENDAR_SCORE = 0.6

_CANDIDATE = re.compile(
    r"(?<![\w.+])\+?\d+(?:(?:[ \-./]|, | - )\(?\d+\)?)*(?![\w])|\(\d{3}\) ?\d{3}[ \-.]?\d{4}"
)
_WORD = re.compile(r"[a-z]+")
CONTEXT_WORDS = 8
_CUE_WORDS = {
    "card": "card credit debit visa mastercard amex discover pan",
    "ssn": "social ssn ss",
    "phone": "phone cell mobile telephone call reach callback fax text dial landline contact",
    "account": (
        "account acct member membership policy customer reference ref routing id iban "
        "confirmation order claim invoice case ticket loyalty subscriber client"
    ),
    "dob": "born birth birthday dob birthdate",
}
CUES: dict[str, str] = {
    word: category for category, words in _CUE_WORDS.items() for word in words.split()
}


@dataclass(frozen=True, slots=True)
class Found:
    entity: str
    start: int
    end: int
    score: float


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def ssn_valid(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def nanp_valid(digits: str) -> bool:
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789"


def cue_before(text: str, start: int) -> str | None:
    """The category of the nearest cue word among the few words before `start`."""
    window = text[max(0, start - 120) : start]
    # Cues belong to the nearest number: words before an earlier number are not ours.
    last_digit = max(window.rfind(d) for d in "0123456789")
    words = _WORD.findall(window[last_digit + 1 :].lower())[-CONTEXT_WORDS:]
    weak_phone = False
    for k in range(len(words) - 1, -1, -1):
        word = words[k]
        if word == "number":  # "account number", "card number"... or, alone, a phone
            weak_phone = True
            continue
        if word == "security":
            prev = words[k - 1] if k else ""
            return "ssn" if prev == "social" else "card_code"
        if word in ("cvv", "cvc", "cvv2", "csc", "cid"):
            return "card_code"
        if word == "code":
            prev = words[k - 1] if k else ""
            return "card_code" if prev in ("security", "card", "verification") else "code"
        if word == "pin":
            return "code"
        if word in ("expiry", "expiration", "expires", "exp"):
            return "expiry"
        if word in CUES:
            return CUES[word]
    return "number" if weak_phone else None


def classify_number(text: str, start: int, end: int) -> Found | None:
    """Type one digit string of the normalised text, or None if it is no identifier."""
    raw = text[start:end]
    digits = re.sub(r"\D", "", raw)
    n = len(digits)
    cue = cue_before(text, start)
    if cue in ("card_code", "code") and 3 <= n <= 4:
        # "CVV 123" always; a bare "code"/"PIN" only once a card number was said before it.
        if cue == "card_code" or _card_before(text, start):
            return Found(CARD_SECURITY_CODE, start, end, 0.9 if cue == "card_code" else 0.7)
        return None
    if cue in ("dob", "card_code", "code", "expiry"):
        return None
    luhn = 13 <= n <= 19 and luhn_ok(digits)
    if cue == "card" and 13 <= n <= 19:
        return Found(CREDIT_CARD, start, end, 1.0 if luhn else 0.5)
    if cue == "ssn" and n == 9:
        return Found(US_SSN, start, end, 0.95 if ssn_valid(digits) else 0.6)
    if cue == "number" and luhn:  # "the long number is ..." with a valid card checksum
        return Found(CREDIT_CARD, start, end, 0.9)
    if cue in ("phone", "number") and (nanp_valid(digits) or 7 <= n <= 15):
        return Found(PHONE_NUMBER, start, end, 0.95 if nanp_valid(digits) else 0.6)
    if cue == "account" and 5 <= n <= 20:
        return Found(ACCOUNT_NUMBER, start, end, 0.9)
    if luhn:
        return Found(CREDIT_CARD, start, end, 0.9)
    if cue is None and 15 <= n <= 19 and digits[0] in "3456" and not raw.isdigit():
        # Written in groups like a card, with a card's length and leading digit: a card with
        # one digit misheard (the checksum fails). An ungrouped run stays an account number.
        return Found(CREDIT_CARD, start, end, 0.6)
    if re.fullmatch(r"\d{3}-\d{2}-\d{4}", raw) and ssn_valid(digits):
        return Found(US_SSN, start, end, 0.85)
    if nanp_valid(digits) or raw.startswith("+"):
        return Found(PHONE_NUMBER, start, end, 0.7)
    if 10 <= n <= 11 and digits[0] == "0" and digits[1] != "0":
        # A national number with its trunk "0", as the UK, France and Germany write them.
        return Found(PHONE_NUMBER, start, end, 0.6)
    if n == 9 and ssn_valid(digits):
        return Found(US_SSN, start, end, 0.5)
    if 6 <= n <= 20:
        return Found(ACCOUNT_NUMBER, start, end, 0.45)
    return None


def _card_before(text: str, start: int) -> bool:
    return any(
        13 <= len(re.sub(r"\D", "", m.group())) <= 19 for m in _CANDIDATE.finditer(text[:start])
    )


def find_numbers(text: str) -> list[Found]:
    found = []
    for m in _CANDIDATE.finditer(text):
        hit = classify_number(text, m.start(), m.end())
        if hit:
            found.append(hit)
    return found


_MONTH_NAMES = (
    "january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul",
    "august aug", "september sep sept", "october oct", "november nov", "december dec",
)  # fmt: skip
_MONTH_NUM = {name: i for i, names in enumerate(_MONTH_NAMES, start=1) for name in names.split()}
_MONTH = r"(?P<m>" + "|".join(sorted(_MONTH_NUM, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<y>(?:19|20)\d{2})"
_DATES = [
    re.compile(rf"\b{_MONTH}\s+(?:the\s+)?{_DAY},?\s*{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH},?\s*{_YEAR}\b", re.IGNORECASE),
    re.compile(r"\b(?P<a>\d{1,2})[/\-. ](?P<b>\d{1,2})[/\-. ]" + _YEAR + r"\b"),
    re.compile(r"\b(?P<a>\d{2})(?P<b>\d{2})" + _YEAR + r"\b"),
    re.compile(r"\b" + _YEAR + r"-(?P<a>\d{2})-(?P<b>\d{2})\b"),
]


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return born.year >= 1900


def find_dates_of_birth(text: str) -> list[Found]:
    found: list[Found] = []
    for pattern in _DATES:
        for m in pattern.finditer(text):
            if cue_before(text, m.start()) != "dob":
                continue
            groups = m.groupdict()
            year = int(groups["y"])
            if groups.get("m"):
                ok = _real_date(year, _MONTH_NUM[groups["m"].lower()], int(groups["d"]))
            else:
                a, b = int(groups["a"]), int(groups["b"])
                ok = _real_date(year, a, b) or _real_date(year, b, a)
            if ok and not any(f.start < m.end() and m.start() < f.end for f in found):
                found.append(Found(DATE_OF_BIRTH, m.start(), m.end(), 0.95))
    return found


class SpokenNumberRecognizer(EntityRecognizer):
    """Cards (Luhn-checked) and their security codes, SSNs, phone and account numbers in the
    normalised text."""

    ENTITIES = [CREDIT_CARD, CARD_SECURITY_CODE, US_SSN, PHONE_NUMBER, ACCOUNT_NUMBER]

    def __init__(self) -> None:
        super().__init__(supported_entities=self.ENTITIES, name="SpokenNumberRecognizer")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(f.entity, f.start, f.end, f.score)
            for f in find_numbers(text)
            if f.entity in entities
        ]


class CalendarDateRecognizer(EntityRecognizer):
    """Calendar dates (a day and a month) that spaCy misses, such as "March the 5": they
    are proposed as DATE_TIME, and `context.keep_in_context` keeps those tied to a person."""

    def __init__(self) -> None:
        super().__init__(supported_entities=[DATE_TIME], name="CalendarDateRecognizer")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if DATE_TIME not in entities:
            return []
        return [
            RecognizerResult(DATE_TIME, m.start(), m.end(), CALENDAR_SCORE)
            for m in CALENDAR_DATE.finditer(text)
        ]


class DateOfBirthRecognizer(EntityRecognizer):
    """Dates said after a birth cue ("born", "date of birth", "DOB")."""

    def __init__(self) -> None:
        super().__init__(supported_entities=[DATE_OF_BIRTH], name="DateOfBirthRecognizer")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if DATE_OF_BIRTH not in entities:
            return []
        return [
            RecognizerResult(f.entity, f.start, f.end, f.score) for f in find_dates_of_birth(text)
        ]
