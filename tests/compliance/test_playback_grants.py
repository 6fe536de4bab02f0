"""Playback grants: the reason for listening travels in a POST body and stays on the server;
the audio URL names only a random grant of one user, in one tenant, for ten minutes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from callseal.ledger.selectors import ledger_read_tenant
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from compliance.models import PlaybackGrant
from tests.conftest import ALL_DATABASES
from tests.console.helpers import make_call, make_recording

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
REASON = "complaint 88 for Ann Smith"


def _grant(client, call_id, recording_id, reason: str = REASON) -> str:  # type: ignore[no-untyped-def]
    player = client.post(
        f"/calls/{call_id}/recordings/play/", {"recording": str(recording_id), "reason": reason}
    ).content.decode()
    return player.split('src="')[1].split('"')[0].replace("&amp;", "&")


def test_the_audio_url_names_a_grant_and_never_the_reason(client, login_as, acme_us):
    call = make_call(acme_us, status="completed")
    recording = make_recording(acme_us, call.id, seconds=0.25)
    login_as(acme_us, Role.SUPERVISOR)

    src = _grant(client, call.id, recording)

    assert re.fullmatch(
        rf"/calls/{call.id}/recordings/{recording}/audio\?grant=[0-9a-f-]{{36}}", src
    ), src
    audio = client.get(src)
    assert audio.status_code == 200
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"
    with tenant_context(acme_us):
        (accessed,) = ledger_read_tenant(types=("recording.accessed",))
        assert accessed.data["reason"] == REASON
        (grant,) = PlaybackGrant.objects.all()
    assert str(grant.id) in src
    assert "complaint" not in src
    assert "Ann" not in src


def test_a_grant_plays_only_for_the_user_who_gave_the_reason(client, login_as, acme_us):
    call = make_call(acme_us, status="completed")
    recording = make_recording(acme_us, call.id, seconds=0.25)
    login_as(acme_us, Role.SUPERVISOR)
    src = _grant(client, call.id, recording)

    login_as(acme_us, Role.COMPLIANCE_OFFICER)  # another user of the same tenant
    assert client.get(src).status_code == 403
    with tenant_context(acme_us):
        assert not ledger_read_tenant(types=("recording.accessed",))


def test_an_expired_or_malformed_grant_is_refused(client, login_as, acme_us):
    call = make_call(acme_us, status="completed")
    recording = make_recording(acme_us, call.id, seconds=0.25)
    login_as(acme_us, Role.SUPERVISOR)
    src = _grant(client, call.id, recording)
    assert client.get(src.replace("grant=", "grant=x")).status_code == 403
    assert client.get(src.split("?")[0]).status_code == 403
    with tenant_context(acme_us):
        PlaybackGrant.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert client.get(src).status_code == 403
    # A new grant clears the expired ones.
    _grant(client, call.id, recording)
    with tenant_context(acme_us):
        assert PlaybackGrant.objects.count() == 1


def test_a_grant_for_one_recording_does_not_open_another(client, login_as, acme_us):
    call = make_call(acme_us, status="completed")
    first = make_recording(acme_us, call.id, seconds=0.25)
    second = make_recording(acme_us, call.id, seconds=0.25)
    login_as(acme_us, Role.SUPERVISOR)
    src = _grant(client, call.id, first)
    assert client.get(src.replace(str(first), str(second))).status_code == 403


def test_another_tenants_user_cannot_use_a_grant(client, login_as, acme_us, acme_eu):
    call = make_call(acme_us, status="completed")
    recording = make_recording(acme_us, call.id, seconds=0.25)
    login_as(acme_us, Role.SUPERVISOR)
    src = _grant(client, call.id, recording)
    login_as(acme_eu, Role.COMPLIANCE_OFFICER)
    assert client.get(src).status_code == 404
    with tenant_context(acme_us):
        assert not ledger_read_tenant(types=("recording.accessed",))


@pytest.mark.parametrize("reason", ["", "   ", "r" * 201])
def test_a_missing_or_long_reason_makes_no_grant(client, login_as, acme_us, reason):
    call = make_call(acme_us, status="completed")
    recording = make_recording(acme_us, call.id, seconds=0.25)
    login_as(acme_us, Role.SUPERVISOR)
    response = client.post(
        f"/calls/{call.id}/recordings/play/", {"recording": str(recording), "reason": reason}
    )
    assert response.status_code == 200
    assert "Give a reason for listening (1-200 characters)" in response.content.decode()
    with tenant_context(acme_us):
        assert not PlaybackGrant.objects.exists()


def test_the_grant_request_is_a_post(client, login_as, acme_us):
    call = make_call(acme_us, status="completed")
    recording = make_recording(acme_us, call.id, seconds=0.25)
    login_as(acme_us, Role.SUPERVISOR)
    url = f"/calls/{call.id}/recordings/play/?recording={recording}&reason=x"
    assert client.get(url).status_code == 405
