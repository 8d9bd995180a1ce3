"""Cached, database-backed sessions: read from the cache first; written to the database, and to the cache
inside the same transaction. The cache (qsessions.cache) is an accelerator only: when it fails, the error
is logged and the request is served from the database; a revoked session is refused by it at once."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from django.db import router, transaction

from qsessions import cache as entries
from qsessions.backends.db import SessionStore as DatabaseStore
from qsessions.cache import KEY_PREFIX, REVOKED, REVOKED_SESSION, STALE, UNTRUSTED, Found, SessionRow, make_entry

__all__ = ["KEY_PREFIX", "SessionStore"]


class SessionStore(DatabaseStore):
    cache_key_prefix: ClassVar[str] = KEY_PREFIX
    caches_sessions: ClassVar[bool] = True

    @property
    def cache_key(self) -> str:
        return self.cache_key_prefix + self._get_or_create_session_key()

    async def acache_key(self) -> str:
        return self.cache_key_prefix + await self._aget_or_create_session_key()

    def _seconds_left(self, row: SessionRow | None = None) -> int:
        """Seconds until the stored row (or ``row``) expires (0: expired)."""
        row = row or self.row
        expire = row.expire_date if row is not None else None
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
        data = self._replace_untrusted(key) if found is UNTRUSTED else self._load_from_database(key)
        if self.ending is None and self.stale_key is None:
            return data
        return self._settle(data)

    def _load_from_database(self, key: str) -> dict[str, Any]:
        """After a miss: the row, added to the cache (``add``: never over what a write or a revocation put there)."""
        data = self._take_row(self._fetch_row())
        if self.ending is None and self.row is not None:  # timed out: ended next, not cached
            entries.fill(self._cache, key, make_entry(data, self.row), self._seconds_left())
        return data

    def _replace_untrusted(self, key: str) -> dict[str, Any]:
        """An entry not to be trusted (written by an older version) is replaced by one read from the row,
        under the row's lock; by ``REVOKED`` when the row is gone (see qsessions.cache)."""
        with transaction.atomic(using=router.db_for_write(self.model), savepoint=False):
            values = self._fetch_row(lock=True)
            if values is not None:
                data = self._take_row(values)
                if self.ending is None and self.row is not None:
                    entries.store(self._cache, key, make_entry(data, self.row), self._seconds_left())
                return data
        entries.store(self._cache, key, REVOKED, entries.mark_lifetime())
        return self._take_row(None)

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
        if found is UNTRUSTED:
            data = await sync_to_async(self._replace_untrusted)(key)
        else:
            data = await self._atake_row(await self._afetch_row())
            if self.ending is None and self.row is not None:
                await entries.afill(self._cache, key, make_entry(data, self.row), self._seconds_left())
        if self.ending is None and self.stale_key is None:
            return data
        return await sync_to_async(self._settle)(data)

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

    # -- writing: the entry is written with the row, inside its transaction --------------------------------

    def _row_written(self, key: str, data: dict[str, Any] | None) -> None:
        row = self.row
        assert row is not None  # just written
        timeout = self._seconds_left()
        if not timeout:  # expired as written: the next read finds no live row
            entries.store(self._cache, key, STALE, entries.mark_lifetime())
            return
        if data is not None:
            entries.store(self._cache, key, make_entry(data, row), timeout)
            return
        # An activity write changed only last_activity, and another request may have saved the session since
        # this one read it: its entry (written under the same lock, before) keeps its data, with the new time.
        current = entries.lookup(self._cache, key)
        if type(current) is Found:
            newer = current.row._replace(last_activity=row.last_activity)
            seconds = timeout if newer.expire_date is None else self._seconds_left(newer)
            if seconds:
                entries.store(self._cache, key, make_entry(current.data, newer), seconds)
