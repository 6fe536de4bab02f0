from __future__ import annotations

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator

from callseal.tenancy.models import Role


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)
    password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        strip=False,
        help_text="Initial password, needed only for a new account.",
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
