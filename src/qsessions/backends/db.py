"""Database-backed sessions that record their owner, client IP, user agent and creation time."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DjangoDatabaseStore
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY
from qsessions.client import (
    client_hints_for_storage,
    client_ip_for_storage,
    merge_client_hints,
    user_agent_for_storage,
)
from qsessions.conf import settings as qsessions_settings
from qsessions.signals import session_client_changed, session_created

if TYPE_CHECKING:
    from qsessions.models import Session

# Columns written when an existing session is saved. ``created_at`` and ``public_id`` are absent on
# purpose: they are set once, by the INSERT, and never need to be read back before an UPDATE.
UPDATE_FIELDS = (
    "session_data",
    "expire_date",
    "user",
    "user_agent",
    "ip",
    "client_hints",
    "updated_at",
    "last_activity",
)

# Expired sessions are deleted this many at a time, so that clearsessions never holds a long lock
# nor loads millions of keys into memory.
CLEAR_EXPIRED_BATCH_SIZE = 5_000

_Value = TypeVar("_Value")


class _ClientValue(Generic[_Value]):
    """A client attribute of a store: resolved from the bound request when first read or written, and
    kept in the form the privacy settings allow to be stored (``for_storage``), ``None`` when unknown."""

    def __init__(self, for_storage: Callable[[Any], _Value | None]) -> None:
        self.for_storage = for_storage

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = f"_{name}"

    @overload
    def __get__(self, store: None, owner: type) -> _ClientValue[_Value]: ...
    @overload
    def __get__(self, store: SessionStore, owner: type) -> _Value | None: ...
    def __get__(self, store: SessionStore | None, owner: type) -> _ClientValue[_Value] | _Value | None:
        if store is None:
            return self
        store._resolve_client()
        value: _Value | None = getattr(store, self.attribute)
        return value

    def __set__(self, store: SessionStore, value: Any) -> None:
        store._resolve_client()
        setattr(store, self.attribute, None if value is None else self.for_storage(value))


class SessionStore(DjangoDatabaseStore):
    """Django's database session store, plus the session's owner and client in columns of their own."""

    # Whether this engine keeps a copy of sessions in the cache (see qsessions.backends.cached_db).
    caches_sessions: ClassVar[bool] = False

    # The client, in the form the privacy settings allow to be stored; None: unknown, keep what is stored.
    ip = _ClientValue(client_ip_for_storage)
    user_agent = _ClientValue(user_agent_for_storage)
    client_hints = _ClientValue(client_hints_for_storage)

    if TYPE_CHECKING:  # Django's internals that django-stubs does not declare, as this class uses them
        model: type[Session]
        _session: dict[str, Any]
        _session_cache: dict[str, Any]
        _ip: str | None  # behind the ip, user_agent and client_hints descriptors
        _user_agent: str | None
        _client_hints: dict[str, Any] | None

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
        self._client_source: Callable[[], tuple[Any, Any, Any]] | None = None
        self.user_agent, self.ip, self.client_hints = user_agent, ip, client_hints
        self._created_at: datetime.datetime | None = None
        self._carried_created_at: datetime.datetime | None = None
        # Owners known to exist: the stored one, and the user that logged in on this request. Any other
        # owner named in the data is checked before it is written (see _write).
        self._known_owner_ids: set[Any] = set()
        self._stored_owner_id: Any = None  # the owner in the row as last read or written
        # What the stored row says, once this store has read or written it (None: it has not).
        self._stored_client: tuple[str | None, str | None] | None = None
        self._last_activity: datetime.datetime | None = None
        self._expire_date: datetime.datetime | None = None

    # -- the client, resolved when first needed ----------------------------------------------------------

    def bind_client(self, source: Callable[[], tuple[Any, Any, Any]]) -> None:
        """Take the client (user agent, IP, client hints) from ``source()`` when the session first needs it.

        The middleware binds the request this way, so a request that never loads nor saves its session
        (most anonymous requests) never pays for resolving its client.
        """
        self._client_source = source

    def _resolve_client(self) -> None:
        source, self._client_source = self._client_source, None
        if source is not None:  # cleared first: the setters below resolve nothing more
            self.user_agent, self.ip, self.client_hints = source()

    def trust_owner(self, user_id: Any) -> None:
        """Record that ``user_id`` exists (django.contrib.auth just logged that user in)."""
        self._known_owner_ids.add(user_id)

    def _remember_owner(self, user_id: Any) -> None:
        """The row's owner (possibly None even if the data names a user that no longer exists)."""
        self._stored_owner_id = user_id
        self._known_owner_ids.add(user_id)

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

    # -- new keys ------------------------------------------------------------------------------------------

    def _get_new_session_key(self) -> str:
        # Django first asks the database whether a random key is free; the INSERT that follows already
        # refuses a duplicate (CreateError, and create() draws again), so that query is skipped.
        return get_random_string(32, VALID_KEY_CHARS)

    async def _aget_new_session_key(self) -> str:
        return self._get_new_session_key()

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
        self._stored_client = (ip, user_agent)  # compared with the client when the row is written
        self._resolve_client()
        self._ip = self._merge_stored(self._ip, ip, client_ip_for_storage)
        self._user_agent = self._merge_stored(self._user_agent, user_agent, user_agent_for_storage)
        if client_hints is not None or self._client_hints is not None:
            hints = merge_client_hints(client_hints_for_storage(client_hints), self._client_hints)
            if hints != client_hints:
                self.modified = True
            self._client_hints = hints

    def _merge_stored(self, current: _Value | None, stored: Any, for_storage: Callable[[Any], _Value | None]) -> Any:
        """This request's value (already in stored form) against the stored one, compared in stored form.

        A value stored under other privacy settings (a full IP, now truncated or not kept) is rewritten once.
        """
        kept = None if stored is None else for_storage(stored)
        if kept != stored or (current is not None and current != kept):
            self.modified = True
        return kept if current is None else current

    def _data_from_row(self, row: Session | None) -> dict[str, Any]:
        if row is None:
            return {}
        self._remember_stored(row.ip, row.user_agent, row.created_at, row.client_hints)
        self._remember_owner(row.user_id)
        self._remember_activity(row.last_activity, row.expire_date)
        return self.decode(row.session_data)

    def _remember_activity(
        self, last_activity: datetime.datetime | None, expire_date: datetime.datetime | None
    ) -> None:
        self._last_activity = last_activity
        self._expire_date = expire_date

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
            user_agent=self.user_agent,
            ip=self.ip,
            client_hints=self.client_hints,
        )

    def create_model_instance(self, data: dict[str, Any]) -> Session:
        return self._build_instance(self._get_or_create_session_key(), data, self.get_expiry_date())

    async def acreate_model_instance(self, data: dict[str, Any]) -> Session:
        return self._build_instance(await self._aget_or_create_session_key(), data, await self.aget_expiry_date())

    def _write(self, obj: Session, must_create: bool) -> None:
        """INSERT (``must_create``) or UPDATE the session row, with Django's CreateError/UpdateError contract."""
        now = timezone.now()
        obj.last_activity = now
        if must_create:
            obj.created_at = self._carried_created_at or now
        using = router.db_for_write(self.model, instance=obj)
        # An owner that does not exist (deleted meanwhile, or a bogus id put in the data) would violate
        # the foreign key, on some databases only at commit, far from here. django.contrib.auth treats
        # such a session as anonymous, so it is stored without an owner.
        if obj.user_id not in self._known_owner_ids and not self._user_exists(obj.user_id, using):
            obj.user_id = None
        try:
            with transaction.atomic(using=using):
                if must_create:
                    obj.save(force_insert=True, using=using)
                else:
                    obj.save(force_update=True, update_fields=UPDATE_FIELDS, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise
        self._remember_owner(obj.user_id)
        if must_create:
            self._created_at = obj.created_at
        self._remember_activity(obj.last_activity, obj.expire_date)
        self._send_write_signals(obj, must_create)

    def _send_write_signals(self, obj: Session, must_create: bool) -> None:
        stored, self._stored_client = self._stored_client, (obj.ip, obj.user_agent)
        if must_create:
            session_created.send(sender=type(obj), session=obj, request=None)
            return
        old_ip, old_user_agent = stored or (None, None)
        # A client first seen now (nothing stored before) is no change; a different one is.
        ip_changed = old_ip is not None and obj.ip is not None and old_ip != obj.ip
        agent_changed = old_user_agent is not None and obj.user_agent is not None and old_user_agent != obj.user_agent
        if ip_changed or agent_changed:
            if obj.public_id is None:  # an UPDATE does not write it; receivers identify sessions by it
                from qsessions.models import make_public_id

                obj.public_id = make_public_id(obj.session_key)
            session_client_changed.send(
                sender=type(obj),
                session=obj,
                old_ip=old_ip,
                new_ip=obj.ip,
                old_user_agent=old_user_agent,
                new_user_agent=obj.user_agent,
                request=None,
            )

    def _user_exists(self, user_id: Any, using: str) -> bool:
        if user_id is None:
            return True  # no owner is always valid
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

    # -- last activity ----------------------------------------------------------------------------------

    def activity_due(self) -> bool:
        """Whether this request should record the session's activity: it read a stored session whose last
        activity is older than QSESSIONS_ACTIVITY_INTERVAL (or unknown)."""
        if self._stored_client is None or self.session_key is None:
            return False
        if self._last_activity is None:
            return True
        interval = datetime.timedelta(seconds=qsessions_settings.ACTIVITY_INTERVAL)
        return timezone.now() - self._last_activity >= interval

    def touch(self) -> bool:
        """Record that the session is in use, when due: one UPDATE of ``last_activity`` and nothing else.

        Returns whether the row was updated (``False`` when not due, or when the session is gone).
        """
        if not self.activity_due():
            return False
        now = timezone.now()
        using = router.db_for_write(self.model)
        updated = self.model._base_manager.using(using).filter(pk=self.session_key).update(last_activity=now)
        if updated:
            self._last_activity = now
        return bool(updated)

    async def atouch(self) -> bool:
        """See touch()."""
        if not self.activity_due():
            return False
        now = timezone.now()
        updated = await self.model._base_manager.filter(pk=self.session_key).aupdate(last_activity=now)
        if updated:
            self._last_activity = now
        return bool(updated)

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
