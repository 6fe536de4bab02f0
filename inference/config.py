"""The inference service's configuration: its region (from ``callseal.regions``), where it
listens, which models it loads and its concurrency limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from callseal.regions import Region, RegionConfigError, load_regions

BASE_DIR = Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    return Path(os.environ.get("CALLSEAL_VAR_DIR", "") or BASE_DIR / "var").resolve()


def region_config(name: str) -> Region:
    # The inference service never opens a database, so it reads the regions as the
    # embedded mode does (database URLs may be absent); endpoints and names are the same.
    regions = load_regions(var_dir=var_dir(), embedded=True)
    if name not in regions:
        raise RegionConfigError("--region", f"{name!r} is not one of {', '.join(regions)}")
    return regions[name]


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise RegionConfigError(name, f"{raw!r} is not true or false")


def env_int(name: str, default: int, *, minimum: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise RegionConfigError(name, f"{raw!r} is not an integer") from exc
    if value < minimum:
        raise RegionConfigError(name, f"{value} is below {minimum}")
    return value


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    region: str
    host: str
    port: int
    asr_models: tuple[str, ...]
    asr_concurrency: int
    tts_concurrency: int
    max_waiting: int
    cpu_threads: int
    partial_interval_s: float
    max_frame_bytes: int
    cache_dir: Path
    asr_window_s: float = 10.0  # the encoder's shortest window (inference.asr.WINDOW_S)
    asr_beam_size: int = 1  # finals; partials always decode greedily
    asr_fallback: bool = False  # Whisper's temperature fallback (up to six decodes a turn)
    # The region's bearer token (callseal.regions); empty admits nobody.
    token: str = field(default="", repr=False)
    max_sockets_per_call: int = 4  # ASR + TTS, each with room for one reconnect
    max_sockets_per_tenant: int = 32
    # A socket with no message and no work in progress this long is closed (1008 "idle").
    # ASR audio flows throughout a turn; a reply's TTS socket may wait on the LLM between
    # sentences (and holds no synthesis slot while it waits), so it is given longer.
    idle_timeout_s: float = 5.0
    tts_idle_timeout_s: float = 30.0
    tls_cert_file: str = ""  # PEM; with the key, the service speaks https/wss only
    tls_key_file: str = ""
    tls_client_ca_file: str = ""  # PEM CA bundle: clients must present a certificate (mTLS)

    @classmethod
    def from_env(
        cls, *, region: str, host: str | None = None, port: int | None = None
    ) -> ServiceConfig:
        """Defaults come from the region's ``inference_url``; ``INFERENCE_*`` variables
        override the limits."""
        region_settings = region_config(region)
        url = urlsplit(region_settings.inference_url)
        models = tuple(
            m.strip()
            for m in os.environ.get("INFERENCE_ASR_MODELS", "tiny.en,base").split(",")
            if m.strip()
        )
        window_s = env_int("INFERENCE_ASR_WINDOW_S", 10, minimum=1)
        if window_s > 30:
            raise RegionConfigError("INFERENCE_ASR_WINDOW_S", f"{window_s} is above 30 (Whisper's)")
        beam_size = env_int("INFERENCE_ASR_BEAM", 1, minimum=1)
        if beam_size > 10:
            raise RegionConfigError("INFERENCE_ASR_BEAM", f"{beam_size} is above 10")
        per_call = env_int("INFERENCE_MAX_SOCKETS_PER_CALL", 4, minimum=1)
        per_tenant = env_int("INFERENCE_MAX_SOCKETS_PER_TENANT", 32, minimum=1)
        if per_tenant < per_call:
            raise RegionConfigError(
                "INFERENCE_MAX_SOCKETS_PER_TENANT", "below INFERENCE_MAX_SOCKETS_PER_CALL"
            )
        cert, key = tls_files()
        return cls(
            region=region,
            host=host or url.hostname or "127.0.0.1",
            port=port if port is not None else (url.port or 8701),
            asr_models=models,
            asr_concurrency=env_int("INFERENCE_ASR_CONCURRENCY", 2, minimum=1),
            tts_concurrency=env_int("INFERENCE_TTS_CONCURRENCY", 2, minimum=1),
            max_waiting=env_int("INFERENCE_MAX_WAITING", 8, minimum=0),
            cpu_threads=env_int("INFERENCE_CPU_THREADS", 2, minimum=1),
            partial_interval_s=env_int("INFERENCE_PARTIAL_INTERVAL_MS", 700, minimum=100) / 1000,
            max_frame_bytes=env_int("INFERENCE_MAX_FRAME_BYTES", 1 << 20, minimum=1024),
            cache_dir=var_dir() / "models",
            asr_window_s=float(window_s),
            asr_beam_size=beam_size,
            asr_fallback=_env_bool("INFERENCE_ASR_FALLBACK", False),
            token=region_settings.inference_token,
            max_sockets_per_call=per_call,
            max_sockets_per_tenant=per_tenant,
            idle_timeout_s=env_int("INFERENCE_IDLE_TIMEOUT_MS", 5000, minimum=500) / 1000,
            tts_idle_timeout_s=env_int("INFERENCE_TTS_IDLE_TIMEOUT_MS", 30000, minimum=500) / 1000,
            tls_cert_file=cert,
            tls_key_file=key,
            tls_client_ca_file=_env_file("INFERENCE_TLS_CLIENT_CA_FILE"),
        )


def _env_file(name: str) -> str:
    raw = os.environ.get(name, "").strip()
    if raw and not Path(raw).is_file():
        raise RegionConfigError(name, f"{raw} is not a file")
    return raw


def tls_files() -> tuple[str, str]:
    """``INFERENCE_TLS_CERT_FILE`` and ``INFERENCE_TLS_KEY_FILE`` (both or neither): the
    certificate the internal services present (inference service and LLM server)."""
    cert, key = _env_file("INFERENCE_TLS_CERT_FILE"), _env_file("INFERENCE_TLS_KEY_FILE")
    if bool(cert) != bool(key):
        raise RegionConfigError("INFERENCE_TLS_CERT_FILE", "needs INFERENCE_TLS_KEY_FILE too")
    return cert, key
