"""Issue 22, finding 8: secrets and data at rest. Keys and secrets live outside the data
directory (settings.SECRETS_DIR), 0600 in 0700 folders; databases and recordings are 0600;
sessions are stored under a digest of their key; no secret is printed. Installs that kept
secrets in var/ have them moved once, losing nothing."""

from __future__ import annotations

import base64
import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connections

from callseal.at_rest import SecretsDirError, legacy_secrets_move, secrets_dir_for
from callseal.crypto.kms import EnvKeyManager, KeyConfigError
from callseal.tenancy.sessions import session_key_digest
from compliance.recording import AesGcmKeyWrapper, RecordingWriter, TrackSpec, recording_path
from tests.conftest import ALL_DATABASES

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]
# Prints, per line: the master keys' wrap of a fixed key (base64), the acme-us number's
# opened Twilio auth token, the paths of the master key files.
PROBE = """
import base64
from callseal.crypto.kms import key_manager
from calls.models import PhoneNumber
from calls.services import phone_number_auth_token
for region in ("us", "eu"):
    print(base64.b64encode(key_manager(region).wrap(bytes(32), context=b"probe")).decode())
print(phone_number_auth_token(PhoneNumber.objects.get(e164="+14155550100")))
print(key_manager("us").path)
"""
UNWRAP = """
import base64, sys
from callseal.crypto.kms import key_manager
wrapped = base64.b64decode(sys.stdin.read())
print(key_manager("us").unwrap(wrapped, context=b"probe") == bytes(32))
"""


def _env(var: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.endswith(("DATABASE_URL", "KEY_REF")) or k in ("REDIS_URL", "DJANGO_SECRET_KEY"))
    }
    env.pop("CALLSEAL_SECRETS_DIR", None)
    env.pop("CALLSEAL_DEMO_PASSWORD", None)
    env.update(CALLSEAL_VAR_DIR=str(var), CALLSEAL_LOG_LEVEL="WARNING")
    return env


def _probe(var: Path) -> subprocess.CompletedProcess[str]:
    # -v 0: without "N objects imported automatically" before the script's lines.
    return _manage(var, "shell", "-v", "0", "-c", PROBE)


