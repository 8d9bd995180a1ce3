"""The engine a site used before qsessions (``QSESSIONS_PREVIOUS_ENGINE``): reading its sessions, and
taking them out of it once they are qsessions'.

Only the store calls ``find`` and ``take``, and only for a cookie whose session qsessions does not have;
the deletion paths of ``qsessions.models`` call ``forget``. Tables are read with plain SQL (the old app
need not be installed), caches through ``SESSION_CACHE_ALIAS`` as Django's engines use it. This module
imports no model, so that ``models`` can import it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.db import connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from qsessions.conf import conf

logger = logging.getLogger("django.contrib.sessions")  # where Django's engines log cache errors
SIGNED_COOKIES_SALT = "django.contrib.sessions.backends.signed_cookies"


@dataclass(frozen=True)
class Engine:
    """Where an engine keeps its sessions."""

    table: str | None = None  # a table shaped like django_session
    cache_prefix: str | None = None  # the prefix of its cache keys in SESSION_CACHE_ALIAS
    signed_cookie: bool = False  # the session is the cookie itself
    can_be_shared: bool = False  # qsessions can keep it in step during a rolling deploy


ENGINES: dict[str, Engine] = {
    "django.contrib.sessions.backends.db": Engine(table="django_session", can_be_shared=True),
    "django.contrib.sessions.backends.cached_db": Engine(
        table="django_session", cache_prefix="django.contrib.sessions.cached_db", can_be_shared=True
    ),
    "django.contrib.sessions.backends.cache": Engine(cache_prefix="django.contrib.sessions.cache"),
    "django.contrib.sessions.backends.signed_cookies": Engine(signed_cookie=True),
    "user_sessions.backends.db": Engine(table="user_sessions_session"),
}


@dataclass(frozen=True)
class Found:
    """A live session of the previous engine."""

    data: dict[str, Any]
    expire_date: datetime.datetime | None  # None: unknown, the session gets a fresh expiry
    same_key: bool  # False for a signed cookie: it becomes a session under a new key


def engine() -> Engine | None:
    name = conf.PREVIOUS_ENGINE
    return None if name is None else ENGINES.get(name)


def _cache() -> Any:
    return caches[settings.SESSION_CACHE_ALIAS]


def _aware(value: Any) -> datetime.datetime | None:
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime.datetime):
        return None
    result: datetime.datetime = value
    if settings.USE_TZ and timezone.is_naive(result):  # MySQL's driver gives naive datetimes in UTC
        result = timezone.make_aware(result, datetime.timezone.utc)
    return result


def find(cookie: str, key: str | None, decode: Callable[[str], dict[str, Any]], using: str) -> Found | None:
    """The live session the previous engine has for this cookie (``key``: the cookie as a valid key)."""
    old = engine()
    if old is None:
        return None
    if old.signed_cookie:
        try:
            data = signing.loads(
                cookie,
                max_age=settings.SESSION_COOKIE_AGE,
                salt=SIGNED_COOKIES_SALT,
                serializer=conf.session_serializer,
            )
        except Exception:  # forged, expired, or not a signed cookie at all: no session
            return None
        return Found(data, None, same_key=False) if isinstance(data, dict) and data else None
    if key is None:
        return None
    if old.table is not None:
        connection = connections[using]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('session_data')}, {quote('expire_date')} FROM {quote(old.table)} "  # noqa: S608
                f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s",
                [key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        data = decode(row[0])
        return Found(data, _aware(row[1]), same_key=True) if data else None
    assert old.cache_prefix is not None
    try:
        data = _cache().get(old.cache_prefix + key)
    except Exception:  # an unreachable cache has no session to offer
        logger.exception("qsessions could not read the previous engine's cache")
        return None
    return Found(data, None, same_key=True) if isinstance(data, dict) and data else None


def take(key: str, keep: bool, using: str) -> bool:
    """Take the session ``key`` out of the previous engine; whether this call did (not another request).

    ``keep`` (a rolling deploy): the session stays there for the old processes; the row is locked until
    the caller's transaction ends, and ``False`` says it is gone (revoked meanwhile). Call it inside the
    transaction that writes the session to qsessions.
    """
    old = engine()
    if old is None or old.signed_cookie:
        return True
    if old.table is not None:
        connection = connections[using]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            if keep:
                cursor.execute(
                    f"UPDATE {quote(old.table)} SET {quote('session_key')} = {quote('session_key')} "  # noqa: S608
                    f"WHERE {quote('session_key')} = %s",
                    [key],
                )
            else:
                cursor.execute(f"DELETE FROM {quote(old.table)} WHERE {quote('session_key')} = %s", [key])  # noqa: S608
            taken = bool(cursor.rowcount == 1)
        if taken and not keep and old.cache_prefix is not None:
            _forget_cached([key], old.cache_prefix)
        return taken
    assert old.cache_prefix is not None
    try:
        return bool(_cache().delete(old.cache_prefix + key))
    except Exception:
        logger.exception("qsessions could not take a session out of the previous engine's cache")
        return False


def _forget_cached(keys: Sequence[str], prefix: str) -> None:
    try:
        _cache().delete_many([prefix + key for key in keys])
    except Exception:
        logger.exception("qsessions could not delete %d sessions from the previous engine's cache", len(keys))


def forget(keys: Sequence[str], using: str | None) -> None:
    """Delete these sessions from the previous engine too: a session deleted in qsessions (signed out,
    revoked, expired) must not be found there again."""
    old = engine()
    if old is None or not keys:
        return
    if old.table is not None:
        connection = connections[using or "default"]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                cursor.execute(
                    f"DELETE FROM {quote(old.table)} WHERE {quote('session_key')} IN "  # noqa: S608
                    f"({', '.join(['%s'] * len(chunk))})",
                    chunk,
                )
    if old.cache_prefix is not None:
        _forget_cached(keys, old.cache_prefix)


def mirror(key: str, session_data: str, expire_date: datetime.datetime, using: str) -> None:
    """Write a session qsessions wrote into the previous engine's table too (a rolling deploy), so that
    the processes still running it see it, as qsessions has it now."""
    old = engine()
    if old is None or old.table is None or not old.can_be_shared:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    table, key_column = quote(old.table), quote("session_key")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {quote('session_data')} = %s, {quote('expire_date')} = %s "  # noqa: S608
            f"WHERE {key_column} = %s",
            [session_data, expire_date, key],
        )
        if cursor.rowcount == 0:
            cursor.execute(
                f"INSERT INTO {table} ({key_column}, {quote('session_data')}, {quote('expire_date')}) "  # noqa: S608
                "VALUES (%s, %s, %s)",
                [key, session_data, expire_date],
            )
    if old.cache_prefix is not None:  # the old processes read the row again
        _forget_cached([key], old.cache_prefix)


def sessions_left(own_table: str, using: str) -> bool | None:
    """Whether the previous engine's table holds a live session that qsessions does not have (one query,
    stopping at the first). ``None``: not known (no such table, or an engine without one)."""
    old = engine()
    if old is None or old.table is None:
        return None
    connection = connections[using]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if own_table not in tables:  # before qsessions' first migration
            return None
        if old.table not in tables:
            return False
        cursor.execute(
            f"SELECT 1 FROM {quote(old.table)} WHERE {quote('expire_date')} > %s AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {quote(own_table)} WHERE {quote(own_table)}.{quote('session_key')} = "
            f"{quote(old.table)}.{quote('session_key')}) "
            f"{connection.ops.limit_offset_sql(0, 1)}",
            [timezone.now()],
        )
        return cursor.fetchone() is not None
