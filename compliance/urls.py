"""Compliance pages (consent, retention, legal holds, erasure, audit trail)."""

from __future__ import annotations

from django.urls import path

from compliance import views, views_audit

app_name = "compliance"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("consent/", views.consent_policy, name="consent"),
    path("retention/", views.retention_policy, name="retention"),
    path("holds/", views.legal_holds, name="holds"),
    path("holds/<uuid:hold_id>/release/", views.legal_hold_release_view, name="hold_release"),
    path("erasure/", views.erasure_requests, name="erasure"),
    path("audit/", views_audit.audit_search, name="audit_search"),
    path("audit/access/", views_audit.audit_access, name="audit_access"),
    path("audit/calls/<uuid:call_id>/", views_audit.audit_timeline, name="audit_timeline"),
    path("audit/export/", views_audit.audit_exports, name="audit_exports"),
    path("audit/export/<uuid:export_id>/", views_audit.audit_export, name="audit_export"),
    path(
        "audit/export/<uuid:export_id>/download/",
        views_audit.audit_export_download,
        name="audit_export_download",
    ),
]