def _manage(var: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MANAGE, *args], env=_env(var), input=stdin, capture_output=True, text=True, check=True
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A fresh embedded install: migrated, seeded, master keys created."""
    var = tmp_path_factory.mktemp("install") / "var"
    _manage(var, "migrate_all")
    seeded = _manage(var, "seed_demo")
    probe = _probe(var).stdout.splitlines()
    return SimpleNamespace(var=var, secrets=var.parent / "var-secrets", seeded=seeded, probe=probe)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_finding8_copy_of_var_dir_holds_no_keys(installed):
    secrets_dir = installed.secrets
    secrets = {
        "secret_key": (secrets_dir / "secret_key").read_bytes().strip(),
        "demo password": (secrets_dir / "demo-password").read_bytes().strip(),
        "us master key": (secrets_dir / "keys" / "us" / "master.key").read_bytes(),
        "eu master key": (secrets_dir / "keys" / "eu" / "master.key").read_bytes(),
    }
    for slug in ("acme-us", "acme-eu"):
        _account_sid, token = (secrets_dir / f"demo-twilio-{slug}").read_text().split()
        secrets[f"{slug} Twilio auth token"] = token.encode()
    assert installed.probe[3] == str(secrets_dir / "keys" / "us" / "master.key")
    assert installed.probe[2] == secrets["acme-us Twilio auth token"].decode()
    # Not a single secret's bytes anywhere in the data directory (databases included).
    var_files = _files(installed.var)
    assert {p.name for p in var_files} >= {
        "directory.sqlite3",
        "region-us.sqlite3",
        "region-eu.sqlite3",
    }
    leaks = [
        (name, str(path.relative_to(installed.var)))
        for path in var_files
        for name, value in secrets.items()
        if value in path.read_bytes()
    ]
    assert leaks == []


def test_finding8_secrets_and_databases_are_private_files(installed):
    secrets_files = _files(installed.secrets)
    assert {str(p.relative_to(installed.secrets)) for p in secrets_files} == {
        "secret_key",
        "demo-password",
        "demo-credentials.txt",
        "demo-twilio-acme-us",
        "demo-twilio-acme-eu",
        "keys/us/master.key",
        "keys/eu/master.key",
        # The internal services' tokens (finding 4), generated here when not configured.
        "region-us-inference-token",
        "region-us-llm-token",
        "region-eu-inference-token",
        "region-eu-llm-token",
    }
    modes = {str(p): p.stat().st_mode & 0o777 for p in secrets_files}
    assert set(modes.values()) == {0o600}, modes
    for directory in (installed.var, installed.secrets, installed.secrets / "keys" / "us"):
        assert directory.stat().st_mode & 0o777 == 0o700
    databases = [p for p in _files(installed.var) if ".sqlite3" in p.name]
    assert {p.stat().st_mode & 0o777 for p in databases} == {0o600}


def test_finding8_seed_demo_prints_the_credentials_path_not_the_password(installed):
    password = (installed.secrets / "demo-password").read_text().strip()
    credentials = installed.secrets / "demo-credentials.txt"
    assert installed.seeded.stdout == (
        "Demo logins: acme-us-admin, acme-us-compliance, acme-eu-admin, acme-eu-compliance; "
        f"their password is in {credentials}\n"
        "Admins and compliance officers set up a TOTP authenticator on first sign-in "
        "(CALLSEAL_REQUIRE_2FA=false skips it in a local demo).\n"
    )
    assert password not in installed.seeded.stdout + installed.seeded.stderr
    assert credentials.read_text().splitlines()[0].split()[:2] == ["acme-us-admin", password]


def test_finding8_existing_install_with_keys_in_var_moves_them_once_and_loses_nothing(
    tmp_path, installed
):
    # An install of an earlier version: the same secrets, kept in var/ itself.
    var = tmp_path / "var"
    subprocess.run(["cp", "-a", str(installed.var), str(var)], check=True)
    # Earlier versions had no internal-service tokens (they are born in the secrets dir).
    for path in _files(installed.secrets):
        if path.name.endswith("-token"):
            continue
        legacy = var / path.relative_to(installed.secrets)
        legacy.parent.mkdir(parents=True, exist_ok=True)
        legacy.write_bytes(path.read_bytes())
    moved = _probe(var)
    assert moved.stderr.count("callseal: moved 7 secret file(s) out of the data directory") == 1
    secrets_dir = tmp_path / "var-secrets"
    assert [str(p.relative_to(var)) for p in _files(var) if "sqlite3" not in p.name] == []
    assert not (var / "keys").exists()
    # Same keys: the same auth token opens, data wrapped before the move unwraps after it.
    assert moved.stdout.splitlines()[2] == installed.probe[2]
    assert moved.stdout.splitlines()[3] == str(secrets_dir / "keys" / "us" / "master.key")
    unwrapped = _manage(var, "shell", "-v", "0", "-c", UNWRAP, stdin=installed.probe[0])
    assert unwrapped.stdout == "True\n"
    assert "callseal: moved" not in unwrapped.stderr  # once
    assert {p.stat().st_mode & 0o777 for p in _files(secrets_dir)} == {0o600}


def test_finding8_a_secret_in_both_places_that_differs_stops_the_start(tmp_path):
    var, secrets_dir = tmp_path / "var", tmp_path / "var-secrets"
    (var / "keys" / "us").mkdir(parents=True)
    (secrets_dir / "keys" / "us").mkdir(parents=True)
    (var / "keys" / "us" / "master.key").write_bytes(b"a" * 32)
    (secrets_dir / "keys" / "us" / "master.key").write_bytes(b"b" * 32)
    with pytest.raises(SecretsDirError, match="both exist and differ"):
        legacy_secrets_move(var_dir=var, secrets_dir=secrets_dir, environ={})
    assert (var / "keys" / "us" / "master.key").read_bytes() == b"a" * 32
    assert (secrets_dir / "keys" / "us" / "master.key").read_bytes() == b"b" * 32


def test_finding8_a_region_with_its_own_key_ref_keeps_its_key_where_it_is(tmp_path):
    var, secrets_dir = tmp_path / "var", tmp_path / "var-secrets"
    (var / "keys" / "us").mkdir(parents=True)
    (var / "keys" / "us" / "master.key").write_bytes(b"a" * 32)
    environ = {"REGION_US_KEY_REF": f"file:{var / 'keys' / 'us'}"}
    assert legacy_secrets_move(var_dir=var, secrets_dir=secrets_dir, environ=environ) == []
    assert (var / "keys" / "us" / "master.key").read_bytes() == b"a" * 32


def test_finding8_secrets_dir_defaults_beside_var_and_may_not_be_inside_it(tmp_path):
    var = tmp_path / "data"
    assert secrets_dir_for(var, {}) == tmp_path / "data-secrets"
    assert secrets_dir_for(var, {"CALLSEAL_SECRETS_DIR": "/etc/callseal"}) == Path("/etc/callseal")
    with pytest.raises(SecretsDirError, match="is inside the data directory"):
        secrets_dir_for(var, {"CALLSEAL_SECRETS_DIR": str(var / "secrets")})
    assert settings.VAR_DIR.parent / f"{settings.VAR_DIR.name}-secrets" == settings.SECRETS_DIR


def test_finding8_master_key_from_an_env_reference(monkeypatch):
    monkeypatch.setenv("CALLSEAL_TEST_MASTER", base64.b64encode(bytes(range(32))).decode())
    manager = EnvKeyManager("CALLSEAL_TEST_MASTER")
    assert manager.unwrap(manager.wrap(b"k" * 32, context=b"c"), context=b"c") == b"k" * 32
    monkeypatch.setenv("CALLSEAL_TEST_MASTER", base64.b64encode(b"short").decode())
    with pytest.raises(KeyConfigError, match=r"\$CALLSEAL_TEST_MASTER must decode to 32 bytes"):
        EnvKeyManager("CALLSEAL_TEST_MASTER")


def test_finding8_recordings_are_written_0600_in_0700_folders(tmp_path):
    recording_id = uuid.uuid4()
    tenant_id = uuid.uuid4()
    with RecordingWriter.create(
        storage_root=tmp_path / "storage",
        tenant_id=tenant_id,
        recording_id=recording_id,
        tracks=(TrackSpec("caller", 8000),),
        key_wrapper=AesGcmKeyWrapper(bytes(32), key_ref="subject:test"),
    ) as writer:
        writer.write(track="caller", pcm=bytes(320))
    path = recording_path(
        storage_root=tmp_path / "storage", tenant_id=tenant_id, recording_id=recording_id
    )
    assert path.stat().st_mode & 0o777 == 0o600
    for folder in (path.parent, path.parent.parent, tmp_path / "storage"):
        assert folder.stat().st_mode & 0o777 == 0o700


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_finding8_sessions_are_stored_hashed_and_a_stored_key_does_not_log_in(
    client, login_as, acme_us
):
    login_as(acme_us)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert list(Session.objects.values_list("session_key", flat=True)) == [
        session_key_digest(cookie)
    ]
    assert client.get("/").status_code == 200
    # Someone holding a copy of the database replays the stored key: not signed in.
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key_digest(cookie)
    assert client.get("/").status_code == 302
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    client.post("/logout/")
    assert Session.objects.count() == 0


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_finding8_sessions_stored_verbatim_before_are_rehashed_and_stay_signed_in(
    client, login_as, acme_us
):
    migration = importlib.import_module("callseal.tenancy.migrations.0002_hash_session_keys")
    login_as(acme_us)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    # As the previous (database) backend stored it: under the key itself.
    Session.objects.update(session_key=cookie)
    migration.hash_session_keys(django_apps, SimpleNamespace(connection=connections["default"]))
    assert list(Session.objects.values_list("session_key", flat=True)) == [
        session_key_digest(cookie)
    ]
    assert client.get("/").status_code == 200
