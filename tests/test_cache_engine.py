"""qsessions.backends.cache: sessions in Redis only, listed and revoked through a per-user index.

Runs on a real Redis (QSESSIONS_TEST_REDIS_URL) through both Django's RedisCache and django-redis, whatever
cache the rest of the suite runs on; skips without Redis (fails with QSESSIONS_TEST_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import caches
from django.core.checks import Error
from django.test import AsyncClient, Client

from qsessions import session_index
from qsessions.backends.cache import SessionStore
from qsessions.cache import Found, entry_key, session_cache
from qsessions.cache import lookup_marked as lookup
from qsessions.cache_sessions import CachedSession, user_sessions
from qsessions.checks import check_cached_db_cache
from qsessions.models import Session, make_public_id
from qsessions.redis_connection import UnsupportedCache, redis_client, redis_kind
from qsessions.revocation import REASON_ADMIN, REASON_USER, revoke, revoke_all
from qsessions.signals import session_revoked
from tests import services
from tests.helpers import CHROME_ANDROID, CHROME_UA, FIREFOX_WINDOWS, log_out, make_user, session_key_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

BACKENDS = {
    "redis": "django.core.cache.backends.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
}
ALIAS = "sessions"


def _redis_address() -> tuple[str, int]:
    rest = services.redis_url().split("://", 1)[1].split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    return host or "127.0.0.1", int(port or 6379)


@pytest.fixture(params=list(BACKENDS))
def redis_sessions(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """SESSION_ENGINE = qsessions.backends.cache on a Redis cache of its own alias (both backends)."""
    if not services.answers(_redis_address()):
        reason = f"Redis at {services.redis_url()} does not answer"
        if services.REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)
    settings.CACHES = {
        **settings.CACHES,
        ALIAS: {
            "BACKEND": BACKENDS[request.param],
            "LOCATION": services.redis_url(),
            "KEY_PREFIX": f"qs-cache-engine-{os.getpid()}",
        },
    }
    settings.SESSION_CACHE_ALIAS = ALIAS
    settings.SESSION_ENGINE = "qsessions.backends.cache"
    _clear()
    yield request.param
    _clear()


def _clear() -> None:
    client = redis_client(ALIAS)
    prefix = caches[ALIAS].make_key("")
    keys = list(client.scan_iter(match=f"*{prefix.split(':')[0]}*"))
    if keys:
        client.delete(*keys)


API = "/account/sessions/api/sessions/"


def is_signed_in(client: Client) -> bool:
    return client.get("/read/").json()["user"] is not None


def csrf_token(client: Client) -> str:
    client.get("/account/sessions/")
    return client.cookies["csrftoken"].value


def index_members(user: Any) -> set[str]:
    return set(session_index.members(ALIAS, user.pk))


def store_for(user: Any, **data: Any) -> SessionStore:
    store = SessionStore(user_agent=CHROME_UA, ip="198.51.100.4")
    store.update({SESSION_KEY: str(user.pk), **data})
    store.create()
    return store


# -- the Redis client adapter ------------------------------------------------------------------------------


def test_the_adapter_reaches_the_primary_of_either_backend(redis_sessions: str) -> None:
    cache = caches[ALIAS]
    assert redis_kind(cache) == ("django" if redis_sessions == "redis" else "django-redis")
    client = redis_client(ALIAS)
    cache.set("probe", 1)
    assert client.exists(cache.make_key("probe")) == 1  # the very server and keys the cache uses
    assert client.ping() is True


def test_the_adapter_refuses_other_caches(settings: Any) -> None:
    settings.CACHES = {**settings.CACHES, "other": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with pytest.raises(UnsupportedCache, match="not Redis"):
        redis_client("other")


@pytest.mark.parametrize(
    ("backend", "refused"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", True),
        ("django.core.cache.backends.memcached.PyMemcacheCache", True),
        ("django.core.cache.backends.db.DatabaseCache", True),
        ("django.core.cache.backends.redis.RedisCache", False),
        ("django_redis.cache.RedisCache", False),
    ],
)
def test_the_engine_needs_redis(settings: Any, backend: str, refused: bool) -> None:
    settings.SESSION_ENGINE = "qsessions.backends.cache"
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "127.0.0.1:1"}}
    errors = [m for m in check_cached_db_cache() if m.id == "qsessions.E070"]
    assert bool(errors) is refused
    assert all(isinstance(e, Error) for e in errors)


# -- listing -----------------------------------------------------------------------------------------------


def test_the_pages_and_the_api_list_the_users_own_sessions(redis_sessions: str) -> None:
    make_user("alice")
    make_user("bob")
    phone = signed_in("alice", CHROME_ANDROID, ip="203.0.113.9")
    laptop = signed_in("alice", FIREFOX_WINDOWS, ip="198.51.100.7")
    bob = signed_in("bob")
    phone.get("/write/", {"value": "x"})  # the phone is now the most recently active

    body = laptop.get(API).json()
    listed = body["sessions"]
    # This device first (docs/user-sessions.md, "Pagination"), then the most recently active.
    assert [s["id"] for s in listed] == [make_public_id(session_key_of(laptop)), make_public_id(session_key_of(phone))]
    assert [s["current"] for s in listed] == [True, False]
    assert (body["page"], body["next"], body["previous"]) == (1, None, None)
    assert listed[1]["device"] == "Chrome 118 on Android"
    assert listed[1]["ip"] == "203.0.113.9"
    assert listed[1]["user_agent"] == CHROME_ANDROID
    assert listed[1]["sign_in_method"] == "Password"
    assert all(s["created_at"] and s["last_activity"] and s["expires_at"] for s in listed)

    page = laptop.get("/account/sessions/").content.decode()
    assert "Chrome 118 on Android" in page and "203.0.113.9" in page
    for client in (phone, laptop, bob):  # no session key on the page or in the JSON
        assert session_key_of(client) not in page
        assert session_key_of(client) not in laptop.get(API).content.decode()
    assert make_public_id(session_key_of(bob)) not in page
    assert Session.objects.count() == 0  # not one row: the database is not used


def test_another_users_session_or_a_bad_id_is_not_found(redis_sessions: str) -> None:
    make_user("alice")
    make_user("bob")
    alice = signed_in("alice")
    bob = signed_in("bob")
    for public_id in (make_public_id(session_key_of(bob)), "0" * 32, "x" * 5000, session_key_of(bob)):
        assert alice.get(f"{API}{public_id}/").status_code == 404
        assert alice.delete(f"{API}{public_id}/").status_code == 404
    assert is_signed_in(bob)


def test_the_read_model_never_shows_the_key(redis_sessions: str) -> None:
    alice = make_user("alice")
    store = store_for(alice)
    (session,) = user_sessions(alice)
    assert isinstance(session, CachedSession)
    key = str(store.session_key)
    assert key not in repr(session) and key not in str(session) and session.pk == session.public_id
    assert session.user == alice and session.is_active and session.device
    assert session.get_decoded()[SESSION_KEY] == str(alice.pk)


# -- revoking ------------------------------------------------------------------------------------------------


def test_revoking_one_session_through_the_api_signs_it_out_at_once(redis_sessions: str) -> None:
    make_user("alice")
    phone = signed_in("alice", CHROME_ANDROID)
    laptop = signed_in("alice", FIREFOX_WINDOWS, enforce_csrf_checks=True)
    target = make_public_id(session_key_of(phone))
    response = laptop.delete(f"{API}{target}/", HTTP_X_CSRFTOKEN=csrf_token(laptop))
    assert response.json() == {"revoked": 1, "signed_out": False}
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    assert [s["id"] for s in laptop.get(API).json()["sessions"]] == [make_public_id(session_key_of(laptop))]


def test_signing_out_everywhere_else_from_the_page(redis_sessions: str) -> None:
    alice = make_user("alice")
    others = [signed_in("alice") for _ in range(3)]
    laptop = signed_in("alice", FIREFOX_WINDOWS)
    response = laptop.post("/account/sessions/others/revoke/")
    assert response.status_code == 302
    assert not any(is_signed_in(client) for client in others)
    assert is_signed_in(laptop)
    assert index_members(alice) == {session_key_of(laptop)}


def test_revoking_the_current_session_signs_the_user_out(redis_sessions: str) -> None:
    make_user("alice")
    laptop = signed_in("alice")
    own = make_public_id(session_key_of(laptop))
    assert laptop.post(f"/account/sessions/{own}/revoke/").status_code == 302
    assert not is_signed_in(laptop)


def test_code_revokes_one_or_all_and_receivers_hear_it(redis_sessions: str) -> None:
    alice = make_user("alice")
    bob = make_user("bob")
    clients = [signed_in("alice") for _ in range(3)]
    bobs = signed_in("bob")
    keys = [session_key_of(client) for client in clients]
    heard: list[tuple[str, str]] = []

    def receiver(sender: Any, session: Any, reason: str, **kwargs: Any) -> None:
        heard.append((session.public_id, reason))

    session_revoked.connect(receiver)
    try:
        first = next(s for s in user_sessions(alice) if s.session_key == keys[0])
        assert revoke(first, REASON_ADMIN) is True
        assert revoke(first, REASON_ADMIN) is False  # already gone
        assert not is_signed_in(clients[0]) and is_signed_in(clients[1])
        assert revoke_all(alice, REASON_ADMIN) == 2
    finally:
        session_revoked.disconnect(receiver)
    assert not any(is_signed_in(client) for client in clients)
    assert is_signed_in(bobs) and user_sessions(bob)
    assert sorted(heard) == sorted((make_public_id(key), REASON_ADMIN) for key in keys)
    assert index_members(alice) == set()


def test_a_password_change_signs_out_the_other_sessions(redis_sessions: str) -> None:
    make_user("alice")
    phone = signed_in("alice", CHROME_ANDROID)
    laptop = signed_in("alice")
    assert laptop.get("/password/", {"keep": "1"}).status_code == 200
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)


def test_logout_takes_the_session_off_the_index(redis_sessions: str) -> None:
    alice = make_user("alice")
    laptop = signed_in("alice")
    key = session_key_of(laptop)
    assert index_members(alice) == {key}
    laptop.get("/logout/")
    assert index_members(alice) == set()
    assert user_sessions(alice) == []


@pytest.mark.parametrize("path", ["/logout/", "/alogout/"], ids=["sync", "async"])
def test_logout_sends_session_revoked(redis_sessions: str, path: str) -> None:
    alice = make_user("alice")
    laptop = signed_in("alice")
    public_id = make_public_id(session_key_of(laptop))
    received: list[dict[str, Any]] = []

    def record(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    session_revoked.connect(record, sender=Session, weak=False)
    try:
        log_out(laptop, path)
    finally:
        session_revoked.disconnect(record, sender=Session)
    assert [call["reason"] for call in received] == ["logout"]
    assert received[0]["session"].public_id == public_id
    assert received[0]["session"].user_id == alice.pk
    assert received[0]["request"] is not None
    assert user_sessions(alice) == []
    assert not is_signed_in(laptop)


def test_a_login_moves_the_session_to_its_new_owner(redis_sessions: str) -> None:
    alice = make_user("alice")
    bob = make_user("bob")
    store = store_for(alice)
    store[SESSION_KEY] = str(bob.pk)  # code that re-owns a session without a login
    store.save()
    assert index_members(alice) == set()
    assert index_members(bob) == {store.session_key}


# -- the index: atomic, expiring, bounded -------------------------------------------------------------------


def test_concurrent_logins_of_one_user_are_all_indexed(redis_sessions: str) -> None:
    alice = make_user("alice")
    count = 24
    barrier = threading.Barrier(count)
    keys: list[str] = []
    errors: list[BaseException] = []

    def log_in() -> None:
        try:
            store = SessionStore(user_agent=CHROME_UA)
            store[SESSION_KEY] = str(alice.pk)
            barrier.wait()
            store.create()
            keys.append(str(store.session_key))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=log_in) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert index_members(alice) == set(keys)
    assert {s.session_key for s in user_sessions(alice)} == set(keys)


def test_index_entries_expire_with_their_sessions(redis_sessions: str) -> None:
    alice = make_user("alice")
    short = SessionStore()
    short.update({SESSION_KEY: str(alice.pk)})
    short.set_expiry(60)
    short.create()
    index = session_index.index_key(ALIAS, alice.pk)
    ttl = redis_client(ALIAS).ttl(index)
    # The set expires with its latest session (whose score is its expiry rounded up to SCORE_STEP).
    assert 60 < ttl <= 60 + session_index.SCORE_STEP + session_index.INDEX_MARGIN + 1

    later = time.time() + 60 + session_index.SCORE_STEP + 1
    with mock.patch("time.time", return_value=later):
        assert user_sessions(alice) == []  # expired: not listed
        fresh = store_for(alice)  # the next write drops the expired member
    assert redis_client(ALIAS).zrange(index, 0, -1) == [str(fresh.session_key).encode()]


def test_the_index_does_not_grow_with_logins_and_logouts(redis_sessions: str) -> None:
    alice = make_user("alice")
    for _ in range(30):
        client = signed_in("alice")
        client.get("/logout/")
    assert redis_client(ALIAS).zcard(session_index.index_key(ALIAS, alice.pk)) == 0


# -- a revocation always wins (as in tests/test_revocation_races.py) ----------------------------------------


@contextmanager
def revoked_before(
    method: str, session_key: Callable[[str], bool], revoke_now: Callable[[], Any]
) -> Iterator[list[str]]:
    """Run ``revoke_now()`` just before the first ``cache.<method>`` of a session entry, then let it write."""
    cache = caches[ALIAS]
    original = getattr(cache, method)
    paused: list[str] = []

    def write_after_revoking(key: str, *args: Any, **kwargs: Any) -> Any:
        if not paused and key.startswith(entry_key("")) and session_key(key[len(entry_key("")) :]):
            paused.append(key)
            revoke_now()
        return original(key, *args, **kwargs)

    with mock.patch.object(cache, method, write_after_revoking):
        yield paused


def _everything_of(user: Any) -> Callable[[], Any]:
    return lambda: revoke_all(user, REASON_USER)


def _assert_signed_out(client: Client, key: str, user: Any) -> None:
    assert not isinstance(lookup(session_cache(), key), Found)
    assert client.get("/read/").json()["user"] is None
    assert key not in {s.session_key for s in user_sessions(user)}


def test_a_save_racing_a_revocation_does_not_bring_the_session_back(redis_sessions: str) -> None:
    alice = make_user()
    client = signed_in("alice")
    key = session_key_of(client)
    with revoked_before("set", key.__eq__, _everything_of(alice)) as paused:
        assert client.get("/write/", {"value": "racing"}).status_code == 200
    assert paused
    _assert_signed_out(client, key, alice)


def test_an_activity_write_racing_a_revocation(redis_sessions: str) -> None:
    alice = make_user()
    client = signed_in("alice")
    key = session_key_of(client)
    then = time.time() + 600
    with (
        mock.patch("time.time", return_value=then),
        revoked_before("set", key.__eq__, _everything_of(alice)) as paused,
    ):
        assert client.get("/read/").json()["user"] == "alice"
    assert paused
    _assert_signed_out(client, key, alice)


def test_a_login_racing_a_revocation_of_all_sessions(redis_sessions: str) -> None:
    """revoke_all() runs after the login indexed its session and before it wrote the session's entry."""
    alice = make_user()
    client = Client(HTTP_USER_AGENT=CHROME_UA)
    with revoked_before("set", lambda key: True, _everything_of(alice)) as paused:
        assert client.get("/login/", {"username": "alice"}).status_code == 200
    assert paused
    _assert_signed_out(client, session_key_of(client), alice)


