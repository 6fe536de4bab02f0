"""Console pages on real data: content, filters, errors, and queries that do not grow with
the data (django_assert_num_queries: a page's query count is the same for 2 and 8 calls)."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from callseal.tenancy.models import Role
from tests.analytics.conftest import CallDriver
from tests.conftest import ALL_DATABASES
from tests.console.helpers import make_recording

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def _calls(tenant, number, n: int) -> list[CallDriver]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        call = CallDriver(tenant, number)
        call.turn("my number is 555 0100", "my number is [PHONE]", "Thanks.", 500 + 10 * i)
        if i % 2:
            call.end()
        out.append(call)
    return out


def _queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with (
        CaptureQueriesContext(connections["default"]) as d,
        CaptureQueriesContext(connections["region_us"]) as r,
    ):
        assert client.get(url).status_code == 200
    return len(d) + len(r)


@pytest.mark.parametrize(
    "page",
    [
        "/",
        "/calls/",
        "/calls/?status=in_progress&outcome=live",
        "detail",
        "live",
        "/dashboard/figures/",
    ],
)
def test_page_queries_do_not_grow_with_the_data(page, client, login_as, acme_us, us_number):
    login_as(acme_us, Role.ADMIN)
    few = _calls(acme_us, us_number, 2)
    url = {"detail": f"/calls/{few[0].call_id}/", "live": f"/calls/{few[0].call_id}/live/"}.get(
        page, page
    )
    client.get(url)  # the first request of a session also writes the session
    small = _queries(client, url)
    _calls(acme_us, us_number, 6)
    assert _queries(client, url) == small
    assert small <= 16


def test_dashboard_shows_live_calls_and_todays_figures(client, login_as, acme_us, us_number):
    login_as(acme_us, Role.SUPERVISOR)
    _calls(acme_us, us_number, 4)
    html = client.get("/").content.decode()
    assert 'Calls live now: <span id="live-count" aria-live="polite">2</span>' in html
    assert '<dd id="today-calls">4</dd>' in html
    assert '<dd id="containment">100.0 %</dd>' in html
    # Latencies 500, 510, 520, 530 ms: nearest-rank p50 is the 2nd, p95 the 4th.
    assert '<dd id="v2v-p50">510 ms</dd>' in html
    assert '<dd id="v2v-p95">530 ms</dd>' in html
    assert 'id="volume-data"' in html
    assert "uPlot.iife.min.js" in html


def test_calls_list_filters_and_pages(client, login_as, acme_us, us_number):
    login_as(acme_us, Role.AGENT)
    calls = _calls(acme_us, us_number, 5)
    html = client.get("/calls/?outcome=contained").content.decode()
    assert html.count("/live/") == 0
    assert html.count("<tr>") == 1 + 2
    page1 = client.get("/calls/", {"status": "in_progress"})
    assert page1.status_code == 200
    from calls import listing

    listing_page_size = listing.PAGE_SIZE
    listing.PAGE_SIZE = 2
    try:
        from calls.listing import call_page
        from callseal.tenancy.context import tenant_context

        with tenant_context(acme_us):
            first = call_page(limit=2)
            second = call_page(
                limit=2,
                after=listing.CallFilterForm(
                    {"after": first.next_cursor}, agents=[], numbers=[]
                ).fields["after"]
                and _cursor(first.next_cursor),
            )
            third = call_page(limit=2, after=_cursor(second.next_cursor))
        seen = [c.id for c in first.calls + second.calls + third.calls]
        assert seen == [c.call_id for c in reversed(calls)]
        assert third.next_cursor is None
    finally:
        listing.PAGE_SIZE = listing_page_size


def _cursor(raw):  # type: ignore[no-untyped-def]
    import uuid
    from datetime import datetime

    stamp, _, ident = raw.partition("_")
    return datetime.fromisoformat(stamp), uuid.UUID(ident)


def test_bad_filters_get_clear_errors(client, login_as, acme_us):
    login_as(acme_us, Role.AGENT)
    response = client.get(
        "/calls/", {"date_from": "2026-02-02", "date_to": "2026-01-01", "status": "nonsense"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The end date is before the start date." in html
    assert "Select a valid choice. nonsense is not one of the available choices." in html
    damaged = client.get("/calls/", {"after": "yesterday_x"})
    assert "That page link is damaged" in damaged.content.decode()


def test_detail_shows_timeline_redacted_transcript_and_consent(
    client, login_as, acme_us, us_number
):
    from agents.events import TurnUnderrun
    from tests.analytics.ai_events import event

    call = CallDriver(acme_us, us_number)
    call.record(
        event(
            "consent.given",
            announcement_version="v3",
            at="2026-01-01T00:00:02+00:00",
            audio_offset_ms=2100,
            method="speech",
            signal="speech:yes",
        )
    )
    call.turn("my card is 4111 1111 1111 1111", "my card is [CARD]", "Thank you.", 640)
    call.record(TurnUnderrun(turn=1, kind="reply", gaps=2, silence_ms=130, longest_ms=99))
    call.end()
    login_as(acme_us, Role.COMPLIANCE_OFFICER)
    html = client.get(f"/calls/{call.call_id}/").content.decode()
    assert "reply: silence inside the utterance, 2 gap(s), 130 ms in all (longest 99 ms)" in html
    assert "<dt>Dead air in replies</dt><dd>130 ms in 2 gaps, longest 99 ms</dd>" in html
    assert "my card is [CARD]" in html
    assert "4111" not in html
    assert "<code>consent.given</code> method speech, signal speech:yes" in html
    assert "service asr, region us, model tiny.en" in html
    assert "<td>640 ms</td>" in html


def test_recording_plays_the_redacted_copy_and_records_the_reason(
    client, login_as, acme_us, us_number
):
    from callseal.ledger.selectors import ledger_read_tenant
    from callseal.tenancy.context import tenant_context

    call = CallDriver(acme_us, us_number)
    original = make_recording(acme_us, call.call_id, kind="original")
    redacted = make_recording(acme_us, call.call_id, kind="redacted", seconds=0.5)
    login_as(acme_us, Role.SUPERVISOR)
    html = client.get(f"/calls/{call.call_id}/").content.decode()
    assert str(redacted) in html
    assert str(original) not in html
    refused = client.post(
        f"/calls/{call.call_id}/recordings/play/", {"recording": str(redacted), "reason": ""}
    )
    assert "Give a reason for listening" in refused.content.decode()
    player = client.post(
        f"/calls/{call.call_id}/recordings/play/",
        {"recording": str(redacted), "reason": "quality review"},
    ).content.decode()
    src = player.split('src="')[1].split('"')[0].replace("&amp;", "&")
    audio = client.get(src)
    body = b"".join(audio.streaming_content)
    assert audio["Content-Type"] == "audio/wav"
    assert body[:4] == b"RIFF"
    assert len(body) == int(audio["Content-Length"]) == 44 + 8000 * 2 * 2
    with tenant_context(acme_us):
        (accessed,) = ledger_read_tenant(types=("recording.accessed",))
    assert (accessed.data["reason"], accessed.data["kind"], accessed.data["role"]) == (
        "quality review",
        "redacted",
        "supervisor",
    )
    assert client.get(src.replace("grant=", "grant=x")).status_code == 403


def test_call_page_shows_the_calls_one_voice_to_voice(client, login_as, acme_us, us_number):
    one, two = CallDriver(acme_us, us_number), CallDriver(acme_us, us_number)
    one.turn("hi", "hi", "Hello.", 640)
    two.turn("hi", "hi", "Hello.", 640)
    two.turn("and?", "and?", "Yes.", 821)
    login_as(acme_us, Role.ADMIN)
    assert (
        '<dd id="call-v2v">640 ms (1 reply)</dd>'
        in client.get(f"/calls/{one.call_id}/").content.decode()
    )
    assert (
        '<dd id="call-v2v">avg 730 ms, max 821 ms (2 replies)</dd>'
        in client.get(f"/calls/{two.call_id}/").content.decode()
    )
