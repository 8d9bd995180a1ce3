"""The JSON API: list, revoke one, revoke all others; 401/403/404/405 in JSON; the documented schema."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from django.utils import timezone

from qsessions.models import Session
from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS, SAFARI_MAC, make_user, session_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

API = "/account/sessions/api/sessions/"
FIELDS = {
    "id",
    "current",
    "device",
    "user_agent",
    "ip",
    "location",
    "created_at",
    "last_activity",
    "expires_at",
    "sign_in_method",
    "second_factor",
    "impersonated",
}


def is_signed_in(client: Client) -> bool:
    return client.get("/read/").json()["user"] is not None


def csrf_token(client: Client) -> str:
    client.get("/account/sessions/")  # renders a form, so Django sets the CSRF cookie
    return client.cookies["csrftoken"].value


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["detail"], str)


def test_list_schema(engine: str) -> None:
    make_user("alice")
    make_user("bob")
    phone = signed_in("alice", CHROME_ANDROID, ip="203.0.113.9")
    laptop = signed_in("alice", FIREFOX_WINDOWS)
    signed_in("bob")
    Session.objects.filter(pk=session_of(phone).pk).update(last_activity=timezone.now() - datetime.timedelta(hours=2))
    response = laptop.get(API)
    assert response.status_code == 200
    sessions = response.json()["sessions"]
    assert [s["id"] for s in sessions] == [session_of(laptop).public_id, session_of(phone).public_id]
    assert [s["current"] for s in sessions] == [True, False]
    for entry in sessions:
        assert set(entry) == FIELDS
        for field in ("created_at", "last_activity", "expires_at"):
            datetime.datetime.fromisoformat(entry[field])
    row = session_of(phone)
    assert sessions[1] == {
        "id": row.public_id,
        "current": False,
        "device": row.device_name,
        "user_agent": CHROME_ANDROID,
        "ip": "203.0.113.9",
        "location": None,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "last_activity": row.last_activity.isoformat() if row.last_activity else None,
        "expires_at": row.expire_date.isoformat(),
        "sign_in_method": "Password",
        "second_factor": False,
        "impersonated": False,
    }


def test_detail_and_unknown_device(engine: str) -> None:
    user = make_user()
    client = signed_in("alice")
    Session.objects.create(
        session_key="n" * 32, session_data="", expire_date=timezone.now() + datetime.timedelta(1), user=user
    )
    bare = Session.objects.get(pk="n" * 32)
    body = client.get(f"{API}{bare.public_id}/").json()
    assert body["id"] == bare.public_id
    assert body["device"] is None
    assert body["last_activity"] is None


def test_anonymous_requests_get_401(engine: str, client: Client) -> None:
    assert_error(client.get(API), 401, "not_authenticated")
    assert_error(client.post(f"{API}revoke-others/"), 401, "not_authenticated")
    assert_error(client.delete(f"{API}0123/"), 401, "not_authenticated")


def test_wrong_methods_get_405(engine: str) -> None:
    make_user()
    client = signed_in("alice")
    own = session_of(client).public_id
    for method, url, allowed in (
        ("post", API, "GET"),
        ("delete", API, "GET"),
        ("get", f"{API}revoke-others/", "POST"),
        ("put", f"{API}{own}/", "GET, DELETE"),
        ("post", f"{API}{own}/", "GET, DELETE"),
    ):
        response = getattr(client, method)(url)
        assert_error(response, 405, "method_not_allowed")
        assert response["Allow"] == allowed
    assert is_signed_in(client)


def test_revoke_one_by_delete(engine: str) -> None:
    make_user()
    laptop = signed_in("alice", enforce_csrf_checks=True)
    phone = signed_in("alice", CHROME_ANDROID)
    tablet = signed_in("alice", SAFARI_MAC)
    token = csrf_token(laptop)
    response = laptop.delete(f"{API}{session_of(tablet).public_id}/", HTTP_X_CSRFTOKEN=token)
    assert response.json() == {"revoked": 1, "signed_out": False}
    assert not is_signed_in(tablet)
    assert is_signed_in(phone)
    assert is_signed_in(laptop)


def test_one_revoke_endpoint(engine: str) -> None:
    """DELETE on the session revokes it; there is no second URL for the same thing."""
    make_user()
    laptop = signed_in("alice")
    phone = signed_in("alice", CHROME_ANDROID)
    assert laptop.post(f"{API}{session_of(phone).public_id}/revoke/").status_code == 404
    assert is_signed_in(phone)


def test_csrf_failures_get_403_in_json(engine: str) -> None:
    make_user()
    laptop = signed_in("alice", enforce_csrf_checks=True)
    phone = signed_in("alice", CHROME_ANDROID)
    target = session_of(phone).public_id
    csrf_token(laptop)
    assert_error(laptop.delete(f"{API}{target}/"), 403, "csrf_failed")
    assert_error(laptop.post(f"{API}revoke-others/", HTTP_X_CSRFTOKEN="x" * 32), 403, "csrf_failed")
    assert_error(
        laptop.post(
            f"{API}revoke-others/",
            HTTP_X_CSRFTOKEN=laptop.cookies["csrftoken"].value,
            HTTP_ORIGIN="https://evil.example",
        ),
        403,
        "csrf_failed",
    )
    assert is_signed_in(phone)
    assert laptop.get(API).status_code == 200  # reading needs no token


def test_revoking_the_current_session_signs_out(engine: str) -> None:
    make_user()
    laptop = signed_in("alice")
    response = laptop.delete(f"{API}{session_of(laptop).public_id}/")
    assert response.json() == {"revoked": 1, "signed_out": True}
    assert not is_signed_in(laptop)
    assert_error(laptop.get(API), 401, "not_authenticated")


def test_revoke_all_others(engine: str) -> None:
    make_user("alice")
    make_user("bob")
    laptop = signed_in("alice")
    others = [signed_in("alice", CHROME_ANDROID), signed_in("alice", SAFARI_MAC)]
    bob = signed_in("bob")
    assert laptop.post(f"{API}revoke-others/").json() == {"revoked": 2, "signed_out": False}
    assert not any(is_signed_in(other) for other in others)
    assert is_signed_in(laptop)
    assert is_signed_in(bob)
    assert [s["current"] for s in laptop.get(API).json()["sessions"]] == [True]


def test_another_users_session_is_404_like_a_missing_one(engine: str) -> None:
    make_user("alice")
    make_user("bob")
    alice = signed_in("alice")
    bob = signed_in("bob")
    missing = alice.delete(f"{API}{'0' * 32}/")
    theirs = alice.delete(f"{API}{session_of(bob).public_id}/")
    assert_error(theirs, 404, "not_found")
    assert theirs.content == missing.content
    assert alice.get(f"{API}{session_of(bob).public_id}/").content == alice.get(f"{API}{'0' * 32}/").content
    assert is_signed_in(bob)


@pytest.mark.parametrize("public_id", ["x" * 3000, "%FF%FE", "null", "%00", "%00" * 32, "F" * 32])
def test_malformed_ids_get_404(engine: str, public_id: str) -> None:
    make_user()
    client = signed_in("alice")
    assert_error(client.get(f"{API}{public_id}/"), 404, "not_found")
    assert_error(client.delete(f"{API}{public_id}/"), 404, "not_found")
    assert is_signed_in(client)


def test_async_client(engine: str) -> None:
    make_user()
    signed_in("alice", CHROME_ANDROID)
    client = AsyncClient()
    async_to_sync(client.get)("/alogin/", {"username": "alice"}, headers={"user-agent": FIREFOX_WINDOWS})
    sessions = async_to_sync(client.get)(API, headers={"user-agent": FIREFOX_WINDOWS}).json()["sessions"]
    assert [s["current"] for s in sessions] == [True, False]
    assert sessions[0]["user_agent"] == FIREFOX_WINDOWS
    response = async_to_sync(client.post)(f"{API}revoke-others/")
    assert response.json() == {"revoked": 1, "signed_out": False}


def test_no_session_key_in_json_urls_or_logs(engine: str, caplog: pytest.LogCaptureFixture) -> None:
    make_user()
    caplog.set_level(logging.DEBUG)
    laptop = signed_in("alice")
    phone = signed_in("alice", CHROME_ANDROID)
    tablet = signed_in("alice", SAFARI_MAC)
    keys = {c.cookies["sessionid"].value for c in (laptop, phone, tablet)}
    responses = [laptop.get(API)]
    responses += [laptop.get(f"{API}{s['id']}/") for s in responses[0].json()["sessions"]]
    responses.append(laptop.delete(f"{API}{session_of(phone).public_id}/"))
    responses.append(laptop.post(f"{API}revoke-others/"))
    responses.append(laptop.get(f"{API}{'0' * 32}/"))
    responses.append(laptop.delete(f"{API}{session_of(laptop).public_id}/"))
    responses.append(laptop.get(API))
    for response in responses:
        texts = [response.content.decode(), response.wsgi_request.get_full_path()]
        texts += [f"{name}: {value}" for name, value in response.items() if name.lower() != "set-cookie"]
        for key in keys:
            assert all(key not in text for text in texts)
    for key in keys:
        assert key not in caplog.text


NEVER_CACHE = {"max-age=0", "no-cache", "no-store", "must-revalidate", "private"}


def cache_control(response: Any) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def test_csrf_is_checked_without_the_csrf_middleware(engine: str, settings: Any) -> None:
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if "csrf" not in name]
    make_user()
    laptop = signed_in("alice", enforce_csrf_checks=True)
    phone = signed_in("alice", CHROME_ANDROID)
    tablet = signed_in("alice", SAFARI_MAC)
    target = session_of(phone).public_id
    assert_error(laptop.delete(f"{API}{target}/"), 403, "csrf_failed")
    assert_error(laptop.post(f"{API}revoke-others/", HTTP_X_CSRFTOKEN="x" * 32), 403, "csrf_failed")
    assert is_signed_in(phone)
    assert is_signed_in(tablet)
    token = csrf_token(laptop)  # the sessions page sets the cookie itself
    response = laptop.delete(f"{API}{target}/", HTTP_X_CSRFTOKEN=token)
    assert response.json() == {"revoked": 1, "signed_out": False}
    assert not is_signed_in(phone)
    assert is_signed_in(tablet)


def test_a_csrf_failure_is_logged_with_its_reason(engine: str, caplog: pytest.LogCaptureFixture) -> None:
    make_user()
    laptop = signed_in("alice", enforce_csrf_checks=True)
    csrf_token(laptop)
    with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
        assert_error(laptop.post(f"{API}revoke-others/"), 403, "csrf_failed")
    assert "CSRF token missing" in caplog.text


def test_no_answer_may_be_cached(engine: str) -> None:
    make_user()
    laptop = signed_in("alice")
    phone = session_of(signed_in("alice", CHROME_ANDROID)).public_id
    answers = {
        "list": laptop.get(API),
        "detail": laptop.get(f"{API}{phone}/"),
        "not found": laptop.get(f"{API}0123456789abcdef0123456789abcdef/"),
        "wrong method": laptop.put(API),
        "revoke": laptop.delete(f"{API}{phone}/"),
        "revoke (missing)": laptop.delete(f"{API}{phone}/"),
        "revoke others": laptop.post(f"{API}revoke-others/"),
        "anonymous": Client().get(API),
    }
    assert answers["list"].status_code == 200
    for name, response in answers.items():
        assert cache_control(response) >= NEVER_CACHE, name
        assert "Expires" in response, name
