"""Console forms: parse and check shape only; the services hold the rules."""

from __future__ import annotations

from django import forms

from callseal.tenancy.services import CONSENT_MODES, MAX_ANNOUNCEMENT_CHARS, MAX_RETENTION_DAYS
from compliance.models import DataClass, HoldScope

# What each mode does (compliance.consent.consent_requirement). A region that requires
# explicit consent (CALLSEAL_EXPLICIT_CONSENT_REGIONS) asks every caller whatever the mode.
CONSENT_LABELS = {
    "jurisdiction": (
        "By the caller's jurisdiction: callers from US one-party states hear the notice and "
        "may opt out; callers from the twelve all-party states (CA, FL, IL, …) and callers "
        "from outside the US or with a withheld number are asked for a yes"
    ),
    "one_party": (
        "One-party: every caller hears the notice and is recorded unless they say "
        "stop recording or press 9; nobody is asked for a yes"
    ),
    "all_party": (
        "All-party: every caller is asked to say yes or press 1 before recording, wherever "
        "they call from, as the strictest US wiretap laws require; evidence cites all_party"
    ),
    "explicit": (
        "Explicit: every caller gives a clear affirmative yes (the GDPR's standard for "
        "consent); silence or no answer is a refusal; evidence cites explicit"
    ),
}


class ConsentPolicyForm(forms.Form):
    consent_mode = forms.ChoiceField(
        choices=[(m, CONSENT_LABELS.get(m, m)) for m in sorted(CONSENT_MODES)],
        label="Consent mode",
        widget=forms.RadioSelect,
    )
    consent_announcement = forms.CharField(
        label="Recording announcement",
        required=False,
        max_length=MAX_ANNOUNCEMENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=(
            f"What callers hear first, at most {MAX_ANNOUNCEMENT_CHARS} characters; how to "
            "answer or opt out is added after it. Empty: the deployment's default text."
        ),
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
    call = forms.CharField(
        required=False,
        max_length=64,
        label="Call (for a call hold)",
        help_text="The call's Twilio SID as the call pages show it (CA…), or its id.",
    )
    phone_number = forms.CharField(
        required=False, max_length=32, label="Caller's number (for a subject hold)"
    )
    reason = forms.CharField(
        max_length=200, label="Reason", help_text="Case or matter reference; no personal data."
    )


class HoldReleaseForm(forms.Form):
    reason = forms.CharField(max_length=200, label="Reason for release")


class ErasurePreviewForm(forms.Form):
    phone_number = forms.CharField(
        max_length=32,
        label="Caller's phone number",
        help_text="International form, e.g. +14155550123.",
    )


class ErasureForm(ErasurePreviewForm):
    confirm = forms.BooleanField(
        label="I understand this destroys the caller's recordings and personal data for good."
    )
