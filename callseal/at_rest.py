"""Secrets and data at rest (docs/adr/0012-embedded-stack-hardening.md).

Secrets (region master keys, the Django secret key, the demo logins and the demo Twilio
tokens) live in a directory of their own, ``CALLSEAL_SECRETS_DIR``, by default a sibling of
the data directory named ``<var dir name>-secrets``: a copy of ``var/`` (a backup, a disk
image) holds data sealed under keys it does not contain. Both directories are 0700 and the
files written in them 0600.

This module imports nothing from Django: settings, ``callseal.regions`` callers and the
inference service use it before Django is configured.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

SECRETS_DIR_SETTING = "CALLSEAL_SECRETS_DIR"
DIR_MODE = 0o700
FILE_MODE = 0o600
# What earlier versions kept in the data directory, relative to it: moved once on start.
# Region master keys were under keys/<region>/.
LEGACY_SECRETS = ("secret_key", "demo-password", "demo-credentials.txt")
LEGACY_SECRET_GLOBS = ("demo-twilio-*",)


class SecretsDirError(ValueError):
    """The secrets directory is misconfigured, or a move would lose a secret."""


def secrets_dir_for(var_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """``CALLSEAL_SECRETS_DIR``, or ``<var_dir>-secrets`` beside the data directory."""
    env = os.environ if environ is None else environ
    raw = env.get(SECRETS_DIR_SETTING, "")
    path = Path(raw).resolve() if raw else var_dir.parent / f"{var_dir.name}-secrets"
    if path == var_dir or var_dir in path.parents:
        raise SecretsDirError(
            f"{SECRETS_DIR_SETTING}: {path} is inside the data directory {var_dir}; "
            "secrets must live outside it"
        )
    return path


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700, and make an existing one 0700."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for created in missing:
        created.chmod(DIR_MODE)  # mkdir's mode applies to the leaf only, and minus umask
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def private_file_create(path: Path, data: bytes) -> bool:
    """Write ``data`` to a new 0600 file; False (and nothing written) when it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def private_file_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` as a 0600 file (written aside, then renamed)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    private_file_create(partial, data)
    os.replace(partial, path)


def private_file_tighten(path: Path) -> None:
    """Make an existing file 0600 (files written by earlier versions were 0644)."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(FILE_MODE)
    except FileNotFoundError:
        pass


def legacy_secrets_move(
    *, var_dir: Path, secrets_dir: Path, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Move secrets an earlier version kept in ``var_dir`` into ``secrets_dir``, once.

    Returns the relative paths moved. A region whose ``REGION_<NAME>_KEY_REF`` is set keeps
    its key where that names it. A secret present in both places with different contents
    stops the start (SecretsDirError): neither copy may be lost.
    """
    env = os.environ if environ is None else environ
    files = [var_dir / n for n in LEGACY_SECRETS if (var_dir / n).is_file()]
    for pattern in LEGACY_SECRET_GLOBS:
        files += sorted(p for p in var_dir.glob(pattern) if p.is_file())
    keys = var_dir / "keys"
    if keys.is_dir():
        for region in sorted(p for p in keys.iterdir() if p.is_dir()):
            if not env.get(f"REGION_{region.name.upper()}_KEY_REF"):
                files += sorted(p for p in region.rglob("*") if p.is_file())
    moved: list[str] = []
    for file in files:
        relative = file.relative_to(var_dir)
        if _move_one(file, secrets_dir / relative):
            moved.append(str(relative))
    if keys.is_dir():
        _remove_empty_dirs(keys)
    if moved:
        print(
            f"callseal: moved {len(moved)} secret file(s) out of the data directory {var_dir} "
            f"into {secrets_dir}: {', '.join(moved)} (docs/adr/0012-embedded-stack-hardening.md)",
            file=sys.stderr,
        )
    return moved


def _move_one(source: Path, target: Path) -> bool:
    try:
        data = source.read_bytes()
    except FileNotFoundError:  # another process moved it first
        return False
    private_dir(target.parent)
    if target.exists():
        if target.read_bytes() != data:
            raise SecretsDirError(
                f"{source} and {target} both exist and differ; keep the one in use, move the "
                "other away, and start again"
            )
    elif not private_file_create(target, data) and target.read_bytes() != data:
        raise SecretsDirError(f"{target} appeared while moving {source} there and differs")
    source.unlink(missing_ok=True)
    return True


def _remove_empty_dirs(root: Path) -> None:
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
