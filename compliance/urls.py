"""Compliance pages (consent, retention, legal holds, erasure, audit trail)."""

from __future__ import annotations

from django.urls import path

from compliance import views

app_name = "compliance"
urlpatterns = [
    path("", views.overview, name="overview"),
]
