"""JSON logs carrying request, tenant and call ids. Log ids and counts, never personal data."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from callseal.tenancy.context import current_tenant_or_none

request_id_var: ContextVar[str | None] = ContextVar("callseal_request_id", default=None)
call_id_var: ContextVar[str | None] = ContextVar("callseal_call_id", default=None)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        tenant = current_tenant_or_none()
        record.tenant = tenant.slug if tenant else None
        record.region = tenant.region if tenant else None
        record.request_id = request_id_var.get()
        record.call_id = call_id_var.get()
        return True


@contextmanager
def call_log_context(call_id: str) -> Iterator[None]:
    token = call_id_var.set(call_id)
    try:
        yield
    finally:
        call_id_var.reset(token)


class RequestContextMiddleware:
    """Gives each request an id (or keeps a sane X-Request-ID) and echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = (
            incoming
            if incoming.isascii()
            and 8 <= len(incoming) <= 64
            and incoming.replace("-", "").isalnum()
            else uuid.uuid4().hex
        )
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response
