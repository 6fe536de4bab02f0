"""Data-residency regions, read and validated from the environment.

Each region has its own database, storage root, Celery queue, inference endpoints and key
reference. Adding a region is configuration only: name it in ``CALLSEAL_REGIONS`` and give
its ``REGION_<NAME>_*`` variables (defaults exist for the embedded mode).

This module imports nothing from Django so that settings can use it, and so that the
inference service (which has no ORM) can resolve its own region.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from callseal.at_rest import SECRETS_DIR_SETTING, SecretsDirError, secrets_dir_for
from callseal.secretfiles import generated_secret

REGION_NAME_RE = re.compile(r"^[a-z][a-z0-9]{1,15}$")
_DB_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}
_HTTP_SCHEMES = {"http", "https"}
_WS_SCHEMES = {"ws", "wss", "http", "https"}
# What serves the OpenAI-compatible LLM API (inference.llm.LLM_SERVERS; not imported here:
# this module stays free of the inference package's dependencies).
LLM_SERVERS = ("llama.cpp", "vllm")
# First port of the per-region inference services and LLM servers in the embedded mode;
# region i (in CALLSEAL_REGIONS order) gets base + i.
INFERENCE_BASE_PORT = 8701
LLM_BASE_PORT = 8801


class RegionConfigError(ValueError):
    """A region is referenced but misconfigured; the message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    db_alias: str
    database_url: str
    storage_root: Path
    celery_queue: str
    inference_url: str
    llm_url: str
    llm_server: str
    key_ref: str
    # Bearer credentials of the region's internal hops (media -> inference service, media
    # -> LLM server); never printed (docs/adr/0018-internal-service-auth-and-integrity-alarms.md).
    inference_token: str = field(default="", repr=False)
    llm_token: str = field(default="", repr=False)

    @property
    def env_prefix(self) -> str:
        return f"REGION_{self.name.upper()}_"


def _env_name(region: str, key: str) -> str:
    return f"REGION_{region.upper()}_{key}"


def _check_url(setting: str, value: str, schemes: set[str]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise RegionConfigError(setting, f"scheme {parts.scheme or '(none)'!r} not in {allowed}")
    if parts.scheme != "sqlite" and not parts.hostname:
        raise RegionConfigError(setting, f"{value!r} has no host")
    return value


MIN_TOKEN_CHARS = 32


def _token(env: Mapping[str, str], region: str, service: str, secrets_dir: Path) -> str:
    """``REGION_<R>_<SERVICE>_TOKEN``, or one generated into the secrets directory on first
    use (the embedded default; every process of one machine reads the same file)."""
    setting = _env_name(region, f"{service.upper()}_TOKEN")
    value = env.get(setting, "").strip()
    if not value:
        return generated_secret(secrets_dir, f"region-{region}-{service}-token")
    if len(value) < MIN_TOKEN_CHARS or not value.isprintable() or " " in value:
        raise RegionConfigError(
            setting, f"must be at least {MIN_TOKEN_CHARS} printable characters, no spaces"
        )
    return value


def parse_region_names(raw: str) -> list[str]:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise RegionConfigError("CALLSEAL_REGIONS", "names no region")
    for name in names:
        if not REGION_NAME_RE.match(name):
            raise RegionConfigError(
                "CALLSEAL_REGIONS",
                f"{name!r} is not a region name (lower-case letters and digits, 2-16 chars)",
            )
    if len(set(names)) != len(names):
        raise RegionConfigError("CALLSEAL_REGIONS", "names a region twice")
    return names


def load_regions(
    environ: Mapping[str, str] | None = None,
    *,
    var_dir: Path,
    embedded: bool,
    secrets_dir: Path | None = None,
) -> dict[str, Region]:
    """Build the REGIONS mapping; raise RegionConfigError naming the bad setting.

    In embedded mode every value has a default under ``var_dir`` (master keys: under
    ``secrets_dir``, default ``callseal.at_rest.secrets_dir_for(var_dir)``); otherwise each
    region's database URL must be given explicitly, because guessing a production database
    is how data ends up in the wrong jurisdiction.
    """
    env = os.environ if environ is None else environ
    if secrets_dir is None:
        try:
            secrets_dir = secrets_dir_for(var_dir, env)
        except SecretsDirError as exc:
            raise RegionConfigError(SECRETS_DIR_SETTING, str(exc).split(": ", 1)[1]) from exc
    names = parse_region_names(env.get("CALLSEAL_REGIONS", "us,eu"))
    regions: dict[str, Region] = {}
    for index, name in enumerate(names):
        db_setting = _env_name(name, "DATABASE_URL")
        database_url = env.get(db_setting, "")
        if not database_url:
            if not embedded:
                raise RegionConfigError(db_setting, "is required when DATABASE_URL is set")
            database_url = f"sqlite:///{var_dir / f'region-{name}.sqlite3'}"
        _check_url(db_setting, database_url, _DB_SCHEMES)

        storage_setting = _env_name(name, "STORAGE_ROOT")
        storage_root = Path(env.get(storage_setting, "") or var_dir / "storage" / name)
        if not storage_root.is_absolute():
            raise RegionConfigError(storage_setting, f"{storage_root} is not an absolute path")

        queue_setting = _env_name(name, "CELERY_QUEUE")
        queue = env.get(queue_setting, "") or f"region.{name}"
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", queue):
            raise RegionConfigError(queue_setting, f"{queue!r} is not a queue name")

        inference_setting = _env_name(name, "INFERENCE_URL")
        inference_url = env.get(inference_setting, "") or (
            f"http://127.0.0.1:{INFERENCE_BASE_PORT + index}"
        )
        _check_url(inference_setting, inference_url, _WS_SCHEMES)

        llm_setting = _env_name(name, "LLM_URL")
        llm_url = env.get(llm_setting, "") or f"http://127.0.0.1:{LLM_BASE_PORT + index}/v1"
        _check_url(llm_setting, llm_url, _HTTP_SCHEMES)

        server_setting = _env_name(name, "LLM_SERVER")
        llm_server = env.get(server_setting, "") or "llama.cpp"
        if llm_server not in LLM_SERVERS:
            raise RegionConfigError(server_setting, f"{llm_server!r} is not one of {LLM_SERVERS}")

        key_setting = _env_name(name, "KEY_REF")
        key_ref = env.get(key_setting, "") or f"file:{secrets_dir / 'keys' / name}"
        if not re.match(r"^(file|env|kms):.+", key_ref):
            raise RegionConfigError(key_setting, f"{key_ref!r} must start with file:, env: or kms:")

        regions[name] = Region(
            name=name,
            db_alias=f"region_{name}",
            database_url=database_url,
            storage_root=storage_root,
            celery_queue=queue,
            inference_url=inference_url.rstrip("/"),
            llm_url=llm_url.rstrip("/"),
            llm_server=llm_server,
            key_ref=key_ref,
            inference_token=_token(env, name, "inference", secrets_dir),
            llm_token=_token(env, name, "llm", secrets_dir),
        )
    return regions
