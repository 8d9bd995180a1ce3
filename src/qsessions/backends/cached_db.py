"""Cached, database-backed sessions: written to the database first, then to the cache; read from the
cache first. The cache is an accelerator only: when it fails, the error is logged and the request is
served from the database."""

from __future__ import annotations

import datetime
import logging
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache import caches
from django.db import connections, router, transaction
from django.utils import timezone

from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY
from qsessions.backends.db import SessionStore as DatabaseStore

KEY_PREFIX = "qsessions.q_cached_db"

# A cache entry is the session data plus, under these reserved keys, what the row's columns say about
# the client. The first two are the keys django-qsessions 2.x used, so entries of either version load.
CREATED_AT_CACHE_KEY = "_qsessions_created_at"
CLIENT_HINTS_CACHE_KEY = "_qsessions_client_hints"
_METADATA_KEYS = (IP_SESSION_KEY, USER_AGENT_SESSION_KEY, CREATED_AT_CACHE_KEY, CLIENT_HINTS_CACHE_KEY)
# The row's last activity and expiry: a cache hit knows whether an activity write is due, and the entry
# rewritten after that write keeps the row's remaining lifetime.
LAST_ACTIVITY_CACHE_KEY = "_qsessions_last_activity"
EXPIRE_DATE_CACHE_KEY = "_qsessions_expire_date"
# The row's owner: the data may name a user that no longer exists, stored as no owner.
OWNER_CACHE_KEY = "_qsessions_user_id"

# Django logs cache failures of its cached_db engine here; operators already watch this logger.
logger = logging.getLogger("django.contrib.sessions")


