"""The session cache of the cached_db engine: its entry format, tolerant calls, and eviction.

An entry is ``(ENTRY_VERSION, data, row)``: the session data exactly as the application stored it, and
apart from it what the session's row says (``SessionRow``), so that a cache hit costs no query. Entries
written by django-qsessions 2.x and by qsessions before 3.0 (the data dict with reserved keys in it) are
not trusted: the store reads the database once and replaces them.

A revocation always wins, and a read looks at one key, as Django's cached_db does. Revoking a session
deletes its row, then writes ``REVOKED`` over its entry (a *tombstone*, which outlives any entry of that
session); a read that finds it refuses the session without a query. Nothing else removes a tombstone:

- a read-through fill after a miss only ``add``s: it never overwrites what a revocation wrote meanwhile;
- a save or an activity write writes its entry inside the transaction of its UPDATE (or INSERT), while the
  database holds that row's lock. A revocation's DELETE waits for that lock, so its tombstone comes after
  the entry; a write that comes after the DELETE updates no row and writes no entry;
- an untrusted entry (an older version's, or ``STALE``) is replaced under the same lock (its row is read
  ``FOR UPDATE``), or by ``REVOKED`` when its row is gone. A write that cannot leave a fresh entry writes
  ``STALE`` under its row's lock rather than deleting the entry: a fill that read the row before the write
  committed could otherwise add the old row back.

``add`` must be atomic for this (Redis, Memcached, local memory); the file-based and database caches'
is not (system check ``qsessions.W037``).

The cache-only engine (``qsessions.backends.cache``) has no rows to lock: its revocations also leave a
*revocation mark* under a key of its own, which its reads look up with the entry.

Every cache error is logged on Django's ``django.contrib.sessions`` logger and the request goes on
without the cache: the database is the source of truth.
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Iterable
from functools import lru_cache
from importlib import import_module
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed

from qsessions.conf import conf

# Cache keys: django-qsessions 2.x's prefix for entries, so that old entries are found (and replaced).
KEY_PREFIX = "qsessions.q_cached_db"
REVOKED_PREFIX = "qsr:"  # revocation marks of the cache-only engine
ENTRY_VERSION = 3
# What a revoked session's entry holds until it expires: its tombstone.
REVOKED = "qsessions.revoked"
# What an entry holds after its row changed behind the store (SessionManager.save) or was written with no
# time left: not trusted, so the next read replaces it from the row, under the row's lock.
STALE = "qsessions.stale"
# Tombstones and marks outlive the entries they refuse by this margin (seconds).
MARK_MARGIN = 300

# Django logs cache failures of its cached_db engine here; operators already watch this logger.
logger = logging.getLogger("django.contrib.sessions")


class SessionRow(NamedTuple):
    """What a session's row says besides its data. Times are POSIX timestamps (cheap to keep in a cache)."""

    user_id: Any
    ip: str | None
    user_agent: str | None
    client_hints: dict[str, Any] | None
    created_at: float | None
    last_activity: float | None
    expire_date: float | None


def moment(timestamp: float | None) -> datetime.datetime | None:
    """A time of a ``SessionRow`` (POSIX timestamp) as an aware datetime in UTC."""
    return None if timestamp is None else datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)


def entry_key(session_key: str) -> str:
    return KEY_PREFIX + session_key


def mark_key(session_key: str) -> str:
    return REVOKED_PREFIX + session_key


def make_entry(data: dict[str, Any], row: SessionRow) -> tuple[int, dict[str, Any], tuple[Any, ...]]:
    return (ENTRY_VERSION, data, tuple(row))


class Found(NamedTuple):
    """A trusted entry."""

    data: dict[str, Any]
    row: SessionRow


# What a lookup finds besides an entry: nothing, a revoked session, or an entry not to be trusted.
MISSING = "missing"
REVOKED_SESSION = "revoked"
UNTRUSTED = "untrusted"


def _is_owner(value: object) -> bool:
    """A primary key a user model can have (int, str, UUID, ...): hashable and not a bool."""
    if isinstance(value, bool):
        return False
    try:
        hash(value)
    except TypeError:
        return False
    return True


_tuple_new = tuple.__new__

