"""What a caller's reply to the recording announcement means, robust to ASR wording.

Phrases are matched longest first and masked once matched, so "no problem" counts as a yes
and never also as a no. Contradictory replies ("yes, no, wait") mean nothing: the caller is
asked again rather than guessed at.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Intent(StrEnum):
    YES = "yes"
    NO = "no"
    STOP = "stop_recording"


_STOP = [
    r"(?:stop|end|quit|cancel|pause|turn off|switch off|kill) (?:the |this |your |that )?"
    r"(?:call )?(?:recording|recorder|taping)",
    r"(?:do not|don't|dont|please don't|please do not) (?:record|tape)"
    r"(?: me| this| the call| this call)?",
    r"(?:i do not|i don't|i dont) (?:want|wanna) (?:to be |this |it )?(?:recorded|taped|recording)",
    r"no (?:more )?recording",
    r"(?:i )?(?:withdraw|revoke) (?:my )?consent",
    r"opt out",
]
_NOT_STOP = [r"(?:do not|don't|dont) (?:stop|end|pause) (?:the |this )?recording"]
_YES_PHRASES = [
    r"no problem",
    r"no worries",
    r"(?:i )?(?:do not|don't|dont) mind",
    r"(?:that's|that is|thats|it's|its) (?:fine|okay|ok|alright|all right)",
    r"(?:i )?(?:agree|consent|accept)",
    r"go ahead",
    r"of course",
    r"sounds good",
    r"uh[- ]?huh",
    r"mm[- ]?hmm",
]
_YES_WORDS = [
    r"yes",
    r"yeah",
    r"yea",
    r"yep",
    r"yup",
    r"ya",
    r"sure",
    r"okay",
    r"ok",
    r"alright",
    r"all right",
    r"fine",
    r"absolutely",
    r"certainly",
    r"definitely",
    r"correct",
    r"affirmative",
]
_NO_PHRASES = [
    r"absolutely not",
    r"(?:i )?(?:do not|don't|dont) (?:agree|consent|accept)",
    r"(?:i'd|i would) rather not",
    r"rather not",
    r"please (?:do not|don't|dont)",
    r"not okay",
    r"not ok",
    r"i object",
    r"no thanks",
    r"no thank you",
    r"no way",
]
_NO_WORDS = [
    r"nope",
    r"nah",
    r"no",
    r"negative",
]


def _compile(phrases: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


# Order matters: a phrase is masked once matched, so negated stops and compound yeses are
# taken before the short words inside them.
_PASSES = [
    (None, _compile(_NOT_STOP)),
    (Intent.STOP, _compile(_STOP)),
    (Intent.NO, _compile(_NO_PHRASES)),
    (Intent.YES, _compile(_YES_PHRASES)),
    (Intent.YES, _compile(_YES_WORDS)),
    (Intent.NO, _compile(_NO_WORDS)),
]
_CLEAN = re.compile(r"[^a-z' -]+")
_SPACES = re.compile(r"\s+")
MAX_REPLY_CHARS = 500


def parse_consent_intent(text: str) -> Intent | None:
    """The intent of one transcribed reply, or None when it has none or contradicts itself."""
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    cleaned = _SPACES.sub(
        " ", _CLEAN.sub(" ", text[:MAX_REPLY_CHARS].lower().replace("\u2019", "'"))
    )
    found: set[Intent | None] = set()
    for intent, pattern in _PASSES:
        if pattern.search(cleaned):
            found.add(intent)
            cleaned = pattern.sub(" # ", cleaned)
    if None in found:  # "don't stop recording" neither revokes nor clearly consents
        return None
    if Intent.STOP in found:
        return Intent.STOP
    if len(found) == 1:
        return found.pop()
    return None
