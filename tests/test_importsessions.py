"""importsessions: sessions written by Django's own engine keep working under qsessions."""

from __future__ import annotations

import datetime
import io
import os
from collections.abc import Iterator
from typing import Any, cast

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.db import SessionStore as DjangoDatabaseStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.http import HttpRequest
from django.test import Client, override_settings
from django.utils import timezone

from qsessions.models import Session, make_public_id
from tests import services

User = get_user_model()


class LegacySession(AbstractBaseSession):
    """django.contrib.sessions' table, as a site that used Django's database engine has it."""

    class Meta:
        app_label = "testapp"
        db_table = "django_session"
        managed = False


class LegacyStore(DjangoDatabaseStore):
    """Django's own database engine, unchanged, pointed at that table (as Django's custom-model docs do)."""

    @classmethod
    def get_model_class(cls) -> Any:
        return LegacySession


# The class must keep Django's name: the signing salt of session data is derived from it.
LegacyStore.__name__ = LegacyStore.__qualname__ = "SessionStore"


class UserSessionsSession(models.Model):
    """django-user-sessions 2.0's table (user_sessions_session), per its migrations."""

    session_key = models.CharField(max_length=40, primary_key=True)
    session_data = models.TextField()
    expire_date = models.DateTimeField(db_index=True)
    objects: models.Manager[UserSessionsSession] = models.Manager()
    user_agent = models.CharField(null=True, blank=True, max_length=200)
    last_activity = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user = models.ForeignKey(User, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")

    class Meta:
        app_label = "testapp"
        db_table = "user_sessions_session"
        managed = False


@pytest.fixture(scope="session")
def legacy_tables(django_db_setup: Any, django_db_blocker: Any) -> None:
    # Also used by other modules (tests/test_previous.py): created once per database.
    with django_db_blocker.unblock():
        existing = connection.introspection.table_names()
        with connection.schema_editor() as editor:
            for model in (LegacySession, UserSessionsSession):
                if model._meta.db_table not in existing:
                    editor.create_model(model)


def signed_in_legacy_session(user: AbstractBaseUser) -> str:
    """Sign ``user`` in the way a site on django.contrib.sessions did; return the cookie value."""
    request = HttpRequest()
    request.session = LegacyStore()
    request.session["theme"] = "dark"
    login(request, cast(Any, user), backend="django.contrib.auth.backends.ModelBackend")
    request.session.save()
    key = request.session.session_key
    assert key is not None
    return key


def anonymous_legacy_session(**data: Any) -> str:
    store = LegacyStore()
    store.update(data)
    store.save()
    assert store.session_key is not None
    return store.session_key


def run_import(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("importsessions", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def client_with_cookie(key: str) -> Client:
    client = Client()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    return client


@pytest.fixture
def site(legacy_tables: None, db: None) -> Iterator[dict[str, Any]]:
    """A realistic django_session table: signed-in, anonymous, expired, a deleted user's, a corrupt row."""
    alice = User.objects.create_user("alice", password="pw")
    bob = User.objects.create_user("bob", password="pw")
    keys = {
        "alice": signed_in_legacy_session(alice),
        "bob": signed_in_legacy_session(bob),
        "anonymous": anonymous_legacy_session(value="cart-3-items"),
        "expired": signed_in_legacy_session(alice),
    }
    LegacySession.objects.filter(pk=keys["expired"]).update(expire_date=timezone.now() - datetime.timedelta(days=1))
    bob.delete()  # django_session has no foreign key: bob's row stays behind
    keys["corrupt"] = "corrupt0row0that0is0not0signed000"
    LegacySession.objects.create(
        session_key=keys["corrupt"], session_data="garbage", expire_date=timezone.now() + datetime.timedelta(days=1)
    )
    yield {"alice": alice, "keys": keys}
    # Tests on a transactional database commit these rows, and flushing skips unmanaged tables.
    LegacySession.objects.all().delete()


def test_import_keeps_every_live_session_signed_in(engine: str, site: dict[str, Any]) -> None:
    keys = site["keys"]
    out, _err = run_import()

    assert "Imported 3 sessions (1 signed in) of 5 read" in out
    assert "skipped, expired: 1" in out
    assert "skipped, undecodable: 1" in out
    assert "imported without owner (user gone): 1" in out
    assert set(Session.objects.values_list("pk", flat=True)) == {keys["alice"], keys["bob"], keys["anonymous"]}

    alice_row = Session.objects.get(pk=keys["alice"])
    legacy_row = LegacySession.objects.get(pk=keys["alice"])
    assert alice_row.session_data == legacy_row.session_data
    assert alice_row.expire_date == legacy_row.expire_date
    assert alice_row.user == site["alice"]
    assert (alice_row.ip, alice_row.user_agent, alice_row.created_at) == (None, None, None)
    assert alice_row.public_id == make_public_id(keys["alice"])
    assert Session.objects.get(pk=keys["bob"]).user is None

    # The cookies the browsers already hold work under qsessions, on both engines.
    response = client_with_cookie(keys["alice"]).get("/read/")
    assert response.json() == {"user": "alice", "value": None}
    assert client_with_cookie(keys["anonymous"]).get("/read/").json() == {"user": None, "value": "cart-3-items"}
    assert client_with_cookie(keys["expired"]).get("/read/").json()["user"] is None
    assert client_with_cookie(keys["corrupt"]).get("/read/").status_code == 200

    # The first request under qsessions records the client.
    client = client_with_cookie(keys["alice"])
    client.get("/write/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", REMOTE_ADDR="192.0.2.7")
    alice_row.refresh_from_db()
    assert (alice_row.ip, alice_row.user_agent) == ("192.0.2.7", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    assert client.get("/read/").json() == {"user": "alice", "value": "x"}


@pytest.mark.django_db(transaction=True)
def test_a_deleted_users_session_is_anonymous_and_stays_ownerless(engine: str, site: dict[str, Any]) -> None:
    # Committed transactions, as in production: the foreign key to the deleted user is checked on write.
    key = site["keys"]["bob"]
    run_import()
    client = client_with_cookie(key)
    assert client.get("/read/", REMOTE_ADDR="192.0.2.1").json()["user"] is None
    assert client.get("/write/", REMOTE_ADDR="192.0.2.2").status_code == 200
    row = Session.objects.get(pk=key)
    assert (row.user, row.ip) == (None, "192.0.2.2")


def test_the_undecodable_report_names_public_ids_never_keys(site: dict[str, Any]) -> None:
    out, err = run_import()
    assert make_public_id(site["keys"]["corrupt"]) in err
    for key in site["keys"].values():
        assert key not in out + err


def test_running_twice_imports_nothing_twice(engine: str, site: dict[str, Any]) -> None:
    run_import()
    before = list(Session.objects.order_by("pk").values_list("pk", "session_data", "updated_at"))
    out, _ = run_import()
    assert "Imported 0 sessions" in out
    assert "skipped, already in qsessions: 3" in out
    assert list(Session.objects.order_by("pk").values_list("pk", "session_data", "updated_at")) == before


def test_an_existing_qsessions_session_is_never_overwritten(engine: str, site: dict[str, Any]) -> None:
    key = site["keys"]["alice"]
    store = Session.get_session_store_class()()
    Session.objects.create(
        session_key=key,
        session_data=store.encode({"value": "written under qsessions"}),
        expire_date=timezone.now() + datetime.timedelta(hours=1),
    )
    out, _ = run_import()
    assert "skipped, already in qsessions: 1" in out
    assert client_with_cookie(key).get("/read/").json() == {"user": None, "value": "written under qsessions"}


def test_dry_run_counts_and_writes_nothing(site: dict[str, Any]) -> None:
    out, _ = run_import("--dry-run")
    assert "Would import 3 sessions (1 signed in) of 5 read" in out
    assert "to import without owner (user gone): 1" in out
    assert not Session.objects.exists()


def test_small_batches_read_every_row_once_and_report_progress(site: dict[str, Any]) -> None:
    out, _ = run_import("--batch-size", "2")
    progress = [line for line in out.splitlines() if "sessions read" in line]
    assert len(progress) == 3  # 5 rows in batches of 2
    assert progress[-1].strip().startswith("5 sessions read, 3 to import")
    assert Session.objects.count() == 3
    quiet, _ = run_import("--batch-size", "2", "--verbosity", "0")
    assert "sessions read" not in quiet


def test_a_row_signed_with_another_secret_key_is_undecodable(site: dict[str, Any]) -> None:
    with override_settings(SECRET_KEY="the-old-secret-key-of-another-site"):
        other = anonymous_legacy_session(value="old")
    out, err = run_import()
    assert "skipped, undecodable: 2" in out
    assert not Session.objects.filter(pk=other).exists()
    assert "SECRET_KEY" in err


def test_a_rotated_secret_key_in_fallbacks_still_decodes(site: dict[str, Any]) -> None:
    with override_settings(SECRET_KEY="the-previous-secret-key-of-this-site"):
        rotated = anonymous_legacy_session(value="from before the rotation")
    with override_settings(SECRET_KEY_FALLBACKS=["the-previous-secret-key-of-this-site"]):
        run_import()
        assert client_with_cookie(rotated).get("/read/").json()["value"] == "from before the rotation"


def test_rows_with_unusable_keys_or_dates_are_undecodable(legacy_tables: None, db: None) -> None:
    good = LegacyStore().encode({"a": 1})
    future = timezone.now() + datetime.timedelta(days=1)
    LegacySession.objects.create(session_key="short", session_data=good, expire_date=future)
    LegacySession.objects.create(session_key="k" * 32, session_data="", expire_date=future)
    not_a_dict = LegacyStore().encode([1, 2])  # type: ignore[arg-type]
    LegacySession.objects.create(session_key="j" * 32, session_data=not_a_dict, expire_date=future)
    garbage = [f"garbage{i}".ljust(32, "0") for i in range(6)]
    for key in garbage:
        LegacySession.objects.create(session_key=key, session_data="garbage", expire_date=future)
    out, err = run_import()
    assert "skipped, undecodable: 9" in out
    assert not Session.objects.exists()
    named = [key for key in ["short", "k" * 32, "j" * 32, *garbage] if make_public_id(key) in err]
    assert len(named) == 5  # the first few, not thousands of lines


if services.DB == "sqlite":  # only SQLite stores any text in a datetime column (defined, not skipped, there)

    def test_a_row_with_an_unreadable_expiry_is_undecodable(legacy_tables: None, db: None) -> None:
        with connection.cursor() as cursor:
            for key, expiry in (("m" * 32, "next tuesday"), ("o" * 32, "2026-13-45 25:61:00")):
                cursor.execute(
                    "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (%s, %s, %s)",
                    [key, LegacyStore().encode({"a": 1}), expiry],
                )
        out, _ = run_import()
        assert "skipped, undecodable: 2" in out


def test_another_table_by_name(legacy_tables: None, transactional_db: None) -> None:
    # transactional_db: MySQL commits at ALTER TABLE, so a rolled-back test transaction would leave rows.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_session RENAME TO custom_sessions")
    try:
        anonymous_key = "customtable00000000000000000000a"
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO custom_sessions (session_key, session_data, expire_date) VALUES (%s, %s, %s)",
                [
                    anonymous_key,
                    LegacyStore().encode({"value": "custom"}),
                    connection.ops.adapt_datetimefield_value(timezone.now() + datetime.timedelta(hours=1)),
                ],
            )
        out, _ = run_import("--table", "custom_sessions")
        assert "Imported 1 sessions" in out
        assert client_with_cookie(anonymous_key).get("/read/").json()["value"] == "custom"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE custom_sessions RENAME TO django_session")


def test_django_user_sessions_table_keeps_its_client(engine: str, legacy_tables: None, db: None) -> None:
    carol = User.objects.create_user("carol", password="pw")
    key = signed_in_legacy_session(carol)
    data = LegacySession.objects.get(pk=key).session_data
    expiry = timezone.now() + datetime.timedelta(days=3)
    seen = timezone.now() - datetime.timedelta(minutes=5)
    UserSessionsSession.objects.create(
        session_key=key,
        session_data=data,
        expire_date=expiry,
        user=carol,
        ip="2001:db8::1",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1",
        last_activity=seen,
    )
    UserSessionsSession.objects.create(
        session_key="b" * 32,
        session_data=LegacyStore().encode({"value": 1}),
        expire_date=expiry,
        ip="not an ip" if connection.vendor != "postgresql" else None,  # PostgreSQL's inet refuses it
        user_agent=None,
        last_activity=seen,
    )
    out, _ = run_import("--from", "user-sessions")
    assert "Imported 2 sessions (1 signed in)" in out
    row = Session.objects.get(pk=key)
    assert (row.user, row.ip, row.last_activity, row.created_at) == (carol, "2001:db8::1", seen, None)
    assert row.user_agent is not None
    assert "iPhone" in row.user_agent
    assert Session.objects.get(pk="b" * 32).ip is None
    assert client_with_cookie(key).get("/read/").json()["user"] == "carol"


def test_bad_options_are_clear_errors(legacy_tables: None, db: None) -> None:
    with pytest.raises(CommandError, match="no table 'nope'"):
        run_import("--table", "nope")
    with pytest.raises(CommandError, match="qsessions' own table"):
        run_import("--table", "qsessions_session")
    with pytest.raises(CommandError, match="at least 1"):
        run_import("--batch-size", "0")
    with pytest.raises(CommandError, match="no database 'other'"):
        run_import("--database", "other")
    with pytest.raises(CommandError, match="--cache only applies"):
        run_import("--cache", "default")
    with pytest.raises(CommandError, match="--table does not apply"):
        run_import("--from", "redis-cache", "--table", "django_session")
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=locmem), pytest.raises(CommandError, match="reads Django's RedisCache"):
        run_import("--from", "redis-cache")


# -- Django's cache engine on Redis ---------------------------------------------------------------------

REDIS_URL = os.environ.get("QSESSIONS_TEST_IMPORT_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture
def redis_sessions_cache(settings: Any) -> Iterator[str]:
    host_port = REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if not services.answers((host or "127.0.0.1", int(port or 6379))):
        if services.REQUIRE_SERVICES:
            pytest.fail(f"Redis at {REDIS_URL} does not answer")
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    settings.CACHES = {
        **settings.CACHES,
        "legacy": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"qsessions-import-{os.getpid()}",
            "VERSION": 3,
        },
    }
    cache = caches["legacy"]
    cache.clear()
    yield "legacy"
    cache.clear()


def test_sessions_of_djangos_cache_engine_on_redis(engine: str, redis_sessions_cache: str, db: None) -> None:
    from django.contrib.sessions.backends.cache import SessionStore as DjangoCacheStore

    dave = User.objects.create_user("dave", password="pw")
    with override_settings(SESSION_CACHE_ALIAS=redis_sessions_cache):
        request = HttpRequest()
        request.session = DjangoCacheStore()
        login(request, dave, backend="django.contrib.auth.backends.ModelBackend")
        request.session.set_expiry(600)
        request.session.save()
        dave_key = request.session.session_key
        anonymous = DjangoCacheStore()
        anonymous["value"] = "from redis"
        anonymous.save()
        # Same server, other prefix: not a session of this cache, never touched.
        caches[redis_sessions_cache].set("django.contrib.sessions.cached_dbother", {"x": 1})
        caches[redis_sessions_cache].set("unrelated", "x")
    assert dave_key is not None
    assert anonymous.session_key is not None

    out, _ = run_import("--from", "redis-cache", "--cache", redis_sessions_cache, "--batch-size", "1")
    assert "Imported 2 sessions (1 signed in) of 2 read" in out
    row = Session.objects.get(pk=dave_key)
    assert row.user == dave
    remaining = (row.expire_date - timezone.now()).total_seconds()
    assert 590 < remaining <= 600
    assert client_with_cookie(dave_key).get("/read/").json()["user"] == "dave"
    assert client_with_cookie(anonymous.session_key).get("/read/").json()["value"] == "from redis"

    again, _ = run_import("--from", "redis-cache", "--cache", redis_sessions_cache)
    assert "skipped, already in qsessions: 2" in again


def test_unusable_redis_entries_are_undecodable_and_entries_without_ttl_get_the_cookie_age(
    redis_sessions_cache: str, db: None
) -> None:
    cache = caches[redis_sessions_cache]
    prefix = "django.contrib.sessions.cache"
    cache.set(prefix + "n" * 32, "not a dict", 600)
    cache.set(prefix + "d" * 32, {"when": datetime.datetime(2020, 1, 1)}, 600)  # JSON cannot hold it
    cache.set(prefix + "p" * 32, {"value": "forever"}, None)
    out, _ = run_import("--from", "redis-cache", "--cache", redis_sessions_cache)
    assert "Imported 1 sessions (0 signed in) of 3 read" in out
    assert "skipped, undecodable: 2" in out
    lifetime = (Session.objects.get(pk="p" * 32).expire_date - timezone.now()).total_seconds()
    assert django_settings.SESSION_COOKIE_AGE - 60 < lifetime <= django_settings.SESSION_COOKIE_AGE


def test_an_unreachable_redis_is_a_clear_error(settings: Any, db: None) -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    settings.CACHES = {
        **settings.CACHES,
        "gone": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"},
    }
    with pytest.raises(CommandError, match="cache 'gone' does not answer"):
        run_import("--from", "redis-cache", "--cache", "gone")


def custom_key_function(key: str, key_prefix: str, version: int) -> str:
    return f"{key}|{key_prefix}|{version}"


def test_a_cache_with_a_custom_key_function_cannot_be_listed(
    redis_sessions_cache: str, settings: Any, db: None
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "custom": {**settings.CACHES[redis_sessions_cache], "KEY_FUNCTION": custom_key_function},
    }
    with pytest.raises(CommandError, match="KEY_FUNCTION"):
        run_import("--from", "redis-cache", "--cache", "custom")


# -- docs/upgrading.md, followed step by step ----------------------------------------------------------


def test_the_upgrade_guide_from_django_contrib_sessions(engine: str, legacy_tables: None, db: None) -> None:
    User.objects.create_user("erin", password="pw")
    User.objects.create_user("frank", password="pw")
    stock_django = {
        "INSTALLED_APPS": [*django_settings.INSTALLED_APPS, "django.contrib.sessions"],
        "MIDDLEWARE": [
            "django.contrib.sessions.middleware.SessionMiddleware"
            if m == "qsessions.middleware.SessionMiddleware"
            else m
            for m in django_settings.MIDDLEWARE
        ],
        "SESSION_ENGINE": "django.contrib.sessions.backends.db",
    }
    # Before: a stock Django site signs erin and frank in, with Django's own middleware, engine and model.
    browsers = {}
    with override_settings(**stock_django):
        for name in ("erin", "frank"):
            browser = browsers[name] = Client()
            assert browser.get("/login/", {"username": name}).status_code == 200
            assert browser.get("/write/", {"value": f"draft-{name}"}).status_code == 200
            assert browser.get("/read/").json() == {"user": name, "value": f"draft-{name}"}
            assert LegacySession.objects.filter(pk=browser.cookies[django_settings.SESSION_COOKIE_NAME].value)

    # The deploy: the same browsers (cookies) meet the new processes (a test Client keeps the middleware
    # it first loaded, so each browser gets a new Client with its cookies).
    for name, before in list(browsers.items()):
        browsers[name] = Client()
        browsers[name].cookies = before.cookies
    # Step 1 (the guide's settings: this suite's, and QSESSIONS_PREVIOUS_ENGINE) and 2: migrate; checks quiet.
    with override_settings(QSESSIONS_PREVIOUS_ENGINE="django.contrib.sessions.backends.db"):
        call_command("migrate", verbosity=0)
        call_command("check", stdout=io.StringIO())
        # Step 3: deploy. erin comes back before the import: signed in, her cookie kept, her session moved.
        response = browsers["erin"].get("/read/")
        assert response.json() == {"user": "erin", "value": "draft-erin"}
        assert django_settings.SESSION_COOKIE_NAME not in response.cookies
        assert not LegacySession.objects.filter(pk=browsers["erin"].cookies[django_settings.SESSION_COOKIE_NAME].value)
        # Then the import: frank's session, which no request has moved yet.
        out, _ = run_import()
        assert "Imported 1 sessions (1 signed in) of 1 read" in out
        # Both cookies are signed in, with their data.
        for name, browser in browsers.items():
            assert browser.get("/read/").json() == {"user": name, "value": f"draft-{name}"}
        # Running it again changes nothing.
        assert "already in qsessions: 1" in run_import()[0]
        # The check says the setting can go (step 4).
        checks = io.StringIO()
        call_command("check", "--database", "default", stdout=checks, stderr=checks)
        assert "qsessions.I080" in checks.getvalue()


@pytest.mark.parametrize(
    ("ip_storage", "store_user_agent", "expected_ips", "expected_user_agent"),
    [
        ("full", True, ("203.0.113.77", "2001:db8:abcd:12::1"), "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0"),
        ("truncated", True, ("203.0.113.0", "2001:db8:abcd::"), "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0"),
        ("none", False, (None, None), None),
        ("truncated", False, ("203.0.113.0", "2001:db8:abcd::"), None),
    ],
)
def test_django_user_sessions_import_obeys_the_privacy_settings(
    legacy_tables: None,
    db: None,
    settings: Any,
    ip_storage: str,
    store_user_agent: bool,
    expected_ips: tuple[str | None, str | None],
    expected_user_agent: str | None,
) -> None:
    settings.QSESSIONS_IP_STORAGE = ip_storage
    settings.QSESSIONS_STORE_USER_AGENT = store_user_agent
    expiry = timezone.now() + datetime.timedelta(days=3)
    keys = ("p" * 32, "q" * 32)
    for key, ip in zip(keys, ("203.0.113.77", "2001:db8:abcd:12::1"), strict=True):
        UserSessionsSession.objects.create(
            session_key=key,
            session_data=LegacyStore().encode({"value": 1}),
            expire_date=expiry,
            ip=ip,
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
            last_activity=timezone.now(),
        )
    run_import("--from", "user-sessions")
    rows = [Session.objects.get(pk=key) for key in keys]
    assert tuple(row.ip for row in rows) == expected_ips
    assert [row.user_agent for row in rows] == [expected_user_agent] * 2
