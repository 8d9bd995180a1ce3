"""Privacy settings, end to end through the middleware: what the session row holds, and when it is rewritten."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from qsessions.backends.db import SessionStore
from qsessions.client import client_ip_for_storage, user_agent_for_storage
from qsessions.models import Session

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36"
)
pytestmark = pytest.mark.django_db


def visit(client: Client, path: str, ip: str = "203.0.113.77", user_agent: str = CHROME, **headers: str) -> Any:
    response = client.get(path, REMOTE_ADDR=ip, headers={"user-agent": user_agent, **headers})
    assert response.status_code == 200
    return response


def the_session(client: Client) -> Session:
    session: Session = Session.objects.get(pk=client.cookies[django_settings.SESSION_COOKIE_NAME].value)
    return session


def updates(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].lstrip().upper().startswith("UPDATE")]


# -- the storage form -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "ip", "stored"),
    [
        ("full", "203.0.113.77", "203.0.113.77"),
        ("full", "::ffff:203.0.113.77", "203.0.113.77"),
        ("truncated", "203.0.113.77", "203.0.113.0"),
        ("truncated", "2001:db8:abcd:1234::1", "2001:db8:abcd::"),
        ("truncated", "[2001:db8:abcd:1234::1]:443", "2001:db8:abcd::"),
        ("truncated", "203.0.113.0", "203.0.113.0"),
        ("none", "203.0.113.77", None),
        ("partial", "203.0.113.77", None),  # a typo (reported by checks) stores nothing rather than everything
        ("full", "junk", None),
    ],
)
def test_client_ip_for_storage(settings: Any, mode: str, ip: str, stored: str | None) -> None:
    settings.QSESSIONS_IP_STORAGE = mode
    assert client_ip_for_storage(ip) == stored


def test_user_agent_for_storage(settings: Any) -> None:
    assert user_agent_for_storage(" Agent\x00/1 ") == "Agent/1"
    settings.QSESSIONS_STORE_USER_AGENT = False
    assert user_agent_for_storage("Agent/1") is None


# -- end to end: the row holds the storage form --------------------------------------------------------------


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize(
    ("mode", "ip", "stored"),
    [
        ("full", "203.0.113.77", "203.0.113.77"),
        ("truncated", "203.0.113.77", "203.0.113.0"),
        ("truncated", "2001:db8:abcd:1234::1", "2001:db8:abcd::"),
        ("none", "203.0.113.77", None),
    ],
)
def test_the_session_row_holds_the_ip_in_its_storage_form(
    settings: Any, client: Client, mode: str, ip: str, stored: str | None
) -> None:
    settings.QSESSIONS_IP_STORAGE = mode
    visit(client, "/write/", ip=ip)
    assert the_session(client).ip == stored


@pytest.mark.usefixtures("engine")
def test_user_agent_is_not_stored_when_disabled(settings: Any, client: Client) -> None:
    settings.QSESSIONS_STORE_USER_AGENT = False
    visit(client, "/write/")
    row = the_session(client)
    assert row.user_agent is None
    assert row.device_description is None
    assert row.ip == "203.0.113.77"


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize(
    ("mode", "same_as_stored"),
    [("full", "203.0.113.77"), ("truncated", "203.0.113.78"), ("none", "198.51.100.1")],
)
def test_a_returning_client_does_not_rewrite_its_session(
    settings: Any, client: Client, mode: str, same_as_stored: str
) -> None:
    """The stored (truncated) IP is compared with the request's IP in stored form, so reads stay reads."""
    settings.QSESSIONS_IP_STORAGE = mode
    visit(client, "/write/", ip="203.0.113.77")
    with CaptureQueriesContext(connection) as queries:
        visit(client, "/read/", ip=same_as_stored)
        visit(client, "/read/", ip="203.0.113.77")
    assert updates(queries) == []


@pytest.mark.usefixtures("engine")
def test_a_client_that_moves_network_is_recorded(settings: Any, client: Client) -> None:
    settings.QSESSIONS_IP_STORAGE = "truncated"
    visit(client, "/write/", ip="203.0.113.77")
    visit(client, "/read/", ip="198.51.100.20")
    assert the_session(client).ip == "198.51.100.0"


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize(("mode", "stored"), [("truncated", "203.0.113.0"), ("none", None)])
def test_sessions_stored_under_a_looser_mode_are_rewritten_once(
    settings: Any, client: Client, mode: str, stored: str | None
) -> None:
    """An operator who tightens the setting gets full IPs out of live sessions at their next request."""
    visit(client, "/write/", ip="203.0.113.77")
    assert the_session(client).ip == "203.0.113.77"
    settings.QSESSIONS_IP_STORAGE = mode
    visit(client, "/read/", ip="203.0.113.77")
    assert the_session(client).ip == stored
    with CaptureQueriesContext(connection) as queries:
        visit(client, "/read/", ip="203.0.113.77")
    assert updates(queries) == []


@pytest.mark.usefixtures("engine")
def test_turning_user_agent_storage_off_clears_stored_user_agents(settings: Any, client: Client) -> None:
    visit(client, "/write/")
    assert the_session(client).user_agent == CHROME
    settings.QSESSIONS_STORE_USER_AGENT = False
    visit(client, "/read/")
    assert the_session(client).user_agent is None


@pytest.mark.usefixtures("engine")
def test_store_used_directly_applies_the_privacy_settings(settings: Any) -> None:
    settings.QSESSIONS_IP_STORAGE = "truncated"
    settings.QSESSIONS_STORE_USER_AGENT = False
    store = engine_store()(ip="203.0.113.77", user_agent=CHROME)
    store["k"] = "v"
    store.save()
    row = Session.objects.get(pk=store.session_key)
    assert (row.ip, row.user_agent) == ("203.0.113.0", None)
    assert isinstance(store, SessionStore)