def test_a_store_that_read_a_session_before_it_was_revoked_cannot_save_it(redis_sessions: str) -> None:
    alice = make_user()
    store = store_for(alice, value=1)
    racing = SessionStore(store.session_key)
    assert racing["value"] == 1
    revoke_all(alice, REASON_USER)
    racing["value"] = 2
    with pytest.raises(UpdateError):
        racing.save()
    assert SessionStore(store.session_key).load() == {}


def test_async_requests(redis_sessions: str) -> None:
    alice = make_user()
    client = AsyncClient(headers={"user-agent": CHROME_UA})
    assert async_to_sync(client.get)("/alogin/", {"username": "alice"}).status_code == 200
    assert async_to_sync(client.get)("/awrite/", {"value": "v"}).status_code == 200
    assert async_to_sync(client.get)("/aread/").json() == {"user": "alice", "value": "v"}
    (session,) = user_sessions(alice)
    assert session.ip == "127.0.0.1" and session.data["value"] == "v"
    revoke_all(alice, REASON_USER)
    assert async_to_sync(client.get)("/aread/").json()["user"] is None
    assert settings.SESSION_ENGINE == "qsessions.backends.cache"


# -- policies and users ------------------------------------------------------------------------------------


def test_the_session_limit_revokes_the_least_recently_active(redis_sessions: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 2
    make_user("alice")
    oldest = signed_in("alice")
    recent = signed_in("alice")
    recent.get("/write/", {"value": "x"})
    newest = signed_in("alice")
    assert [is_signed_in(c) for c in (oldest, recent, newest)] == [False, True, True]


def test_deleting_a_user_signs_their_sessions_out(redis_sessions: str) -> None:
    alice = make_user("alice")
    clients = [signed_in("alice") for _ in range(2)]
    keys = [session_key_of(client) for client in clients]
    pk = alice.pk
    alice.delete()
    for key in keys:
        assert not isinstance(lookup(session_cache(), key), Found)
    assert session_index.members(ALIAS, pk) == []


def test_a_save_touches_the_index_only_when_the_rounded_expiry_grows(redis_sessions: str) -> None:
    alice = make_user("alice")
    store = store_for(alice)
    index = session_index.index_key(ALIAS, alice.pk)
    indexed = redis_client(ALIAS).zscore(index, str(store.session_key))
    assert indexed >= store.get_expiry_date().timestamp()
    with mock.patch.object(session_index, "add", wraps=session_index.add) as add:
        again = SessionStore(store.session_key)
        again["value"] = 1
        again.save()  # the expiry moved by a moment: same score
        assert add.call_count == 0
        with mock.patch("time.time", return_value=time.time() + session_index.SCORE_STEP):
            again["value"] = 2
            again.save()
        assert add.call_count == 1
    assert redis_client(ALIAS).zscore(index, str(store.session_key)) > indexed


def test_creating_a_session_under_a_taken_key_fails_and_leaves_the_index_true(redis_sessions: str) -> None:
    from django.contrib.sessions.backends.base import CreateError

    alice = make_user("alice")
    bob = make_user("bob")
    taken = str(store_for(alice).session_key)
    for owner in (alice, bob):
        again = SessionStore(taken)
        again[SESSION_KEY] = str(owner.pk)
        with pytest.raises(CreateError):
            again.save(must_create=True)
    assert index_members(alice) == {taken}  # still listed, still reached by revoke_all
    assert index_members(bob) == set()
    assert revoke_all(alice, REASON_USER) == 1


def test_a_revoked_session_put_back_in_the_index_is_not_listed_and_is_dropped(redis_sessions: str) -> None:
    alice = make_user("alice")
    store = store_for(alice)
    key = str(store.session_key)
    revoke_all(alice, REASON_USER)
    session_index.add(ALIAS, alice.pk, key, time.time() + 600)  # as a save racing the revocation does
    assert user_sessions(alice) == []
    assert index_members(alice) == set()
