"""Who may use a region's internal services, and how much of them one caller may hold.

Every request to the inference service (and the LLM server, inference/llm_guard.py) carries
``Authorization: Bearer <the region's token>``, compared in constant time; a missing or
wrong token is refused before any work (HTTP 401, so a WebSocket is never opened). The
media process names the call and tenant it works for (``X-Callseal-Tenant``,
``X-Callseal-Call``) so that one call, or one tenant, cannot hold every socket of a
region: over the limit the handshake is refused with 429 (docs/adr/0018).
"""

from __future__ import annotations

import functools
import hmac
import os
import re
import ssl
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

TENANT_HEADER = "X-Callseal-Tenant"
CALL_HEADER = "X-Callseal-Call"
_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Requests that name no tenant (operator tools, benchmarks) share one budget.
UNNAMED = "-"


def bearer_ok(authorization: str | None, token: str) -> bool:
    """Whether ``authorization`` is ``Bearer <token>``; an empty ``token`` admits nobody."""
    if not token or not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization.removeprefix("Bearer ").encode(), token.encode())


def auth_headers(
    token: str | None, *, tenant: str | None = None, call: str | None = None
) -> dict[str, str]:
    """The headers a client sends: the bearer token and, for a call's work, who it is for."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if tenant:
        headers[TENANT_HEADER] = tenant
    if call:
        headers[CALL_HEADER] = call
    return headers


class CallerError(ValueError):
    """A caller header is malformed."""


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    call: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Caller:
        tenant = headers.get(TENANT_HEADER, "").strip()
        call = headers.get(CALL_HEADER, "").strip()
        for name, value in ((TENANT_HEADER, tenant), (CALL_HEADER, call)):
            if value and not _ID_RE.match(value):
                raise CallerError(f"{name}: 1-64 of A-Z a-z 0-9 . _ : -")
        if call and not tenant:
            raise CallerError(f"{CALL_HEADER} needs {TENANT_HEADER}")
        return cls(tenant=tenant or UNNAMED, call=call or None)


class OverLimit(Exception):
    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope} already holds {limit} sockets (the limit)")
        self.scope = scope


class CallerLimits:
    """Open sockets per call and per tenant; a socket counts from handshake to close."""

    def __init__(self, *, per_call: int, per_tenant: int) -> None:
        if per_call < 1 or per_tenant < per_call:
            raise ValueError("per_call must be >= 1 and per_tenant >= per_call")
        self.per_call = per_call
        self.per_tenant = per_tenant
        self.by_call: Counter[tuple[str, str]] = Counter()
        self.by_tenant: Counter[str] = Counter()
        self.refused = 0

    @contextmanager
    def hold(self, caller: Caller) -> Iterator[None]:
        call_key = (caller.tenant, caller.call) if caller.call else None
        if call_key is not None and self.by_call[call_key] >= self.per_call:
            self.refused += 1
            raise OverLimit("the call", self.per_call)
        if self.by_tenant[caller.tenant] >= self.per_tenant:
            self.refused += 1
            raise OverLimit("the tenant", self.per_tenant)
        self.by_tenant[caller.tenant] += 1
        if call_key is not None:
            self.by_call[call_key] += 1
        try:
            yield
        finally:
            self.by_tenant[caller.tenant] -= 1
            if not self.by_tenant[caller.tenant]:
                del self.by_tenant[caller.tenant]
            if call_key is not None:
                self.by_call[call_key] -= 1
                if not self.by_call[call_key]:
                    del self.by_call[call_key]

    def snapshot(self) -> dict[str, int]:
        return {
            "per_call": self.per_call,
            "per_tenant": self.per_tenant,
            "open": sum(self.by_tenant.values()),
            "refused": self.refused,
        }


def client_ssl() -> ssl.SSLContext | bool:
    """How clients verify the internal services' TLS (``https``/``wss`` URLs): the system
    trust store, or ``INFERENCE_TLS_CA_FILE``; with ``INFERENCE_TLS_CLIENT_CERT_FILE`` and
    ``INFERENCE_TLS_CLIENT_KEY_FILE`` they present that certificate (mTLS)."""
    return _client_ssl(
        os.environ.get("INFERENCE_TLS_CA_FILE", ""),
        os.environ.get("INFERENCE_TLS_CLIENT_CERT_FILE", ""),
        os.environ.get("INFERENCE_TLS_CLIENT_KEY_FILE", ""),
    )


@functools.cache
def _client_ssl(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext | bool:
    if not (ca_file or cert_file):
        return True  # aiohttp's default: verify against the system store
    context = ssl.create_default_context(cafile=ca_file or None)
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    return context