class SessionStore(DatabaseStore):
    cache_key_prefix: ClassVar[str] = KEY_PREFIX
    caches_sessions: ClassVar[bool] = True

    def __init__(
        self,
        session_key: str | None = None,
        user_agent: str | None = None,
        ip: str | None = None,
        client_hints: dict[str, Any] | None = None,
    ) -> None:
        self._cache = caches[settings.SESSION_CACHE_ALIAS]
        super().__init__(session_key, user_agent=user_agent, ip=ip, client_hints=client_hints)

    @property
    def cache_key(self) -> str:
        return self.cache_key_prefix + self._get_or_create_session_key()

    async def acache_key(self) -> str:
        return self.cache_key_prefix + await self._aget_or_create_session_key()

    # -- cache entries -----------------------------------------------------------------------------------

    def _cache_entry(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            **data,
            IP_SESSION_KEY: self.ip,
            USER_AGENT_SESSION_KEY: self.user_agent,
            CREATED_AT_CACHE_KEY: self._created_at,
            CLIENT_HINTS_CACHE_KEY: self.client_hints,
            LAST_ACTIVITY_CACHE_KEY: self._last_activity,
            EXPIRE_DATE_CACHE_KEY: self._expire_date,
            OWNER_CACHE_KEY: self._stored_owner_id,
        }

    def _data_from_cache(self, entry: Any) -> dict[str, Any] | None:
        """The session data in a cache entry, or ``None`` when the entry is missing or unusable."""
        if not isinstance(entry, dict):
            return None
        data = dict(entry)
        ip, user_agent, created_at, client_hints = (data.pop(key, None) for key in _METADATA_KEYS)
        last_activity, expire_date = data.pop(LAST_ACTIVITY_CACHE_KEY, None), data.pop(EXPIRE_DATE_CACHE_KEY, None)
        if OWNER_CACHE_KEY in data:  # absent from entries written by django-qsessions 2.x
            self._remember_owner(data.pop(OWNER_CACHE_KEY))
        self._remember_stored(
            ip if isinstance(ip, str) else None,
            user_agent if isinstance(user_agent, str) else None,
            created_at if isinstance(created_at, datetime.datetime) else None,
            client_hints if isinstance(client_hints, dict) else None,
        )
        self._remember_activity(
            last_activity if isinstance(last_activity, datetime.datetime) else None,
            expire_date if isinstance(expire_date, datetime.datetime) else None,
        )
        return data

    def _cache_get(self, key: str) -> Any:
        try:
            return self._cache.get(key)
        except Exception:
            # Invalid keys (memcached rejects some) and unreachable servers alike: read the database.
            logger.warning("Error reading from cache (%s)", self._cache, exc_info=True)
            return None

    async def _acache_get(self, key: str) -> Any:
        try:
            return await self._cache.aget(key)
        except Exception:
            logger.warning("Error reading from cache (%s)", self._cache, exc_info=True)
            return None

    def _cache_set(self, key: str, entry: dict[str, Any], timeout: int) -> None:
        try:
            self._cache.set(key, entry, timeout)
        except Exception:
            logger.exception("Error saving to cache (%s)", self._cache)
            # A server that refuses the write (out of memory, value too large) still serves the previous
            # entry: drop it, or it would win over the newer row just written to the database.
            try:
                self._cache.delete(key)
            except Exception:
                logger.warning("Error deleting from cache (%s)", self._cache, exc_info=True)

    async def _acache_set(self, key: str, entry: dict[str, Any], timeout: int) -> None:
        try:
            await self._cache.aset(key, entry, timeout)
        except Exception:
            logger.exception("Error saving to cache (%s)", self._cache)
            try:
                await self._cache.adelete(key)
            except Exception:
                logger.warning("Error deleting from cache (%s)", self._cache, exc_info=True)

    # A read-through fill only adds: a save that ran between our database read and this fill has
    # written a newer entry, which must not be overwritten with the older row.

    def _cache_fill(self, key: str, entry: dict[str, Any], timeout: int) -> None:
        try:
            self._cache.add(key, entry, timeout)
        except Exception:
            logger.exception("Error saving to cache (%s)", self._cache)

    async def _acache_fill(self, key: str, entry: dict[str, Any], timeout: int) -> None:
        try:
            await self._cache.aadd(key, entry, timeout)
        except Exception:
            logger.exception("Error saving to cache (%s)", self._cache)

    @classmethod
    def evict_cached(cls, session_keys: list[str], using: str | None = None) -> None:
        """Remove sessions from the cache now, and again once the surrounding transaction commits.

        The second eviction closes the window in which a concurrent request reads the row that is being
        deleted (not yet committed) and writes it back into the cache.
        """
        if not session_keys:
            return
        cls._delete_many(session_keys)
        alias = using or router.db_for_write(cls.get_model_class())
        if connections[alias].in_atomic_block:
            keys = list(session_keys)
            transaction.on_commit(lambda: cls._delete_many(keys), using=alias)

    @classmethod
    def _delete_many(cls, session_keys: list[str]) -> None:
        cache = caches[settings.SESSION_CACHE_ALIAS]
        try:
            cache.delete_many([cls.cache_key_prefix + key for key in session_keys])
        except Exception:
            logger.exception("Error deleting from cache (%s)", cache)

    @classmethod
    async def aevict_cached(cls, session_keys: list[str]) -> None:
        if not session_keys:
            return
        cache = caches[settings.SESSION_CACHE_ALIAS]
        try:
            await cache.adelete_many([cls.cache_key_prefix + key for key in session_keys])
        except Exception:
            logger.exception("Error deleting from cache (%s)", cache)

    # -- last activity ------------------------------------------------------------------------------------

    def _remaining_seconds(self) -> int | None:
        """Seconds until the stored row expires, or ``None`` when this entry does not say (or it has expired)."""
        if self._expire_date is None:
            return None
        remaining = int((self._expire_date - timezone.now()).total_seconds())
        return remaining if remaining > 0 else None

    def touch(self) -> bool:
        if not self.activity_due():
            return False
        data = self._get_session()  # before the write: a (re)load must not undo the new time
        if not super().touch():
            return False
        timeout = self._remaining_seconds()
        if timeout is None:
            self.evict_cached([self._get_or_create_session_key()])
        else:
            self._cache_set(self.cache_key, self._cache_entry(data), timeout)
        return True

    async def atouch(self) -> bool:
        if not self.activity_due():
            return False
        data = await self._aget_session()
        if not await super().atouch():
            return False
        timeout = self._remaining_seconds()
        if timeout is None:
            await self.aevict_cached([await self._aget_or_create_session_key()])
        else:
            await self._acache_set(await self.acache_key(), self._cache_entry(data), timeout)
        return True

    # -- the store ---------------------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        data = self._data_from_cache(self._cache_get(self.cache_key))
        if data is not None:
            return data
        row = self._get_session_from_db()
        if row is None:
            return {}
        data = self._data_from_row(row)
        self._cache_fill(self.cache_key, self._cache_entry(data), self.get_expiry_age(expiry=row.expire_date))
        return data

    async def aload(self) -> dict[str, Any]:
        data = self._data_from_cache(await self._acache_get(await self.acache_key()))
        if data is not None:
            return data
        row = await self._aget_session_from_db()
        if row is None:
            return {}
        data = self._data_from_row(row)
        timeout = await self.aget_expiry_age(expiry=row.expire_date)
        await self._acache_fill(await self.acache_key(), self._cache_entry(data), timeout)
        return data

    def exists(self, session_key: str) -> bool:
        if session_key:
            try:
                if (self.cache_key_prefix + session_key) in self._cache:
                    return True
            except Exception:
                logger.warning("Error reading from cache (%s)", self._cache, exc_info=True)
        return bool(super().exists(session_key))

    async def aexists(self, session_key: str) -> bool:
        if session_key:
            try:
                if await self._cache.ahas_key(self.cache_key_prefix + session_key):
                    return True
            except Exception:
                logger.warning("Error reading from cache (%s)", self._cache, exc_info=True)
        return bool(await super().aexists(session_key))

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        super().save(must_create)
        self._cache_set(self.cache_key, self._cache_entry(self._session), self.get_expiry_age())

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        await super().asave(must_create)
        entry = self._cache_entry(await self._aget_session())
        await self._acache_set(await self.acache_key(), entry, await self.aget_expiry_age())
