"""manage.py audit_export: writes a verifiable bundle, prints the key fingerprint, refuses
bad input with a clear message."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from callseal.ledger.selectors import ledger_read_tenant
from callseal.tenancy.context import tenant_context
from compliance.verify import verify_bundle
from tests.compliance.audit.helpers import CALL_A, CALLER_A, make_log
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def test_command_writes_a_bundle_and_prints_the_fingerprint(acme_us, tmp_path):
    with tenant_context(acme_us):
        make_log()
    out = io.StringIO()
    target = tmp_path / "a.zip"
    call_command(
        "audit_export", tenant="acme-us", call=CALL_A, out=str(target), no_progress=True, stdout=out
    )
    text = out.getvalue()
    fingerprint = text.split("key fingerprint: ")[1].split()[0]
    summary = verify_bundle(str(target), pin_fingerprint=fingerprint)
    assert summary.events == 4
    assert f"wrote {target} (4 events, 0 erasures, tree size 11," in text
    with tenant_context(acme_us):
        (exported,) = ledger_read_tenant(types=("audit.exported",))
    assert exported.metadata["actor"] == "cli:audit_export"
    assert exported.data["key_fingerprint"] == fingerprint


def test_command_with_progress_and_subject_and_time_range(acme_us, tmp_path, capsys):
    with tenant_context(acme_us):
        make_log()
    target = tmp_path / "s.zip"
    call_command(
        "audit_export",
        tenant="acme-us",
        subject=CALLER_A,
        start="2000-01-01T00:00:00Z",
        out=str(target),
        stdout=io.StringIO(),
    )
    assert "events:" in capsys.readouterr().err  # tqdm's bar on stderr
    assert verify_bundle(str(target)).events == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tenant": "nope"}, "no tenant with slug 'nope'"),
        ({"start": "soon"}, "from: 'soon' is not an ISO 8601 date or time"),
        ({"subject": "12345"}, "subject: a phone number in E.164 form"),
        ({"call": "no-such-call"}, "no events match these criteria"),
    ],
)
def test_command_refuses_bad_input(acme_us, tmp_path, options, message):
    with tenant_context(acme_us):
        make_log()
    arguments = {"tenant": "acme-us", "out": str(tmp_path / "x.zip"), "no_progress": True}
    with pytest.raises(CommandError, match=message):
        call_command("audit_export", **{**arguments, **options})
    assert not (tmp_path / "x.zip").exists()


def test_command_will_not_overwrite(acme_us, tmp_path):
    target = tmp_path / "x.zip"
    target.write_bytes(b"keep")
    with pytest.raises(CommandError, match="exists; refusing to overwrite"):
        call_command("audit_export", tenant="acme-us", out=str(target))
    assert target.read_bytes() == b"keep"
