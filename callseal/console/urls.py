from django.urls import path

from callseal.console import members, numbers, views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("tenant/switch/", views.tenant_switch, name="tenant_switch"),
    path("analytics/", views.section, {"section": "analytics"}, name="analytics"),
    path("settings/", views.tenant_settings, name="settings"),
    path("settings/members/", members.members, name="members"),
    path("settings/numbers/", numbers.number_page, name="numbers"),
    path("settings/numbers/<uuid:number_id>/agent/", numbers.number_agent, name="number_agent"),
    path("settings/members/<int:membership_id>/role/", members.member_role, name="member_role"),
    path(
        "settings/members/<int:membership_id>/remove/", members.member_delete, name="member_remove"
    ),
]
