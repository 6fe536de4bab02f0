from django.urls import path

from callseal.console import agent_test_calls, dashboard, members, numbers, role_requests, views

app_name = "console"
urlpatterns = [
    path("", dashboard.home, name="home"),
    path("dashboard/figures/", dashboard.figures, name="figures"),
    path("dashboard/health/", dashboard.health, name="health"),
    path("tenant/switch/", views.tenant_switch, name="tenant_switch"),
    path("analytics/", views.section, {"section": "analytics"}, name="analytics"),
    path("settings/", views.tenant_settings, name="settings"),
    path("settings/members/", members.members, name="members"),
    path("settings/numbers/", numbers.number_page, name="numbers"),
    path("settings/numbers/<uuid:number_id>/agent/", numbers.number_agent, name="number_agent"),
    path("settings/numbers/<uuid:number_id>/edit/", numbers.number_edit, name="number_edit"),
    path("settings/numbers/<uuid:number_id>/remove/", numbers.number_remove, name="number_remove"),
    path("settings/members/<int:membership_id>/role/", members.member_role, name="member_role"),
    path(
        "settings/members/<int:membership_id>/remove/", members.member_delete, name="member_remove"
    ),
    path(
        "settings/members/<int:membership_id>/unlock/",
        role_requests.member_unlock,
        name="member_unlock",
    ),
    path("settings/role-requests/", role_requests.role_requests, name="role_requests"),
    path(
        "settings/role-requests/<uuid:grant_id>/",
        role_requests.role_request_decide,
        name="role_request_decide",
    ),
    path(
        "agents/<uuid:agent_id>/test-call/",
        agent_test_calls.test_call_create,
        name="test_call_create",
    ),
    path(
        "agents/<uuid:agent_id>/test-calls/<uuid:test_call_id>/",
        agent_test_calls.test_call_page,
        name="test_call",
    ),
    path(
        "agents/<uuid:agent_id>/test-calls/<uuid:test_call_id>/status/",
        agent_test_calls.test_call_status,
        name="test_call_status",
    ),
]