# Timestamps in an entry must be finite numbers within any real date; NaN fails both comparisons.
_TIME_LIMIT = 1e11


def read_entry(value: object, _limit: float = _TIME_LIMIT) -> Found | str:
    """A cached value as a trusted entry, or why it is not one (MISSING, REVOKED_SESSION or UNTRUSTED).

    Every read runs this, so the checks are written out rather than delegated, the usual type first.
    """
    if value is None:
        return MISSING
    if type(value) is tuple and len(value) == 3 and value[0] == ENTRY_VERSION:
        data, facts = value[1], value[2]
        if type(data) is dict and type(facts) is tuple and len(facts) == 7:
            user_id, ip, user_agent, hints, created_at, last_activity, expire_date = facts
            if (
                (type(ip) is str or ip is None)
                and (type(user_agent) is str or user_agent is None)
                and (hints is None or type(hints) is dict)
                and ((type(created_at) is float and -_limit < created_at < _limit) or created_at is None)
                and ((type(last_activity) is float and -_limit < last_activity < _limit) or last_activity is None)
                and ((type(expire_date) is float and -_limit < expire_date < _limit) or expire_date is None)
                and (type(user_id) is int or user_id is None or type(user_id) is str or _is_owner(user_id))
            ):
                # tuple.__new__: the checked tuples as they are, without the named tuples' own __new__ (a
                # Python call each, on every read).
                return _tuple_new(Found, (data, _tuple_new(SessionRow, facts)))
    if value == REVOKED:
        return REVOKED_SESSION
    return UNTRUSTED


def _marked_result(entry: str, mark: str, values: dict[str, Any]) -> Found | str:
    if values.get(mark) is not None:
        return REVOKED_SESSION
    return read_entry(values.get(entry))


# -- tolerant calls: a failing cache is logged and treated as empty; the database decides ---------------------


def _failed(cache: BaseCache, action: str) -> None:
    logger.warning("Error %s cache (%s)", action, cache, exc_info=True)


def lookup(cache: BaseCache, session_key: str) -> Found | str:
    """The session's entry, or MISSING (also when the cache fails), REVOKED_SESSION or UNTRUSTED."""
    try:
        value = cache.get(KEY_PREFIX + session_key)
    except Exception:
        # Invalid keys (memcached rejects some) and unreachable servers alike: read the database.
        _failed(cache, "reading from")
        return MISSING
    return read_entry(value)


def lookup_marked(cache: BaseCache, session_key: str) -> Found | str:
    """``lookup`` for the cache-only engine: the entry and the session's revocation mark, in one call."""
    entry, mark = KEY_PREFIX + session_key, REVOKED_PREFIX + session_key
    try:
        values = cache.get_many([entry, mark])
    except Exception:
        _failed(cache, "reading from")
        return MISSING
    return _marked_result(entry, mark, values)


def store(cache: BaseCache, session_key: str, entry: tuple[Any, ...] | str, timeout: int) -> None:
    """Write the entry: inside the transaction that wrote (or locked) its row, or ``REVOKED`` or ``STALE``."""
    try:
        cache.set(entry_key(session_key), entry, timeout)
    except Exception:
        logger.exception("Error saving to cache (%s)", cache)
        # A server that refuses the write (out of memory, value too large) still serves the previous
        # entry: drop it, or it would win over the newer row just written to the database.
        delete(cache, session_key)


def fill(cache: BaseCache, session_key: str, entry: tuple[Any, ...], timeout: int) -> None:
    """Add the entry after a miss; never overwrite one (a save that ran meanwhile wrote a newer one)."""
    try:
        cache.add(entry_key(session_key), entry, timeout)
    except Exception:
        logger.exception("Error saving to cache (%s)", cache)


def delete(cache: BaseCache, session_key: str) -> None:
    try:
        cache.delete(entry_key(session_key))
    except Exception:
        _failed(cache, "deleting from")


def unmark(cache: BaseCache, session_key: str) -> None:
    """Forget a revocation mark (cache-only engine): a session is being created under a key chosen by the caller."""
    try:
        cache.delete(mark_key(session_key))
    except Exception:
        _failed(cache, "deleting from")


