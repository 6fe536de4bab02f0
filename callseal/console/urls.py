from django.urls import path

from callseal.console import views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("tenant/switch/", views.tenant_switch, name="tenant_switch"),
    path("agents/", views.section, {"section": "agents"}, name="agents"),
    path("compliance/", views.section, {"section": "compliance"}, name="compliance"),
    path("analytics/", views.section, {"section": "analytics"}, name="analytics"),
    path("settings/", views.tenant_settings, name="settings"),
]
