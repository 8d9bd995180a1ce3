"""How each session signed in: the backend's human name and whether a second factor was used."""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils.translation import gettext_lazy

from qsessions.sign_in import SignInMethod, sign_in_method
from tests.helpers import CHROME_ANDROID, make_user, session_key_of, session_of, signed_in

MODEL = "django.contrib.auth.backends.ModelBackend"
ALLAUTH = "allauth.account.auth_backends.AuthenticationBackend"
OTP_DEVICE = "otp_totp.totpdevice/3"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, SignInMethod(None, "", False)),
        ({"cart": [1]}, SignInMethod(None, "", False)),
        ({"_auth_user_backend": MODEL}, SignInMethod(MODEL, "Password", False)),
        (
            {"_auth_user_backend": "django.contrib.auth.backends.RemoteUserBackend"},
            SignInMethod("django.contrib.auth.backends.RemoteUserBackend", "Single sign-on", False),
        ),
        ({"_auth_user_backend": "corp.auth.LDAPBackend"}, SignInMethod("corp.auth.LDAPBackend", "LDAP", False)),
        ({"_auth_user_backend": "corp.auth.Backend"}, SignInMethod("corp.auth.Backend", "Backend", False)),
        # django-otp (and django-two-factor-auth) after a verified device
        ({"_auth_user_backend": MODEL, "otp_device_id": OTP_DEVICE}, SignInMethod(MODEL, "Password", True)),
        ({"_auth_user_backend": MODEL, "otp_device_id": None}, SignInMethod(MODEL, "Password", False)),
        # django-allauth: one backend for every method; its records say which
        (
            {
                "_auth_user_backend": ALLAUTH,
                "account_authentication_methods": [
                    {"method": "password", "at": 1.0, "username": "alice"},
                    {"method": "mfa", "at": 2.0, "type": "totp", "id": 1},
                ],
            },
            SignInMethod(ALLAUTH, "Password", True),
        ),
        (
            {
                "_auth_user_backend": ALLAUTH,
                "account_authentication_methods": [{"method": "socialaccount", "provider": "github", "at": 1.0}],
            },
            SignInMethod(ALLAUTH, "Social account", False),
        ),
        (
            {"_auth_user_backend": ALLAUTH, "account_authentication_methods": [{"method": "code", "at": 1.0}]},
            SignInMethod(ALLAUTH, "Sign-in code", False),
        ),
        ({"_auth_user_backend": ALLAUTH}, SignInMethod(ALLAUTH, "Authentication", False)),
        (
            {"_auth_user_backend": ALLAUTH, "account_authentication_methods": "garbage"},
            SignInMethod(ALLAUTH, "Authentication", False),
        ),
        (
            {"_auth_user_backend": ALLAUTH, "account_authentication_methods": [3, {"method": 7}]},
            SignInMethod(ALLAUTH, "Authentication", False),
        ),
        ({"_auth_user_backend": 42}, SignInMethod(None, "", False)),
    ],
)
def test_the_method_is_read_from_the_session_data(data: dict[str, Any], expected: SignInMethod) -> None:
    assert sign_in_method(data) == expected


def test_sites_name_their_backends(settings: Any) -> None:
    settings.QSESSIONS_SIGN_IN_METHODS = {"corp.auth.LDAPBackend": "Company account", MODEL: "Username and password"}
    assert sign_in_method({"_auth_user_backend": "corp.auth.LDAPBackend"}).label == "Company account"
    assert sign_in_method({"_auth_user_backend": MODEL}).label == "Username and password"
    settings.QSESSIONS_SIGN_IN_METHODS = {
        ALLAUTH: "",  # an empty name: allauth's records still say which method
    }
    data = {"_auth_user_backend": ALLAUTH, "account_authentication_methods": [{"method": "password"}]}
    assert sign_in_method(data).label == "Password"
    assert sign_in_method({"_auth_user_backend": ALLAUTH}).label == ""


@pytest.mark.parametrize(
    ("method", "description"),
    [
        (SignInMethod(MODEL, "Password", False), "Password"),
        (SignInMethod(MODEL, "Password", True), "Password and a second factor"),
        (SignInMethod("x.Y", "", True), "A second factor"),
        (SignInMethod(None, "", False), ""),
    ],
)
def test_description(method: SignInMethod, description: str) -> None:
    assert method.description == description


def add_to_session(client: Client, **values: Any) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key_of(client))
    store.update(values)
    store.save()


@pytest.mark.django_db(transaction=True)
def test_the_page_and_the_api_show_the_method(engine: str) -> None:
    make_user()
    laptop = signed_in("alice")
    phone = signed_in("alice", CHROME_ANDROID)
    add_to_session(phone, otp_device_id=OTP_DEVICE)
    html = laptop.get("/account/sessions/").content.decode()
    rows = dict(
        (session_of(client).public_id, row)
        for client in (laptop, phone)
        for row in re.findall(r'<tr[^>]*>\s*<th scope="row">.*?</tr>', html, flags=re.S)
        if session_of(client).public_id in row
    )
    assert '<span class="qsessions-sign-in-method">Password</span>' in rows[session_of(laptop).public_id]
    assert "second factor" not in rows[session_of(laptop).public_id]
    phone_row = rows[session_of(phone).public_id]
    assert '<span class="qsessions-sign-in-method">Password and a second factor</span>' in phone_row

    sessions = {s["id"]: s for s in laptop.get("/account/sessions/api/sessions/").json()["sessions"]}
    assert sessions[session_of(laptop).public_id]["sign_in_method"] == "Password"
    assert sessions[session_of(laptop).public_id]["second_factor"] is False
    assert sessions[session_of(phone).public_id]["sign_in_method"] == "Password"
    assert sessions[session_of(phone).public_id]["second_factor"] is True
    assert OTP_DEVICE not in html


@pytest.mark.django_db(transaction=True)
def test_the_admin_lists_the_method(engine: str) -> None:
    admin = make_user("root", is_staff=True, is_superuser=True)
    make_user()
    phone = signed_in("alice", CHROME_ANDROID)
    add_to_session(phone, otp_device_id=OTP_DEVICE)
    client = Client()
    client.force_login(admin)
    html = client.get("/admin/qsessions/session/").content.decode()
    assert "Password and a second factor" in html  # under the sign-in time, as on "Your sessions"
    detail = client.get(f"/admin/qsessions/session/{session_of(phone).public_id}/change/").content.decode()
    assert "Sign-in method" in detail and "Password and a second factor" in detail


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        (None, []),
        ({}, []),
        ({"corp.auth.LDAPBackend": "Company account"}, []),
        ({"corp.auth.LDAPBackend": gettext_lazy("Company account")}, []),
        (["corp.auth.LDAPBackend"], ["qsessions.E052"]),
        ({"corp.auth.LDAPBackend": 3}, ["qsessions.E052"]),
    ],
)
def test_a_bad_setting_is_reported(settings: Any, value: Any, errors: list[str]) -> None:
    from qsessions.checks import check_sign_in_methods

    settings.QSESSIONS_SIGN_IN_METHODS = value
    assert [message.id for message in check_sign_in_methods()] == errors
