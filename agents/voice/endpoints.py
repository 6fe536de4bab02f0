"""Where a call's inference goes: the tenant's region, and only the regions its policy
names (``tenant.policies["inference_fallback_regions"]``) when that region's service is
down. Every session reports the region that actually served it (``inference.hop``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from callseal.regions import Region
from inference.client import InferenceError
from inference.llm import LlmError

log = logging.getLogger(__name__)
POLICY_KEY = "inference_fallback_regions"
# What an endpoint that does not answer raises: the next one is tried.
INFERENCE_ERRORS = (InferenceError, LlmError, OSError, TimeoutError)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Endpoint:
    region: str
    inference_url: str
    llm_url: str
    llm_server: str = "llama.cpp"
    # The region's internal-hop credentials (callseal.regions); never printed.
    inference_token: str = field(default="", repr=False)
    llm_token: str = field(default="", repr=False)

    @property
    def inference_host(self) -> str:
        return urlsplit(self.inference_url).netloc

    @property
    def llm_host(self) -> str:
        return urlsplit(self.llm_url).netloc


def endpoints_for(
    *, home: str, policies: Mapping[str, Any], regions: Mapping[str, Region]
) -> list[Endpoint]:
    """The home region first, then the policy's allowed regions in its order. Names that
    are not configured regions are ignored (and logged): a typo must not open a path."""
    names: list[str] = [home]
    allowed = policies.get(POLICY_KEY) or []
    if isinstance(allowed, str) or not isinstance(allowed, Sequence):
        log.warning("ignoring a malformed %s policy", POLICY_KEY)
        allowed = []
    for name in allowed:
        if name in regions and name not in names:
            names.append(name)
        elif name not in regions:
            log.warning("ignoring unknown fallback region %r", name)
    return [
        Endpoint(
            region=n,
            inference_url=regions[n].inference_url,
            llm_url=regions[n].llm_url,
            llm_server=regions[n].llm_server,
            inference_token=regions[n].inference_token,
            llm_token=regions[n].llm_token,
        )
        for n in names
    ]


async def first_answering(
    endpoints: Sequence[Endpoint], attempt: Callable[[Endpoint], Awaitable[T]]
) -> tuple[T, Endpoint]:
    """``attempt`` on each endpoint in order (home region first) until one answers; the
    last endpoint's error when none does."""
    error: Exception | None = None
    for endpoint in endpoints:
        try:
            return await attempt(endpoint), endpoint
        except INFERENCE_ERRORS as exc:
            error = exc
    assert error is not None, "no endpoint to try"
    raise error
