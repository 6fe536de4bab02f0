"""Names spelled letter by letter ("that's K O W A L S K I", "spelled B E L L O").

The normaliser joins the letters into one word; spaCy rarely sees a name in "KOWALSKI" or
"BELLO" without a capital-letter context, so a spelled word is a PERSON when a name or
spelling cue stands just before it ("name", "surname", "spelled", "that's") or "spell"
just after it ("… is how you spell it"), or when it is long enough (five letters and more)
not to be an acronym such as "HDMI" or "ATM".
"""

from __future__ import annotations

import re

PERSON = "PERSON"
CUES_AFTER = frozenset(["spelled", "spell", "spelling", "spelt"])
CUES_BEFORE = CUES_AFTER | {"name", "names", "surname", "lastname", "firstname", "that's", "thats"}
WORDS_BEFORE, WORDS_AFTER = 5, 4
UNCUED_LETTERS = 5
_WORD = re.compile(r"[a-z']+")


def find_spelled_names(text: str, spelled: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spelled words of `text` (spans from `Normalized.spelled_words`) that are names."""
    names = []
    for start, end in spelled:
        before = _WORD.findall(text[max(0, start - 60) : start].lower())[-WORDS_BEFORE:]
        after = _WORD.findall(text[end : end + 40].lower())[:WORDS_AFTER]
        if (
            CUES_BEFORE.intersection(before)
            or CUES_AFTER.intersection(after)
            or end - start >= UNCUED_LETTERS
        ):
            names.append((start, end))
    return names
