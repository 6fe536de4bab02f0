"""Which countries' numbers a region is meant to answer, for the numbers page's warning.

A number of another country can be legitimate (a US tenant's German support line), so this
only asks the admin to confirm; the residency of the call's data is the tenant's region
either way. ``CALLSEAL_REGION_COUNTRIES`` maps region names to ISO 3166 country codes; a
region it does not name gets no warning.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings


def number_country(e164: str) -> str | None:
    """ISO country of an E.164 number (``US``, ``DE``), or None when unknown."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed) or None


def number_region_warning(*, e164: str, region: str) -> str:
    """Why an admin should look twice before adding ``e164`` to a tenant of ``region``;
    empty when the number's country is one the region serves."""
    countries = settings.CALLSEAL_REGION_COUNTRIES.get(region)
    if not countries:
        return ""
    country = number_country(e164)
    if country in countries:
        return ""
    where = country or "an unknown country"
    return (
        f"{e164} is a number of {where}, but this tenant's data lives in region"
        f" {region.upper()} ({', '.join(sorted(countries)[:6])}"
        f"{', …' if len(countries) > 6 else ''}): callers of {where} will be answered,"
        " recorded and processed there, under that region's rules. Confirm to add it anyway."
    )
