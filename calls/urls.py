from django.urls import path

from calls import views

app_name = "calls"
urlpatterns = [
    path("", views.call_list, name="list"),
    path("<uuid:call_id>/", views.call_detail, name="detail"),
    path("<uuid:call_id>/live/", views.call_live, name="live"),
    path("<uuid:call_id>/end/", views.call_end, name="end"),
    path("<uuid:call_id>/escalate/", views.call_escalate, name="escalate"),
    path("<uuid:call_id>/recordings/play/", views.recording_grant, name="recording_grant"),
    path(
        "<uuid:call_id>/recordings/<uuid:recording_id>/audio",
        views.recording_audio,
        name="recording_audio",
    ),
]
