"""Which database and cache the suite runs on, from environment variables with loopback defaults.

A selected server that does not answer makes the tests skip with the reason, or fail when
QSESSIONS_TEST_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

DB = os.environ.get("QSESSIONS_TEST_DB", "sqlite")
CACHE = os.environ.get("QSESSIONS_TEST_CACHE", "locmem")
REQUIRE_SERVICES = os.environ.get("QSESSIONS_TEST_REQUIRE_SERVICES") == "1"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def database_settings(base_dir: Path) -> dict[str, Any]:
    if DB == "sqlite":
        # A file, not ":memory:": async tests reach the database from other threads.
        directory = base_dir.parent / ".cache"
        directory.mkdir(exist_ok=True)
        path = str(directory / f"test-{os.getpid()}.sqlite3")
        replica_path = str(directory / f"test-{os.getpid()}-replica.sqlite3")
        return {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "TEST": {"NAME": path}},
            # See _with_replica().
            "replica": {"ENGINE": "django.db.backends.sqlite3", "NAME": replica_path, "TEST": {"NAME": replica_path}},
        }
    if DB == "postgresql":
        default: dict[str, Any] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _env("QSESSIONS_TEST_PG_NAME", "qsessions"),
            "USER": _env("QSESSIONS_TEST_PG_USER", "postgres"),
            "PASSWORD": _env("QSESSIONS_TEST_PG_PASSWORD", ""),
            "HOST": _env("QSESSIONS_TEST_PG_HOST", "127.0.0.1"),
            "PORT": _env("QSESSIONS_TEST_PG_PORT", "5432"),
        }
        return _with_replica(default)
    if DB == "mysql":
        return _with_replica(
            {
                "ENGINE": "django.db.backends.mysql",
                "NAME": _env("QSESSIONS_TEST_MYSQL_NAME", "qsessions"),
                "USER": _env("QSESSIONS_TEST_MYSQL_USER", "root"),
                "PASSWORD": _env("QSESSIONS_TEST_MYSQL_PASSWORD", ""),
                "HOST": _env("QSESSIONS_TEST_MYSQL_HOST", "127.0.0.1"),
                "PORT": _env("QSESSIONS_TEST_MYSQL_PORT", "3306"),
                "OPTIONS": {"charset": "utf8mb4"},
                "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
            }
        )
    raise ValueError(f"QSESSIONS_TEST_DB={DB!r}: expected sqlite, postgresql or mysql")


def _with_replica(default: dict[str, Any]) -> dict[str, Any]:
    """``default``, and a second, real database on the same server that tests/test_replicas.py uses as a
    read replica lagging behind it (a copy that never sees its deletes). pytest-django creates it only
    for the tests that ask for it."""
    name = default["NAME"] + "_replica"
    replica = {**default, "NAME": name, "TEST": {**default.get("TEST", {}), "NAME": "test_" + name}}
    return {"default": default, "replica": replica}


def cache_settings() -> dict[str, Any]:
    if CACHE == "locmem":
        default: dict[str, Any] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    elif CACHE == "redis":
        default = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url()}
    elif CACHE == "django-redis":
        default = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url()}
    elif CACHE == "memcached":
        default = {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": memcached_location(),
        }
    else:
        raise ValueError(f"QSESSIONS_TEST_CACHE={CACHE!r}: expected locmem, redis, memcached or django-redis")
    default["KEY_PREFIX"] = f"qsessions-test-{os.getpid()}"
    return {"default": default}


def redis_url() -> str:
    return _env("QSESSIONS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def memcached_location() -> str:
    return _env("QSESSIONS_TEST_MEMCACHED", "127.0.0.1:11211")


def server_address() -> tuple[str, int] | None:
    """The (host, port) of the database server selected, or None for SQLite."""
    if DB == "postgresql":
        return _env("QSESSIONS_TEST_PG_HOST", "127.0.0.1"), int(_env("QSESSIONS_TEST_PG_PORT", "5432"))
    if DB == "mysql":
        return _env("QSESSIONS_TEST_MYSQL_HOST", "127.0.0.1"), int(_env("QSESSIONS_TEST_MYSQL_PORT", "3306"))
    return None


def cache_address() -> tuple[str, int] | None:
    if CACHE in ("redis", "django-redis"):
        rest = redis_url().split("://", 1)[1].split("/", 1)[0]
        host, _, port = rest.rpartition(":")
        return host or "127.0.0.1", int(port or 6379)
    if CACHE == "memcached":
        host, _, port = memcached_location().rpartition(":")
        return host, int(port)
    return None


def answers(address: tuple[str, int], timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def missing_services() -> list[str]:
    """Human descriptions of the selected servers that do not answer."""
    missing = []
    for kind, name, address in (("database", DB, server_address()), ("cache", CACHE, cache_address())):
        if address is not None and not answers(address):
            missing.append(f"{kind} {name} at {address[0]}:{address[1]} does not answer")
    return missing


# -- throwaway cache servers, for the fault tests -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cache_config_at(host: str, port: int) -> dict[str, Any]:
    """A cache of the selected kind (redis, django-redis or memcached) at host:port, with short timeouts."""
    if CACHE in ("redis", "django-redis"):
        backend = "django.core.cache.backends.redis.RedisCache" if CACHE == "redis" else "django_redis.cache.RedisCache"
        options: dict[str, Any] = {"socket_timeout": 1, "socket_connect_timeout": 1}
        if CACHE == "django-redis":
            options = {"SOCKET_TIMEOUT": 1, "SOCKET_CONNECT_TIMEOUT": 1}
        return {"BACKEND": backend, "LOCATION": f"redis://{host}:{port}/0", "OPTIONS": options}
    if CACHE == "memcached":
        return {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": f"{host}:{port}",
            # No "dead server" grace period: every operation tries the server, so a restart is seen at once.
            "OPTIONS": {"timeout": 1, "connect_timeout": 1, "dead_timeout": 0, "retry_timeout": 0, "retry_attempts": 1},
        }
    raise ValueError(f"no server to start for QSESSIONS_TEST_CACHE={CACHE!r}")


def cache_server_command(port: int) -> list[str]:
    """The command that runs a private, non-persistent server of the selected cache kind on port."""
    if CACHE in ("redis", "django-redis"):
        return ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    if CACHE == "memcached":
        as_root = ["-u", "nobody"] if os.geteuid() == 0 else []  # memcached refuses to run as root
        return ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16", *as_root]
    raise ValueError(f"no server to start for QSESSIONS_TEST_CACHE={CACHE!r}")
