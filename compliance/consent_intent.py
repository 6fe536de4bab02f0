"""What a caller's reply to the recording announcement means, robust to ASR wording.

Phrases are matched longest first and masked once matched, so "no problem" counts as a yes
and never also as a no. Contradictory replies ("yes, no, wait") mean nothing: the caller is
asked again rather than guessed at.

A reply can carry a request as well ("no, how much does delivery cost?"): what is left once
the consent phrases are masked says whether it does (``carries_request``), so that the agent
records the decision *and* answers the question instead of only acknowledging it.
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


def _masked(text: str) -> tuple[set[Intent | None], str]:
    """The intents found in one reply, and the reply with each matched phrase as ``#``."""
    cleaned = _SPACES.sub(
        " ", _CLEAN.sub(" ", text[:MAX_REPLY_CHARS].lower().replace("\u2019", "'"))
    )
    found: set[Intent | None] = set()
    for intent, pattern in _PASSES:
        if pattern.search(cleaned):
            found.add(intent)
            cleaned = pattern.sub(" # ", cleaned)
    return found, cleaned


def parse_consent_intent(text: str) -> Intent | None:
    """The intent of one transcribed reply, or None when it has none or contradicts itself."""
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    found, _ = _masked(text)
    if None in found:  # "don't stop recording" neither revokes nor clearly consents
        return None
    if Intent.STOP in found:
        return Intent.STOP
    if len(found) == 1:
        return found.pop()
    return None


# What a question starts with, or contains: a wh-word anywhere, an auxiliary first.
_WH = frozenset({"how", "what", "when", "where", "why", "who", "which", "whose"})
_AUX_FIRST = frozenset(
    {"can", "could", "would", "will", "do", "does", "did", "is", "are", "may", "should"}
)
# Words that add nothing to a consent reply ("no, I don't want that, thanks").
_FILLER_WORDS = """i i'm i'd i'll me my myself you your it it's that that's this the a an to
and but so then well oh um uh er erm hmm please thanks thank at all with is be just really
sir ma'am madam call recorded recording record don't do not want mind for of on in here
there now right yet either today prefer rather didn't wouldn't won't can't cannot"""
_FILLER = frozenset(_FILLER_WORDS.split())
REQUEST_CONTENT_WORDS = 2


def carries_request(text: str) -> bool:
    """Whether a reply says more than its consent answer: a question ("no, what are your
    opening hours?") or a request of a few content words ("yes, and I'd like to check my
    order"). "No, I don't want that, thanks" carries none."""
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    _, masked = _masked(text)
    words = [w.strip("'-") for w in masked.split() if w != "#"]
    words = [w for w in words if w]
    if not words:
        return False
    if _WH.intersection(words) or words[0] in _AUX_FIRST:
        return True
    content = [w for w in words if w not in _FILLER]
    return len(content) >= REQUEST_CONTENT_WORDS
