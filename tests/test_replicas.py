"""Read replicas never bring a revoked session back (docs/services.md, "Read replicas").

Database: a second, real database on the server under test (PostgreSQL in CI, as a site runs it;
MariaDB and SQLite too) plays a read replica that lags behind the primary (a copy of
the rows that never sees the deletes), behind a router that sends reads there, as sites configure it.
Cache: a real Redis primary and replica (``redis-server --replicaof``) started on free ports, with the
replica's link to the primary working and broken (``REPLICAOF NO ONE``).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.checks import run_checks
from django.db import models
from django.test import Client, override_settings
from django.utils import timezone

from qsessions import cache as entries
from qsessions.models import Session
from qsessions.revocation import REASON_ADMIN, revoke, revoke_all
from tests import services
from tests.helpers import IPHONE_UA, make_user, session_key_of, signed_in

CACHED_DB = "qsessions.backends.cached_db"
REPLICA = "replica"


class LaggingReplicaRouter:
    """Every read from the replica, every write to the primary: a site's usual replica router."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str:
        return REPLICA

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str:
        return "default"

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, *args: Any, **hints: Any) -> bool:
        return True


reads_from_the_replica = override_settings(DATABASE_ROUTERS=["tests.test_replicas.LaggingReplicaRouter"])


def _copy_to_replica(*objects: models.Model) -> None:
    """What the replica has replicated so far: these rows, as they are now on the primary."""
    for obj in objects:
        obj.save(using=REPLICA, force_insert=True)


def _user_of(client: Client, path: str = "/read/") -> str | None:
    response = client.get(path)
    assert response.status_code == 200
    user: str | None = response.json()["user"]
    return user


@pytest.mark.django_db(databases=["default", REPLICA])
@pytest.mark.parametrize("path", ["/read/", "/aread/"])
def test_a_session_deleted_on_the_primary_is_not_read_from_a_lagging_replica(engine: str, path: str) -> None:
    user = make_user("ada")
    client = signed_in("ada")
    key = session_key_of(client)
    _copy_to_replica(user, Session.objects.get(pk=key))

    with reads_from_the_replica:
        assert _user_of(client, path) == "ada"  # the router sends the user's row to the replica, which has it
        revoke(Session.objects.get(pk=key), REASON_ADMIN)
        assert Session.objects.using(REPLICA).filter(pk=key).exists()  # the replica has not seen the delete
        # The cache loses what it held (a restart, an eviction): the next read asks the database.
        caches["default"].clear()

        assert _user_of(client, path) is None
        assert _user_of(client, path) is None
    # ... and on cached_db the read-through fill did not put the revoked session back into the cache.
    assert entries.lookup(caches["default"], key) is entries.MISSING


@pytest.mark.django_db(databases=["default", REPLICA])
def test_the_managers_save_of_no_data_deletes_on_the_primary(engine: str) -> None:
    """Django's ``Session.objects.save(key, {}, expiry)`` deletes the session: where writes go, never on the
    replica the router reads from."""
    user = make_user("ada")
    client = signed_in("ada")
    key = session_key_of(client)
    _copy_to_replica(user, Session.objects.get(pk=key))
    with reads_from_the_replica:
        Session.objects.save(key, {}, timezone.now())
        assert _user_of(client) is None
    assert not Session.objects.filter(pk=key).exists()


@pytest.mark.django_db(databases=["default", REPLICA])
def test_revoke_all_reaches_sessions_the_replica_has_not_seen(engine: str) -> None:
    user = make_user("ada")
    first = signed_in("ada")
    _copy_to_replica(user, Session.objects.get(pk=session_key_of(first)))
    second = signed_in("ada", user_agent=IPHONE_UA)  # signed in a moment ago: on the primary only

    with reads_from_the_replica:
        assert revoke_all(user, REASON_ADMIN) == 2
        assert _user_of(first) is None
        assert _user_of(second) is None
    assert not Session.objects.filter(user=user).exists()


@pytest.mark.django_db(databases=["default", REPLICA])
def test_clearsessions_deletes_on_the_primary(engine: str) -> None:
    expired = Session.objects.create(
        session_key="expiredsessionkey0000000000000001", session_data="", expire_date=timezone.now()
    )
    _copy_to_replica(Session.objects.get(pk=expired.pk))

    with reads_from_the_replica:
        assert Session.objects.all().delete_expired() == 1
    assert not Session.objects.filter(pk=expired.pk).exists()


# -- Redis -------------------------------------------------------------------------------------------------

needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="starts a Redis primary and replica: needs redis-server"
)
# Django's RedisCache, or django-redis when the suite runs on it: the two read from replicas alike.
REDIS_KIND = "django-redis" if services.CACHE == "django-redis" else "redis"


def _redis_cache(*ports: int) -> dict[str, Any]:
    """A Redis cache on these servers: the first is written, the others are read."""
    if REDIS_KIND == "django-redis":
        backend, options = "django_redis.cache.RedisCache", {"SOCKET_TIMEOUT": 1, "SOCKET_CONNECT_TIMEOUT": 1}
    else:
        backend, options = "django.core.cache.backends.redis.RedisCache", {"socket_timeout": 1}
    locations = [f"redis://127.0.0.1:{port}/0" for port in ports]
    return {"BACKEND": backend, "LOCATION": locations, "OPTIONS": options}


