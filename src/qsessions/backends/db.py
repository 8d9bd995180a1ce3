"""Database-backed sessions that record their owner, client IP, user agent and creation time.

Django's database store, plus the row's extra columns and the ``created_at`` that a new key carries over.
The store persists; the request's client comes from the middleware (``qsessions.client.Client``),
deletions and cache eviction go through ``qsessions.models``.
"""

from __future__ import annotations

import datetime
import time
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, cast

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DjangoDatabaseStore
from django.core.cache import BaseCache
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.crypto import get_random_string

from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY, lifecycle, previous
from qsessions.cache import SessionRow, moment, session_cache
from qsessions.client import (
    AnyClient,
    GivenClient,
    client_hints_for_storage,
    client_ip_for_storage,
    merge_client_hints,
    user_agent_for_storage,
)
from qsessions.conf import conf
from qsessions.models import (
    HIJACK_SESSION_KEY,
    Session,
    delete_sessions_by_key,
    owner_exists,
    user_id_from_session_data,
)
from qsessions.signals import session_client_changed, session_created

# The columns a request reads: everything but what only pages and the admin show.
ROW_COLUMNS = (
    "session_data",
    "user_id",
    "ip",
    "user_agent",
    "client_hints",
    "created_at",
    "last_activity",
    "expire_date",
)
# Session keys are drawn from VALID_KEY_CHARS; the column holds 40 characters. Anything else in a cookie
# (a NUL byte, 10 KB) is no session, decided before any query.
MAX_KEY_LENGTH = 40


class RowSelect:
    """The one query of a session read: ``SELECT <ROW_COLUMNS> FROM qsessions_session WHERE session_key = %s
    AND expire_date > %s``, prepared once per database.

    A read runs it on every request that uses its session, and building it with the ORM each time costs
    more than running it; so the SQL is written once from the model's metadata and the database's own
    quoting, and each value goes through the same converters the ORM applies (the fields' and the
    database backend's), so the row reads exactly as ``values_list(*ROW_COLUMNS)`` would read it.
    """

    _prepared: ClassVar[dict[str, RowSelect]] = {}

    def __init__(self, alias: str) -> None:
        self.alias = alias
        connection = connections[alias]
        meta = Session._meta
        quote = connection.ops.quote_name
        self.expire_field = meta.get_field("expire_date")
        columns = [cast("Field[Any, Any]", meta.get_field(name)).get_col(meta.db_table) for name in ROW_COLUMNS]
        limit = connection.ops.limit_offset_sql(0, 1)

        # Names from the model, quoted by the database backend; the values are parameters. (Every field here
        # is a concrete one: its column is never None, as django-stubs 6.x allows for in general.)
        def column(field: Any) -> str:
            return cast(str, field.column)

        self.sql = (
            f"SELECT {', '.join(quote(column(col.target)) for col in columns)} FROM {quote(meta.db_table)}"  # noqa: S608
            f" WHERE {quote(column(meta.pk))} = %s AND {quote(column(self.expire_field))} > %s {limit}"
        )
        self.converters = [
            (index, col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            for index, col in enumerate(columns)
        ]
        self.converters = [entry for entry in self.converters if entry[2]]
        # Reading a row to put it in the cache in place of an untrusted entry locks it (qsessions.cache):
        # FOR UPDATE where the database has it; SQLite locks the whole database on its first write.
        if connection.features.has_select_for_update:
            self.locking_sql: str | None = self.sql + " FOR UPDATE"
            self.lock_sql: str | None = None
        else:
            self.locking_sql = None
            self.lock_sql = (
                f"UPDATE {quote(meta.db_table)} SET {quote(column(self.expire_field))} = "  # noqa: S608
                f"{quote(column(self.expire_field))} WHERE {quote(column(meta.pk))} = %s"
            )

    @classmethod
    def for_database(cls, alias: str) -> RowSelect:
        prepared = cls._prepared.get(alias)
        if prepared is None:
            prepared = cls._prepared[alias] = cls(alias)
        return prepared

    def fetch(self, session_key: str, now: datetime.datetime, *, lock: bool = False) -> tuple[Any, ...] | None:
        """The row; ``lock``: also lock it until the transaction ends (the caller runs one)."""
        connection = connections[self.alias]
        expire_after = self.expire_field.get_db_prep_value(now, connection)
        with connection.cursor() as cursor:
            if lock and self.lock_sql is not None:
                cursor.execute(self.lock_sql, [session_key])
            cursor.execute(self.locking_sql if lock and self.locking_sql else self.sql, [session_key, expire_after])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, col, converters in self.converters:
            value = values[index]
            for converter in converters:
                value = converter(value, col, connection)
            values[index] = value
        return tuple(values)


class RowUpdate:
    """``UPDATE qsessions_session SET <columns> = %s, ... WHERE session_key = %s``: the store's writes,
    prepared once per database and set of columns, for the reason RowSelect is.

    Each value goes through its field's ``get_db_prep_save``, as ``QuerySet.update()`` sends it; like
    ``update()``, it sends no signal. Returns the number of rows matched (0: the session is gone).
    """

    _prepared: ClassVar[dict[tuple[str, tuple[str, ...]], RowUpdate]] = {}

    def __init__(self, alias: str, names: tuple[str, ...]) -> None:
        self.alias = alias
        connection = connections[alias]
        meta = Session._meta
        quote = connection.ops.quote_name
        self.fields = [cast(Any, meta.get_field(name)) for name in names]
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in self.fields)
        self.sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(cast(str, meta.pk.column))} = %s"  # noqa: S608

    @classmethod
    def for_columns(cls, alias: str, names: tuple[str, ...]) -> RowUpdate:
        prepared = cls._prepared.get((alias, names))
        if prepared is None:
            prepared = cls._prepared[(alias, names)] = cls(alias, names)
        return prepared

    def run(self, session_key: str, values: list[Any]) -> int:
        connection = connections[self.alias]
        params = [field.get_db_prep_save(value, connection) for field, value in zip(self.fields, values, strict=True)]
        params.append(session_key)
        # As QuerySet.update(): a failing statement inside an atomic block marks it for rollback.
        with transaction.mark_for_rollback_on_error(using=self.alias), connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return int(cursor.rowcount)


