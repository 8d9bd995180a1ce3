"""Cached, database-backed sessions: written to the database first, then to the cache; read from the
cache first. The cache (qsessions.cache) is an accelerator only: when it fails, the error is logged and
the request is served from the database; a revoked session is refused by it at once."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches

from qsessions import cache as entries
from qsessions.backends.db import SessionStore as DatabaseStore
from qsessions.cache import KEY_PREFIX, REVOKED_SESSION, UNTRUSTED, Found, make_entry
from qsessions.client import AnyClient

__all__ = ["KEY_PREFIX", "SessionStore"]


class SessionStore(DatabaseStore):
    cache_key_prefix: ClassVar[str] = KEY_PREFIX
    caches_sessions: ClassVar[bool] = True

    def __init__(
        self,
        session_key: str | None = None,
        user_agent: str | None = None,
        ip: str | None = None,
        client_hints: dict[str, Any] | None = None,
        *,
        client: AnyClient | None = None,
    ) -> None:
        self._cache = caches[settings.SESSION_CACHE_ALIAS]  # as Django's cached_db names it
        super().__init__(session_key, user_agent, ip, client_hints, client=client)

    @property
    def cache_key(self) -> str:
        return self.cache_key_prefix + self._get_or_create_session_key()

    async def acache_key(self) -> str:
        return self.cache_key_prefix + await self._aget_or_create_session_key()

    def _entry(self) -> tuple[Any, ...]:
        assert self.row is not None  # written or read by now
        return make_entry(self._session_cache, self.row)

    def _seconds_left(self) -> int:
        """Seconds until the stored row expires (0: expired)."""
        expire = self.row.expire_date if self.row is not None else None
        return 0 if expire is None else max(0, int(expire - time.time()))

    # -- reading -----------------------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        key = self._get_or_create_session_key()
        found = entries.lookup(self._cache, key)
        if isinstance(found, Found):
            self._take_stored(found.row)
            if self.ending is None:
                return found.data
            return self._settle(found.data)  # timed out (qsessions.lifecycle)
        if found is REVOKED_SESSION:
            return self._settle(self._session_not_found(revoked=True))
        data = self._load_from_database(key, found)
        if self.ending is None and self.stale_key is None:
            return data
        return self._settle(data)

    def _load_from_database(self, key: str, found: str) -> dict[str, Any]:
        data = self._take_row(self._fetch_row())
        if self.ending is not None:  # timed out: ended next, not cached
            return data
        if self.row is None:
            if found is UNTRUSTED:  # an entry whose row is gone (deleted behind the cache's back)
                entries.delete(self._cache, key)
        elif found is UNTRUSTED:  # replaced by one that is checked against the row
            entries.store(self._cache, key, make_entry(data, self.row), self._seconds_left())
        else:
            entries.fill(self._cache, key, make_entry(data, self.row), self._seconds_left())
        return data

    async def aload(self) -> dict[str, Any]:
        key = await self._aget_or_create_session_key()
        found = await entries.alookup(self._cache, key)
        if isinstance(found, Found):
            self._take_stored(found.row)
            if self.ending is None:
                return found.data
            return await sync_to_async(self._settle)(found.data)
        if found is REVOKED_SESSION:
            return await sync_to_async(self._settle)(self._session_not_found(revoked=True))
        data = await self._aload_from_database(key, found)
        if self.ending is None and self.stale_key is None:
            return data
        return await sync_to_async(self._settle)(data)

    async def _aload_from_database(self, key: str, found: str) -> dict[str, Any]:
        data = await self._atake_row(await self._afetch_row())
        if self.ending is not None:
            return data
        if self.row is None:
            if found is UNTRUSTED:
                await entries.adelete(self._cache, key)
        elif found is UNTRUSTED:
            await entries.astore(self._cache, key, make_entry(data, self.row), self._seconds_left())
        else:
            await entries.afill(self._cache, key, make_entry(data, self.row), self._seconds_left())
        return data

    def exists(self, session_key: str) -> bool:
        if session_key:
            found = entries.lookup(self._cache, session_key)
            if isinstance(found, Found):
                return True
            if found is REVOKED_SESSION:
                return False
        return bool(super().exists(session_key))

    async def aexists(self, session_key: str) -> bool:
        if session_key:
            found = await entries.alookup(self._cache, session_key)
            if isinstance(found, Found):
                return True
            if found is REVOKED_SESSION:
                return False
        return bool(await super().aexists(session_key))

    # -- writing -----------------------------------------------------------------------------------------

    def _chosen_key(self, must_create: bool) -> bool:
        """Whether this write creates a session under a key the caller chose (not one drawn here)."""
        return must_create and self.session_key != self._drawn_key

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        super().save(must_create)
        key = self._get_or_create_session_key()
        if self._chosen_key(must_create):
            entries.unmark(self._cache, key)  # a key once revoked, reused on purpose
        entries.store(self._cache, key, self._entry(), self.get_expiry_age())

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        await super().asave(must_create)
        key = await self._aget_or_create_session_key()
        if self._chosen_key(must_create):
            await entries.aunmark(self._cache, key)
        await entries.astore(self._cache, key, self._entry(), await self.aget_expiry_age())

    # -- last activity ------------------------------------------------------------------------------------

    def touch(self) -> bool:
        if not self.activity_due():
            return False
        self._get_session()  # loaded before the write: a load after it would bring back the old time
        if not self._record_activity():
            return False
        key = self._get_or_create_session_key()
        timeout = self._seconds_left()
        if timeout:
            entries.store(self._cache, key, self._entry(), timeout)
        else:
            entries.delete(self._cache, key)
        return True

    async def atouch(self) -> bool:
        if not self.activity_due():
            return False
        await self._aget_session()
        if not await sync_to_async(self._record_activity)():
            return False
        key = await self._aget_or_create_session_key()
        timeout = self._seconds_left()
        if timeout:
            await entries.astore(self._cache, key, self._entry(), timeout)
        else:
            await entries.adelete(self._cache, key)
        return True
