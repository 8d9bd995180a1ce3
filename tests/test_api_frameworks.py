"""One table of API scenarios run against the JSON API, Django REST framework and Django Ninja alike.

qsessions.contrib.rest_framework and qsessions.contrib.ninja must answer every scenario exactly as the JSON
API of qsessions.urls does: status, error code, body, headers that matter (Allow, Cache-Control).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest
from django.test import Client

from qsessions.reauthentication import AUTHENTICATED_AT_SESSION_KEY
from tests.helpers import CHROME_ANDROID, SAFARI_MAC, make_user, session_key_of, session_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

APIS = {"json": "/account/sessions/api/sessions/", "drf": "/drf/sessions/", "ninja": "/ninja/sessions/"}
MISSING = "0" * 32
NEVER_CACHE = {"max-age=0", "no-cache", "no-store", "must-revalidate", "private"}


@pytest.fixture(params=list(APIS))
def api(request: pytest.FixtureRequest) -> str:
    return APIS[request.param]


def is_signed_in(client: Client) -> bool:
    return client.get("/read/").json()["user"] is not None


def csrf_token(client: Client) -> str:
    client.get("/account/sessions/")  # the sessions page sets the CSRF cookie
    return client.cookies["csrftoken"].value


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert cache_control >= NEVER_CACHE
    return body


def alice_with_others() -> tuple[Client, Client, Client, Client]:
    """Alice's laptop (CSRF checks on), phone and tablet, and Bob."""
    make_user("alice")
    make_user("bob")
    laptop = signed_in("alice", enforce_csrf_checks=True)
    return laptop, signed_in("alice", CHROME_ANDROID), signed_in("alice", SAFARI_MAC), signed_in("bob")


# -- the scenarios: each takes the API's base URL and asserts what every API must answer -------------------


def anonymous_requests_are_401(api: str) -> None:
    client = Client()
    error(client.get(api), 401, "not_authenticated")
    error(client.get(f"{api}{MISSING}/"), 401, "not_authenticated")
    error(client.delete(f"{api}{MISSING}/"), 401, "not_authenticated")
    error(client.post(f"{api}revoke-others/"), 401, "not_authenticated")


def wrong_methods_are_405_first(api: str) -> None:
    laptop, *_ = alice_with_others()
    own = session_of(laptop).public_id
    for client in (laptop, Client()):
        for method, url, allowed in (
            ("post", api, "GET"),
            ("delete", api, "GET"),
            ("put", api, "GET"),
            ("get", f"{api}revoke-others/", "POST"),
            ("delete", f"{api}revoke-others/", "POST"),
            ("put", f"{api}{own}/", "GET, DELETE"),
            ("patch", f"{api}{own}/", "GET, DELETE"),
            ("post", f"{api}{own}/", "GET, DELETE"),
        ):
            response = getattr(client, method)(url)
            error(response, 405, "method_not_allowed")
            assert response["Allow"] == allowed, (method, url)
    assert is_signed_in(laptop)


def list_and_detail(api: str) -> None:
    laptop, phone, tablet, _bob = alice_with_others()
    sessions = laptop.get(api).json()["sessions"]
    assert sessions == laptop.get(APIS["json"]).json()["sessions"]
    assert {s["id"] for s in sessions} == {session_of(c).public_id for c in (laptop, phone, tablet)}
    assert [s["current"] for s in sessions] == [s["id"] == session_of(laptop).public_id for s in sessions]
    phone_id = session_of(phone).public_id
    detail = laptop.get(f"{api}{phone_id}/")
    assert detail.status_code == 200
    assert detail.json() == laptop.get(f"{APIS['json']}{phone_id}/").json()
    assert detail.json()["device"] == session_of(phone).device_name


def others_sessions_are_404_like_missing_ones(api: str) -> None:
    laptop, _phone, _tablet, bob = alice_with_others()
    token = csrf_token(laptop)
    bobs = session_of(bob).public_id
    for public_id in (bobs, MISSING, "x" * 3000, "%FF%FE", "null", "%00", "F" * 32):
        body = error(laptop.get(f"{api}{public_id}/"), 404, "not_found")
        assert body == error(laptop.get(f"{api}{MISSING}/"), 404, "not_found")
        error(laptop.delete(f"{api}{public_id}/", HTTP_X_CSRFTOKEN=token), 404, "not_found")
    assert is_signed_in(bob)


def csrf_is_required_to_revoke(api: str, caplog: pytest.LogCaptureFixture) -> None:
    laptop, phone, tablet, _bob = alice_with_others()
    target = session_of(phone).public_id
    token = csrf_token(laptop)
    with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
        error(laptop.delete(f"{api}{target}/"), 403, "csrf_failed")
    assert "CSRF token missing" in caplog.text
    error(laptop.delete(f"{api}{target}/", HTTP_X_CSRFTOKEN="x" * 32), 403, "csrf_failed")
    error(laptop.post(f"{api}revoke-others/"), 403, "csrf_failed")
    foreign: dict[str, Any] = {
        "HTTP_X_CSRFTOKEN": token,
        "HTTP_ORIGIN": "https://evil.example",
        "HTTP_REFERER": "https://evil.example/",
    }
    error(laptop.post(f"{api}revoke-others/", secure=True, **foreign), 403, "csrf_failed")
    assert is_signed_in(phone)
    assert is_signed_in(tablet)
    assert laptop.get(api).status_code == 200  # reading needs no token


