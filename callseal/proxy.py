"""Proxy headers, trusted only from the proxies the operator names.

``X-Forwarded-For``, ``-Proto`` and ``-Host`` say who the client is, whether it used TLS and
which host it asked for. Anyone can send them, so they count only when the peer that
connected to us is in ``CALLSEAL_TRUSTED_PROXIES``: then this ASGI middleware writes them
into the scope (``client``, ``scheme``, the ``host`` header), for HTTP and WebSocket alike.
From every other peer they are dropped, so nothing downstream (Django's
``build_absolute_uri`` for Twilio's signature check, the media stream's handshake URL,
throttling and logs reading ``REMOTE_ADDR``) can be steered by them. daphne runs without
``--proxy-headers`` for the same reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port")


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(settings.CALLSEAL_TRUSTED_PROXIES))


def is_trusted(address: str, networks: Iterable[Network] | None = None) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in (trusted_networks() if networks is None else networks))


def client_address(peer: str, forwarded_for: str) -> str:
    """The client behind a chain of trusted proxies: walk X-Forwarded-For from the right
    (the nearest hop) and stop at the first address not of a trusted proxy."""
    address = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not is_trusted(address):
            break
        address = hop
    return address


def _first(value: bytes) -> str:
    return value.decode("latin-1").split(",")[0].strip()


def apply_forwarded(scope: dict[str, Any]) -> dict[str, Any]:
    """A copy of the scope with proxy headers applied (trusted peer) or dropped (others)."""
    headers = list(scope.get("headers", []))
    forwarded = {k.lower(): v for k, v in headers if k.lower() in FORWARDED}
    if not forwarded:
        return scope
    kept = [(k, v) for k, v in headers if k.lower() not in FORWARDED]
    scope = dict(scope)
    peer = (scope.get("client") or ("", 0))[0]
    if peer and is_trusted(peer):
        if b"x-forwarded-for" in forwarded:
            client = client_address(peer, forwarded[b"x-forwarded-for"].decode("latin-1"))
            scope["client"] = (client, 0)
        proto = _first(forwarded.get(b"x-forwarded-proto", b"")).lower()
        if proto in ("http", "https"):
            secure = proto == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = proto
        host = _first(forwarded.get(b"x-forwarded-host", b""))
        if host and settings.CALLSEAL_USE_X_FORWARDED_HOST:
            kept = [(k, v) for k, v in kept if k.lower() != b"host"]
            kept.append((b"host", host.encode("latin-1")))
    scope["headers"] = kept
    return scope


class TrustedProxyMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope["type"] in ("http", "websocket"):
            scope = apply_forwarded(scope)
        return await self.app(scope, receive, send)
