"""cached_db: zero queries on a cache hit, write-through, and a cache that fails never fails a request."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY
from qsessions.backends.cached_db import KEY_PREFIX, SessionStore
from qsessions.cache import MISSING, REVOKED_SESSION, Found, lookup, read_entry
from qsessions.models import Session
from tests.helpers import client_for, data_statements, make_user, session_key_of, signed_in_client

pytestmark = pytest.mark.django_db

UNREACHABLE = {"default": {"BACKEND": "tests.testapp.caches.UnreachableCache"}}


def test_cache_key_prefix_is_django_qsessions(cached_engine: str) -> None:
    assert KEY_PREFIX == "qsessions.q_cached_db"
    store = SessionStore()
    store["a"] = 1
    store.save()
    assert caches["default"].get(KEY_PREFIX + str(store.session_key)) is not None


def test_read_only_request_on_a_cache_hit_makes_no_query(cached_engine: str, django_assert_num_queries: Any) -> None:
    make_user()
    client = signed_in_client()
    client.get("/session/")  # warm
    with django_assert_num_queries(0):
        assert client.get("/session/").status_code == 200


def test_signed_in_read_costs_only_djangos_user_lookup(cached_engine: str, django_assert_num_queries: Any) -> None:
    make_user()
    client = signed_in_client()
    with django_assert_num_queries(1):  # auth's SELECT of the user, exactly as with Django's cached_db
        assert client.get("/read/").json()["user"] == "alice"


def test_write_request_on_a_cache_hit_is_one_update(cached_engine: str) -> None:
    make_user()
    client = signed_in_client()
    with CaptureQueriesContext(connection) as captured:
        client.get("/write/?value=1")
    statements = data_statements(captured)
    assert len(statements) == 1 and statements[0].startswith("UPDATE")


def test_write_through_puts_the_database_first(cached_engine: str) -> None:
    store = SessionStore(ip="203.0.113.9")
    store["a"] = 1
    store.save()
    entry = read_entry(caches["default"].get(KEY_PREFIX + str(store.session_key)))
    assert isinstance(entry, Found)
    assert entry.data == {"a": 1} and entry.row.ip == "203.0.113.9"
    assert Session.objects.get(pk=store.session_key).get_decoded() == {"a": 1}


def test_cache_miss_reads_the_database_and_fills_the_cache(cached_engine: str) -> None:
    make_user()
    client = signed_in_client()
    caches["default"].clear()
    assert client.get("/read/").json()["user"] == "alice"
    assert caches["default"].get(KEY_PREFIX + session_key_of(client)) is not None


def test_entry_of_django_qsessions_2_is_understood(cached_engine: str) -> None:
    """2.x put the session data, with the client keys in it, under the same cache key."""
    alice = make_user()
    client = signed_in_client(ip="203.0.113.7")
    key = session_key_of(client)
    data = Session.objects.get().get_decoded()
    caches["default"].set(KEY_PREFIX + key, {**data, IP_SESSION_KEY: "203.0.113.7", USER_AGENT_SESSION_KEY: None})
    store = SessionStore(key, ip="203.0.113.7")
    assert store.get("_auth_user_id") == str(alice.pk)
    assert IP_SESSION_KEY not in store


def test_garbage_in_the_cache_is_a_miss(cached_engine: str) -> None:
    make_user()
    client = signed_in_client()
    caches["default"].set(KEY_PREFIX + session_key_of(client), "not a session")
    assert client.get("/read/").json()["user"] == "alice"


def test_cache_down_requests_are_served_from_the_database(cached_engine: str, caplog: Any) -> None:
    make_user()
    client = signed_in_client()
    with override_settings(CACHES=UNREACHABLE), caplog.at_level(logging.WARNING, "django.contrib.sessions"):
        assert client.get("/read/").json()["user"] == "alice"
        assert client.get("/write/?value=while-down").status_code == 200
        fresh = client_for()
        assert fresh.get("/write/?value=new").status_code == 200
        assert fresh.get("/session/").json()["value"] == "new"
        assert client.get("/logout/").status_code == 200
    assert any("Error saving to cache" in r.getMessage() for r in caplog.records)
    assert any("Error reading from cache" in r.getMessage() for r in caplog.records)
    assert Session.objects.count() == 1  # the new anonymous one; logout removed alice's


def test_session_saved_while_cache_was_down_is_served_fresh_when_it_is_back(cached_engine: str) -> None:
    make_user()
    client = signed_in_client()
    client.get("/write/?value=before")
    caches["default"].clear()  # memcached/Redis restarted empty; a cache that kept entries is issue 3's test
    with override_settings(CACHES=UNREACHABLE):
        client.get("/write/?value=during")
    assert client.get("/session/").json()["value"] == "during"


def test_exists_survives_a_cache_that_is_down(cached_engine: str) -> None:
    store = SessionStore()
    store["a"] = 1
    store.save()
    with override_settings(CACHES=UNREACHABLE):
        assert SessionStore().exists(str(store.session_key)) is True
        assert SessionStore().exists("no-such-session") is False


def test_revocation_with_the_cache_down_still_removes_the_database_row(cached_engine: str, caplog: Any) -> None:
    make_user()
    signed_in_client()
    with override_settings(CACHES=UNREACHABLE), caplog.at_level(logging.ERROR, "django.contrib.sessions"):
        Session.objects.all().delete()
    assert not Session.objects.exists()
    assert any("Error revoking sessions in cache" in r.getMessage() for r in caplog.records)


def test_settings_session_cache_alias_is_respected(cached_engine: str) -> None:
    caches_setting = {**settings.CACHES, "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=caches_setting, SESSION_CACHE_ALIAS="sessions"):
        store = SessionStore()
        store["a"] = 1
        store.save()
        assert caches["sessions"].get(KEY_PREFIX + str(store.session_key)) is not None
        Session.objects.all().delete()
        assert lookup(caches["sessions"], str(store.session_key)) == REVOKED_SESSION
        assert lookup(caches["default"], str(store.session_key)) == MISSING


def test_async_paths_survive_a_cache_that_is_down(cached_engine: str, caplog: Any) -> None:
    from asgiref.sync import async_to_sync

    make_user()
    client = signed_in_client()
    key = session_key_of(client)

    async def scenario() -> tuple[Any, bool, bool]:
        store = SessionStore(key)
        user_id = await store.aget("_auth_user_id")
        await store.aset("value", "async-down")
        await store.asave()
        exists = await SessionStore().aexists(key)
        missing = await SessionStore().aexists("no-such-session")
        await store.adelete()
        return user_id, exists, missing

    with override_settings(CACHES=UNREACHABLE), caplog.at_level(logging.WARNING, "django.contrib.sessions"):
        user_id, exists, missing = async_to_sync(scenario)()
    assert user_id is not None
    assert (exists, missing) == (True, False)
    assert not Session.objects.exists()
    messages = {r.getMessage().split(" (")[0] for r in caplog.records}
    assert messages >= {"Error reading from cache", "Error saving to cache", "Error deleting from cache"}


def test_async_load_fills_the_cache_and_hits_it_next(cached_engine: str, django_assert_num_queries: Any) -> None:
    from asgiref.sync import async_to_sync

    make_user()
    client = signed_in_client()
    key = session_key_of(client)
    caches["default"].clear()

    async def load() -> Any:
        return await SessionStore(key).aget("_auth_user_id")

    with django_assert_num_queries(1):
        first = async_to_sync(load)()
    with django_assert_num_queries(0):
        second = async_to_sync(load)()
    assert first == second is not None
