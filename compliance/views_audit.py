"""Audit trail pages: search, a call's timeline, the access log, exports. Parse, call one
service, render; the services check roles and record every access."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.selectors import tenant_object_get
from compliance.audit import services
from compliance.audit.display import display_rows
from compliance.audit.export import ExportError
from compliance.audit.filters import FilterError, filter_parse
from compliance.audit.models import AuditExport
from compliance.audit.selectors import audit_exports_recent

FILTER_FIELDS = ("from", "to", "call", "type", "actor", "subject")


def _form(request: HttpRequest) -> dict[str, str]:
    source = request.POST if request.method == "POST" else request.GET
    return {name: source.get(name, "").strip() for name in FILTER_FIELDS}


def _parse(values: dict[str, str]) -> Any:
    return filter_parse(
        start=values["from"],
        end=values["to"],
        call=values["call"],
        types=values["type"],
        actor=values["actor"],
        subject_phone=values["subject"],
    )


def _before(request: HttpRequest) -> int | None:
    raw = request.GET.get("before", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise FilterError("before: a sequence number")
    return int(raw)


@login_required
@require_GET
def audit_search(request: HttpRequest) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    require(membership, Perm.SEARCH_AUDIT)
    values = _form(request)
    context: dict[str, Any] = {"values": values, "page": None, "error": None}
    try:
        page = services.audit_search(
            membership=membership, audit_filter=_parse(values), before=_before(request)
        )
    except FilterError as exc:
        context["error"] = str(exc)
        return render(request, "compliance/audit_search.html", context, status=400)
    query = request.GET.copy()
    query.pop("before", None)
    context.update(page=page, rows=display_rows(page.rows), query=query.urlencode())
    return render(request, "compliance/audit_search.html", context)


@login_required
@require_GET
def audit_timeline(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    rows = services.audit_timeline(membership=membership, call=str(call_id))
    if not rows:
        raise Http404("No call matches the given query.")
    context = {"call": call_id, "rows": display_rows(rows)}
    return render(request, "compliance/audit_timeline.html", context)


@login_required
@require_GET
def audit_access(request: HttpRequest) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    try:
        before = _before(request)
    except FilterError as exc:
        return render(request, "compliance/audit_access.html", {"error": str(exc)}, status=400)
    page = services.audit_access_log(membership=membership, before=before)
    context = {"page": page, "rows": display_rows(page.rows)}
    return render(request, "compliance/audit_access.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def audit_exports(request: HttpRequest) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    require(membership, Perm.EXPORT_AUDIT)
    values = _form(request)
    if request.method == "POST":
        try:
            export = services.audit_export_request(
                membership=membership,
                audit_filter=_parse(values),
                readable=request.POST.get("readable") == "on",
            )
        except FilterError as exc:
            context = {"values": values, "error": str(exc), "exports": audit_exports_recent()}
            return render(request, "compliance/audit_exports.html", context, status=400)
        messages.success(request, "Export queued; this page shows its progress.")
        return redirect("compliance:audit_export", export_id=export.id)
    return render(
        request,
        "compliance/audit_exports.html",
        {"values": values, "error": None, "exports": audit_exports_recent()},
    )


@login_required
@require_GET
def audit_export(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    require(request.membership, Perm.EXPORT_AUDIT)  # type: ignore[attr-defined]
    export = tenant_object_get(AuditExport, id=export_id)
    return render(request, "compliance/audit_export.html", {"export": export})


@login_required
@require_GET
def audit_export_download(request: HttpRequest, export_id: uuid.UUID) -> HttpResponseBase:
    membership = request.membership  # type: ignore[attr-defined]
    require(membership, Perm.EXPORT_AUDIT)
    export = tenant_object_get(AuditExport, id=export_id)
    try:
        path = services.audit_export_download(membership=membership, export=export)
    except ExportError:
        raise Http404("No export matches the given query.") from None
    return FileResponse(path.open("rb"), as_attachment=True, filename=export.file_name)
