"""A seeded evaluation set of caller turns as an ASR would transcribe them, with labels.

Values come from Faker (seeded); templates put them in what callers say; the renderer
speaks digits one by one (sometimes "oh" for zero, "double"/"triple" for repeats, groups
separated by commas or "dash"), dates as words and emails with "at"/"dot". Every sample
records the character span of each value in the rendered text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from faker import Faker

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEEN_WORDS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
              "seventeen", "eighteen", "nineteen"]  # fmt: skip
TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINAL_WORDS = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                 "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
                 "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"]  # fmt: skip
WRITTEN_SHARE = 0.25
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip

TEMPLATES: dict[str, list[str]] = {
    "CREDIT_CARD": [
        "my card number is {}",
        "yeah it's a visa, {}",
        "sure the card is {} and the name on it is the same",
        "ok so the long number is {}",
        "it's {}",
        "the credit card number {} please",
        "debit card {}",
    ],
    "CARD_SECURITY_CODE": [
        "the security code is {}",
        "CVV {}",
        "and the CVC on the back is {}",
        "security code {} please",
        "the card verification code is {}",
    ],
    "US_SSN": [
        "my social security number is {}",
        "my social is {}",
        "ssn is {}",
        "it's {} that's my social",
        "the last one is my social security {}",
    ],
    "PHONE_NUMBER": [
        "you can reach me at {}",
        "my phone number is {}",
        "call me back on {}",
        "my cell is {}",
        "it's {}",
        "the best number is {}",
    ],
    "EMAIL_ADDRESS": [
        "my email is {}",
        "you can send it to {}",
        "it's {}",
        "email address {}",
        "yeah the email on file is {} thanks",
    ],
    "DATE_OF_BIRTH": [
        "my date of birth is {}",
        "I was born on {}",
        "DOB {}",
        "birthday is {}",
        "date of birth {} yes",
    ],
    "ACCOUNT_NUMBER": [
        "my account number is {}",
        "the policy number is {}",
        "member ID {}",
        "reference number {}",
        "account {} please",
        "customer number {}",
    ],
}
NEGATIVES = [
    "I'd like to check my balance please",
    "I have two kids and three dogs",
    "can you call me back in five minutes",
    "my order came on March third but it was broken",
    "I've been a customer for twenty years",
    "yes that's right, thank you so much",
    "it costs about one hundred and fifty dollars",
    "the meeting is at three thirty tomorrow",
    "I'm at home right now, oh well",
    "press one for sales or two for support",
    "I need help with my internet connection",
    "we moved here in two thousand and five",
    "I called on the fourth of July about the bill",
    "no I don't want to upgrade my plan",
    "the package weighed about twelve pounds",
]


@dataclass
class Sample:
    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)


class Speaker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def digits(self, value: str, groups: list[int] | None = None) -> str:
        """Digit by digit; repeats sometimes as double/triple; groups joined by pauses.

        A quarter of the time the value comes out written, as ASR often formats numbers.
        """
        if self.rng.random() < WRITTEN_SHARE:
            return self._written(value, groups)
        chunks = [value]
        if groups and self.rng.random() < 0.5:
            chunks, pos = [], 0
            for g in groups:
                chunks.append(value[pos : pos + g])
                pos += g
        sep = self.rng.choice([", ", " ", " dash "]) if len(chunks) > 1 else ""
        return sep.join(self._group(c) for c in chunks)

    def _written(self, value: str, groups: list[int] | None) -> str:
        if not groups or self.rng.random() < 0.3:
            return value
        out, pos = [], 0
        for g in groups:
            out.append(value[pos : pos + g])
            pos += g
        return self.rng.choice(["-", " "]).join(out)

    def _group(self, chunk: str) -> str:
        words, i = [], 0
        while i < len(chunk):
            d = chunk[i]
            run = 1
            while i + run < len(chunk) and chunk[i + run] == d and run < 3:
                run += 1
            if run >= 2 and self.rng.random() < 0.4:
                words.append(("double " if run == 2 else "triple ") + self._digit(d))
                i += run
                continue
            words.append(self._digit(d))
            i += 1
        return " ".join(words)

    def _digit(self, d: str) -> str:
        if d == "0" and self.rng.random() < 0.5:
            return "oh"
        return DIGIT_WORDS[int(d)]

    def pair(self, n: int) -> str:
        if n < 10:
            return f"oh {DIGIT_WORDS[n]}" if n else "hundred"
        if n < 20:
            return TEEN_WORDS[n - 10]
        tens, unit = divmod(n, 10)
        return TENS_WORDS[tens] + (f" {DIGIT_WORDS[unit]}" if unit else "")

    def year(self, y: int) -> str:
        if y >= 2000 and (y == 2000 or self.rng.random() < 0.6):
            rest = y - 2000
            if rest == 0:
                return "two thousand"
            return "two thousand " + self.rng.choice(["", "and "]) + self._below_hundred(rest)
        return self.pair(y // 100) + " " + self.pair(y % 100)

    def _below_hundred(self, n: int) -> str:
        if n < 10:
            return DIGIT_WORDS[n]
        if n < 20:
            return TEEN_WORDS[n - 10]
        tens, unit = divmod(n, 10)
        return TENS_WORDS[tens] + (f" {DIGIT_WORDS[unit]}" if unit else "")

    def ordinal(self, day: int) -> str:
        if day <= 20:
            return ORDINAL_WORDS[day]
        if day == 30:
            return "thirtieth"
        tens, unit = divmod(day, 10)
        return f"{TENS_WORDS[tens]} {ORDINAL_WORDS[unit]}"

    def date(self, d: date) -> str:
        style = self.rng.randrange(4)
        month = MONTHS[d.month - 1]
        if self.rng.random() < WRITTEN_SHARE:
            return self.rng.choice(
                [
                    f"{d.month:02d}/{d.day:02d}/{d.year}",
                    f"{month} {d.day}, {d.year}",
                    f"{month} {d.day}th {d.year}",
                ]
            )
        if style == 0:
            return f"{month} {self.ordinal(d.day)} {self.year(d.year)}"
        if style == 1:
            return f"the {self.ordinal(d.day)} of {month} {self.year(d.year)}"
        if style == 2:
            return f"{month} {self._below_hundred(d.day)}, {self.year(d.year)}"
        return self.digits(f"{d.month:02d}{d.day:02d}") + " " + self.year(d.year)

    def email(self, address: str) -> str:
        if self.rng.random() < WRITTEN_SHARE:
            return address
        local, domain = address.split("@")
        return self._email_part(local) + " at " + " dot ".join(domain.split("."))

    def _email_part(self, local: str) -> str:
        out = []
        for ch_part in _split_keep(local, "._-"):
            if ch_part in "._-":
                out.append({".": "dot", "_": "underscore", "-": "dash"}[ch_part])
                continue
            alpha = "".join(c for c in ch_part if c.isalpha())
            digits = ch_part[len(alpha) :] if ch_part.startswith(alpha) else ""
            if alpha:
                if len(alpha) <= 2 or self.rng.random() < 0.2:
                    out.append(" ".join(alpha))
                else:
                    out.append(alpha)
            if digits:
                out.append(self.digits(digits))
        return " ".join(out)


def _split_keep(text: str, seps: str) -> list[str]:
    parts, cur = [], ""
    for c in text:
        if c in seps:
            if cur:
                parts.append(cur)
            parts.append(c)
            cur = ""
        else:
            cur += c
    if cur:
        parts.append(cur)
    return parts


def _value(fake: Faker, speaker: Speaker, entity: str) -> str:
    rng = speaker.rng
    if entity == "CREDIT_CARD":
        kind = rng.choice(["visa16", "visa16", "mastercard", "amex", "discover", "jcb16"])
        number = fake.credit_card_number(card_type=kind)
        groups = [4, 6, 5] if len(number) == 15 else [4] * (len(number) // 4)
        return speaker.digits(number, groups)
    if entity == "CARD_SECURITY_CODE":
        return speaker.digits(f"{rng.randint(0, 9999 if rng.random() < 0.2 else 999):03d}")
    if entity == "US_SSN":
        return speaker.digits(fake.ssn().replace("-", ""), [3, 2, 4])
    if entity == "PHONE_NUMBER":
        # A valid NANP number: area code and exchange start with 2-9.
        area, exchange = rng.randint(200, 999), rng.randint(200, 999)
        number = f"{area}{exchange}{rng.randint(0, 9999):04d}"
        prefix = rng.choice(["", "", "", "one "])
        return prefix + speaker.digits(number, [3, 3, 4])
    if entity == "EMAIL_ADDRESS":
        return speaker.email(rng.choice([fake.email(), fake.free_email(), fake.company_email()]))
    if entity == "DATE_OF_BIRTH":
        return speaker.date(fake.date_of_birth(minimum_age=18, maximum_age=90))
    if entity == "ACCOUNT_NUMBER":
        length = rng.randint(6, 12)
        return speaker.digits(
            str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))
        )
    raise ValueError(entity)


def _render(fake: Faker, speaker: Speaker, entity: str) -> Sample:
    template = speaker.rng.choice(TEMPLATES[entity])
    value = _value(fake, speaker, entity)
    head, _, tail = template.partition("{}")
    return Sample(head + value + tail, [(entity, len(head), len(head) + len(value))])


def generate(*, per_entity: int = 100, mixed: int = 100, seed: int = 20260301) -> list[Sample]:
    """The evaluation set: single-entity turns, two-entity turns and turns with no PII."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    speaker = Speaker(random.Random(seed))
    samples = [_render(fake, speaker, e) for e in TEMPLATES for _ in range(per_entity)]
    for _ in range(mixed):
        a, b = speaker.rng.sample(sorted(TEMPLATES), 2)
        first, second = _render(fake, speaker, a), _render(fake, speaker, b)
        joiner = speaker.rng.choice([" and ", ", also ", ". Oh and "])
        shift = len(first.text) + len(joiner)
        samples.append(
            Sample(
                first.text + joiner + second.text,
                first.spans + [(t, s + shift, e + shift) for t, s, e in second.spans],
            )
        )
    samples.extend(Sample(text) for text in NEGATIVES)
    return samples