def revoke_one(api: str) -> None:
    laptop, phone, tablet, _bob = alice_with_others()
    token = csrf_token(laptop)
    response = laptop.delete(f"{api}{session_of(phone).public_id}/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json() == {"revoked": 1, "signed_out": False}
    assert {part.strip() for part in response["Cache-Control"].split(",")} >= NEVER_CACHE
    assert not is_signed_in(phone)
    assert is_signed_in(tablet)
    assert is_signed_in(laptop)


def revoke_the_current_session(api: str) -> None:
    laptop, phone, *_ = alice_with_others()
    token = csrf_token(laptop)
    response = laptop.delete(f"{api}{session_of(laptop).public_id}/", HTTP_X_CSRFTOKEN=token)
    assert response.json() == {"revoked": 1, "signed_out": True}
    assert not is_signed_in(laptop)
    error(laptop.get(api), 401, "not_authenticated")
    assert is_signed_in(phone)


def revoke_others(api: str) -> None:
    laptop, phone, tablet, bob = alice_with_others()
    response = laptop.post(f"{api}revoke-others/", HTTP_X_CSRFTOKEN=csrf_token(laptop))
    assert response.json() == {"revoked": 2, "signed_out": False}
    assert not is_signed_in(phone)
    assert not is_signed_in(tablet)
    assert is_signed_in(laptop)
    assert is_signed_in(bob)
    assert [s["current"] for s in laptop.get(api).json()["sessions"]] == [True]


def reauthentication_is_403_until_recent(api: str, settings: Any) -> None:
    settings.QSESSIONS_REAUTHENTICATION_WINDOW = 300
    laptop, phone, *_ = alice_with_others()
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key_of(laptop))
    store[AUTHENTICATED_AT_SESSION_KEY] = time.time() - 400
    store.save()
    token = csrf_token(laptop)
    phone_id = session_of(phone).public_id
    for response in (
        laptop.delete(f"{api}{phone_id}/", HTTP_X_CSRFTOKEN=token),
        laptop.delete(f"{api}{MISSING}/", HTTP_X_CSRFTOKEN=token),
        laptop.post(f"{api}revoke-others/", HTTP_X_CSRFTOKEN=token),
    ):
        body = error(response, 403, "reauthentication_required")
        assert body["reauthenticate_url"] == "/account/sessions/reauthenticate/"
    assert laptop.get(f"{api}{phone_id}/").status_code == 200  # reading never needs it
    error(laptop.post(f"{api}revoke-others/"), 403, "csrf_failed")  # CSRF is checked first
    assert is_signed_in(phone)


def no_session_key_leaves(api: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    laptop, phone, tablet, _bob = alice_with_others()
    keys = {session_key_of(c) for c in (laptop, phone, tablet)}
    token = csrf_token(laptop)
    responses = [laptop.get(api), laptop.get(f"{api}{session_of(phone).public_id}/")]
    responses.append(laptop.delete(f"{api}{session_of(phone).public_id}/", HTTP_X_CSRFTOKEN=token))
    responses.append(laptop.post(f"{api}revoke-others/", HTTP_X_CSRFTOKEN=token))
    for response in responses:
        assert response.status_code == 200
        text = response.content.decode() + str({k: v for k, v in response.items() if k.lower() != "set-cookie"})
        assert not any(key in text for key in keys)
    assert not any(key in caplog.text for key in keys)


SCENARIOS: dict[str, Callable[..., None]] = {
    function.__name__: function
    for function in (
        anonymous_requests_are_401,
        wrong_methods_are_405_first,
        list_and_detail,
        others_sessions_are_404_like_missing_ones,
        csrf_is_required_to_revoke,
        revoke_one,
        revoke_the_current_session,
        revoke_others,
        reauthentication_is_403_until_recent,
        no_session_key_leaves,
    )
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario(scenario: str, api: str, request: pytest.FixtureRequest) -> None:
    function = SCENARIOS[scenario]
    names = function.__code__.co_varnames[1 : function.__code__.co_argcount]
    function(api, *(request.getfixturevalue(name) for name in names))


@pytest.mark.parametrize("scenario", [revoke_one, revoke_others], ids=["revoke_one", "revoke_others"])
def test_revocation_on_both_engines(engine: str, api: str, scenario: Callable[[str], None]) -> None:
    scenario(api)


def test_every_api_answers_the_same_body() -> None:
    laptop, *_ = alice_with_others()
    answers = {name: laptop.get(url) for name, url in APIS.items()}
    assert answers["ninja"].content == answers["json"].content  # the same views
    assert answers["drf"].json() == answers["json"].json()  # DRF's renderer writes compact JSON


def test_the_ninja_operations_are_in_the_openapi_schema() -> None:
    schema = Client().get("/ninja/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) == {"/ninja/sessions/", "/ninja/sessions/revoke-others/", "/ninja/sessions/{public_id}/"}
    assert set(paths["/ninja/sessions/{public_id}/"]) == {"get", "delete"}
    assert "SessionSchema" in schema["components"]["schemas"]
