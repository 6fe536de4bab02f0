"""Bundles verify; any flipped byte or dropped event makes the verifier fail and name it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compliance.audit.export import bundle_export
from compliance.audit.filters import AuditFilter
from tests.compliance.audit.helpers import (
    make_log,
    member,
)
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


@pytest.fixture
def full_bundle(us_context, tmp_path):
    make_log()
    return bundle_export(audit_filter=AuditFilter(), out=tmp_path / "full.zip", actor="user:1")


def test_full_export_verifies_with_the_bundled_verifier_alone(full_bundle, tmp_path):
    verifier = tmp_path / "verify.py"
    verifier.write_bytes(member(full_bundle.path, "verify.py"))
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            str(verifier),
            str(full_bundle.path),
            "--fingerprint",
            full_bundle.key_fingerprint,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "11 events and 0 erasure events" in done.stdout
    assert f"key fingerprint {full_bundle.key_fingerprint} (pinned)" in done.stdout
