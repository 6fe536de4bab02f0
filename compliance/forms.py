"""Console forms: parse and check shape only; the services hold the rules."""

from __future__ import annotations

from django import forms

from callseal.tenancy.services import CONSENT_MODES, MAX_RETENTION_DAYS
from compliance.models import DataClass, HoldScope

CONSENT_LABELS = {
    "jurisdiction": "By the caller's jurisdiction (US two-party states ask)",
    "one_party": "One-party: the announcement suffices",
    "all_party": "All-party: always ask for a yes",
    "explicit": "Explicit: always ask for a yes",
}


class ConsentPolicyForm(forms.Form):
    consent_mode = forms.ChoiceField(
        choices=[(m, CONSENT_LABELS.get(m, m)) for m in sorted(CONSENT_MODES)],
        label="Consent mode",
    )


class RetentionPolicyForm(forms.Form):
    """One optional day count per data class; empty keeps that class indefinitely."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for value, label in DataClass.choices:
            self.fields[value] = forms.IntegerField(
                label=f"{label} (days)",
                required=False,
                min_value=1,
                max_value=MAX_RETENTION_DAYS,
                help_text="Empty: kept until erased.",
            )

    def retention_days(self) -> dict[str, int]:
        return {k: v for k, v in self.cleaned_data.items() if v is not None}


class LegalHoldForm(forms.Form):
    scope = forms.ChoiceField(choices=HoldScope.choices, label="Hold on")
    call_id = forms.UUIDField(required=False, label="Call id (for a call hold)")
    phone_number = forms.CharField(
        required=False, max_length=32, label="Caller's number (for a subject hold)"
    )
    reason = forms.CharField(
        max_length=200, label="Reason", help_text="Case or matter reference; no personal data."
    )


class HoldReleaseForm(forms.Form):
    reason = forms.CharField(max_length=200, label="Reason for release")


class ErasureForm(forms.Form):
    phone_number = forms.CharField(
        max_length=32,
        label="Caller's phone number",
        help_text="International form, e.g. +14155550123.",
    )
    confirm = forms.BooleanField(
        label="I understand this destroys the caller's recordings and personal data for good."
    )