def _redis_server(port: int) -> list[str]:
    return ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]


class RedisPair:
    """A private Redis primary and a replica of it, each on a free port."""

    def __init__(self, directory: Path) -> None:
        import redis

        self.primary_port, self.replica_port = services.free_port(), services.free_port()
        # A directory of their own: the replica writes the primary's snapshot there on its first sync.
        here = ["--dir", str(directory)]
        self._processes = [
            subprocess.Popen([*_redis_server(self.primary_port), *here], stdout=subprocess.DEVNULL),
            subprocess.Popen(
                [
                    *_redis_server(self.replica_port),
                    *here,
                    "--replicaof",
                    "127.0.0.1",
                    str(self.primary_port),
                ],
                stdout=subprocess.DEVNULL,
            ),
        ]
        self.primary = redis.Redis(port=self.primary_port, socket_timeout=2)
        self.replica = redis.Redis(port=self.replica_port, socket_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if self.replica.info("replication").get("master_link_status") == "up":
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("the Redis replica did not connect to its primary")
            time.sleep(0.05)

    def replicated(self) -> None:
        """Wait until the replica has every write the primary took so far."""
        assert self.primary.wait(1, 5000) == 1

    def break_link(self) -> None:
        """The replica stops following the primary and keeps serving what it has, as a broken link does."""
        self.replica.replicaof("NO", "ONE")

    def stop(self) -> None:
        for process in self._processes:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def redis_pair(settings: Any, tmp_path: Path) -> Iterator[RedisPair]:
    pair = RedisPair(tmp_path)
    settings.SESSION_ENGINE = CACHED_DB
    settings.SESSION_CACHE_ALIAS = "sessions"
    yield pair
    for alias in ("default", "sessions"):
        with contextlib.suppress(Exception):
            caches[alias].close()
    pair.stop()


def _warnings() -> list[str]:
    return [message.id or "" for message in run_checks() if (message.id or "").startswith("qsessions.")]


@needs_redis
@pytest.mark.django_db
def test_a_session_cache_with_a_replica_serves_revoked_sessions_so_the_check_warns(
    redis_pair: RedisPair, settings: Any
) -> None:
    settings.CACHES = {**settings.CACHES, "sessions": _redis_cache(redis_pair.primary_port, redis_pair.replica_port)}
    assert "qsessions.W036" in _warnings()
    make_user("ada")
    client = signed_in("ada")
    redis_pair.replicated()
    assert _user_of(client) == "ada"  # read from the replica

    redis_pair.break_link()
    revoke(Session.objects.get(pk=session_key_of(client)), REASON_ADMIN)

    # The tombstone went to the primary; the replica still has the live entry. This is the
    # configuration qsessions.W036 warns about.
    assert _user_of(client) == "ada"


@needs_redis
@pytest.mark.django_db
@pytest.mark.parametrize("link", ["working", "broken"])
def test_a_session_cache_on_the_primary_refuses_revoked_sessions_at_once(
    redis_pair: RedisPair, settings: Any, link: str
) -> None:
    # The site's other caches keep their replica; the sessions' own alias names the primary only.
    replicated = _redis_cache(redis_pair.primary_port, redis_pair.replica_port)
    settings.CACHES = {"default": replicated, "sessions": _redis_cache(redis_pair.primary_port)}
    assert "qsessions.W036" not in _warnings()
    user = make_user("ada")
    clients = [signed_in("ada"), signed_in("ada", user_agent=IPHONE_UA)]
    redis_pair.replicated()
    assert [_user_of(client) for client in clients] == ["ada", "ada"]
    if link == "broken":
        redis_pair.break_link()

    revoke(Session.objects.get(pk=session_key_of(clients[0])), REASON_ADMIN)
    assert _user_of(clients[0]) is None
    revoke_all(user, REASON_ADMIN)
    assert _user_of(clients[1]) is None
    assert [_user_of(client) for client in clients] == [None, None]


def test_the_check_counts_the_redis_servers_a_location_names(settings: Any) -> None:
    settings.SESSION_ENGINE = CACHED_DB
    settings.SESSION_CACHE_ALIAS = "sessions"
    redis = "django.core.cache.backends.redis.RedisCache"
    for backend, location, warns in [
        (redis, "redis://a:6379/0", False),
        (redis, "redis://a:6379/0,redis://b:6379/0", True),
        (redis, "redis://a:6379/0;redis://b:6379/0", True),
        (redis, ["redis://a:6379/0"], False),
        (redis, ["redis://a:6379/0", "redis://b:6379/0"], True),
        ("django_redis.cache.RedisCache", ["redis://a:6379/0", "redis://b:6379/0"], True),
        ("django.core.cache.backends.memcached.PyMemcacheCache", ["a:11211", "b:11211"], False),  # shards
    ]:
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "sessions": {"BACKEND": backend, "LOCATION": location},
        }
        assert ("qsessions.W036" in _warnings()) is warns, (backend, location)
    settings.SESSION_ENGINE = "qsessions.backends.db"  # no session cache: nothing to warn about
    assert "qsessions.W036" not in _warnings()