def _timestamp(value: datetime.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


class SessionStore(DjangoDatabaseStore):
    """Django's database session store, plus the session's owner and client in columns of their own."""

    # Whether this engine keeps a copy of sessions in the cache (see qsessions.backends.cached_db).
    caches_sessions: ClassVar[bool] = False

    # Per store, set when known (class-level defaults keep a store's construction as cheap as Django's):
    client: AnyClient | None = None  # the request's client; None: not known (code using a store), keep the stored one
    row: SessionRow | None = None  # what the stored row says, once this store has read or written it
    trusted_owner: Any = None  # the user django.contrib.auth logged in on this request: known to exist
    _carried_created_at: datetime.datetime | None = None  # what a new key carries over (cycle_key)
    _drawn_key: str | None = None  # the last key this store drew at random
    _unknown_cookie: str | None = None  # a cookie that is no key of ours (a signed cookie of Django's engine?)
    _previous_expire_date: datetime.datetime | None = None  # the expiry a session moved in keeps
    _moved_in = False  # this store holds a session of the previous engine: when it began is unknown
    ending: str | None = None  # why the session just read must end now (a timeout), see qsessions.lifecycle
    stale_key: str | None = None  # the key of a cookie whose session is gone, until its browser is told why

    if TYPE_CHECKING:  # Django's internals that django-stubs does not declare, as this class uses them
        model: type[Session]
        _session: dict[str, Any]
        _session_cache: dict[str, Any]
        _cache: BaseCache  # set when caches_sessions

        def _get_or_create_session_key(self) -> str: ...
        async def _aget_or_create_session_key(self) -> str: ...

    def __init__(
        self,
        session_key: str | None = None,
        user_agent: str | None = None,
        ip: str | None = None,
        client_hints: dict[str, Any] | None = None,
        *,
        client: AnyClient | None = None,
    ) -> None:
        # SessionBase.__init__ (Django's db store adds nothing to it), except that the serializer class is
        # looked up once per SESSION_SERIALIZER rather than imported by name for every request's store;
        # a store that keeps sessions in the cache (caches_sessions) takes its cache here too.
        self._session_key = session_key
        self.accessed = False
        self.modified = False
        self.serializer = conf.session_serializer
        if self.caches_sessions:
            self._cache = session_cache()  # SESSION_CACHE_ALIAS, as Django's cached_db names it
        if session_key is not None and self.session_key is None:
            self._unknown_cookie = session_key
        if client is None and (user_agent is not None or ip is not None or client_hints is not None):
            client = GivenClient(user_agent, ip, client_hints)
        self.client = client

    @classmethod
    def get_model_class(cls) -> type[Session]:
        return Session

    def _validate_session_key(self, key: Any) -> bool:
        return isinstance(key, str) and 8 <= len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isalnum()

    def _get_new_session_key(self) -> str:
        # Django first asks the database whether a random key is free; the INSERT that follows already
        # refuses a duplicate (CreateError, and create() draws again), so that query is skipped.
        self._drawn_key = get_random_string(32, VALID_KEY_CHARS)
        return self._drawn_key

    async def _aget_new_session_key(self) -> str:
        return self._get_new_session_key()

    # -- the client ----------------------------------------------------------------------------------------

    def _client_to_store(self) -> tuple[str | None, str | None, dict[str, Any] | None]:
        """IP, user agent and client hints to write: the client's, else what is stored, as privacy allows."""
        row, client = self.row, self.client
        ip = user_agent = hints = None
        if row is not None:
            ip = None if row.ip is None else client_ip_for_storage(row.ip)
            user_agent = None if row.user_agent is None else user_agent_for_storage(row.user_agent)
            hints = client_hints_for_storage(row.client_hints)
        if client is not None:
            ip = client.ip if client.ip is not None else ip
            user_agent = client.user_agent if client.user_agent is not None else user_agent
            hints = merge_client_hints(hints, client.client_hints)
        return ip, user_agent, hints

    @property
    def ip(self) -> str | None:
        """The IP address this session stores (or will store on its next write)."""
        return self._client_to_store()[0]

    @property
    def user_agent(self) -> str | None:
        return self._client_to_store()[1]

    @property
    def client_hints(self) -> dict[str, Any] | None:
        return self._client_to_store()[2]

    # -- reading -----------------------------------------------------------------------------------------

    def decode(self, session_data: bytes | str) -> dict[str, Any]:
        data = super().decode(session_data)
        # Sessions written by django-qsessions 2.x carry the client in their data; it lives in columns now.
        data.pop(IP_SESSION_KEY, None)
        data.pop(USER_AGENT_SESSION_KEY, None)
        return data

    def _fetch_row(self, *, lock: bool = False) -> tuple[Any, ...] | None:
        """The live row of this session (``ROW_COLUMNS``), or ``None``; ``lock``: see ``RowSelect.fetch``."""
        if self.session_key is None:
            return None
        # From the primary (the database writes go to), never a read replica: a replica that lags behind a
        # revocation would still serve the session signed in, and cached_db would copy it into the cache.
        return RowSelect.for_database(router.db_for_write(self.model)).fetch(
            self.session_key, timezone.now(), lock=lock
        )

    async def _afetch_row(self) -> tuple[Any, ...] | None:
        # Django's async ORM runs its queries in this same thread-sensitive way.
        return await sync_to_async(self._fetch_row)()

    def _take_row(self, values: tuple[Any, ...] | None) -> dict[str, Any]:
        """The session data of a row read from the database (``None``: there is no such session)."""
        if values is None:
            return self._session_not_found(revoked=False)
        data, user_id, ip, user_agent, hints, created_at, last_activity, expire_date = values
        self._take_stored(
            SessionRow(
                user_id,
                ip,
                user_agent,
                hints if isinstance(hints, dict) else None,
                _timestamp(created_at),
                _timestamp(last_activity),
                _timestamp(expire_date),
            )
        )
        return self.decode(data)

    def _session_not_found(self, revoked: bool) -> dict[str, Any]:
        """The data of a session the store does not have: none, or the one QSESSIONS_PREVIOUS_ENGINE has.
        A later write creates a new session.

        ``revoked``: the cache holds a tombstone or a revocation mark for this key (it was revoked): never
        looked up elsewhere. Otherwise the database has no live row for it (revoked, expired, or never one of ours).
        """
        if not revoked and conf.PREVIOUS_ENGINE is not None:
            data = self._move_from_previous_engine()
            if data is not None:
                return data
        if self.client is not None:  # a request's store: its browser may be told why (qsessions.lifecycle)
            self.stale_key = self._session_key
        self._session_key = None  # as Django does
        return {}

    def _stored_at_any_age(self, key: str, using: str) -> bool:
        return bool(self.model._base_manager.using(using).filter(pk=key).exists())

    def _move_from_previous_engine(self) -> dict[str, Any] | None:
        """The session the previous engine has for this cookie, now stored by qsessions (see previous.py)."""
        cookie, key = self._unknown_cookie or self.session_key, self.session_key
        self._unknown_cookie = None
        using = router.db_for_write(self.model)
        if cookie is None:
            return None
        if key is not None and self._stored_at_any_age(key, using):
            # Ours after all: moved by another request since this one looked (then it is live), or
            # expired (then never brought back from an older copy).
            values = self._fetch_row()
            return None if values is None else self._take_row(values)
        found = previous.find(cookie, key, self.decode, using)
        if found is None:
            return None
        self._moved_in = True
        if not found.same_key:  # a signed cookie: a new session, under a new key sent in a new cookie
            self._session_key = None
            self.modified = True
            return found.data
        assert key is not None  # the engines with keys are looked up by key
        self._session_cache = found.data
        self._previous_expire_date = found.expire_date
        try:
            with transaction.atomic(using=using):
                if not previous.take(key, keep=conf.PREVIOUS_ENGINE_SHARED, using=using):
                    raise CreateError  # moved by another request meanwhile, or revoked
                self._insert(found.data)
        except CreateError:
            del self._session_cache
            values = self._fetch_row()  # what the request that moved it stored, if it is still there
            return None if values is None else self._take_row(values)
        finally:
            self._previous_expire_date = None
        return found.data

    def _get_session(self, no_load: bool = False) -> dict[str, Any]:
        # SessionBase._get_session, written out (it runs on every access to the session), except that a
        # cookie that is no key of ours is looked up in the previous engine, where Django loads nothing.
        self.accessed = True
        try:
            return self._session_cache
        except AttributeError:
            pass
        if no_load:
            data = {}
        elif self.session_key is not None:
            data = self.load()
        elif self._unknown_cookie is not None:
            data = self._session_not_found(revoked=False) if conf.PREVIOUS_ENGINE else {}
            self._unknown_cookie = None
        else:
            data = {}
        self._session_cache = data
        return data

    _session = property(_get_session)  # type: ignore[assignment]  # Django's property is bound to its own _get_session

    async def _aget_session(self, no_load: bool = False) -> dict[str, Any]:
        if self._unknown_cookie is not None and not no_load and not hasattr(self, "_session_cache"):
            self.accessed = True
            self._session_cache = (
                await sync_to_async(self._session_not_found)(revoked=False) if conf.PREVIOUS_ENGINE else {}
            )
            self._unknown_cookie = None
        data: dict[str, Any] = await super()._aget_session(no_load)  # type: ignore[misc]
        return data

    async def _atake_row(self, values: tuple[Any, ...] | None) -> dict[str, Any]:
        if values is None and conf.PREVIOUS_ENGINE is not None:
            return await sync_to_async(self._take_row)(None)  # the previous engine is read with sync calls
        return self._take_row(values)

    def _take_stored(self, row: SessionRow) -> None:
        """Take in what the stored row says; a client other than the stored one makes the session modified.

        A signed-in session past QSESSIONS_IDLE_TIMEOUT or QSESSIONS_ABSOLUTE_TIMEOUT is marked as
        ``ending`` instead; ``_settle`` ends it.
        """
        self.row = row
        timeouts = conf.TIMEOUTS
        if timeouts is not None:
            self.ending = lifecycle.timed_out(row, timeouts)
            if self.ending is not None:
                return
        client = self.client
        if client is not None and row.client_hints is None and client.sends(row.ip, row.user_agent):
            return  # the request sends exactly what is stored: nothing to parse
        if self._client_to_store() != (row.ip, row.user_agent, row.client_hints):
            self.modified = True

    def _settle(self, data: dict[str, Any]) -> dict[str, Any]:
        """After a load: end a session that timed out, or tell a browser whose session is gone why."""
        request = lifecycle.request_of(self.client)
        reason, self.ending = self.ending, None
        if reason is not None:
            key, row = self.session_key, self.row
            self._session_key = None
            self.row = None
            if key is not None and row is not None:
                lifecycle.end(key, row, reason, request, own_cache=self.caches_sessions)
            return {}
        key, self.stale_key = self.stale_key, None
        if key is not None and request is not None and not data:
            lifecycle.tell_stale(key, request)
        return data

    def load(self) -> dict[str, Any]:
        data = self._take_row(self._fetch_row())
        if self.ending is None and self.stale_key is None:
            return data
        return self._settle(data)

    async def aload(self) -> dict[str, Any]:
        data = await self._atake_row(await self._afetch_row())
        if self.ending is None and self.stale_key is None:
            return data
        return await sync_to_async(self._settle)(data)

    # -- writing -----------------------------------------------------------------------------------------

    def _row_transaction(self, using: str) -> AbstractContextManager[Any]:
        """The transaction that a write of the row and ``_row_written`` share (a caching store's only)."""
        return transaction.atomic(using=using, savepoint=False) if self.caches_sessions else nullcontext()

    def _row_written(self, key: str, data: dict[str, Any] | None) -> None:
        """Called once the row is written, still inside the transaction that holds its lock; ``self.row``
        says what it holds now, ``data`` is its session data (``None``: the data did not change).
        Nothing to do here; the cached_db store writes its cache entry (see qsessions.cache)."""

    def _owner_to_store(self, data: dict[str, Any], using: str) -> Any:
        """The owner named in the data, if it exists; else no owner.

        An owner that does not exist (deleted meanwhile, or a bogus id put in the data) would violate the
        foreign key, on some databases only at commit, far from here. django.contrib.auth treats such a
        session as anonymous, so it is stored without an owner. The stored owner and the user who just
        logged in are known to exist: only another one costs a query.
        """
        user_id = user_id_from_session_data(data)
        if user_id is None or user_id == self.trusted_owner or (self.row is not None and user_id == self.row.user_id):
            return user_id
        return user_id if owner_exists(user_id, using) else None

    def create_model_instance(self, data: dict[str, Any]) -> Session:
        ip, user_agent, hints = self._client_to_store()
        using = router.db_for_write(self.model)
        return self.model(
            session_key=self._get_or_create_session_key(),
            session_data=self.encode(data),
            expire_date=self.get_expiry_date(),
            user_id=self._owner_to_store(data, using),
            user_agent=user_agent,
            ip=ip,
            client_hints=hints,
        )

    async def acreate_model_instance(self, data: dict[str, Any]) -> Session:
        return await sync_to_async(self.create_model_instance)(data)

    def _insert(self, data: dict[str, Any]) -> None:
        obj = self.create_model_instance(data)
        obj.last_activity = now = timezone.now()
        # A session moved in from the previous engine began at a time nobody recorded: NULL, as imported ones.
        obj.created_at = None if self._moved_in else self._carried_created_at or now
        self._moved_in = False  # a later session of this store (after flush(), say) is a new one
        if self._previous_expire_date is not None:
            obj.expire_date = self._previous_expire_date
        using = router.db_for_write(self.model, instance=obj)
        try:
            with transaction.atomic(using=using):
                obj.save(force_insert=True, using=using)
                self.row = SessionRow(
                    obj.user_id,
                    obj.ip,
                    obj.user_agent,
                    obj.client_hints,
                    _timestamp(obj.created_at),
                    now.timestamp(),
                    obj.expire_date.timestamp(),
                )
                self._row_written(obj.session_key, data)
        except IntegrityError:
            raise CreateError from None
        if conf.PREVIOUS_ENGINE_SHARED:
            previous.mirror(obj.session_key, obj.session_data, obj.expire_date, using)
        session_created.send(sender=Session, session=obj, request=None)

    def _update(self, data: dict[str, Any]) -> None:
        """One UPDATE of the row; the client's columns only when they change."""
        key = self._get_or_create_session_key()
        using = router.db_for_write(self.model)
        now = timezone.now()
        expire_date = self.get_expiry_date()
        ip, user_agent, hints = self._client_to_store()
        before = self.row
        fields: dict[str, Any] = {
            "session_data": self.encode(data),
            "expire_date": expire_date,
            "user_id": self._owner_to_store(data, using),
            "updated_at": now,
            "last_activity": now,
        }
        if before is None:  # nothing known of the row: write what is known of the client, keep the rest
            fields.update(
                (name, value)
                for name, value in (("ip", ip), ("user_agent", user_agent), ("client_hints", hints))
                if value is not None
            )
        elif (ip, user_agent, hints) != (before.ip, before.user_agent, before.client_hints):
            fields.update(ip=ip, user_agent=user_agent, client_hints=hints)
        with self._row_transaction(using):
            updated = RowUpdate.for_columns(using, tuple(fields)).run(key, list(fields.values()))
            if updated:
                self.row = after = SessionRow(
                    fields["user_id"],
                    fields.get("ip", before and before.ip),
                    fields.get("user_agent", before and before.user_agent),
                    fields.get("client_hints", before and before.client_hints),
                    before and before.created_at,
                    now.timestamp(),
                    expire_date.timestamp(),
                )
                self._row_written(key, data)
        if not updated:
            raise UpdateError  # deleted meanwhile (signed out elsewhere, revoked): never resurrect it
        if conf.PREVIOUS_ENGINE_SHARED:
            previous.mirror(key, fields["session_data"], expire_date, using)
        if before is not None:
            self._report_client_change(key, before, after)

    def _report_client_change(self, key: str, before: SessionRow, after: SessionRow) -> None:
        # A client first seen now (nothing stored before) is no change; a different one is.
        ip_changed = before.ip is not None and after.ip is not None and before.ip != after.ip
        agent_changed = (
            before.user_agent is not None and after.user_agent is not None and before.user_agent != after.user_agent
        )
        if not (ip_changed or agent_changed) or not session_client_changed.has_listeners(Session):
            return
        if self._session_cache.get(HIJACK_SESSION_KEY):
            return  # someone impersonating the owner (django-hijack): not the owner's client that changed
        session = Session.from_row(key, after)
        session_client_changed.send(
            sender=Session,
            session=session,
            old_ip=before.ip,
            new_ip=after.ip,
            old_user_agent=before.user_agent,
            new_user_agent=after.user_agent,
            request=None,
        )

    def _write(self, must_create: bool) -> None:
        data = self._get_session(no_load=must_create)
        if must_create:
            self._insert(data)
        else:
            self._update(data)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        self._write(must_create)

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        await self._aget_session(no_load=must_create)
        # transaction.atomic() has no async form yet, so the write runs in a thread, as in Django.
        await sync_to_async(self._write)(must_create)

    # -- last activity ----------------------------------------------------------------------------------

    def activity_due(self) -> bool:
        """Whether this request should record the session's activity: it read a stored session whose last
        activity is older than QSESSIONS_ACTIVITY_INTERVAL (or unknown)."""
        row = self.row
        if row is None:
            return False
        last = row.last_activity
        if last is not None and time.time() - last < conf.ACTIVITY_INTERVAL:
            return False  # the usual case, decided first
        return self.session_key is not None

    def _record_activity(self) -> bool:
        now = timezone.now()
        using = router.db_for_write(self.model)
        key = self.session_key
        if key is None:
            return False
        with self._row_transaction(using):
            updated = RowUpdate.for_columns(using, ("last_activity",)).run(key, [now])
            if updated and self.row is not None:
                self.row = self.row._replace(last_activity=now.timestamp())
                self._row_written(key, None)
        return bool(updated)

    def touch(self) -> bool:
        """Record that the session is in use, when due: one UPDATE of ``last_activity`` and nothing else.

        Returns whether the row was updated (``False`` when not due, or when the session is gone).
        """
        return self.activity_due() and self._record_activity()

    async def atouch(self) -> bool:
        """See touch()."""
        return self.activity_due() and await sync_to_async(self._record_activity)()

    # -- new keys keep the session's creation time ------------------------------------------------------

    def _created_at_of(self, session_key: str) -> datetime.datetime | None:
        if self.row is not None:
            return moment(self.row.created_at)
        using = router.db_for_write(self.model)
        return self.model._base_manager.using(using).filter(pk=session_key).values_list("created_at", flat=True).first()

    def cycle_key(self) -> None:
        """Move the session to a new key (as login does), keeping its data and its creation time."""
        data = self._session
        key = self.session_key
        self._carried_created_at = lifecycle.carried_start(self._created_at_of(key)) if key else None
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
        carried = await sync_to_async(self._created_at_of)(key) if key else None
        self._carried_created_at = lifecycle.carried_start(carried)
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
        row = self.row if session_key == self.session_key else None
        seconds_left = None if row is None or row.expire_date is None else row.expire_date - time.time()
        using = router.db_for_write(self.model)
        delete_sessions_by_key([session_key], using=using, seconds_left=seconds_left, own_cache=self.caches_sessions)

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)

    @classmethod
    def clear_expired(cls) -> None:
        cls.delete_expired()

    @classmethod
    async def aclear_expired(cls) -> None:
        await cls.adelete_expired()

    @classmethod
    def delete_expired(cls) -> int:
        """Delete expired sessions in batches, from the database and the cache; return how many."""
        return int(Session.objects.all().delete_expired())

    @classmethod
    async def adelete_expired(cls) -> int:
        return int(await Session.objects.all().adelete_expired())
