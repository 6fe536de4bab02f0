"""Hand-written hard cases for redaction, in two splits: DEV (the rules were tuned on it) and
HELDOUT (written before the rules changed and never used to tune them).

Each line is a caller turn as ASR would write it; personal data is marked `[TYPE|words]` in
place, so the labels sit where a reader sees them. Lines without a marker are clean: the
redactor must leave them exactly as they are (time words, prices, quantities, menu options,
products and places that belong to nobody). Types beyond the generated corpus's: PERSON
(names, spelled letter by letter included), STREET_ADDRESS, POSTAL_CODE, IBAN_CODE and
DATE_TIME (a date tied to the person, e.g. their appointment).
"""

from __future__ import annotations

import re

from benchmarks.redaction_corpus import Sample

_MARK = re.compile(r"\[([A-Z_]+)\|([^\]]+)\]")

DEV = [
    # clean: time words
    "what time do you close on Sunday",
    "I was charged twice on the third",
    "it has been two weeks since I sent the form",
    "could you call me back tomorrow morning",
    "the engineer is coming next Monday between nine and one",
    "I've been waiting since last Tuesday for a refund",
    "my bill is due at the end of the month",
    "I called yesterday afternoon and nobody picked up",
    "the outage started around ten thirty last night",
    "we signed up in March and the price went up in June",
    "the sale ends on the twenty fifth of November",
    "is the shop open over Christmas",
    # clean: numbers that are not personal
    "I'd like to order six more of the blue cartridges",
    "the total came to forty two dollars and fifty cents",
    "I pressed option three twice",
    "I've been on hold for twenty five minutes",
    "it was $129.99 on your website",
    "the speed test says eighty megabits",
    "we have three phones on the family plan",
    "can I get two hundred extra minutes",
    # clean: products and places that belong to nobody
    "does the iPhone fifteen work with your network",
    "I'm travelling to Spain next month, will roaming work",
    "the Amazon Fire stick keeps buffering",
    "is your London store still open",
    "my Samsung TV won't connect to the wifi",
    "I saw the offer on Netflix bundles",
    # PII: spelled names
    "my name is [PERSON|Maria Bello], spelled [PERSON|B E L L O]",
    "that's [PERSON|K O W A L S K I]",
    "the last name is [PERSON|H U A N G]",
    "my surname, spelled [PERSON|D U B O I S]",
    # PII: addresses and postcodes
    "I live at [STREET_ADDRESS|seventeen rue de Rivoli]",
    "my address is [STREET_ADDRESS|Hauptstraße 5], [POSTAL_CODE|10115] Berlin",
    "please send it to [STREET_ADDRESS|221B Baker Street], [POSTAL_CODE|NW1 6XE]",
    "it's [STREET_ADDRESS|flat 3, 12 Acacia Avenue]",
    "the postcode is [POSTAL_CODE|SW1A 2AA]",
    "I moved to [STREET_ADDRESS|48 boulevard Voltaire], [POSTAL_CODE|75011] Paris",
    # PII: non-US phones, IBAN, dates of birth
    "my mobile is [PHONE_NUMBER|07911 123456]",
    "call me on [PHONE_NUMBER|+44 20 7123 4567]",
    "my number in France is [PHONE_NUMBER|01 45 67 89 12]",
    "my IBAN is [IBAN_CODE|GB29 NWBK 6016 1331 9268 19]",
    "the iban [IBAN_CODE|DE44 5001 0517 5407 3249 31]",
    "my date of birth is [DATE_OF_BIRTH|31/12/1975]",
    "I was born on [DATE_OF_BIRTH|the 4th of July 1980]",
    # PII: ASR-formatted cards and security codes (issue 22 finding 12)
    "my card number is [CREDIT_CARD|4-111-111-1111-1111]",
    "the card is [CREDIT_CARD|4111-1111-1111-1111]",
    "visa [CREDIT_CARD|4111 1111 one one one one 1111]",
    "card [CREDIT_CARD|4111111111111111] and the security code is [CARD_SECURITY_CODE|seven "
    "three one]",
    "CVV [CARD_SECURITY_CODE|123]",
    # paraphrases, added after the first round of rules
    "can I get the 2 for 1 deal on Tuesday",
    "the twelve month contract ends in May",
    "your website says open 9 to 5 Monday to Friday",
    "I paid 20 pounds on the 3rd",
    "we got 3 boxes delivered to the Leeds depot",
    "the Wi-Fi drops every evening around 8",
    "I've had three engineers out in two weeks",
    "you can get hold of me on [PHONE_NUMBER|oh seven nine one one, one two three, four five six]",
    "the long number on the front is [CREDIT_CARD|4111 1111 1111 1111]",
    "my birthday's [DATE_OF_BIRTH|the 9th of August 1991]",
    "write to me at [STREET_ADDRESS|9 Rose Crescent], [POSTAL_CODE|CB2 3LL]",
    "the name is spelled [PERSON|P-E-R-E-Z]",
    # PII: dates tied to the person
    "my appointment is on [DATE_TIME|March the fifth]",
    "account [ACCOUNT_NUMBER|88231907] was opened on [DATE_TIME|the 2nd of May 2019]",
]

