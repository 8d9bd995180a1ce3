"""A revocation always wins: no request that was using a session while it was revoked can bring it back.

Each test lets a real request run through the middleware up to one cache write (the read-through fill
after a miss, the write of a save, the write after an activity update) and revokes the session at exactly
that moment, from another thread, as another request or the admin would: with a database connection of
its own. The write goes ahead once the revocation has finished or is waiting for the session row's lock
(saves and activity writes write the cache inside their row's transaction, see qsessions.cache); then
the next request with the same cookie must be signed out. The cache is the one the suite runs on (local
memory by default, Redis or memcached in CI), the database too (SQLite, PostgreSQL or MariaDB).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.test import AsyncClient, Client
from django.utils import timezone

from qsessions.cache import KEY_PREFIX, Found, entry_key, lookup, session_cache
from qsessions.models import Session
from qsessions.revocation import REASON_USER, revoke_all
from tests.helpers import CHROME_UA, make_user, session_key_of

pytestmark = pytest.mark.django_db(transaction=True)

# How long the paused write lets the revocation run before it goes ahead: enough for a revocation that
# nothing holds up to finish (as on the code before the fix); one that waits for the row's lock goes on
# waiting, and finishes after the write's transaction.
REVOCATION_HEAD_START = 0.5


@contextmanager
def revoked_before(method: str, session_key: str, revoke: Callable[[], Any]) -> Iterator[list[str]]:
    """Run ``revoke()`` in another thread just before the first ``cache.<method>`` of this session's entry,
    then let the write go ahead; on leaving, wait for the revocation to end."""
    cache = caches[settings.SESSION_CACHE_ALIAS]  # this thread's: the revoking thread has its own
    original = getattr(cache, method)
    paused: list[str] = []
    failures: list[BaseException] = []

    def revoke_in_own_thread() -> None:
        try:
            revoke()
        except BaseException as error:  # reported by the test
            failures.append(error)
        finally:
            connections.close_all()

    revoker = threading.Thread(target=revoke_in_own_thread)

    def write_after_revoking(key: str, *args: Any, **kwargs: Any) -> Any:
        if not paused and key == entry_key(session_key):
            paused.append(key)
            revoker.start()
            revoker.join(REVOCATION_HEAD_START)
        return original(key, *args, **kwargs)

    with mock.patch.object(cache, method, write_after_revoking):
        yield paused
    if paused:
        revoker.join(30)
        assert not revoker.is_alive(), "the revocation never ended"
    assert not failures, failures


def _signed_in(client: Client, username: str = "alice") -> str:
    assert client.get("/login/", {"username": username}).status_code == 200
    return session_key_of(client)


def _revoke_everything(user: Any) -> Callable[[], Any]:
    return lambda: revoke_all(user, REASON_USER)


@contextmanager
def _later(minutes: int) -> Iterator[None]:
    then = timezone.now() + datetime.timedelta(minutes=minutes)
    with (
        mock.patch("django.utils.timezone.now", return_value=then),
        mock.patch("time.time", return_value=then.timestamp()),
    ):
        yield


def _assert_signed_out(client: Client, key: str) -> None:
    assert not Session.objects.filter(pk=key).exists()
    assert not isinstance(lookup(session_cache(), key), Found)
    assert client.get("/read/").json()["user"] is None


def test_read_through_fill_after_a_miss(cached_engine: str) -> None:
    alice = make_user()
    client = Client(HTTP_USER_AGENT=CHROME_UA)
    key = _signed_in(client)
    caches["default"].delete(KEY_PREFIX + key)  # the next read misses and fills the cache
    with revoked_before("add", key, _revoke_everything(alice)) as paused:
        assert client.get("/read/").json()["user"] == "alice"  # it read the row before the revocation
    assert paused
    _assert_signed_out(client, key)


def test_save_writing_the_cache(cached_engine: str) -> None:
    alice = make_user()
    client = Client(HTTP_USER_AGENT=CHROME_UA)
    key = _signed_in(client)
    with revoked_before("set", key, _revoke_everything(alice)) as paused:
        assert client.get("/write/", {"value": "racing"}).status_code == 200
    assert paused
    _assert_signed_out(client, key)


def test_save_from_a_rotating_user_agent(cached_engine: str) -> None:
    """An attacker can make every request a write by changing its User-Agent each time."""
    alice = make_user()
    client = Client(HTTP_USER_AGENT=CHROME_UA)
    key = _signed_in(client)
    with revoked_before("set", key, _revoke_everything(alice)) as paused:
        assert client.get("/read/", HTTP_USER_AGENT="Rotating/1.0").json()["user"] == "alice"
    assert paused
    _assert_signed_out(client, key)


def test_activity_write(cached_engine: str) -> None:
    alice = make_user()
    client = Client(HTTP_USER_AGENT=CHROME_UA)
    key = _signed_in(client)
    with _later(5), revoked_before("set", key, _revoke_everything(alice)) as paused:
        assert client.get("/read/").json()["user"] == "alice"
    assert paused
    _assert_signed_out(client, key)


def test_replacing_an_entry_written_by_2x(cached_engine: str) -> None:
    """An entry of django-qsessions 2.x is replaced by one read from the row, under the row's lock."""
    alice = make_user()
    client = Client(HTTP_USER_AGENT=CHROME_UA)
    key = _signed_in(client)
    legacy = {**Session.objects.get(pk=key).get_decoded(), "_qsessions_ip": "203.0.113.7"}
    caches["default"].set(KEY_PREFIX + key, legacy)
    with revoked_before("set", key, _revoke_everything(alice)) as paused:
        assert client.get("/read/").json()["user"] == "alice"
    assert paused
    _assert_signed_out(client, key)


