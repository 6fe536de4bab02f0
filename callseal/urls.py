from django.contrib.auth import views as auth_views
from django.urls import include, path

from agents.metrics import metrics_view
from calls import webhooks
from callseal import health
from callseal.console import auth_views as console_auth
from callseal.console import two_factor

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("login/", console_auth.LoginView.as_view(), name="login"),
    path("logout/", console_auth.LogoutView.as_view(), name="logout"),
    path("account/two-factor/setup/", two_factor.two_factor_setup, name="two_factor_setup"),
    path("account/two-factor/", two_factor.two_factor_verify, name="two_factor_verify"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"
    ),
    path("", include("callseal.console.urls")),
    path("calls/", include("calls.urls")),
    path("compliance/", include("compliance.urls")),
    path("agents/", include("agents.urls")),
    path("twilio/voice", webhooks.voice, name="twilio-voice"),
    path("twilio/status", webhooks.status, name="twilio-status"),
    # Served by the Channels consumer (callseal.routing); named here so TwiML can reverse it.
    path("media-stream/", webhooks.media_stream_over_http, name="media-stream"),
    path("media-stream/<str:nonce>/", webhooks.media_stream_over_http, name="media-stream-nonce"),
]

handler400 = "callseal.console.views.bad_request"
handler403 = "callseal.console.views.permission_denied"
handler404 = "callseal.console.views.page_not_found"
handler500 = "callseal.console.views.server_error"