HELDOUT = [
    # clean: time words
    "what time do you close on Saturday",
    "I was charged twice on the twelfth of last month",
    "it has been three weeks since I sent the form",
    "can someone call me back this afternoon",
    "my package was supposed to arrive next Friday",
    "the router has been blinking orange since Tuesday morning",
    "I want to cancel the premium plan at the end of the month",
    "the technician said between eight and noon tomorrow",
    "I renewed in January and it renewed again in February",
    "the delivery window is 2 to 4 pm on weekdays",
    "I've had the account for about ten years now",
    "your app crashed three times yesterday evening",
    "the promo said twenty percent off until the 31st of December",
    "put me down for the 9:30 slot on Thursday if that is still free",
    # clean: numbers that are not personal
    "I ordered four boxes of the large filters",
    "the bill went up to eighty nine dollars and ninety nine cents",
    "I pressed option two but it sent me to billing",
    "I've been on hold for twenty minutes already",
    "my last three invoices were all wrong",
    "can I pay the remaining two hundred and fifty pounds in installments",
    "I bought the 65 inch TV on Black Friday",
    "I need a replacement for the model X200 charger",
    # clean: products and places that belong to nobody
    "is the store on Oxford Street open on bank holidays",
    "does the Galaxy S23 work with your five G plan",
    "we're flying to Paris in two weeks so I need roaming",
    "there were about fifteen people waiting in the Berlin office",
    "is the Manchester branch open on Sundays",
    # PII: spelled names
    "my surname is [PERSON|Nowak], that's [PERSON|N O W A K]",
    "the last name is [PERSON|D E S A I]",
    "[PERSON|F E R R E I R A] is how you spell it",
    "it's spelled [PERSON|M C C A R T H Y]",
    # PII: addresses and postcodes
    "I live at [STREET_ADDRESS|forty two rue du Faubourg Saint-Antoine]",
    "send it to [STREET_ADDRESS|Schillerstraße 14], [POSTAL_CODE|10625] Berlin",
    "my address is [STREET_ADDRESS|flat 7, 3 Victoria Road], [POSTAL_CODE|LS6 1AB]",
    "deliver it to [STREET_ADDRESS|27 Kingsley Gardens] please",
    "the address is [STREET_ADDRESS|Lindenweg 22]",
    "[STREET_ADDRESS|eight avenue des Ternes] in Paris",
    "my postcode is [POSTAL_CODE|M1 4BT]",
    "postcode [POSTAL_CODE|E C one A one B B]",
    # PII: non-US phones, IBAN, dates of birth
    "my mobile is [PHONE_NUMBER|07700 900 461]",
    "call me on [PHONE_NUMBER|+44 20 7946 0321]",
    "you can reach me on [PHONE_NUMBER|oh one forty two thirty eight fifty six seventy one]",
    "the landline is [PHONE_NUMBER|030 2345 6789]",
    "my IBAN is [IBAN_CODE|DE89 3704 0044 0532 0130 00]",
    "the IBAN is [IBAN_CODE|FR76 3000 6000 0112 3456 7890 189]",
    "my date of birth is [DATE_OF_BIRTH|23/04/1987]",
    "born [DATE_OF_BIRTH|14.02.1979]",
    "D O B is [DATE_OF_BIRTH|the thirtieth of November nineteen ninety]",
    # PII: ASR-formatted cards and security codes
    "card number [CREDIT_CARD|5500-0000-0000-0004]",
    "it's a visa [CREDIT_CARD|4012-8888-8888-1881]",
    "the card is [CREDIT_CARD|5105 1051 0510 5100] and the security code is "
    "[CARD_SECURITY_CODE|four seven two]",
    "amex [CREDIT_CARD|3782-822463-10005], CVC [CARD_SECURITY_CODE|nine one eight]",
    # PII: dates tied to the person, and the rest
    "my appointment with Doctor [PERSON|Okafor] is on [DATE_TIME|the fourteenth of March]",
    "my membership number is [ACCOUNT_NUMBER|77302914]",
    "it's [EMAIL_ADDRESS|k dot lindqvist at web dot de]",
]


def parse(line: str) -> Sample:
    """One marked line as a Sample: the text without markers and the labelled spans."""
    text, spans, pos = [], [], 0
    length = 0
    for m in _MARK.finditer(line):
        before = line[pos : m.start()]
        text.append(before)
        length += len(before)
        spans.append((m.group(1), length, length + len(m.group(2))))
        text.append(m.group(2))
        length += len(m.group(2))
        pos = m.end()
    text.append(line[pos:])
    return Sample("".join(text), spans)


def split(name: str) -> list[Sample]:
    """The samples of one split, "dev" or "heldout"."""
    lines = {"dev": DEV, "heldout": HELDOUT}.get(name)
    if lines is None:
        raise ValueError(f"unknown split {name!r}; choose 'dev' or 'heldout'")
    return [parse(line) for line in lines]
