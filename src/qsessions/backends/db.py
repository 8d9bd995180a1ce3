"""Database-backed sessions that record their owner, client IP, user agent and creation time."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DjangoDatabaseStore
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils import timezone

from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY
from qsessions.client import (
    client_hints_for_storage,
    client_ip_for_storage,
    merge_client_hints,
    user_agent_for_storage,
)

if TYPE_CHECKING:
    from qsessions.models import Session

# Columns written when an existing session is saved. ``created_at`` is absent on purpose: it is set
# once, by the INSERT, and never needs to be read back before an UPDATE.
UPDATE_FIELDS = (
    "session_data",
    "expire_date",
    "user",
    "user_agent",
    "ip",
    "client_hints",
    "updated_at",
    "public_id",
)

# Expired sessions are deleted this many at a time, so that clearsessions never holds a long lock
# nor loads millions of keys into memory.
CLEAR_EXPIRED_BATCH_SIZE = 5_000

_Value = TypeVar("_Value")


class SessionStore(DjangoDatabaseStore):
    """Django's database session store, plus the session's owner and client in columns of their own."""

    # Whether this engine keeps a copy of sessions in the cache (see qsessions.backends.cached_db).
    caches_sessions: ClassVar[bool] = False

    if TYPE_CHECKING:  # Django's internals that django-stubs does not declare, as this class uses them
        model: type[Session]
        _session: dict[str, Any]
        _session_cache: dict[str, Any]

        def _get_session(self, no_load: bool = False) -> dict[str, Any]: ...
        async def _aget_session(self, no_load: bool = False) -> dict[str, Any]: ...
        def _get_or_create_session_key(self) -> str: ...
        async def _aget_or_create_session_key(self) -> str: ...
        def _get_session_from_db(self) -> Session | None: ...
        async def _aget_session_from_db(self) -> Session | None: ...

    def __init__(
        self,
        session_key: str | None = None,
        user_agent: str | None = None,
        ip: str | None = None,
        client_hints: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(session_key)
        # ``None`` means "not known for this request": a save then keeps what the session has stored.
        # Each value is kept in the form the privacy settings allow to be stored (see qsessions.client).
        self.user_agent = user_agent_for_storage(user_agent)
        self.ip = client_ip_for_storage(ip)
        self.client_hints = client_hints_for_storage(client_hints)
        self._created_at: datetime.datetime | None = None
        self._carried_created_at: datetime.datetime | None = None

    @classmethod
    def get_model_class(cls) -> Any:
        from qsessions.models import Session

        return Session

    # -- cache hooks, no-ops here; cached_db fills them in ---------------------------------------------

    @classmethod
    def evict_cached(cls, session_keys: list[str], using: str | None = None) -> None:
        """Remove these sessions from the session cache, if this engine has one."""

    @classmethod
    async def aevict_cached(cls, session_keys: list[str]) -> None:
        """See evict_cached()."""

    # -- reading -----------------------------------------------------------------------------------------

    def decode(self, session_data: bytes | str) -> dict[str, Any]:
        data = super().decode(session_data)
        # Sessions written by django-qsessions 2.x carry the client in their data; it lives in columns now.
        data.pop(IP_SESSION_KEY, None)
        data.pop(USER_AGENT_SESSION_KEY, None)
        return data

    def _remember_stored(
        self,
        ip: str | None,
        user_agent: str | None,
        created_at: datetime.datetime | None,
        client_hints: Any = None,
    ) -> None:
        """Take in what the stored session says about its client; a changed client makes it modified."""
        self._created_at = created_at
        self.ip = self._merge_stored(self.ip, ip, client_ip_for_storage)
        self.user_agent = self._merge_stored(self.user_agent, user_agent, user_agent_for_storage)
        hints = merge_client_hints(client_hints_for_storage(client_hints), self.client_hints)
        if hints != client_hints:
            self.modified = True
        self.client_hints = hints

    def _merge_stored(self, current: _Value | None, stored: Any, for_storage: Callable[[Any], _Value | None]) -> Any:
        """This request's value (already in stored form) against the stored one, compared in stored form.

        A value stored under other privacy settings (a full IP, now truncated or not kept) is rewritten once.
        """
        kept = for_storage(stored)
        if kept != stored or (current is not None and current != kept):
            self.modified = True
        return kept if current is None else current

    def _data_from_row(self, row: Session | None) -> dict[str, Any]:
        if row is None:
            return {}
        self._remember_stored(row.ip, row.user_agent, row.created_at, row.client_hints)
        return self.decode(row.session_data)

    def load(self) -> dict[str, Any]:
        return self._data_from_row(self._get_session_from_db())

    async def aload(self) -> dict[str, Any]:
        return self._data_from_row(await self._aget_session_from_db())

    # -- writing -----------------------------------------------------------------------------------------

    def _build_instance(self, session_key: str, data: dict[str, Any], expire_date: datetime.datetime) -> Session:
        from qsessions.models import user_id_from_session_data

        return self.model(
            session_key=session_key,
            session_data=self.encode(data),
            expire_date=expire_date,
            user_id=user_id_from_session_data(data),
            user_agent=user_agent_for_storage(self.user_agent),
            ip=client_ip_for_storage(self.ip),
            client_hints=client_hints_for_storage(self.client_hints),
        )

    def create_model_instance(self, data: dict[str, Any]) -> Session:
        return self._build_instance(self._get_or_create_session_key(), data, self.get_expiry_date())

    async def acreate_model_instance(self, data: dict[str, Any]) -> Session:
        return self._build_instance(await self._aget_or_create_session_key(), data, await self.aget_expiry_date())

    def _write(self, obj: Session, must_create: bool) -> None:
        """INSERT (``must_create``) or UPDATE the session row, with Django's CreateError/UpdateError contract."""
        if must_create:
            obj.created_at = self._carried_created_at or timezone.now()
        using = router.db_for_write(self.model, instance=obj)
        for attempt in (1, 2):
            try:
                with transaction.atomic(using=using):
                    if must_create:
                        obj.save(force_insert=True, using=using)
                    else:
                        obj.save(force_update=True, update_fields=UPDATE_FIELDS, using=using)
            except IntegrityError:
                # The owner named in the data may have been deleted meanwhile: such a session is
                # anonymous to django.contrib.auth, so store it without an owner rather than fail.
                if attempt == 1 and obj.user_id is not None and not self._user_exists(obj.user_id, using):
                    obj.user_id = None
                    continue
                if must_create:
                    raise CreateError from None
                raise
            except DatabaseError:
                if not must_create:
                    raise UpdateError from None
                raise
            break
        if must_create:
            self._created_at = obj.created_at

    def _user_exists(self, user_id: Any, using: str) -> bool:
        from django.contrib.auth import get_user_model

        return get_user_model()._base_manager.using(using).filter(pk=user_id).exists()

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        self._write(self.create_model_instance(data), must_create)

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        data = await self._aget_session(no_load=must_create)
        obj = await self.acreate_model_instance(data)
        # transaction.atomic() has no async form yet, so the write runs in a thread, as in Django.
        from asgiref.sync import sync_to_async

        await sync_to_async(self._write)(obj, must_create)

    # -- new keys keep the session's creation time ------------------------------------------------------

    def _stored_created_at(self, session_key: str) -> datetime.datetime | None:
        if self._created_at is not None:
            return self._created_at
        return self.model._base_manager.filter(pk=session_key).values_list("created_at", flat=True).first()

    async def _astored_created_at(self, session_key: str) -> datetime.datetime | None:
        if self._created_at is not None:
            return self._created_at
        return await self.model._base_manager.filter(pk=session_key).values_list("created_at", flat=True).afirst()

    def cycle_key(self) -> None:
        """Move the session to a new key (as login does), keeping its data and its creation time."""
        data = self._session
        key = self.session_key
        self._carried_created_at = self._stored_created_at(key) if key else None
        try:
            self.create()
        finally:
            self._carried_created_at = None
        self._session_cache = data
        if key:
            self.delete(key)

    async def acycle_key(self) -> None:
        data = await self._aget_session()
        key = self.session_key
        self._carried_created_at = await self._astored_created_at(key) if key else None
        try:
            await self.acreate()
        finally:
            self._carried_created_at = None
        self._session_cache = data
        if key:
            await self.adelete(key)

    # -- deleting ----------------------------------------------------------------------------------------

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        using = router.db_for_write(self.model)
        self.model._base_manager.using(using).filter(pk=session_key).delete()
        self.evict_cached([session_key], using=using)

    async def adelete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        await self.model._base_manager.filter(pk=session_key).adelete()
        await self.aevict_cached([session_key])

    @classmethod
    def clear_expired(cls) -> None:
        cls.delete_expired()

    @classmethod
    async def aclear_expired(cls) -> None:
        await cls.adelete_expired()

    @classmethod
    def delete_expired(cls) -> int:
        """Delete expired sessions in batches, from the database and the cache; return how many."""
        manager = cls.get_model_class()._base_manager
        now = timezone.now()
        total = 0
        while True:
            keys = list(manager.filter(expire_date__lt=now).values_list("pk", flat=True)[:CLEAR_EXPIRED_BATCH_SIZE])
            if not keys:
                return total
            total += manager.filter(pk__in=keys).delete()[0]
            cls.evict_cached(keys, using=manager.db)

    @classmethod
    async def adelete_expired(cls) -> int:
        manager = cls.get_model_class()._base_manager
        now = timezone.now()
        total = 0
        while True:
            batch = manager.filter(expire_date__lt=now).values_list("pk", flat=True)[:CLEAR_EXPIRED_BATCH_SIZE]
            keys = [key async for key in batch]
            if not keys:
                return total
            total += (await manager.filter(pk__in=keys).adelete())[0]
            await cls.aevict_cached(keys)
