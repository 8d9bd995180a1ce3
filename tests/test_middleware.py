"""The middleware under WSGI and ASGI, and what it makes of addresses it cannot trust."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, RequestFactory

from qsessions.middleware import SessionMiddleware
from qsessions.models import Session
from tests.helpers import CHROME_UA, client_for, make_user, session_key_of

pytestmark = pytest.mark.django_db


class AddressedAsyncClient(AsyncClient):
    """An ASGI test client whose requests come from ``address`` (ASGI's scope["client"])."""

    def __init__(self, address: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.address = address

    def _base_scope(self, **request: Any) -> dict[str, Any]:
        scope: dict[str, Any] = super()._base_scope(**request)  # type: ignore[misc]  # private: not in the stubs
        scope["client"] = [self.address, 0]
        return scope


@pytest.mark.parametrize(
    ("remote_addr", "stored"),
    [
        ("", None),
        ("unknown", None),
        ("1.2.3.4:80", "1.2.3.4"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("!" * 300, None),
        ("999.1.1.1", None),
        ("2001:DB8::1", "2001:db8::1"),
    ],
)
def test_bad_remote_addr_is_answered_and_stored_as_null_or_the_valid_address(
    engine: str, remote_addr: str, stored: str | None
) -> None:
    make_user()
    client = client_for(ip=remote_addr)
    assert client.get("/login/?username=alice").status_code == 200
    assert client.get("/read/").json()["user"] == "alice"
    assert Session.objects.get().ip == stored


def test_missing_remote_addr_and_user_agent(engine: str) -> None:
    make_user()
    client = client_for()
    client.defaults.pop("REMOTE_ADDR")
    client.defaults.pop("HTTP_USER_AGENT")
    assert client.get("/login/?username=alice").status_code == 200
    session = Session.objects.get()
    assert session.user_agent is None


def test_asgi_login_records_the_client_and_serves_the_session(engine: str) -> None:
    alice = make_user()

    async def scenario() -> tuple[int, Any]:
        client = AddressedAsyncClient("198.51.100.4")
        response = await client.get("/alogin/?username=alice", headers={"user-agent": CHROME_UA})
        await client.get("/awrite/?value=async", headers={"user-agent": CHROME_UA})
        read = await client.get("/aread/", headers={"user-agent": CHROME_UA})
        return response.status_code, read.json()

    status, body = async_to_sync(scenario)()
    assert status == 200
    assert body == {"user": "alice", "value": "async"}
    session = Session.objects.get()
    assert (session.user, session.ip, session.user_agent) == (alice, "198.51.100.4", CHROME_UA)
    assert session.created_at is not None


def test_asgi_revocation_is_refused_on_the_next_request(engine: str) -> None:
    make_user()

    async def scenario() -> tuple[Any, Any]:
        client = AddressedAsyncClient("198.51.100.4")
        await client.get("/alogin/?username=alice")
        before = (await client.get("/aread/")).json()
        await Session.objects.all().adelete()
        after = (await client.get("/aread/")).json()
        return before["user"], after["user"]

    assert async_to_sync(scenario)() == ("alice", None)


def test_cookie_with_unknown_key_starts_a_new_session(engine: str) -> None:
    client = client_for()
    client.cookies[settings.SESSION_COOKIE_NAME] = "a" * 32
    client.get("/write/?value=1")
    assert session_key_of(client) != "a" * 32
    assert Session.objects.count() == 1


@pytest.mark.parametrize("cookie", ["", "x" * 5000, "../../etc/passwd", "é" * 40])
def test_malformed_cookie_is_never_an_error(engine: str, cookie: str) -> None:
    client = client_for()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert client.get("/read/").status_code == 200
    assert client.get("/write/").status_code == 200


def test_corrupt_session_row_gives_an_empty_session_not_an_error(engine: str) -> None:
    make_user()
    client = client_for()
    client.get("/login/?username=alice")
    Session.objects.update(session_data="corrupt:::data")
    from django.core.cache import caches

    caches["default"].clear()
    assert client.get("/read/").json()["user"] is None
    assert client.get("/write/?value=fresh").status_code == 200


def _respond(middleware_class: type, store_class: type, cookie: str | None, view: Any) -> HttpResponse:
    """``view(request)`` through ``middleware_class`` alone with ``store_class``, sending ``cookie`` (or none)."""
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT=CHROME_UA)
    if cookie is not None:
        request.COOKIES[settings.SESSION_COOKIE_NAME] = cookie
    middleware = middleware_class(view)
    middleware.SessionStore = store_class
    response: HttpResponse = middleware(request)
    return response


def _read(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session.get("theme")))


def _read_and_vary(request: HttpRequest) -> HttpResponse:
    response = _read(request)
    response["Vary"] = "Accept-Language"
    return response


def _read_and_vary_on_cookie(request: HttpRequest) -> HttpResponse:
    response = _read(request)
    response["Vary"] = "cookie"
    return response


def _ignore(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@pytest.mark.parametrize("cookie", ["live", "unknown", None])
@pytest.mark.parametrize("view", [_read, _read_and_vary, _read_and_vary_on_cookie, _ignore])
def test_a_request_that_does_not_write_gets_the_headers_of_djangos_middleware(
    engine: str, cookie: str | None, view: Any
) -> None:
    # Our middleware answers a request that does not write its session without Django's process_response:
    # the Vary and Set-Cookie headers must still be Django's, to the letter.
    headers = {}
    for middleware_class, store_class in (
        (DjangoSessionMiddleware, import_module("django.contrib.sessions.backends.cache").SessionStore),
        (SessionMiddleware, import_module(engine).SessionStore),
    ):
        key = None
        if cookie == "live":
            # Ours: a session whose stored client is this request's, or the read would record the new one.
            is_ours = middleware_class is SessionMiddleware
            store = store_class(None, CHROME_UA, "203.0.113.7") if is_ours else store_class()
            store["theme"] = "dark"
            store.save()
            key = store.session_key
        elif cookie == "unknown":
            key = "a" * 32
        response = _respond(middleware_class, store_class, key, view)
        headers[middleware_class] = (response.get("Vary"), response.cookies.get(settings.SESSION_COOKIE_NAME, ""))
        if cookie == "live":
            assert response.content == (b"ok" if view is _ignore else b"dark")
    ours, djangos = headers[SessionMiddleware], headers[DjangoSessionMiddleware]
    assert ours[0] == djangos[0]
    assert str(ours[1]).split(";", 1)[0] == str(djangos[1]).split(";", 1)[0]
