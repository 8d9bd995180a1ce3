"""Session limits and signing out other sessions on a password change; checks of their settings."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import checks
from django.test import AsyncClient, Client
from django.utils import timezone

from qsessions.checks import check_session_policies
from qsessions.models import Session
from qsessions.policies import enforce_session_limit, revoke_after_password_change
from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS, SAFARI_MAC, make_user, session_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def is_signed_in(client: Client) -> bool:
    return client.get("/read/").json()["user"] is not None


def listed(client: Client) -> list[str]:
    return [s["id"] for s in client.get("/account/sessions/api/sessions/").json()["sessions"]]


# -- QSESSIONS_MAX_SESSIONS_PER_USER ---------------------------------------------------------------------------


def test_a_login_beyond_the_limit_revokes_the_least_recently_active(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 2
    make_user("alice")
    make_user("bob")
    old = signed_in("alice", FIREFOX_WINDOWS)
    recent = signed_in("alice", SAFARI_MAC)
    bob = signed_in("bob")
    # The first session is the more recently active one.
    Session.objects.filter(pk=session_of(recent).pk).update(last_activity=timezone.now() - datetime.timedelta(hours=3))
    newest = signed_in("alice", CHROME_ANDROID)
    assert is_signed_in(old)
    assert not is_signed_in(recent)
    assert is_signed_in(newest)
    assert is_signed_in(bob)
    assert Session.objects.filter(user__username="alice").count() == 2


def test_the_limit_applies_to_async_logins(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 1
    make_user()
    first = signed_in("alice")
    client = AsyncClient()
    async_to_sync(client.get)("/alogin/", {"username": "alice"})
    assert not is_signed_in(first)
    assert async_to_sync(client.get)("/aread/").json()["user"] == "alice"
    assert Session.objects.filter(user__username="alice").count() == 1


def test_no_limit_by_default(engine: str) -> None:
    make_user()
    clients = [signed_in("alice") for _ in range(5)]
    assert all(is_signed_in(client) for client in clients)


def test_expired_sessions_do_not_count(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 2
    make_user()
    expired = signed_in("alice")
    Session.objects.filter(pk=session_of(expired).pk).update(expire_date=timezone.now() - datetime.timedelta(1))
    kept = signed_in("alice")
    signed_in("alice")
    assert is_signed_in(kept)


def test_enforce_without_a_request_keeps_the_newest(engine: str, settings: Any) -> None:
    user = make_user()
    clients = [signed_in("alice") for _ in range(3)]
    for minutes, client in zip((30, 20, 10), clients, strict=False):
        Session.objects.filter(pk=session_of(client).pk).update(
            last_activity=timezone.now() - datetime.timedelta(minutes=minutes)
        )
    assert enforce_session_limit(user) == 0  # no limit set
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 2
    assert enforce_session_limit(user) == 1
    assert [is_signed_in(client) for client in clients] == [False, True, True]
    assert enforce_session_limit(user) == 0


# -- QSESSIONS_REVOKE_ON_PASSWORD_CHANGE ----------------------------------------------------------------------


def test_set_password_and_save_signs_out_everywhere(engine: str) -> None:
    user = make_user()
    clients = [signed_in("alice"), signed_in("alice", CHROME_ANDROID)]
    user.set_password("a new one")
    user.save()
    assert not Session.objects.filter(user=user).exists()
    assert not any(is_signed_in(client) for client in clients)


def test_async_save_signs_out_everywhere(engine: str) -> None:
    user = make_user()
    client = signed_in("alice")
    user.set_password("a new one")
    async_to_sync(user.asave)()
    assert not Session.objects.filter(user=user).exists()
    assert not is_signed_in(client)


def test_the_session_that_changes_the_password_stays_with_update_session_auth_hash(engine: str) -> None:
    make_user()
    current = signed_in("alice")
    other = signed_in("alice", CHROME_ANDROID)
    created_at = session_of(current).created_at
    assert current.get("/password/", {"keep": "1"}).status_code == 200
    assert is_signed_in(current)
    assert not is_signed_in(other)
    assert listed(current) == [session_of(current).public_id]
    assert session_of(current).created_at == created_at


def test_an_async_view_keeps_its_session_with_aupdate_session_auth_hash(engine: str) -> None:
    make_user()
    other = signed_in("alice", CHROME_ANDROID)
    current = AsyncClient()
    async_to_sync(current.get)("/alogin/", {"username": "alice"})
    assert async_to_sync(current.get)("/apassword/", {"keep": "1"}).status_code == 200
    assert async_to_sync(current.get)("/aread/").json()["user"] == "alice"
    assert not is_signed_in(other)
    assert Session.objects.filter(user__username="alice").count() == 1


def test_without_update_session_auth_hash_the_current_session_ends_at_its_next_request(engine: str) -> None:
    make_user()
    current = signed_in("alice")
    other = signed_in("alice", CHROME_ANDROID)
    key = current.cookies["sessionid"].value
    current.get("/password/")
    assert not is_signed_in(other)
    assert not is_signed_in(current)  # Django's session hash check
    assert not Session.objects.filter(pk=key).exists()


def test_the_admin_password_change_pages(engine: str) -> None:
    root = get_user_model()._default_manager.create_superuser("root", "root@example.com", "old-root-pw")
    bob = make_user("bob")
    admin_elsewhere = signed_in("root", CHROME_ANDROID)
    admin = Client(HTTP_USER_AGENT=FIREFOX_WINDOWS)
    assert admin.login(username="root", password="old-root-pw")
    bobs = [signed_in("bob"), signed_in("bob", SAFARI_MAC)]

    # An admin sets bob's password: all of bob's sessions end, the admin's do not.
    response = admin.post(
        f"/admin/auth/user/{bob.pk}/password/",
        {"password1": "Bob's new pw 9!", "password2": "Bob's new pw 9!", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert not any(is_signed_in(client) for client in bobs)
    assert is_signed_in(admin)
    assert is_signed_in(admin_elsewhere)

    # The admin changes their own password: their other session ends, this one stays.
    response = admin.post(
        "/admin/password_change/",
        {"old_password": "old-root-pw", "new_password1": "Root new pw 9!", "new_password2": "Root new pw 9!"},
    )
    assert response.status_code == 302, response.content
    assert is_signed_in(admin)
    assert not is_signed_in(admin_elsewhere)
    assert list(Session.objects.filter(user=root).values_list("pk", flat=True)) == [admin.cookies["sessionid"].value]


def test_the_setting_turns_it_off(engine: str, settings: Any) -> None:
    settings.QSESSIONS_REVOKE_ON_PASSWORD_CHANGE = False
    user = make_user()
    client = signed_in("alice")
    user.set_password("x")
    user.save()
    assert Session.objects.filter(user=user).count() == 1
    assert revoke_after_password_change(user) == 0
    assert not is_signed_in(client)  # Django itself still refuses the old hash


def test_saves_that_keep_the_password_revoke_nothing(engine: str, settings: Any) -> None:
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user = make_user(password="pw-alice")
    client = signed_in("alice")
    user.first_name = "Alice"
    user.save()
    make_user("bob")
    # A hash upgrade when the password is checked saves the password field; the password stays the same.
    get_user_model()._default_manager.filter(pk=user.pk).update(
        password=PBKDF2PasswordHasher().encode("pw-alice", "salt", iterations=1)
    )
    user.refresh_from_db()
    assert user.check_password("pw-alice")
    user.refresh_from_db()
    assert user.password.startswith("md5$")
    assert Session.objects.filter(user=user).count() == 1
    assert client.get("/read/").status_code == 200


# -- checks ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "error_id"),
    [
        ("QSESSIONS_ACTIVITY_INTERVAL", -1, "qsessions.E020"),
        ("QSESSIONS_ACTIVITY_INTERVAL", "60", "qsessions.E020"),
        ("QSESSIONS_ACTIVITY_INTERVAL", 1.5, "qsessions.E020"),
        ("QSESSIONS_ACTIVITY_INTERVAL", True, "qsessions.E020"),
        ("QSESSIONS_MAX_SESSIONS_PER_USER", 0, "qsessions.E021"),
        ("QSESSIONS_MAX_SESSIONS_PER_USER", "3", "qsessions.E021"),
        ("QSESSIONS_REVOKE_ON_PASSWORD_CHANGE", "yes", "qsessions.E022"),
        ("QSESSIONS_REVOKE_ON_PASSWORD_CHANGE", 1, "qsessions.E022"),
    ],
)
def test_bad_settings_are_reported(settings: Any, name: str, value: Any, error_id: str) -> None:
    setattr(settings, name, value)
    errors = check_session_policies()
    assert [error.id for error in errors] == [error_id]
    assert name in errors[0].msg
    assert error_id in {message.id for message in checks.run_checks()}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QSESSIONS_ACTIVITY_INTERVAL", 0),
        ("QSESSIONS_ACTIVITY_INTERVAL", 300),
        ("QSESSIONS_MAX_SESSIONS_PER_USER", None),
        ("QSESSIONS_MAX_SESSIONS_PER_USER", 1),
        ("QSESSIONS_REVOKE_ON_PASSWORD_CHANGE", False),
    ],
)
def test_good_settings_pass(settings: Any, name: str, value: Any) -> None:
    setattr(settings, name, value)
    assert check_session_policies() == []


def test_defaults_pass() -> None:
    assert check_session_policies() == []
    assert re.match(r"qsessions\.E02\d", "qsessions.E020")
