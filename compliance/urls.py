"""Compliance pages (consent, retention, legal holds, erasure, audit trail)."""

from __future__ import annotations

from django.urls import path

from compliance import views

app_name = "compliance"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("consent/", views.consent_policy, name="consent"),
    path("retention/", views.retention_policy, name="retention"),
    path("holds/", views.legal_holds, name="holds"),
    path("holds/<uuid:hold_id>/release/", views.legal_hold_release_view, name="hold_release"),
    path("erasure/", views.erasure_requests, name="erasure"),
]
