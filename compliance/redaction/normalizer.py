"""Spoken-form normaliser: "four one one one at gmail dot com" -> "4111@gmail.com",
with an exact map from every span of the normalised text back to the original text.

The text is cut into units (words, digit tokens and the gaps between them). Rules replace
runs of units by one unit (digits from number words, an email from "at"/"dot", a word from
spelled letters); everything else is copied unchanged. A copied unit maps character by
character, a replaced one maps to the whole original run, so a recogniser's span on the
normalised text always maps to the original words it came from.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from compliance.redaction.numbers import (
    NUMBER_WORDS,
    SCALES,
    TENS,
    UNITS,
    ZEROES,
    ordinal_value,
    words_to_digits,
)

_UNIT_RE = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)*|\d+")
CONNECTORS = {"dash": "-", "hyphen": "-", "slash": "/"}
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d", "-"))
EMAIL_JOINERS = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-", "period": "."}
TLDS = {
    "com", "net", "org", "edu", "gov", "io", "co", "us", "uk", "de", "fr", "info", "biz",
    "me", "ca", "au", "in", "eu", "ai", "app", "dev", "mil", "ie", "nl", "es", "it", "ch",
}  # fmt: skip
MONTHS = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
}  # fmt: skip
# Words that end an email's local part when reading leftwards from "at".
_NOT_LOCAL = {
    "is", "it's", "its", "my", "email", "e", "mail", "address", "was", "the", "to", "me",
    "at", "and", "or", "on", "it", "that's", "use", "send", "reach", "you", "can", "i", "a",
    "com", "please", "yes", "yeah", "sure", "okay", "ok", "so", "um", "uh",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Unit:
    text: str
    start: int  # span in the original text
    end: int
    kind: str  # "word", "digits", "ordinal" (a day next to a month), "gap"
    exact: bool = True  # text maps character by character onto original[start:end]
    spelled: bool = False  # letters spelled out one by one, or a single letter

    @property
    def low(self) -> str:
        return self.text.lower()


@dataclass(frozen=True, slots=True)
class Normalized:
    original: str
    text: str
    _norm_starts: tuple[int, ...]
    _units: tuple[Unit, ...]

    def spelled_words(self) -> list[tuple[int, int]]:
        """Spans (in the normalised text) of words spelled letter by letter, no digits."""
        return [
            (pos, pos + len(u.text))
            for pos, u in zip(self._norm_starts, self._units, strict=True)
            if u.spelled and u.kind == "word" and len(u.text) >= 2 and u.text.isalpha()
        ]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the normalised text back to the original text."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span ({start}, {end}) outside the normalised text")
        first = bisect.bisect_right(self._norm_starts, start) - 1
        last = bisect.bisect_right(self._norm_starts, end - 1) - 1
        a, b = self._units[first], self._units[last]
        o_start = a.start + (start - self._norm_starts[first]) if a.exact else a.start
        o_end = b.start + (end - self._norm_starts[last]) if b.exact else b.end
        return o_start, o_end


def _cut(text: str) -> list[Unit]:
    units: list[Unit] = []
    pos = 0
    for m in _UNIT_RE.finditer(text):
        if m.start() > pos:
            units.append(_gap(text, pos, m.start()))
        kind = "digits" if m.group().isdigit() else "word"
        units.append(Unit(m.group(), m.start(), m.end(), kind, spelled=len(m.group()) == 1))
        pos = m.end()
    if pos < len(text):
        units.append(_gap(text, pos, len(text)))
    return units


def _gap(text: str, start: int, end: int) -> Unit:
    # ASR and editors write digit groups with any dash (en dash, minus, non-breaking
    # hyphen): one "-" for all, character for character, so the offset map stays exact.
    return Unit(text[start:end].translate(_DASHES), start, end, "gap")


def _merged(units: list[Unit], text: str, kind: str, *, spelled: bool = False) -> Unit:
    return Unit(text, units[0].start, units[-1].end, kind, exact=False, spelled=spelled)


def _is_space(unit: Unit) -> bool:
    return unit.kind == "gap" and unit.text.isspace()


def _numberish(unit: Unit) -> bool:
    return unit.kind == "digits" or (unit.kind == "word" and unit.low in NUMBER_WORDS)


def _number_runs(units: list[Unit]) -> list[Unit]:
    """Replace runs of number words (with 'dash'/'slash' and '-' between them) by digits."""
    out: list[Unit] = []
    i = 0
    while i < len(units):
        if not (_numberish(units[i]) or _zero_here(units, i)):
            out.append(units[i])
            i += 1
            continue
        j = i + 1  # grow [i, j) over number words, joined by spaces, '-', 'dash', 'and'
        while j + 1 < len(units) and _run_gap(units[j]):
            nxt = units[j + 1]
            if _numberish(nxt) or _zero_here(units, j + 1):
                j += 2
            elif nxt.low in CONNECTORS or (nxt.low == "and" and units[j - 1].low in SCALES):
                if j + 3 < len(units) and _is_space(units[j + 2]) and _numberish(units[j + 3]):
                    j += 4
                else:
                    break
            else:
                break
        run = units[i:j]
        if not any(u.kind == "word" and u.low not in ZEROES for u in run):
            out.extend(run)  # written digits and stray "oh"s stay as they are
        else:
            out.append(_merged(run, _run_digits(run), "digits"))
        i = j
    return out


def _run_gap(unit: Unit) -> bool:
    return _is_space(unit) or unit.text.strip() in ("-", ",")


def _zero_here(units: list[Unit], i: int) -> bool:
    """'oh'/'o' counts as zero only with a number word beside it."""
    if units[i].low not in ZEROES:
        return False
    left = units[i - 2] if i >= 2 and _is_space(units[i - 1]) else None
    right = units[i + 2] if i + 2 < len(units) and _is_space(units[i + 1]) else None
    return any(u is not None and (_numberish(u) or u.low in ZEROES) for u in (left, right))


def _run_digits(run: list[Unit]) -> str:
    parts: list[str] = []
    group: list[str] = []
    for k, u in enumerate(run):
        if u.kind == "gap":
            mark = u.text.strip()
            # "twenty-one" is one number; a dash elsewhere separates digit groups.
            if mark == "-" and not (run[k - 1].low in TENS and run[k + 1].low in UNITS):
                group.append("-")
            elif mark == ",":
                group.append(" ")
            continue
        if u.low in CONNECTORS:
            group.append(CONNECTORS[u.low])
        elif u.low != "and":
            group.append(u.text)
    words: list[str] = []
    for token in [*group, None]:
        if token is None or token in ("-", "/", " "):
            digits = words_to_digits(words) if words else ""
            parts.append(digits if digits is not None else " ".join(words))
            if token is not None:
                parts.append(token)
            words = []
        else:
            words.append(token)
    return "".join(parts)


def _letter(unit: Unit) -> bool:
    return unit.kind == "word" and len(unit.text) == 1


def _spelled_runs(units: list[Unit]) -> list[Unit]:
    """Join letters spelled one by one ("j o h n", "B-E-L-L-O", "a b one two") into one word."""
    out: list[Unit] = []
    i = 0
    while i < len(units):
        j = i
        letters = 0
        while j < len(units) and (
            (units[j].kind == "word" and len(units[j].text) == 1) or units[j].kind == "digits"
        ):
            letters += units[j].kind == "word"
            if j + 2 < len(units) and _is_space(units[j + 1]):
                nxt = units[j + 2]
                if (nxt.kind == "word" and len(nxt.text) == 1) or nxt.kind == "digits":
                    j += 2
                    continue
            # "B-E-L-L-O", as ASR writes a spelled name
            dashed = j + 2 < len(units) and units[j + 1].text == "-"
            if dashed and _letter(units[j]) and _letter(units[j + 2]):
                j += 2
                continue
            j += 1
            break
        run = units[i:j]
        words = [u for u in run if u.kind != "gap"]
        if letters >= 2 and not all(u.low in ("a", "i") for u in words if u.kind == "word"):
            text = "".join(u.text for u in words)
            out.append(_merged(run, text, "word", spelled=True))
            i = j
        else:
            out.append(units[i])
            i += 1
    return out


def _emails(units: list[Unit]) -> list[Unit]:
    """ "john dot smith at gmail dot com" -> one unit "john.smith@gmail.com"."""
    i = 0
    while i < len(units):
        if units[i].low == "at" and units[i].kind == "word":
            found = _email_at(units, i)
            if found:
                start, end, text = found
                units = [*units[:start], _merged(units[start:end], text, "word"), *units[end:]]
                i = start + 1
                continue
        i += 1
    return units


def _email_at(units: list[Unit], at: int) -> tuple[int, int, str] | None:
    # Domain: label (('dot' | '.') label)+ ending with a known top-level domain; a label may
    # hold hyphens, written or said ("smith-jones", "smith dash jones").
    labels: list[str] = []
    j = at + 1
    end, domain = None, ""
    while j + 1 < len(units) and (_is_space(units[j]) or units[j].text == "."):
        label = units[j + 1]
        if label.kind == "gap" or label.low in EMAIL_JOINERS:
            break
        text, k = _hyphenated_label(units, j + 1)
        labels.append(text)
        if len(labels) >= 2 and labels[-1] in TLDS:
            end, domain = k, ".".join(labels)
        if k < len(units) and units[k].text == ".":
            j = k
            continue
        if k + 1 < len(units) and _is_space(units[k]) and units[k + 1].low in ("dot", "period"):
            j = k + 2
            continue
        break
    if end is None:
        return None
    # Local part, leftwards: labels joined by 'dot'/'underscore'/'dash', or by nothing when one
    # side is spelled letters or digits; two plain words may also run together ("diaz brian"
    # for diazbrian), since callers say such names as words and ASR writes them apart.
    parts: list[str] = []
    plain_joined = False
    s = at
    while s >= 2 and _is_space(units[s - 1]):
        cand = units[s - 2]
        if cand.kind == "gap" or cand.low in _NOT_LOCAL or cand.low in EMAIL_JOINERS:
            if cand.low in EMAIL_JOINERS and parts and s >= 4 and _is_space(units[s - 3]):
                left = units[s - 4]
                if left.kind != "gap" and left.low not in _NOT_LOCAL:
                    parts.insert(0, EMAIL_JOINERS[cand.low])
                    s -= 2
                    continue
            break
        if parts and parts[0] not in EMAIL_JOINERS.values():
            prev = units[s]  # the unit to the right, already taken
            loose = cand.spelled or cand.kind == "digits" or prev.spelled or prev.kind == "digits"
            if not loose:
                if plain_joined:
                    break
                plain_joined = True
        parts.insert(0, cand.text.lower())
        s -= 2
    if not parts or parts[0] in EMAIL_JOINERS.values():
        return None
    return s, end, "".join(parts) + "@" + domain


def _hyphenated_label(units: list[Unit], k: int) -> tuple[str, int]:
    """The domain label starting at unit k, with its hyphenated parts; (text, next unit)."""
    text = units[k].text.lower()
    k += 1
    while k + 1 < len(units):
        if units[k].text == "-" and units[k + 1].kind != "gap":
            text, k = f"{text}-{units[k + 1].text.lower()}", k + 2
        elif (
            k + 3 < len(units)
            and _is_space(units[k])
            and units[k + 1].low in ("dash", "hyphen")
            and _is_space(units[k + 2])
            and units[k + 3].kind != "gap"
        ):
            text, k = f"{text}-{units[k + 3].text.lower()}", k + 4
        else:
            break
    return text, k


def _ordinal_days(units: list[Unit]) -> list[Unit]:
    """'March third' / 'the twenty first of March' -> day digits next to a month name."""
    out = list(units)
    words = [k for k, u in enumerate(out) if u.kind != "gap"]
    replaced: dict[int, tuple[int, str]] = {}
    for pos, k in enumerate(words):
        for width in (2, 1):
            span = words[pos : pos + width]
            if len(span) < width:
                continue
            value = ordinal_value([out[m].text for m in span])
            if value is None:
                continue
            before = [out[m].low for m in words[max(0, pos - 2) : pos]]
            after = [out[m].low for m in words[pos + width : pos + width + 2]]
            near_month = (before and before[-1] in MONTHS) or (
                len(before) == 2 and before[0] in MONTHS and before[1] == "the"
            )
            if near_month or (len(after) == 2 and after[0] == "of" and after[1] in MONTHS):
                replaced[k] = (span[-1], str(value))
                break
    if not replaced:
        return out
    result: list[Unit] = []
    k = 0
    while k < len(out):
        if k in replaced:
            last, text = replaced[k]
            result.append(_merged(out[k : last + 1], text, "ordinal"))
            k = last + 1
        else:
            result.append(out[k])
            k += 1
    return result


def normalize(text: str) -> Normalized:
    """The spoken-form normalisation of `text` with its offset map."""
    units = _cut(text)
    units = _ordinal_days(units)
    units = _number_runs(units)
    units = _spelled_runs(units)
    units = _emails(units)
    starts: list[int] = []
    pieces: list[str] = []
    pos = 0
    for u in units:
        starts.append(pos)
        pieces.append(u.text)
        pos += len(u.text)
    return Normalized(text, "".join(pieces), tuple(starts), tuple(units))


__all__ = ["UNITS", "Normalized", "normalize"]
