"""`make install`'s Debian step (scripts/install-system.sh) decides from the package query
and the user id; dpkg-query, id and apt-get are PATH shims here, the script is the real one.
The real path runs in CI: `.ci/run` calls only `make test`, which runs `make install`."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install-system.sh"
ALL = ["espeak-ng", "sox", "pocketsphinx-testdata", "chromium", "chromium-driver", "openssl"]


def _shim(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def machine(tmp_path: Path):  # type: ignore[no-untyped-def]
    """machine(installed=[...], uid=N) -> (completed process, apt-get calls)."""
    shims = tmp_path / "bin"
    shims.mkdir()
    apt_log = tmp_path / "apt-get.log"
    _shim(
        shims,
        "dpkg-query",
        # dpkg-query -W -f='${Status}' PACKAGE: "install ok installed" for installed ones.
        "for a; do pkg=$a; done\n"
        'for p in $SHIM_INSTALLED; do [ "$p" = "$pkg" ] && printf "install ok installed"'
        " && exit 0; done\n"
        'echo "dpkg-query: no packages found matching $pkg" >&2; exit 1\n',
    )
    _shim(shims, "id", 'echo "$SHIM_UID"\n')
    _shim(shims, "apt-get", f'echo "$*" >> {apt_log}\n')

    def run(*, installed: list[str], uid: int) -> tuple[subprocess.CompletedProcess[str], list]:
        env = {
            **os.environ,
            "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
            "SHIM_INSTALLED": " ".join(installed),
            "SHIM_UID": str(uid),
        }
        done = subprocess.run(
            ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False
        )
        calls = apt_log.read_text().splitlines() if apt_log.exists() else []
        return done, calls

    return run


def test_root_with_missing_packages_installs_exactly_those(machine):
    done, apt_calls = machine(installed=["sox", "openssl", "pocketsphinx-testdata"], uid=0)
    assert done.returncode == 0, done.stderr
    assert apt_calls == [
        "update -qq",
        "install -y --no-install-recommends -qq espeak-ng chromium chromium-driver",
    ]
    assert done.stdout == (
        "installing Debian packages (first install): espeak-ng chromium chromium-driver\n"
    )


def test_non_root_with_missing_packages_prints_the_apt_get_line_and_fails(machine):
    done, apt_calls = machine(installed=["openssl"], uid=1000)
    assert done.returncode == 1
    assert apt_calls == []
    lines = done.stderr.splitlines()
    assert (
        "  apt-get install -y --no-install-recommends espeak-ng sox pocketsphinx-testdata"
        " chromium chromium-driver"
    ) in lines
    assert lines[0] == (
        "Callseal needs Debian packages that are not installed: espeak-ng sox"
        " pocketsphinx-testdata chromium chromium-driver"
    )


@pytest.mark.parametrize("uid", [0, 1000])
def test_nothing_missing_runs_no_apt_and_prints_nothing(machine, uid):
    done, apt_calls = machine(installed=ALL, uid=uid)
    assert (done.returncode, done.stdout, done.stderr, apt_calls) == (0, "", "", [])


def test_make_install_runs_the_debian_step_before_the_virtualenv():
    dry_run = subprocess.run(
        ["make", "-n", "-B", "install"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    steps = [line for line in dry_run if "scripts/install" in line]
    assert steps == ["bash scripts/install-system.sh", "PYTHON=python3.11 bash scripts/install.sh"]


def test_ci_runs_make_test_and_no_setup_of_its_own():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "echo", "export", "set ", "cd "))
    ]
    # `make test` (twice) and the servers pass 2 needs; no install step of CI's own.
    assert commands == [
        'env -u DATABASE_URL -u REDIS_URL CALLSEAL_VAR_DIR="$PWD/var/ci-embedded" make test',
        "bash scripts/ensure-services.sh",
        ".venv/bin/python manage.py db_bootstrap",
        "make test",
    ]
