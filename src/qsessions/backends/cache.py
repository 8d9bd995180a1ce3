"""Sessions kept in Redis only, with no database: Django's ``cache`` engine plus what qsessions offers.

Each session is one cache entry in the cached_db engine's format (``qsessions.cache``: the data, and apart
from it the owner, client, times and expiry), under the same key. A session with an owner is also a member
of its owner's index (``qsessions.session_index``, a Redis sorted set), from which "Your sessions", the JSON
API and ``revoke_all`` list and revoke sessions (``qsessions.cache_sessions``). Deleting or revoking a
session leaves a tombstone and a revocation mark (``qsessions.cache``): a request racing it cannot bring
the session back.

Needs Django's RedisCache or django-redis for SESSION_CACHE_ALIAS (system check ``qsessions.E070``).
Like Django's ``cache`` engine, a session lives as long as its entry: a cache that fails or evicts it signs
the user out.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError

from qsessions import cache as entries
from qsessions import session_index
from qsessions.backends.db import SessionStore as DatabaseStore
from qsessions.cache import KEY_PREFIX, REVOKED_SESSION, Found, SessionRow, make_entry
from qsessions.models import user_id_from_session_data

__all__ = ["KEY_PREFIX", "SessionStore"]

# As Django's cache engine: a cache that fails silently (every add refused) must not loop forever.
CREATE_ATTEMPTS = 10_000


class SessionStore(DatabaseStore):
    cache_key_prefix: ClassVar[str] = KEY_PREFIX
    caches_sessions: ClassVar[bool] = True
    cache_only: ClassVar[bool] = True

    @property
    def cache_key(self) -> str:
        return self.cache_key_prefix + self._get_or_create_session_key()

    async def acache_key(self) -> str:
        return self.cache_key_prefix + await self._aget_or_create_session_key()

    def _seconds_left(self) -> int:
        expire = self.row.expire_date if self.row is not None else None
        return 0 if expire is None else max(0, int(expire - time.time()))

    # -- reading -----------------------------------------------------------------------------------------

    def _lookup(self, session_key: str | None) -> Found | str:
        if session_key is None or not self._validate_session_key(session_key):
            return entries.MISSING
        return entries.lookup_marked(self._cache, session_key)

    def load(self) -> dict[str, Any]:
        found = self._lookup(self.session_key)
        if type(found) is Found:
            self._take_stored(found.row)
            return found.data
        return self._session_not_found(revoked=found is REVOKED_SESSION)

    async def aload(self) -> dict[str, Any]:
        return await sync_to_async(self.load)()

    def exists(self, session_key: str) -> bool:
        return type(self._lookup(session_key)) is Found

    async def aexists(self, session_key: str) -> bool:
        return await sync_to_async(self.exists)(session_key)

    _cycled: tuple[str, SessionRow] | None = None  # the key cycle_key() is leaving, and its row

    def _created_at_of(self, session_key: str) -> Any:
        # cycle_key() asks this of the key it is leaving, then deletes that key: its row says whose it was.
        if self.row is None:
            found = self._lookup(session_key)
            if type(found) is Found:
                self.row = found.row
        if self.row is None:
            return None
        self._cycled = (session_key, self.row)
        return super()._created_at_of(session_key)

    # -- writing -----------------------------------------------------------------------------------------

    def create(self) -> None:
        for _ in range(CREATE_ATTEMPTS):
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError("Unable to create a new session key. It is likely that the cache is unavailable.")

    async def acreate(self) -> None:
        await sync_to_async(self.create)()

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        key = self.session_key
        data = self._get_session(no_load=must_create)
        before: SessionRow | None = None
        if not must_create:
            found = self._lookup(key)
            if type(found) is not Found:
                raise UpdateError  # deleted or revoked meanwhile: never resurrect it
            before = found.row
        now = time.time()
        age = self.get_expiry_age()
        expire_date = now + age
        ip, user_agent, hints = self._client_to_store()
        if before is not None:
            created_at = before.created_at
        elif self._carried_created_at is not None:
            created_at = self._carried_created_at.timestamp()
        else:
            created_at = now
        row = SessionRow(user_id_from_session_data(data), ip, user_agent, hints, created_at, now, expire_date)
        previous_owner = before.user_id if before is not None else None
        if row.user_id is not None and (
            row.user_id != previous_owner or session_index.needs_update(before and before.expire_date, expire_date)
        ):
            # Indexed before the entry is written: a revoke_all() running meanwhile finds it and marks it.
            session_index.add(settings.SESSION_CACHE_ALIAS, row.user_id, key, expire_date, previous_owner)
        elif row.user_id is None and previous_owner is not None:
            session_index.remove(settings.SESSION_CACHE_ALIAS, [(previous_owner, key)])
        entry = make_entry(data, row)
        if must_create:
            if key != self._drawn_key:
                entries.unmark(self._cache, key)  # a key once revoked, reused on purpose
            if not self._cache.add(entries.entry_key(key), entry, age):
                taken = self._lookup(key)  # the session already under this key stays indexed
                if row.user_id is not None and not (type(taken) is Found and taken.row.user_id == row.user_id):
                    session_index.remove(settings.SESSION_CACHE_ALIAS, [(row.user_id, key)])
                raise CreateError
        else:
            self._cache.set(entries.entry_key(key), entry, age)
        self.row = row
        if before is not None:
            self._report_client_change(key, before, row)

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        await sync_to_async(self.save)(must_create)

    # -- last activity ------------------------------------------------------------------------------------

    def _record_activity(self) -> bool:
        row = self.row
        key = self.session_key
        timeout = self._seconds_left()
        if row is None or key is None or not timeout:
            return False
        self.row = row._replace(last_activity=time.time())
        entries.store(self._cache, key, make_entry(self._get_session(), self.row), timeout)
        return True

    # -- deleting ----------------------------------------------------------------------------------------

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        row = self.row if session_key == self.session_key else None
        if row is None and self._cycled is not None and self._cycled[0] == session_key:
            row = self._cycled[1]
            self._cycled = None
        if row is None:
            found = self._lookup(session_key)
            row = found.row if type(found) is Found else None
        seconds_left = None if row is None or row.expire_date is None else row.expire_date - time.time()
        entries.evict([session_key], seconds_left=seconds_left, always=True, marks=True)
        if row is not None and row.user_id is not None:
            session_index.remove(settings.SESSION_CACHE_ALIAS, [(row.user_id, session_key)])

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to do: entries, marks and indexes expire in the cache by themselves."""

    @classmethod
    async def aclear_expired(cls) -> None:
        """See clear_expired()."""

    @classmethod
    def delete_expired(cls) -> int:
        return 0

    @classmethod
    async def adelete_expired(cls) -> int:
        return 0
