"""The console's calls list: filters and keyset pagination (newest first).

The cursor is the last row's (started_at, id): each page is one indexed range scan on
(tenant_id, -started_at) however deep the user pages, unlike OFFSET.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django import forms
from django.db.models import OuterRef, Q, QuerySet, Subquery

from analytics.models import CallSummary, Outcome
from calls.models import Call, CallStatus
from callseal.tenancy.context import current_tenant

PAGE_SIZE = 25


class CallFilterForm(forms.Form):
    date_from = forms.DateField(
        label="From (UTC date)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To (UTC date)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any"), *CallStatus.choices]
    )
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any"), *Outcome.choices]
    )
    agent = forms.ChoiceField(label="Agent", required=False)
    number = forms.ChoiceField(label="Number", required=False)
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: object, agents: list[tuple[str, str]], numbers: list[str], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["agent"].choices = [("", "Any"), *agents]  # type: ignore[attr-defined]
        self.fields["number"].choices = [("", "Any"), *[(n, n) for n in numbers]]  # type: ignore[attr-defined]

    def clean_after(self) -> tuple[datetime, uuid.UUID] | None:
        raw = self.cleaned_data.get("after") or ""
        if not raw:
            return None
        stamp, _, ident = raw.partition("_")
        try:
            return datetime.fromisoformat(stamp), uuid.UUID(ident)
        except ValueError:
            raise forms.ValidationError(
                "That page link is damaged; start from the first page."
            ) from None

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:  # type: ignore[operator]
            self.add_error("date_to", "The end date is before the start date.")
        return data


@dataclass(frozen=True, slots=True)
class CallPage:
    calls: list[Call]
    next_cursor: str | None


def cursor_of(call: Call) -> str:
    return f"{call.started_at.isoformat()}_{call.id}"


def call_page(
    *,
    date_from: object = None,
    date_to: object = None,
    status: str = "",
    outcome: str = "",
    agent: str = "",
    number: str = "",
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = PAGE_SIZE,
) -> CallPage:
    tenant_id = current_tenant().id
    summaries = CallSummary.objects.filter(tenant_id=tenant_id, call_id=OuterRef("id"))
    calls: QuerySet[Call] = Call.objects.filter(tenant_id=tenant_id).annotate(
        outcome=Subquery(summaries.values("outcome")[:1]),
        duration_ms=Subquery(summaries.values("duration_ms")[:1]),
    )
    if date_from:
        calls = calls.filter(started_at__gte=datetime.combine(date_from, time.min, tzinfo=UTC))  # type: ignore[arg-type]
    if date_to:
        calls = calls.filter(
            started_at__lt=datetime.combine(date_to, time.min, tzinfo=UTC) + timedelta(days=1)  # type: ignore[arg-type]
        )
    if status:
        calls = calls.filter(status=status)
    if outcome:
        calls = calls.filter(outcome=outcome)  # type: ignore[misc]  # the annotation
    if agent:
        calls = calls.filter(agent_id=agent)
    if number:
        calls = calls.filter(to_number=number)
    if after is not None:
        stamp, ident = after
        calls = calls.filter(Q(started_at__lt=stamp) | Q(started_at=stamp, id__lt=ident))
    rows = list(calls.order_by("-started_at", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return CallPage(calls=rows, next_cursor=cursor_of(rows[-1]) if more and rows else None)
