"""Entities that are personal data only in context: dates and places.

spaCy tags every time expression DATE/TIME and every city or country GPE/LOC, and Presidio
reports them as DATE_TIME and LOCATION. Redacting them all erases what callers mean ("what
time do you close on <DATE_TIME>"). A weekday, "next Friday", "this afternoon", "three
weeks", a month or a holiday identify nobody. A date does when it is a calendar date (day and
month) and is tied to the person: a birth date (a full date whose year is long past), an
appointment or booking of theirs, or a date said next to one of their identifiers. A place
does when it is where they live (after "I live in", "my address", "moved to") or part of an
address (right after a street address or postcode).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

DATE_TIME = "DATE_TIME"
LOCATION = "LOCATION"
CONTEXTUAL = frozenset({DATE_TIME, LOCATION})
# Entities that do not anchor a date: they are contextual themselves or name no one.
NOT_ANCHORS = CONTEXTUAL | {"NRP", "ORGANIZATION", "URL"}

CONTEXT_WORDS = 6
ANCHOR_CHARS = 40
BIRTH_YEARS_AGO = 16  # a full date at least this old is most likely someone's birth date
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
CALENDAR_DATE = re.compile(
    rf"(?:\b{_MONTH}\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?!\w))(?:,?\s*(?:19|20)\d{{2}}\b)?"
    r"|\b\d{1,2}[/\-]\d{1,2}(?:[/\-]\d{2,4})?\b|\b\d{1,2}\.\d{1,2}\.\d{2,4}\b"
    r"|\b\d{4}-\d{2}-\d{2}\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_WORD = re.compile(r"[a-z']+")


def _words(words: str) -> frozenset[str]:
    return frozenset(words.split())


DATE_CUES = _words(
    "appointment appointments appt booked booking scheduled reschedule rescheduled surgery "
    "operation procedure visit consultation admitted discharged born birthday birth "
    "hearing"
)
BIRTH_CUES = _words("born birth birthday dob birthdate")
PLACE_CUES = _words(
    "live lives living lived reside resides residing resident address moved home born postcode"
)
_ADDRESS_GAP = re.compile(r"\s*,?\s*(?:in\s+)?")
ADDRESS_TYPES = frozenset({"STREET_ADDRESS", "POSTAL_CODE"})


class Span(Protocol):
    entity_type: str
    start: int
    end: int


S = TypeVar("S", bound=Span)


def keep_in_context(text: str, results: Sequence[S]) -> list[S]:
    """`results` without the dates and places that are not personal in `text`."""
    anchors = [r for r in results if r.entity_type not in NOT_ANCHORS]
    kept = []
    for r in results:
        if r.entity_type == DATE_TIME and not personal_date(text, r.start, r.end, anchors):
            continue
        if r.entity_type == LOCATION and not personal_place(text, r.start, r.end, anchors):
            continue
        kept.append(r)
    return kept


def personal_date(text: str, start: int, end: int, anchors: Sequence[Span] = ()) -> bool:
    span = text[start:end]
    year = _YEAR.search(span)
    if year and BIRTH_CUES.intersection(_words_before(text, start)):
        return True  # "born in 1982": a birth year is part of a date of birth
    if not CALENDAR_DATE.search(span):
        return False
    if year and int(year.group()) <= datetime.now(tz=UTC).year - BIRTH_YEARS_AGO:
        return True
    if DATE_CUES.intersection(_words_before(text, start)):
        return True
    return any(a.start - ANCHOR_CHARS < end and start < a.end + ANCHOR_CHARS for a in anchors)


def personal_place(text: str, start: int, end: int, anchors: Sequence[Span] = ()) -> bool:
    if PLACE_CUES.intersection(_words_before(text, start, words=4)):
        return True
    for a in anchors:
        if (
            a.entity_type in ADDRESS_TYPES
            and a.end <= start
            and _ADDRESS_GAP.fullmatch(text, a.end, start)
        ):
            return True
    return False


def _words_before(text: str, start: int, *, words: int = CONTEXT_WORDS) -> list[str]:
    return _WORD.findall(text[max(0, start - 80) : start].lower())[-words:]
