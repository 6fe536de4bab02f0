"""Data subjects named by phone number: E.164 normalisation and the subject reference.

The call path and erasure must name a caller identically, or erasure would miss data:
both go through ``phone_subject_ref``, which hashes the E.164 form.
"""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError

from callseal.crypto.services import subject_ref_for

# Numbers written without a country code are read as North American: the tenants' business
# numbers and the consent rules (compliance/consent.py) are US-first.
DEFAULT_REGION = "US"


def normalize_e164(number: str) -> str:
    """``number`` in E.164 (``+14155550100``); ValidationError when it is not a valid number."""
    raw = (number or "").strip()
    if not raw or len(raw) > 32:
        raise ValidationError("enter a phone number such as +14155550123")
    try:
        parsed = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            f"{raw!r} is not a phone number; use international form such as +14155550123"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            f"{raw!r} is not a valid phone number for its country code; check the digits"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_e164(e164: str) -> str:
    """Keep the country code's plus and the last two digits, e.g. ``+*********23``."""
    return "+" + "*" * (len(e164) - 3) + e164[-2:]


def phone_subject_ref(number: str) -> str:
    """The current tenant's ``subject_ref`` for a caller's phone number (normalised first)."""
    return subject_ref_for(normalize_e164(number))
