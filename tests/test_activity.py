"""Last activity: written at most once per QSESSIONS_ACTIVITY_INTERVAL, by one UPDATE of that column."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import caches
from django.db import connection
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qsessions.backends import cached_db
from qsessions.cache import Found, entry_key, read_entry
from qsessions.models import Session

pytestmark = pytest.mark.django_db(transaction=True)


def _row(client: Client | AsyncClient) -> Session:
    session: Session = Session.objects.get(pk=client.cookies["sessionid"].value)
    return session


def _entry(key: str) -> Found:
    found = read_entry(caches["default"].get(entry_key(key)))
    assert isinstance(found, Found), found
    return found


@contextmanager
def _later(minutes: float) -> Iterator[None]:
    """Pretend that ``minutes`` have passed, for everything that asks django.utils.timezone or time.time()."""
    then = timezone.localtime() + datetime.timedelta(minutes=minutes)
    with (
        mock.patch("django.utils.timezone.now", return_value=then),
        mock.patch("time.time", return_value=then.timestamp()),
    ):
        yield


def _store(engine: str, key: str) -> Any:
    from importlib import import_module

    return import_module(engine).SessionStore(key)


def test_a_new_session_starts_active(engine: str, client: Client) -> None:
    client.get("/write/")
    row = _row(client)
    assert row.last_activity is not None
    assert row.last_activity == row.created_at


def test_a_write_records_activity(engine: str, client: Client) -> None:
    client.get("/write/")
    with _later(5):
        client.get("/write/?value=y")
    row = _row(client)
    assert row.last_activity is not None
    assert row.created_at is not None
    assert row.last_activity - row.created_at >= datetime.timedelta(minutes=5)


def test_a_read_inside_the_interval_writes_nothing(engine: str, client: Client, django_assert_num_queries: Any) -> None:
    client.get("/write/")
    before = _row(client).last_activity
    with django_assert_num_queries(0 if engine.endswith("cached_db") else 1):
        assert client.get("/read/").json()["value"] == "x"
    with _later(0.5), django_assert_num_queries(0 if engine.endswith("cached_db") else 1):
        client.get("/read/")
    assert _row(client).last_activity == before


def test_a_read_after_the_interval_updates_only_last_activity(engine: str, client: Client) -> None:
    client.get("/write/")
    row = _row(client)
    with _later(2), CaptureQueriesContext(connection) as queries:
        assert client.get("/read/").json()["value"] == "x"
    # cached_db writes its entry inside the UPDATE's transaction (qsessions.cache): SQLite logs its BEGIN and
    # COMMIT, which are no statements on the session table.
    statements = [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    updates = [sql for sql in statements if sql.startswith("UPDATE")]
    assert len(updates) == 1
    assert "last_activity" in updates[0]
    for column in ("session_data", "expire_date", "user_agent", "updated_at", "user_id"):
        assert column not in updates[0].split("WHERE")[0]
    # cached_db knows from its cache entry that the write is due: no SELECT at all.
    assert len(statements) == (1 if engine.endswith("cached_db") else 2)
    after = _row(client)
    assert after.last_activity is not None
    assert row.last_activity is not None
    assert after.last_activity - row.last_activity >= datetime.timedelta(minutes=2)
    assert after.session_data == row.session_data
    assert after.updated_at == row.updated_at

    # The next read, still two minutes on, finds the new time (in the cache too) and writes nothing.
    with _later(2.5), CaptureQueriesContext(connection) as queries:
        client.get("/read/")
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(queries.captured_queries) == (0 if engine.endswith("cached_db") else 1)


@pytest.mark.parametrize("interval", [0, 600])
def test_the_interval_is_a_setting(engine: str, client: Client, settings: Any, interval: int) -> None:
    settings.QSESSIONS_ACTIVITY_INTERVAL = interval
    client.get("/write/")
    with _later(5), CaptureQueriesContext(connection) as queries:
        client.get("/read/")
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == (1 if interval == 0 else 0)


def test_a_request_that_does_not_read_the_session_writes_nothing(engine: str, client: Client) -> None:
    client.get("/write/")
    with _later(5), CaptureQueriesContext(connection) as queries:
        assert client.get("/nowhere/").status_code == 404  # a page that never opens the session
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


def test_async_requests_record_activity(engine: str) -> None:
    client = AsyncClient()
    async_to_sync(client.get)("/awrite/")
    first = _row(client).last_activity
    with _later(2):
        assert async_to_sync(client.get)("/aread/").json()["value"] == "x"
    last = _row(client).last_activity
    assert first is not None
    assert last is not None
    assert last - first >= datetime.timedelta(minutes=2)


def test_touch_and_atouch(engine: str, client: Client) -> None:
    client.get("/write/")
    key = client.cookies["sessionid"].value
    store = _store(engine, key)
    assert store.touch() is False  # nothing read yet
    store.load()
    assert store.touch() is False  # inside the interval
    with _later(2):
        assert store.touch() is True
        assert store.touch() is False  # once per interval
    other = _store(engine, key)
    async_to_sync(other.aload)()
    with _later(4):
        assert async_to_sync(other.atouch)() is True
        assert async_to_sync(other.atouch)() is False
        stored = _row(client).last_activity
        assert stored == timezone.now()


def test_touch_of_a_revoked_session_does_not_bring_it_back(engine: str, client: Client) -> None:
    client.get("/write/")
    key = client.cookies["sessionid"].value
    store = _store(engine, key)
    store.load()
    Session.objects.filter(pk=key).delete()
    with _later(2):
        assert store.touch() is False
        asynchronous = _store(engine, key)
        asynchronous.row = store.row  # as if it had read the session before it was revoked
        assert async_to_sync(asynchronous.atouch)() is False
    assert not Session.objects.filter(pk=key).exists()
    assert not _store(engine, key).exists(key)
    assert _store(engine, key).load() == {}


def test_cached_entry_keeps_the_rows_lifetime(cached_engine: str, client: Client) -> None:
    client.get("/write/")
    key = client.cookies["sessionid"].value
    store = cached_db.SessionStore(key)
    store.load()
    assert _entry(key).row.expire_date == _row(client).expire_date.timestamp()
    with _later(2), mock.patch.object(store._cache, "set", wraps=store._cache.set) as cache_set:
        assert store.touch() is True
    timeout = cache_set.call_args.args[2]
    remaining = (_row(client).expire_date - timezone.now()).total_seconds()
    assert remaining - 200 <= timeout <= remaining
    assert _entry(key).row.last_activity == _timestamp(client)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_legacy_cache_entry_is_replaced_from_the_row_and_touched(
    cached_engine: str, client: Client, asynchronous: bool
) -> None:
    """An entry written by django-qsessions 2.x (no expiry, no owner) is checked against the row and replaced."""
    client.get("/write/")
    key = client.cookies["sessionid"].value
    legacy = {"value": "stale", "_qsessions_ip": "127.0.0.1", "_qsessions_user_agent": None}
    caches["default"].set(cached_db.KEY_PREFIX + key, legacy)
    store = cached_db.SessionStore(key)
    if asynchronous:
        assert async_to_sync(store.aload)() == {"value": "x"}
        with _later(2):
            assert async_to_sync(store.atouch)() is True
    else:
        assert store.load() == {"value": "x"}
        with _later(2):
            assert store.touch() is True
    assert _entry(key).data == {"value": "x"}
    assert _entry(key).row.last_activity == _timestamp(client)


def test_async_touch_rewrites_the_cache_entry(cached_engine: str, client: Client) -> None:
    client.get("/write/")
    key = client.cookies["sessionid"].value
    store = cached_db.SessionStore(key)
    async_to_sync(store.aload)()
    with _later(3):
        assert async_to_sync(store.atouch)() is True
    assert _entry(key).data["value"] == "x"
    assert _entry(key).row.last_activity == _timestamp(client)


def test_server_errors_record_no_activity(engine: str, client: Client) -> None:
    from django.http import HttpResponse

    from qsessions.middleware import SessionMiddleware

    client.get("/write/")
    request = mock.Mock(COOKIES={"sessionid": client.cookies["sessionid"].value}, META={}, headers={})
    middleware = SessionMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    request.session.load()
    with _later(2):
        middleware.process_response(request, HttpResponse(status=500))
    assert _row(client).last_activity == _row(client).created_at


def _timestamp(client: Client | AsyncClient) -> float:
    """The session's last activity as stored in the database, as a POSIX timestamp."""
    last = _row(client).last_activity
    assert last is not None
    return last.timestamp()