# -- client hints -------------------------------------------------------------------------------------------------

HINTS = {
    "Sec-CH-UA-Platform": '"Windows"',
    "Sec-CH-UA-Platform-Version": '"15.0.0"',
    "Sec-CH-UA-Mobile": "?0",
}


@pytest.mark.usefixtures("engine")
def test_client_hints_are_asked_for_and_stored_when_enabled(settings: Any, client: Client) -> None:
    settings.QSESSIONS_CLIENT_HINTS = True
    first = visit(client, "/write/")
    assert set(first["Accept-CH"].split(", ")) == {
        "Sec-CH-UA-Platform",
        "Sec-CH-UA-Platform-Version",
        "Sec-CH-UA-Model",
        "Sec-CH-UA-Mobile",
    }
    assert "Sec-CH" not in first.get("Vary", "")
    assert "Critical-CH" not in first
    assert the_session(client).client_hints is None  # the first request had none
    visit(client, "/read/", **HINTS)
    row = the_session(client)
    assert row.client_hints == {"platform": "Windows", "platform_version": "15.0.0", "mobile": False}
    assert row.device_description is not None
    assert row.device_description.name == "Chrome 118 on Windows 11"
    # A request without hints (another browser feature, a fetch) keeps what is stored, and writes nothing.
    with CaptureQueriesContext(connection) as queries:
        visit(client, "/read/")
        visit(client, "/read/", **HINTS)
    assert updates(queries) == []
    assert the_session(client).client_hints == row.client_hints


@pytest.mark.usefixtures("engine")
def test_client_hints_are_neither_asked_for_nor_stored_by_default(client: Client) -> None:
    response = visit(client, "/write/", **HINTS)
    assert "Accept-CH" not in response
    assert the_session(client).client_hints is None
    assert the_session(client).device_description.name == "Chrome 118 on Windows"  # type: ignore[union-attr]


@pytest.mark.usefixtures("engine")
def test_turning_client_hints_off_clears_stored_hints(settings: Any, client: Client) -> None:
    settings.QSESSIONS_CLIENT_HINTS = True
    visit(client, "/write/", **HINTS)
    assert the_session(client).client_hints is not None
    settings.QSESSIONS_CLIENT_HINTS = False
    assert "Accept-CH" not in visit(client, "/read/", **HINTS)
    assert the_session(client).client_hints is None


def test_cached_db_keeps_client_hints_in_its_cache_entry(settings: Any, client: Client, cached_engine: str) -> None:
    settings.QSESSIONS_CLIENT_HINTS = True
    visit(client, "/write/", **HINTS)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(pk=key).update(client_hints={"platform": "Linux"})  # behind the cache's back
    store = engine_store()(session_key=key)
    store.load()
    assert store.client_hints == {"platform": "Windows", "platform_version": "15.0.0", "mobile": False}


@pytest.mark.usefixtures("engine")
def test_async_requests_follow_the_same_rules(settings: Any) -> None:
    from asgiref.sync import async_to_sync
    from django.http import HttpRequest, HttpResponse
    from django.test import AsyncRequestFactory

    from qsessions.middleware import SessionMiddleware

    async def view(request: HttpRequest) -> HttpResponse:
        await request.session.aset("value", "x")
        return HttpResponse("ok")

    settings.QSESSIONS_IP_STORAGE = "truncated"
    settings.QSESSIONS_CLIENT_HINTS = True
    middleware = SessionMiddleware(view)
    request = AsyncRequestFactory().get("/", headers=HINTS)
    request.META["REMOTE_ADDR"] = "203.0.113.77"
    response = async_to_sync(cast(Any, middleware))(request)
    assert "Sec-CH-UA-Platform-Version" in response["Accept-CH"]
    row = Session.objects.get(pk=response.cookies[django_settings.SESSION_COOKIE_NAME].value)
    assert row.ip == "203.0.113.0"
    assert row.client_hints == {"platform": "Windows", "platform_version": "15.0.0", "mobile": False}


@pytest.mark.usefixtures("engine")
def test_fewer_hints_add_to_what_is_stored_and_another_platform_replaces_it(settings: Any, client: Client) -> None:
    settings.QSESSIONS_CLIENT_HINTS = True
    visit(client, "/write/", **HINTS, **{"Sec-CH-UA-Model": '""'})
    full = {"platform": "Windows", "platform_version": "15.0.0", "model": "", "mobile": False}
    assert the_session(client).client_hints == full
    with CaptureQueriesContext(connection) as queries:
        visit(client, "/read/", **{"Sec-CH-UA-Platform": '"Windows"', "Sec-CH-UA-Mobile": "?0"})
    assert updates(queries) == []
    visit(client, "/read/", **{"Sec-CH-UA-Platform": '"Windows"', "Sec-CH-UA-Platform-Version": '"16.0.0"'})
    assert the_session(client).client_hints == {**full, "platform_version": "16.0.0"}
    visit(client, "/read/", **{"Sec-CH-UA-Platform": '"Android"', "Sec-CH-UA-Mobile": "?1"})
    assert the_session(client).client_hints == {"platform": "Android", "mobile": True}


def engine_store() -> type[SessionStore]:
    """The configured engine's store class: one of qsessions' (the tests pick the engine)."""
    store_class = Session.get_session_store_class()
    assert issubclass(store_class, SessionStore)
    return store_class
