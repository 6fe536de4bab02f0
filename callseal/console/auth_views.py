"""Sign-in with throttling, sign-out that closes the user's console sockets."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse

from callseal.tenancy.channels import user_sockets_close
from callseal.tenancy.login_throttle import (
    login_failure_record,
    login_refusal,
    login_success_record,
)

TOO_MANY_REQUESTS = 429


def client_address(request: HttpRequest) -> str:
    """The peer's address as the server saw it (proxy headers are not trusted here)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


class LoginView(auth_views.LoginView):
    """Django's login, refused without checking the password while the account or the
    address is locked; every failure counts towards the lock."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        refusal = login_refusal(username=username, address=client_address(request))
        if refusal is not None:
            # An unbound form: binding it would check the password, which a lock forbids.
            form = self.get_form_class()(request, initial={"username": username})
            form._errors = ErrorDict()  # type: ignore[attr-defined]
            form.cleaned_data = {}
            form.add_error(None, refusal.message)
            return self.render_to_response(
                self.get_context_data(form=form), status=TOO_MANY_REQUESTS
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        data = form.data
        if data.get("username") and data.get("password"):
            login_failure_record(
                username=str(data["username"]), address=client_address(self.request)
            )
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        login_success_record(username=form.get_user().get_username())
        return super().form_valid(form)


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user_id = request.user.pk if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user_id is not None:
            user_sockets_close(user_id=user_id, reason="logged out")
        return response
