"""Bundles verify; any flipped byte or dropped event makes the verifier fail and name it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from callseal.tenancy.context import tenant_context
from compliance.audit.export import bundle_export
from compliance.audit.filters import AuditFilter, filter_parse
from compliance.verify import Failure, verify_bundle
from tests.conftest import ALL_DATABASES
from tests.compliance.audit.helpers import CALL_A, CALLER_B, erase_caller_b, make_log, member, rezip, run_verifier

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


@pytest.fixture
def full_bundle(us_context, tmp_path):
    make_log()
    result = bundle_export(audit_filter=AuditFilter(), out=tmp_path / "full.zip", actor="user:1")
    return result


def test_full_export_verifies_with_the_bundled_verifier_alone(full_bundle, tmp_path):
    verifier = tmp_path / "verify.py"
    verifier.write_bytes(member(full_bundle.path, "verify.py"))
    done = subprocess.run(
        [sys.executable, "-I", str(verifier), str(full_bundle.path), "--fingerprint",
         full_bundle.key_fingerprint],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "11 events and 0 erasure events" in done.stdout
    assert f"key fingerprint {full_bundle.key_fingerprint} (pinned)" in done.stdout
