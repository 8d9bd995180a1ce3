"""QSESSIONS_PREVIOUS_ENGINE: a cookie of the engine the site used before is moved into qsessions on its
first request, and nobody is signed out by the switch; a revocation in qsessions is never undone."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qsessions.models import Session
from qsessions.previous import SIGNED_COOKIES_SALT
from qsessions.revocation import revoke
from tests.test_importsessions import (  # noqa: F401 - legacy_tables is a fixture
    LegacySession,
    LegacyStore,
    UserSessionsSession,
    client_with_cookie,
    legacy_tables,
    signed_in_legacy_session,
)

User = get_user_model()
DB = "django.contrib.sessions.backends.db"
CACHED_DB = "django.contrib.sessions.backends.cached_db"
CACHE = "django.contrib.sessions.backends.cache"
SIGNED = "django.contrib.sessions.backends.signed_cookies"
USER_SESSIONS = "user_sessions.backends.db"


@pytest.fixture
def alice(legacy_tables: None, db: None) -> Any:  # noqa: F811
    user = User.objects.create_user("alice", password="pw")
    yield user
    LegacySession.objects.all().delete()
    UserSessionsSession.objects.all().delete()


def signed_cookie(user: Any, **extra: Any) -> str:
    """A cookie of Django's signed_cookies engine, as that engine writes it."""
    from django.contrib.sessions.backends.signed_cookies import SessionStore as SignedStore

    store = SignedStore()
    store.update({"_auth_user_id": str(user.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"})
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.update(extra)
    store.save()
    assert store.session_key is not None
    return store.session_key


def cached_engine_session(user: Any) -> str:
    """A session of Django's cache engine (unsigned data in SESSION_CACHE_ALIAS)."""
    from django.contrib.sessions.backends.cache import SessionStore as CacheStore

    store = CacheStore()
    store.update({"_auth_user_id": str(user.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"})
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store["theme"] = "dark"
    store.save()
    assert store.session_key is not None
    return store.session_key


def user_sessions_session(user: Any) -> str:
    key = signed_in_legacy_session(user)
    row = LegacySession.objects.get(pk=key)
    UserSessionsSession.objects.create(
        session_key=key, session_data=row.session_data, expire_date=row.expire_date, last_activity=timezone.now()
    )
    row.delete()
    return key


@pytest.mark.parametrize("previous_engine", [DB, CACHED_DB, USER_SESSIONS])
def test_a_session_of_the_previous_table_is_moved_under_its_key(
    engine: str, previous_engine: str, alice: Any, settings: Any
) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = previous_engine
    key = user_sessions_session(alice) if previous_engine == USER_SESSIONS else signed_in_legacy_session(alice)
    table = UserSessionsSession if previous_engine == USER_SESSIONS else LegacySession
    expiry = table.objects.get(pk=key).expire_date
    browser = client_with_cookie(key)
    response = browser.get("/read/")
    assert response.json() == {"user": "alice", "value": None}
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies  # the same cookie goes on
    moved = Session.objects.get(pk=key)
    assert moved.user == alice and moved.expire_date == expiry and moved.get_decoded()["theme"] == "dark"
    assert moved.created_at is None  # unknown, as for imported sessions; never the time of the move
    assert not table.objects.filter(pk=key).exists()  # moved: nothing can bring the old copy back
    assert browser.get("/read/").json()["user"] == "alice"


def test_the_cached_db_entry_of_djangos_engine_goes_with_it(cached_engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = CACHED_DB
    key = signed_in_legacy_session(alice)
    caches["default"].set("django.contrib.sessions.cached_db" + key, {"stale": True})
    assert client_with_cookie(key).get("/read/").json()["user"] == "alice"
    assert caches["default"].get("django.contrib.sessions.cached_db" + key) is None


def test_a_session_of_djangos_cache_engine_is_moved(engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = CACHE
    key = cached_engine_session(alice)
    assert client_with_cookie(key).get("/read/").json()["user"] == "alice"
    assert Session.objects.get(pk=key).get_decoded()["theme"] == "dark"
    assert caches["default"].get("django.contrib.sessions.cache" + key) is None


def test_a_signed_cookie_becomes_a_session_under_a_new_key(engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = SIGNED
    cookie = signed_cookie(alice, value="draft")
    browser = client_with_cookie(cookie)
    response = browser.get("/read/")
    assert response.json() == {"user": "alice", "value": "draft"}
    new_key = response.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert new_key != cookie and Session.objects.get(pk=new_key).user == alice
    assert Session.objects.get(pk=new_key).created_at is None
    assert browser.get("/read/").json() == {"user": "alice", "value": "draft"}
    assert Session.objects.count() == 1


@pytest.mark.parametrize("kind", ["forged", "expired", "garbage"])
def test_a_forged_or_expired_signed_cookie_is_no_session(engine: str, kind: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = SIGNED
    if kind == "forged":
        payload = {"_auth_user_id": str(alice.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"}
        cookie = signing.dumps(payload, key="not-the-secret-key", salt=SIGNED_COOKIES_SALT, compress=True)
    elif kind == "expired":
        cookie = signed_cookie(alice)
        settings.SESSION_COOKIE_AGE = -1  # the cookie's signature is older than the age allowed
    else:
        cookie = "not:a:signed:cookie!"
    response = client_with_cookie(cookie).get("/read/")
    assert response.json() == {"user": None, "value": None}
    assert Session.objects.count() == 0


@pytest.mark.parametrize("previous_engine", [DB, CACHED_DB])
def test_a_revocation_in_qsessions_is_never_undone_by_the_old_copy(
    engine: str, previous_engine: str, alice: Any, settings: Any
) -> None:
    key = signed_in_legacy_session(alice)
    call_command("importsessions", stdout=io.StringIO())  # copies: django_session keeps its row
    assert LegacySession.objects.filter(pk=key).exists()
    settings.QSESSIONS_PREVIOUS_ENGINE = previous_engine
    revoke(Session.objects.get(pk=key), reason="admin")
    assert not LegacySession.objects.filter(pk=key).exists()  # deleted with it while the setting is on
    assert client_with_cookie(key).get("/read/").json()["user"] is None
    assert not Session.objects.filter(pk=key).exists()


def test_a_session_signed_out_after_the_move_stays_signed_out(engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    key = signed_in_legacy_session(alice)
    browser = client_with_cookie(key)
    assert browser.get("/read/").json()["user"] == "alice"
    browser.get("/logout/")
    assert client_with_cookie(key).get("/read/").json()["user"] is None


def test_an_expired_session_of_ours_is_never_brought_back_from_an_older_copy(
    engine: str, alice: Any, settings: Any
) -> None:
    key = signed_in_legacy_session(alice)
    call_command("importsessions", stdout=io.StringIO())
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    assert client_with_cookie(key).get("/read/").json()["user"] is None


def test_a_tombstone_is_never_looked_past(cached_engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    key = signed_in_legacy_session(alice)
    assert client_with_cookie(key).get("/read/").json()["user"] == "alice"
    revoke(Session.objects.get(pk=key), reason="admin")
    # An old copy written again behind qsessions' back (a process of the old engine) is not read:
    # the tombstone in the cache answers first.
    LegacySession.objects.create(
        session_key=key,
        session_data=LegacyStore().encode({"_auth_user_id": str(alice.pk)}),
        expire_date=timezone.now() + datetime.timedelta(days=1),
    )
    with CaptureQueriesContext(connection) as queries:
        assert client_with_cookie(key).get("/read/").json()["user"] is None
    assert not any("django_session" in query["sql"] for query in queries.captured_queries)


def test_requests_racing_to_move_the_same_session_all_stay_signed_in(
    engine: str, alice: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qsessions import previous
    from qsessions.backends.db import SessionStore

    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    key = signed_in_legacy_session(alice)
    # B looked in qsessions' table before A moved the session, and in the old table after.
    b_store = SessionStore(key)
    real_fetch = b_store._fetch_row
    monkeypatch.setattr(b_store, "_fetch_row", lambda: None)
    assert SessionStore(key).load()["_auth_user_id"] == str(alice.pk)  # A moves it
    monkeypatch.setattr(b_store, "_fetch_row", real_fetch)
    calls = iter([None])
    monkeypatch.setattr(b_store, "_fetch_row", lambda: next(calls, None) or real_fetch())
    assert b_store.load()["_auth_user_id"] == str(alice.pk)
    # C read the old row before A deleted it, and tries to move it after.
    found = previous.Found({"_auth_user_id": str(alice.pk)}, None, same_key=True)
    monkeypatch.setattr(previous, "find", lambda *args: found)
    c_store = SessionStore(key)
    monkeypatch.setattr(c_store, "_stored_at_any_age", lambda *args: False)  # it looked before A committed
    assert c_store._move_from_previous_engine() == SessionStore(key).load()
    assert Session.objects.filter(pk=key).count() == 1
    # D too, but the session was revoked after A moved it: it stays revoked.
    revoke(Session.objects.get(pk=key), reason="admin")
    d_store = SessionStore(key)
    monkeypatch.setattr(d_store, "_stored_at_any_age", lambda *args: False)
    assert d_store._move_from_previous_engine() is None
    assert not Session.objects.filter(pk=key).exists()


def test_a_store_without_a_key_finds_nothing_elsewhere(engine: str, settings: Any) -> None:
    from qsessions.backends.db import SessionStore

    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    store = SessionStore()
    assert store.load() == {} and store.session_key is None


def test_no_cookie_costs_nothing_and_ours_costs_what_it_did(engine: str, alice: Any, settings: Any) -> None:
    browser = Client()
    browser.get("/login/", {"username": "alice"})
    with CaptureQueriesContext(connection) as without_setting:
        browser.get("/read/")
    settings.QSESSIONS_PREVIOUS_ENGINE = CACHED_DB
    with CaptureQueriesContext(connection) as with_setting:
        browser.get("/read/")
    assert len(with_setting) == len(without_setting)
    assert not any("django_session" in query["sql"] for query in with_setting.captured_queries)
    with CaptureQueriesContext(connection) as anonymous:
        Client().get("/session/")
    assert len(anonymous) == 0


def test_an_unknown_cookie_costs_one_lookup_and_signs_nobody_in(engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    response = client_with_cookie("unknown0key0that0nobody0has0000").get("/read/")
    assert response.json()["user"] is None
    assert Session.objects.count() == 0


def test_the_check_says_when_the_setting_can_go(engine: str, alice: Any, settings: Any) -> None:
    from qsessions.checks import check_previous_engine_can_go

    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    key = signed_in_legacy_session(alice)
    assert check_previous_engine_can_go(databases=["default"]) == []
    assert client_with_cookie(key).get("/read/").json()["user"] == "alice"
    assert [m.id for m in check_previous_engine_can_go(databases=["default"])] == ["qsessions.I080"]
    assert check_previous_engine_can_go(databases=None) == []  # a plain `check` makes no query
    settings.QSESSIONS_PREVIOUS_ENGINE = None
    assert check_previous_engine_can_go(databases=["default"]) == []


def test_bad_values_are_reported(settings: Any) -> None:
    from qsessions.checks import check_previous_engine

    settings.QSESSIONS_PREVIOUS_ENGINE = "django.contrib.sessions.backends.file"
    assert [m.id for m in check_previous_engine()] == ["qsessions.E080"]
    settings.QSESSIONS_PREVIOUS_ENGINE = SIGNED
    settings.QSESSIONS_PREVIOUS_ENGINE_SHARED = True
    assert [m.id for m in check_previous_engine()] == ["qsessions.E081"]
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    assert check_previous_engine() == []


def test_shared_keeps_the_old_copy_in_step(engine: str, alice: Any, settings: Any) -> None:
    """A rolling deploy: the old processes see what qsessions writes, and not what it revoked."""
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    settings.QSESSIONS_PREVIOUS_ENGINE_SHARED = True
    key = signed_in_legacy_session(alice)
    browser = client_with_cookie(key)
    assert browser.get("/read/").json()["user"] == "alice"
    assert LegacySession.objects.filter(pk=key).exists()  # kept for the old processes
    browser.get("/write/", {"value": "new"})
    assert LegacyStore().decode(LegacySession.objects.get(pk=key).session_data)["value"] == "new"
    fresh = Client()
    fresh.get("/login/", {"username": "alice"})
    new_key = fresh.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert LegacyStore().decode(LegacySession.objects.get(pk=new_key).session_data)["_auth_user_id"] == str(alice.pk)
    revoke(Session.objects.get(pk=key), reason="admin")
    assert not LegacySession.objects.filter(pk=key).exists()
    assert browser.get("/read/").json()["user"] is None


def test_async_requests_move_sessions_too(engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    key = signed_in_legacy_session(alice)
    assert client_with_cookie(key).get("/aread/").json()["user"] == "alice"
    assert Session.objects.filter(pk=key).exists() and not LegacySession.objects.filter(pk=key).exists()
    settings.QSESSIONS_PREVIOUS_ENGINE = SIGNED
    response = client_with_cookie(signed_cookie(alice, value="v")).get("/aread/")
    assert response.json() == {"user": "alice", "value": "v"}


def test_a_deleted_users_old_copy_goes_with_their_sessions(engine: str, alice: Any, settings: Any) -> None:
    key = signed_in_legacy_session(alice)
    call_command("importsessions", stdout=io.StringIO())
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    alice.delete()
    assert not LegacySession.objects.filter(pk=key).exists()


def test_the_check_waits_for_qsessions_table(engine: str, alice: Any, settings: Any) -> None:
    from qsessions import previous

    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    assert previous.sessions_left("no_such_table_yet", "default") is None  # `migrate` before 0001
    settings.QSESSIONS_PREVIOUS_ENGINE = "user_sessions.backends.db"
    UserSessionsSession.objects.all().delete()
    assert previous.sessions_left(Session._meta.db_table, "default") is False


def test_a_failing_cache_of_the_previous_engine_is_no_session_and_is_logged(
    engine: str, alice: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from qsessions import previous

    settings.QSESSIONS_PREVIOUS_ENGINE = CACHE
    key = cached_engine_session(alice)

    class Down:
        def __getattr__(self, name: str) -> Any:
            raise ConnectionError("cache down")

    monkeypatch.setattr(previous, "_cache", Down)
    assert client_with_cookie(key).get("/read/").json()["user"] is None
    previous.forget([key], None)  # logged, never raised
    assert previous.take(key, keep=False, using="default") is False
    assert "previous engine's cache" in caplog.text


def test_a_cookie_that_is_no_key_is_not_looked_up_in_a_table(engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    with CaptureQueriesContext(connection) as queries:
        assert client_with_cookie("not:a:key!").get("/read/").json()["user"] is None
    assert not any("django_session" in query["sql"] for query in queries.captured_queries)


def test_engines_without_a_table_or_a_cache_have_nothing_to_take_forget_or_mirror(db: None, settings: Any) -> None:
    from qsessions import previous

    expire = timezone.now() + datetime.timedelta(days=1)
    for value in (None, SIGNED):
        settings.QSESSIONS_PREVIOUS_ENGINE = value
        with CaptureQueriesContext(connection) as queries:
            assert previous.take("k" * 32, keep=False, using="default") is True
            previous.forget(["k" * 32], "default")
            previous.mirror("k" * 32, "data", expire, "default")
            assert previous.sessions_left(Session._meta.db_table, "default") is None
        assert len(queries) == 0
    settings.QSESSIONS_PREVIOUS_ENGINE = CACHE
    previous.mirror("k" * 32, "data", expire, "default")  # a cache engine is never shared
    assert caches["default"].get("django.contrib.sessions.cache" + "k" * 32) is None
    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    with CaptureQueriesContext(connection) as queries:
        previous.forget([], "default")
    assert len(queries) == 0


def test_stored_expiry_dates_are_read_in_every_form() -> None:
    from qsessions.previous import _aware

    assert _aware("2030-01-02 03:04:05") == datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert _aware("not a date") is None and _aware(None) is None


def test_a_signed_cookie_holding_no_data_is_no_session(engine: str, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_PREVIOUS_ENGINE = SIGNED
    cookie = signing.dumps({}, salt=SIGNED_COOKIES_SALT, compress=True)
    assert client_with_cookie(cookie).get("/read/").json()["user"] is None
    assert Session.objects.count() == 0


def test_importsessions_never_brings_back_a_session_revoked_since_it_read_it(
    engine: str, alice: Any, settings: Any
) -> None:

    from qsessions.backends.db import SessionStore
    from qsessions.management.commands.importsessions import Importer, TableSource

    settings.QSESSIONS_PREVIOUS_ENGINE = DB
    key = signed_in_legacy_session(alice)
    kept = signed_in_legacy_session(alice)
    (batch,) = TableSource("default", "django_session", with_client=False).batches(100)
    # Meanwhile, a request moves the session and its owner signs it out everywhere.
    assert client_with_cookie(key).get("/read/").json()["user"] == "alice"
    revoke(Session.objects.get(pk=key), reason="user")
    importer = Importer("default", SessionStore(), dry_run=False)
    importer.source_table = "django_session"
    importer.import_batch(batch)
    assert not Session.objects.filter(pk=key).exists()
    assert client_with_cookie(key).get("/read/").json()["user"] is None
    assert Session.objects.filter(pk=kept).exists() and importer.counts.imported == 1