def _async_client_with(key: str) -> AsyncClient:
    client = AsyncClient(headers={"user-agent": CHROME_UA})
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def test_async_read_through_fill_after_a_miss(cached_engine: str) -> None:
    alice = make_user()
    key = _signed_in(Client(HTTP_USER_AGENT=CHROME_UA))
    caches["default"].delete(KEY_PREFIX + key)
    client = _async_client_with(key)
    with revoked_before("add", key, _revoke_everything(alice)) as paused:
        assert async_to_sync(client.get)("/aread/").json()["user"] == "alice"
    assert paused
    assert async_to_sync(client.get)("/aread/").json()["user"] is None


def test_async_save_writing_the_cache(cached_engine: str) -> None:
    alice = make_user()
    key = _signed_in(Client(HTTP_USER_AGENT=CHROME_UA))
    client = _async_client_with(key)
    with revoked_before("set", key, _revoke_everything(alice)) as paused:
        assert async_to_sync(client.get)("/awrite/", {"value": "racing"}).status_code == 200
    assert paused
    assert async_to_sync(client.get)("/aread/").json()["user"] is None


def test_async_activity_write(cached_engine: str) -> None:
    alice = make_user()
    key = _signed_in(Client(HTTP_USER_AGENT=CHROME_UA))
    client = _async_client_with(key)
    with _later(5), revoked_before("set", key, _revoke_everything(alice)) as paused:
        assert async_to_sync(client.get)("/aread/").json()["user"] == "alice"
    assert paused
    assert async_to_sync(client.get)("/aread/").json()["user"] is None


def test_a_session_revoked_then_recreated_on_purpose_under_its_key_is_valid(cached_engine: str) -> None:
    """Marks refuse a revoked key; code that deliberately creates a session under that key again gets one."""
    from qsessions.backends.cached_db import SessionStore

    store = SessionStore()
    store["value"] = "first"
    store.create()
    key = str(store.session_key)
    store.delete()
    again = SessionStore(key)
    again.save(must_create=True)  # not loaded first: created under that very key
    again["value"] = "second"
    again.save()
    assert SessionStore(key).load() == {"value": "second"}
