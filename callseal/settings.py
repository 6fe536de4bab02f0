"""Callseal settings: one module, everything from the environment (see .env.example).

Two modes, chosen by whether DATABASE_URL is set:
- embedded (default): SQLite files under var/, Channels' in-memory layer, Celery over
  Kombu's filesystem transport. No server needed.
- servers: PostgreSQL for the directory and for each region, Redis for Channels and Celery.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from callseal.at_rest import (
    SecretsDirError,
    legacy_secrets_move,
    private_dir,
    private_file_create,
    private_file_tighten,
    secrets_dir_for,
)
from callseal.regions import RegionConfigError, load_regions

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _setting(name: str, cast: Any, default: Any) -> Any:
    try:
        return env(name, cast=cast, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc


VAR_DIR = Path(_setting("CALLSEAL_VAR_DIR", str, str(BASE_DIR / "var"))).resolve()
# Secrets live outside the data directory, both 0700 (callseal/at_rest.py, docs/adr/0012).
try:
    SECRETS_DIR = secrets_dir_for(VAR_DIR)
except SecretsDirError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
private_dir(VAR_DIR)
private_dir(SECRETS_DIR)

DEBUG = _setting("DJANGO_DEBUG", bool, False)


def _secret_key() -> str:
    configured = env.str("DJANGO_SECRET_KEY", default="")
    if configured:
        if len(configured) < 32:
            raise ImproperlyConfigured("DJANGO_SECRET_KEY: must be at least 32 characters")
        return configured
    # Embedded mode: a per-checkout key kept out of the repository and the data directory.
    path = SECRETS_DIR / "secret_key"
    private_file_create(path, secrets.token_urlsafe(50).encode())
    private_file_tighten(path)
    return path.read_text().strip()


# Installs of earlier versions kept these secrets in var/: moved once, with a message.
try:
    legacy_secrets_move(var_dir=VAR_DIR, secrets_dir=SECRETS_DIR)
except SecretsDirError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = _setting("DJANGO_ALLOWED_HOSTS", list, ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = _setting("DJANGO_CSRF_TRUSTED_ORIGINS", list, [])
# Public base URL Twilio reaches us at (webhook signatures are computed over it).
PUBLIC_BASE_URL = _setting("CALLSEAL_PUBLIC_BASE_URL", str, "http://127.0.0.1:8000").rstrip("/")

# --- Regions and databases -------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
EMBEDDED = not DATABASE_URL
try:
    REGIONS = load_regions(var_dir=VAR_DIR, embedded=EMBEDDED, secrets_dir=SECRETS_DIR)
except RegionConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from exc

# The region whose Celery queue this process consumes (workers only); see callseal.celery.
WORKER_REGION = env.str("CALLSEAL_WORKER_REGION", default="")
if WORKER_REGION and WORKER_REGION not in REGIONS:
    raise ImproperlyConfigured(
        f"CALLSEAL_WORKER_REGION: {WORKER_REGION!r} is not one of {', '.join(REGIONS)}"
    )

# Role the application assumes on PostgreSQL. It owns nothing, so row-level security
# applies to it; migrations run as the login (owner) role.
DB_APP_ROLE = env.str("CALLSEAL_DB_APP_ROLE", default="callseal_app")
_TEST_SUFFIX = env.str("CALLSEAL_TEST_DB_SUFFIX", default="")


def _database(url: str, setting: str, *, alias: str, regional: bool) -> dict[str, Any]:
    try:
        config: dict[str, Any] = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ImproperlyConfigured(f"{setting}: {exc}") from exc
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # Database files created 0600 (and older ones tightened): callseal/db/backends/sqlite3.
        config["ENGINE"] = "callseal.db.backends.sqlite3"
        # IMMEDIATE: a transaction that reads then writes (select_for_update is a no-op
        # here) would otherwise fail at once with "database is locked" under concurrency.
        config["OPTIONS"] = {
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
        }
        # File-backed test databases, so a live daphne process (browser tests) shares them.
        config["TEST"] = {"NAME": str(VAR_DIR / f"test-{alias}{_TEST_SUFFIX}.sqlite3")}
        # Reuse connections: database_sync_to_async otherwise closes and reopens (and
        # re-runs the PRAGMAs) on every call, a large share of a media stream's setup.
        config["CONN_MAX_AGE"] = _setting("CALLSEAL_DB_CONN_MAX_AGE", int, 60)
    elif engine in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
        config["ENGINE"] = "callseal.db.backends.postgresql"
        options = config.setdefault("OPTIONS", {})
        if DB_APP_ROLE:
            options["assume_role"] = DB_APP_ROLE
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        config["CONN_MAX_AGE"] = _setting("CALLSEAL_DB_CONN_MAX_AGE", int, 60)
        config["CONN_HEALTH_CHECKS"] = True
        config["TEST"] = {"NAME": f"test_{config['NAME']}{_TEST_SUFFIX}"}
    else:
        raise ImproperlyConfigured(f"{setting}: only sqlite and postgres URLs are supported")
    config["REGIONAL"] = regional
    return config


DATABASES: dict[str, dict[str, Any]] = {
    "default": _database(
        DATABASE_URL or f"sqlite:///{VAR_DIR / 'directory.sqlite3'}",
        "DATABASE_URL",
        alias="default",
        regional=False,
    )
}
for _region in REGIONS.values():
    DATABASES[_region.db_alias] = _database(
        _region.database_url,
        f"{_region.env_prefix}DATABASE_URL",
        alias=_region.db_alias,
        regional=True,
    )
# A live server started by the test suite (tests/live.py) serves the test databases.
if env.bool("CALLSEAL_SERVE_TEST_DATABASES", default=False):
    for _config in DATABASES.values():
        _config["NAME"] = _config["TEST"]["NAME"]
DATABASE_ROUTERS = ["callseal.tenancy.router.ResidencyRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Applications ----------------------------------------------------------------------
INSTALLED_APPS = [
    # Ours first: callseal.tenancy overrides `migrate` to run as the owner role.
    "callseal.tenancy",
    "callseal.ledger",
    "callseal.crypto",
    "calls",
    "agents",
    "compliance",
    "compliance.audit",
    "analytics",
    "callseal.console",
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "callseal.observability.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "callseal.tenancy.middleware.TenantMiddleware",
    "callseal.console.two_factor.TwoFactorMiddleware",
]

ROOT_URLCONF = "callseal.urls"
ASGI_APPLICATION = "callseal.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "callseal.tenancy.context_processors.tenancy",
                "callseal.ledger.context_processors.integrity",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Sign-in throttling (callseal.tenancy.login_throttle): failures allowed before a doubling
# lock of the account / the address, its first step, and its cap (also the quiet period
# after which an address's failures are forgotten).
LOGIN_ACCOUNT_FREE_FAILURES = _setting("CALLSEAL_LOGIN_ACCOUNT_FAILURES", int, 5)
LOGIN_IP_FREE_FAILURES = _setting("CALLSEAL_LOGIN_IP_FAILURES", int, 20)
LOGIN_BACKOFF_S = _setting("CALLSEAL_LOGIN_BACKOFF_S", float, 30.0)
LOGIN_LOCKOUT_MAX_S = _setting("CALLSEAL_LOGIN_LOCKOUT_MAX_S", float, 3600.0)
# TOTP second factor for admins, compliance officers and auditors (docs/adr/0019).
REQUIRE_2FA = _setting("CALLSEAL_REQUIRE_2FA", bool, True)
OTP_TOTP_ISSUER = "Callseal"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Security ------------------------------------------------------------------------------
_HTTPS = PUBLIC_BASE_URL.startswith("https://")
# Sessions are stored under a digest of their key: a copy of the database replays none.
SESSION_ENGINE = "callseal.tenancy.sessions"
SESSION_COOKIE_SECURE = _setting("DJANGO_SECURE_COOKIES", bool, _HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Proxy headers (X-Forwarded-For/-Proto/-Host) count only from these peers (CIDR list):
# callseal.proxy applies them to the ASGI scope (HTTP and WebSocket alike) and strips them
# from everyone else's requests, so Django itself must not read them again.
CALLSEAL_TRUSTED_PROXIES = _setting("CALLSEAL_TRUSTED_PROXIES", list, ["127.0.0.1/32", "::1/128"])
SECURE_PROXY_SSL_HEADER = None
# X-Forwarded-Host from a trusted proxy replaces Host only when this is on.
CALLSEAL_USE_X_FORWARDED_HOST = _setting("DJANGO_USE_X_FORWARDED_HOST", bool, False)
USE_X_FORWARDED_HOST = False
if _HTTPS:
    SECURE_HSTS_SECONDS = 31536000

# --- Channels and Celery -------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env.str("CALLSEAL_CHANNEL_PREFIX", default="callseal"),
            },
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    if CELERY_BROKER_URL.startswith("filesystem://"):
        # Kombu's filesystem transport with atomic writes and a quarantine for unreadable
        # messages (callseal/broker.py); every folder under var/celery, none in the cwd.
        CELERY_BROKER_TRANSPORT = "callseal.broker:Transport"
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "control", "quarantine"):
        private_dir(_celery_dir / _sub)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = _setting("CELERY_TASK_ALWAYS_EAGER", bool, False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Logging: JSON lines with tenant, call and request ids; never personal data ------------
LOG_LEVEL = _setting("CALLSEAL_LOG_LEVEL", str, "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"CALLSEAL_LOG_LEVEL: {LOG_LEVEL!r} is not a log level")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "callseal.observability.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": sys.stderr,
            "formatter": "json",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's request logger formats the request line, which can carry query strings.
        "django.request": {"level": "ERROR"},
        "daphne": {"level": "WARNING"},
    },
}

# --- Ledger: a signed checkpoint of every tenant's log, per region, every minute --------
CELERY_BEAT_SCHEDULE = {
    f"ledger-checkpoint-{_name}": {
        "task": "ledger.checkpoint_region",
        "schedule": 60.0,
        "args": (_name,),
        # TenantTask.apply_async routes region-wide tasks by this option.
        "options": {"region": _name},
    }
    for _name in REGIONS
}

# A scheduled integrity check of every tenant's whole log, per region (callseal/ledger/
# integrity.py): a failure is an alarm on the console and in /metrics.
CALLSEAL_LEDGER_VERIFY_S = _setting("CALLSEAL_LEDGER_VERIFY_S", float, 300.0)
if CALLSEAL_LEDGER_VERIFY_S < 10:
    raise ImproperlyConfigured("CALLSEAL_LEDGER_VERIFY_S: at least 10 seconds")
CELERY_BEAT_SCHEDULE.update(
    {
        f"ledger-verify-{_name}": {
            "task": "ledger.verify_region",
            "schedule": CALLSEAL_LEDGER_VERIFY_S,
            "args": (_name,),
            "options": {"region": _name},
        }
        for _name in REGIONS
    }
)

# --- Telephony (calls app) -----------------------------------------------------------------
CALLSEAL_STREAM_TOKEN_TTL_S = _setting("CALLSEAL_STREAM_TOKEN_TTL_S", int, 30)
# A call may open this many media streams (the first plus resumptions) before a redirect
# is answered with a hang-up instead.
CALLSEAL_MAX_STREAMS_PER_CALL = _setting("CALLSEAL_MAX_STREAMS_PER_CALL", int, 8)
CALLSEAL_MEDIA_START_TIMEOUT_S = _setting("CALLSEAL_MEDIA_START_TIMEOUT_S", float, 10.0)
CALLSEAL_PLAYER_LEAD_MS = _setting("CALLSEAL_PLAYER_LEAD_MS", int, 300)
CALLSEAL_PIPELINE_QUEUE_FRAMES = _setting("CALLSEAL_PIPELINE_QUEUE_FRAMES", int, 50)
# Media sockets that have not yet been authorised (no valid start): per peer address and
# in total per process. More are refused at the handshake (403).
CALLSEAL_MEDIA_UNAUTHENTICATED_PER_PEER = _setting(
    "CALLSEAL_MEDIA_UNAUTHENTICATED_PER_PEER", int, 20
)
CALLSEAL_MEDIA_UNAUTHENTICATED_MAX = _setting("CALLSEAL_MEDIA_UNAUTHENTICATED_MAX", int, 200)
# Inbound messages per second a stream may send (Twilio sends 50 media frames/s plus a few
# marks and DTMF); a stream sustaining more is closed (1008) before it can starve others.
CALLSEAL_MEDIA_MAX_MESSAGES_PER_S = _setting("CALLSEAL_MEDIA_MAX_MESSAGES_PER_S", float, 150.0)
# Countries whose numbers each region is meant to answer (the numbers page warns on others):
# "region:CC CC …;region:…". A region not named gets no warning.
_EU_COUNTRIES = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO"
)
CALLSEAL_REGION_COUNTRIES = {
    _region.strip(): frozenset(_codes.split())
    for _region, _, _codes in (
        _part.partition(":")
        for _part in _setting(
            "CALLSEAL_REGION_COUNTRIES", str, f"us:US PR VI GU AS MP;eu:{_EU_COUNTRIES}"
        ).split(";")
        if _part.strip()
    )
}
# The AI voice agent answers calls to numbers that have an agent; others get the echo
# pipeline (the telephony benchmark's).
CALLSEAL_CALL_PIPELINE = _setting(
    "CALLSEAL_CALL_PIPELINE", str, "agents.voice.pipeline.pipeline_for_call"
)
for _name in (
    "CALLSEAL_STREAM_TOKEN_TTL_S",
    "CALLSEAL_PLAYER_LEAD_MS",
    "CALLSEAL_MEDIA_UNAUTHENTICATED_PER_PEER",
    "CALLSEAL_MEDIA_UNAUTHENTICATED_MAX",
    "CALLSEAL_MEDIA_MAX_MESSAGES_PER_S",
):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"{_name}: must be positive")

# --- Console and analytics (docs/adr/0011-console.md) ------------------------------------
# Catch-up of the dashboard projection for events appended by code that does not apply it
# inline (the AI pipeline's turns and latency), per region.
CELERY_BEAT_SCHEDULE.update(
    {
        f"analytics-catch-up-{_name}": {
            "task": "analytics.catch_up_region",
            "schedule": _setting("CALLSEAL_ANALYTICS_CATCH_UP_S", float, 5.0),
            "args": (_name,),
            "options": {"region": _name},
        }
        for _name in REGIONS
    }
)
CALLSEAL_TWILIO_API_BASE_URL = _setting(
    "CALLSEAL_TWILIO_API_BASE_URL", str, "https://api.twilio.com"
)
CALLSEAL_TWILIO_TIMEOUT_S = _setting("CALLSEAL_TWILIO_TIMEOUT_S", float, 5.0)
CALLSEAL_INFERENCE_HEALTH_TIMEOUT_S = _setting("CALLSEAL_INFERENCE_HEALTH_TIMEOUT_S", float, 0.3)
CALLSEAL_INFERENCE_HEALTH_CACHE_S = _setting("CALLSEAL_INFERENCE_HEALTH_CACHE_S", float, 5.0)
# Where test calls reach this deployment's Twilio webhook (the simulator posts there);
# empty: the address the admin's browser used.
CALLSEAL_SELF_URL = _setting("CALLSEAL_SELF_URL", str, "")
# "celery" (the region's worker) or "thread" (in the web process; analytics/agent_test_calls.py).
CALLSEAL_TEST_CALL_RUNNER = _setting("CALLSEAL_TEST_CALL_RUNNER", str, "celery")
if CALLSEAL_TEST_CALL_RUNNER not in {"celery", "thread"}:
    raise ImproperlyConfigured("CALLSEAL_TEST_CALL_RUNNER: celery or thread")

# --- Voice agent (agents/voice; docs/adr/0010) ---------------------------------------------
# Bearer token for /metrics scrapers (staff console sessions need none); empty = staff only.
CALLSEAL_METRICS_TOKEN = _setting("CALLSEAL_METRICS_TOKEN", str, "")
# Silence after the caller's speech at which the reply is prepared speculatively (an early
# ASR final, LLM and first TTS audio), played only once the end-of-speech silence confirms
# the turn; speech resuming first cancels it.
CALLSEAL_AGENT_SPECULATE_MS = _setting("CALLSEAL_AGENT_SPECULATE_MS", int, 120)
if not 20 <= CALLSEAL_AGENT_SPECULATE_MS <= 2000:
    raise ImproperlyConfigured("CALLSEAL_AGENT_SPECULATE_MS: 20 to 2000")
# The caller's audio this long below CALLSEAL_AGENT_FAINT_DBFS inside a turn asks ASR what a
# final would say now (a "peek", keeping the audio): the caller's level drops ~120 ms before
# Silero's probability does, so the reply usually finds its words already transcribed.
# Louder audio after the peek voids it. 0 = off.
CALLSEAL_AGENT_PEEK_MS = _setting("CALLSEAL_AGENT_PEEK_MS", int, 64)
if not (CALLSEAL_AGENT_PEEK_MS == 0 or 32 <= CALLSEAL_AGENT_PEEK_MS <= 2000):
    raise ImproperlyConfigured("CALLSEAL_AGENT_PEEK_MS: 0 (off) or 32 to 2000")
CALLSEAL_AGENT_FAINT_DBFS = _setting("CALLSEAL_AGENT_FAINT_DBFS", float, -40.0)
if not -80.0 <= CALLSEAL_AGENT_FAINT_DBFS <= -10.0:
    raise ImproperlyConfigured("CALLSEAL_AGENT_FAINT_DBFS: -80 to -10 (dB below full scale)")
# A reply's chunks for TTS may end at a comma once they have this many words, or before a
# conjunction or preposition once they have two more, until the reply has 10 words out (0:
# whole sentences only): speech starts before the LLM finishes the first sentence, and a
# long second sentence does not leave the caller in silence (agents/pipeline/sentences.py).
CALLSEAL_AGENT_FIRST_CLAUSE_WORDS = _setting("CALLSEAL_AGENT_FIRST_CLAUSE_WORDS", int, 3)
if not 0 <= CALLSEAL_AGENT_FIRST_CLAUSE_WORDS <= 50:
    raise ImproperlyConfigured("CALLSEAL_AGENT_FIRST_CLAUSE_WORDS: 0 (off) to 50")
# Close the LLM's stream once a reply's first chunk is out, and continue the reply when TTS
# has synthesised that chunk (where the region's server can continue one: LlmClient
# .continues): on a CPU region the caller's first words come sooner (docs/adr/0010).
CALLSEAL_AGENT_PAUSE_LLM_AT_FIRST_CHUNK = _setting(
    "CALLSEAL_AGENT_PAUSE_LLM_AT_FIRST_CHUNK", bool, True
)
# No agent audio this long after the caller stopped: apology + escalation.
CALLSEAL_AGENT_NO_AUDIO_S = _setting("CALLSEAL_AGENT_NO_AUDIO_S", float, 1.5)
CALLSEAL_AGENT_TOOL_ROUTING = _setting("CALLSEAL_AGENT_TOOL_ROUTING", str, "keywords")
if CALLSEAL_AGENT_TOOL_ROUTING not in ("keywords", "llm"):
    raise ImproperlyConfigured("CALLSEAL_AGENT_TOOL_ROUTING: keywords or llm")
# Partial transcripts while the caller speaks (the inference service's
# INFERENCE_PARTIAL_INTERVAL_MS): the LLM server reads the words so far ahead of the reply.
CALLSEAL_AGENT_ASR_PARTIALS = _setting("CALLSEAL_AGENT_ASR_PARTIALS", bool, True)
CALLSEAL_AGENT_MAX_REPLY_TOKENS = _setting("CALLSEAL_AGENT_MAX_REPLY_TOKENS", int, 60)
CALLSEAL_CONSENT_ANNOUNCEMENT = _setting(
    "CALLSEAL_CONSENT_ANNOUNCEMENT", str, "This call may be recorded for quality and training."
)
if not 1 <= len(CALLSEAL_CONSENT_ANNOUNCEMENT.strip()) <= 300:
    raise ImproperlyConfigured("CALLSEAL_CONSENT_ANNOUNCEMENT: 1 to 300 characters")
# Regions whose tenants always need the caller's explicit consent (GDPR), whatever their
# consent policy says.
CALLSEAL_EXPLICIT_CONSENT_REGIONS = _setting(
    "CALLSEAL_EXPLICIT_CONSENT_REGIONS", list, [r for r in ("eu",) if r in REGIONS]
)
if set(CALLSEAL_EXPLICIT_CONSENT_REGIONS) - set(REGIONS):
    raise ImproperlyConfigured(
        "CALLSEAL_EXPLICIT_CONSENT_REGIONS: names regions that are not configured: "
        + ", ".join(sorted(set(CALLSEAL_EXPLICIT_CONSENT_REGIONS) - set(REGIONS)))
    )
# A payment step (PCI pause) ends as timed out when the caller enters nothing for this long.
CALLSEAL_PAYMENT_TIMEOUT_S = _setting("CALLSEAL_PAYMENT_TIMEOUT_S", float, 60.0)
if not 5 <= CALLSEAL_PAYMENT_TIMEOUT_S <= 600:
    raise ImproperlyConfigured("CALLSEAL_PAYMENT_TIMEOUT_S: 5 to 600 seconds")
# Dotted path of the payment processor the collect_payment step hands card details to
# (compliance.pci.PaymentProcessor).
CALLSEAL_PAYMENT_PROCESSOR = _setting(
    "CALLSEAL_PAYMENT_PROCESSOR", str, "compliance.pci.CardCheckProcessor"
)

# --- Compliance (retention, audio redaction; docs/adr/0009) ---------------------------------
CELERY_BEAT_SCHEDULE.update(
    {
        f"compliance-retention-{_name}": {
            "task": "compliance.retention_region",
            "schedule": 3600.0,
            "args": (_name,),
            "options": {"region": _name},
        }
        for _name in REGIONS
    }
)
# Dotted path of a callable (pcm: bytes, sample_rate: int) -> [Word(text, start, end)];
# empty = no automatic audio redaction after a recording finishes. The default runs
# faster-whisper (the packaged base model) with word timestamps in the region's worker.
CALLSEAL_WORD_TRANSCRIBER = _setting(
    "CALLSEAL_WORD_TRANSCRIBER", str, "inference.words.whisper_words"
)
