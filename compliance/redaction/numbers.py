"""Spoken numbers to digits, the way callers say card, phone and account numbers.

Digit strings are read digit by digit ("four one one one"), in pairs ("twenty one",
"nineteen eighty five") or with "double"/"triple"; "oh"/"o" is a zero. The result is the
digit string a listener would write down, not an arithmetic value: "one eight hundred five
five five" is 1800555, and "twenty oh five" is 2005.
"""

from __future__ import annotations

UNITS = {
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
REPEAT = {"double": 2, "triple": 3}
SCALES = {"hundred", "thousand"}
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
ZEROES = {"oh", "o"}  # zero only next to other number words ("oh, I see" stays words)
NUMBER_WORDS = set(UNITS) | set(TEENS) | set(TENS) | set(REPEAT) | SCALES


def is_number_word(word: str) -> bool:
    return word.lower() in NUMBER_WORDS or word.isdigit()


def words_to_digits(words: list[str]) -> str | None:
    """Digits for a run of number words (and digit tokens); None when the run is not a number."""
    out: list[str] = []
    i, n = 0, len(words)
    low = [w.lower() for w in words]
    while i < n:
        w = low[i]
        nxt = low[i + 1] if i + 1 < n else ""
        if words[i].isdigit():
            out.append(words[i])
        elif w in REPEAT:
            if nxt not in UNITS:
                return None
            out.append(str(UNITS[nxt]) * REPEAT[w])
            i += 1
        elif w in UNITS:
            if nxt == "hundred" or nxt == "thousand":
                value, used = _scaled(low, i)
                out.append(value)
                i += used
                continue
            out.append(str(UNITS[w]))
        elif w in TEENS:
            if nxt == "hundred":  # "nineteen hundred [and five]" as in years
                rest, used = _below_hundred(low, i + 2, allow_unit=True)
                out.append(str(TEENS[w] * 100 + rest))
                i += 2 + used
                continue
            out.append(str(TEENS[w]))
        elif w in TENS:
            if nxt in UNITS and UNITS[nxt] and nxt not in ZEROES:
                out.append(str(TENS[w] + UNITS[nxt]))
                i += 1
            else:
                out.append(str(TENS[w]))
        else:  # a scale word with no number before it
            return None
        i += 1
    return "".join(out) or None


def _scaled(low: list[str], i: int) -> tuple[str, int]:
    """'five hundred [and] twenty', 'two thousand [and] five': (digits, words used)."""
    head = UNITS[low[i]]
    scale = low[i + 1]
    j = i + 2
    if j < len(low) and low[j] == "and":
        j += 1
    rest, used = _below_hundred(low, j, allow_unit=scale == "thousand" or low[j - 1] == "and")
    if scale == "hundred":
        if used == 0:
            return f"{head}00", 2 + (j - i - 2 if used else 0)
        return f"{head * 100 + rest}", j - i + used
    # thousand: an optional "N hundred" then the remainder, as in years like 2019
    total = head * 1000
    if used == 0 and j < len(low) - 1 and low[j] in UNITS and low[j + 1] == "hundred":
        hundreds = UNITS[low[j]] * 100
        k = j + 2 + (1 if j + 2 < len(low) and low[j + 2] == "and" else 0)
        rest, used = _below_hundred(low, k, allow_unit=True)
        return str(total + hundreds + rest), k - i + used
    if used == 0:
        return str(total), 2
    return str(total + rest), j - i + used


def _below_hundred(low: list[str], j: int, *, allow_unit: bool) -> tuple[int, int]:
    if j >= len(low):
        return 0, 0
    w = low[j]
    if w in TEENS:
        return TEENS[w], 1
    if w in TENS:
        nxt = low[j + 1] if j + 1 < len(low) else ""
        if nxt in UNITS and UNITS[nxt] and nxt not in ZEROES:
            return TENS[w] + UNITS[nxt], 2
        return TENS[w], 1
    if allow_unit and w in UNITS and w not in ZEROES:
        return UNITS[w], 1
    return 0, 0


def ordinal_value(words: list[str]) -> int | None:
    """'third' -> 3, 'twenty first' -> 21; None if the words are not a day ordinal."""
    low = [w.lower() for w in words]
    if len(low) == 1:
        return ORDINALS.get(low[0])
    if len(low) == 2 and low[0] in ("twenty", "thirty") and low[1] in ORDINALS:
        value = TENS[low[0]] + ORDINALS[low[1]]
        return value if ORDINALS[low[1]] < 10 and value <= 31 else None
    return None