async def alookup(cache: BaseCache, session_key: str) -> Found | str:
    try:
        value = await cache.aget(KEY_PREFIX + session_key)
    except Exception:
        _failed(cache, "reading from")
        return MISSING
    return read_entry(value)


async def afill(cache: BaseCache, session_key: str, entry: tuple[Any, ...], timeout: int) -> None:
    try:
        await cache.aadd(entry_key(session_key), entry, timeout)
    except Exception:
        logger.exception("Error saving to cache (%s)", cache)


def session_cache() -> BaseCache:
    """The cache sessions are kept in (SESSION_CACHE_ALIAS)."""
    return caches[conf.session_cache_alias]


# -- eviction --------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _engine_caches_sessions(engine: str) -> bool:
    store_class = getattr(import_module(engine), "SessionStore", None)
    return bool(getattr(store_class, "caches_sessions", False))


@lru_cache(maxsize=8)
def _engine_keeps_cache_only(engine: str) -> bool:
    store_class = getattr(import_module(engine), "SessionStore", None)
    return bool(getattr(store_class, "cache_only", False))


def sessions_are_cached() -> bool:
    """Whether the configured SESSION_ENGINE keeps sessions in the cache (qsessions' cached_db or a subclass)."""
    return _engine_caches_sessions(settings.SESSION_ENGINE)


def sessions_are_cache_only() -> bool:
    """Whether the configured SESSION_ENGINE keeps sessions in the cache only (qsessions.backends.cache)."""
    return _engine_keeps_cache_only(settings.SESSION_ENGINE)


def _forget_engine(setting: str, **kwargs: Any) -> None:
    if setting == "SESSION_ENGINE":
        _engine_caches_sessions.cache_clear()
        _engine_keeps_cache_only.cache_clear()


setting_changed.connect(_forget_engine, dispatch_uid="qsessions.cache.forget_engine")


def mark_lifetime(seconds_left: float | None = None) -> int:
    """How long tombstones and marks live: longer than any entry of the sessions they revoke can."""
    remaining = max(0, math.ceil(seconds_left or 0))
    return max(int(settings.SESSION_COOKIE_AGE), remaining) + MARK_MARGIN


def _write_tombstones(session_keys: list[str], lifetime: int, marks: bool) -> None:
    cache = session_cache()
    values: dict[str, Any] = {}
    for key in session_keys:
        values[entry_key(key)] = REVOKED
        if marks:
            values[mark_key(key)] = 1
    try:
        failed = cache.set_many(values, lifetime)
    except Exception:
        logger.exception("Error revoking sessions in cache (%s)", cache)
        return
    if failed:
        logger.error("The cache (%s) refused %d revocations", cache, len(failed))


def evict(
    session_keys: Iterable[str], seconds_left: float | None = None, *, always: bool = False, marks: bool = False
) -> None:
    """Make the session cache refuse these sessions, whose rows were just deleted.

    Called after the DELETE, inside its transaction when there is one: the rows' locks are held, so no
    save or activity write of these sessions can write an entry after the tombstones (see above). (If the
    revocation's transaction is rolled back, the tombstones sign those sessions out until a save of the
    session, which holds its row's lock again, replaces them.)
    ``seconds_left``: the longest remaining lifetime among these sessions, when known. Nothing happens when
    the configured engine keeps no sessions in the cache, unless ``always`` (a caching store evicting its own).
    ``marks``: also write revocation marks (the cache-only engine, which has no rows); they are written
    whenever that engine is configured.
    """
    if not (always or sessions_are_cached()):
        return
    keys = list(session_keys)
    if not keys:
        return
    _write_tombstones(keys, mark_lifetime(seconds_left), marks or sessions_are_cache_only())


def invalidate(session_key: str) -> None:
    """Make the next read of this session take it from its row: called under the row's lock, after a write of
    the row that leaves no fresh entry (the session stays valid)."""
    if sessions_are_cached():
        store(session_cache(), session_key, STALE, mark_lifetime())


def forget(session_keys: Iterable[str]) -> None:
    """Drop the entries of sessions whose rows were deleted as expired (their expiry refuses them already)."""
    if not sessions_are_cached():
        return
    cache = session_cache()
    try:
        cache.delete_many([entry_key(key) for key in session_keys])
    except Exception:
        logger.exception("Error deleting from cache (%s)", cache)
