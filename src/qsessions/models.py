"""The Session model: Django's session row plus its owner, client and times, and a cache-aware QuerySet."""

from __future__ import annotations

import datetime
import hashlib
import re
from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Any, Final, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.base_session import AbstractBaseSession, BaseSessionManager
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qsessions import cache as session_cache
from qsessions import devices, geo, previous
from qsessions.client import client_ip_for_storage
from qsessions.conf import conf
from qsessions.described import DeviceAndPlace

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

# Deleting by primary key in chunks keeps every statement well inside every database's parameter limit.
DELETE_CHUNK_SIZE = 10_000
# Expired sessions are deleted this many at a time (clearsessions).
CLEAR_EXPIRED_BATCH_SIZE = 5_000


# Why a session ended (EndedSession.reason, the session_revoked signal). Revocations: qsessions.revocation.
END_USER: Final = "user"  # the owner signed one of their sessions out
END_OTHER_SESSIONS: Final = "other-sessions"  # the owner signed out everywhere else
END_ADMIN: Final = "admin"
END_PASSWORD_CHANGE: Final = "password-change"  # noqa: S105
END_LIMIT: Final = "limit"  # signed out to make room for a new sign-in (QSESSIONS_MAX_SESSIONS_PER_USER)
END_LIMIT_REFUSED: Final = "limit-refused"  # a sign-in beyond the limit, refused (QSESSIONS_SESSION_LIMIT_POLICY)
END_LOGOUT: Final = "logout"
END_IDLE: Final = "idle"  # QSESSIONS_IDLE_TIMEOUT
END_LIFETIME: Final = "lifetime"  # QSESSIONS_ABSOLUTE_TIMEOUT
END_EXPIRED: Final = "expired"  # its expiry date passed; deleted by clearsessions
END_REASONS: Final = (
    END_USER,
    END_OTHER_SESSIONS,
    END_ADMIN,
    END_PASSWORD_CHANGE,
    END_LIMIT,
    END_LIMIT_REFUSED,
    END_LOGOUT,
    END_IDLE,
    END_LIFETIME,
    END_EXPIRED,
)


# django-hijack's record of an impersonation in the session data: the primary keys of the impersonators,
# the current one last (hijack/views.py, AcquireUserView).
HIJACK_SESSION_KEY: Final = "hijack_history"


def make_public_id(session_key: str) -> str:
    """The opaque id that pages, JSON, URLs and logs use for a session instead of its key.

    A one-way digest: anyone holding a key can compute its id, nobody can go from an id to a key.
    """
    return hashlib.sha256(f"qsessions.public_id:{session_key}".encode()).hexdigest()[:32]


_PUBLIC_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


def looks_like_public_id(value: str) -> bool:
    """Whether ``value`` has the shape of a public id: anything else (a NUL byte, 10 KB) is never queried."""
    return _PUBLIC_ID_PATTERN.fullmatch(value) is not None


def user_id_from_session_data(data: dict[str, Any]) -> Any:
    """The owner's primary key as stored by ``django.contrib.auth.login``, or ``None`` if unusable."""
    value = data.get(SESSION_KEY)
    if value is None:
        return None
    try:
        return Session._meta.get_field("user").target_field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return None


def owner_exists(user_id: Any, using: str) -> bool:
    """Whether the user ``user_id`` exists (``None``, no owner, is always a valid owner)."""
    if user_id is None:
        return True
    from django.contrib.auth import get_user_model

    return bool(get_user_model()._base_manager.using(using).filter(pk=user_id).exists())


def _seconds_left(expire_dates: list[Any]) -> float | None:
    latest = max((d for d in expire_dates if d is not None), default=None)
    return None if latest is None else (latest - timezone.now()).total_seconds()


def delete_sessions_by_key(
    keys: list[str], using: str | None = None, seconds_left: float | None = None, *, own_cache: bool = False
) -> tuple[int, dict[str, int]]:
    """Delete these sessions from the database (in chunks), then make the session cache refuse them.

    ``seconds_left``: the longest remaining lifetime among them, when known. ``own_cache``: the caller is a
    caching store, whose cache is evicted whatever engine is configured. Returns what ``QuerySet.delete()``
    returns.
    """
    if conf.PREVIOUS_ENGINE is not None:
        # First: a request moving one of them, or importsessions, waits for this and then finds it gone.
        previous.forget(keys, using)
    total = 0
    per_model: dict[str, int] = {}
    base = Session._base_manager.using(using)
    for start in range(0, len(keys), DELETE_CHUNK_SIZE):
        deleted, counts = base.filter(pk__in=keys[start : start + DELETE_CHUNK_SIZE]).delete()
        total += deleted
        for label, count in counts.items():
            per_model[label] = per_model.get(label, 0) + count
    session_cache.evict(keys, seconds_left=seconds_left, always=own_cache)
    return total, per_model


class SessionQuerySet(models.QuerySet["Session"]):
    def active(self) -> SessionQuerySet:
        """Sessions that have not expired."""
        return self.filter(expire_date__gt=timezone.now())

    def expired(self) -> SessionQuerySet:
        return self.filter(expire_date__lte=timezone.now())

    def for_user(self, user: Any) -> SessionQuerySet:
        return self.filter(user=user)

    def delete(self) -> tuple[int, dict[str, int]]:
        """Delete the sessions from the database and from the session cache."""
        if not session_cache.sessions_are_cached() and conf.PREVIOUS_ENGINE is None:
            return super().delete()
        # Delete exactly the sessions whose keys were read, so that every row removed from the
        # database is also removed from the cache, even if new rows match the filter meanwhile.
        using = self._write_db()
        rows = list(self.using(using).values_list("pk", "expire_date"))
        keys = [key for key, _ in rows]
        return delete_sessions_by_key(keys, using=using, seconds_left=_seconds_left([e for _, e in rows]))

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def _write_db(self) -> str:
        """The database this queryset's deletions go to: the keys to delete are read there too, never from a
        read replica that may lag behind (it would miss a session created a moment ago)."""
        # QuerySet keeps the alias given to using() in _db (as in every Django version we support); without
        # one, the router's choice for writes, as Django's own QuerySet.delete() makes it.
        chosen: str | None = getattr(self, "_db", None)
        return chosen or router.db_for_write(self.model, **getattr(self, "_hints", {}))

    def delete_expired(self) -> int:
        """Delete expired sessions in batches, from the database and the cache; return how many.

        Batches keep clearsessions from holding a long lock or loading millions of keys into memory.
        """
        now = timezone.now()
        total = 0
        history = conf.HISTORY
        using = self._write_db()
        while True:
            expired = self.using(using).filter(expire_date__lt=now)
            if history:  # the rows, for the history of signed-in ones: the same one SELECT per batch
                rows = list(expired.values_list(*ENDED_COLUMNS)[:CLEAR_EXPIRED_BATCH_SIZE])
                keys = [row[0] for row in rows]
            else:
                keys = list(expired.values_list("pk", flat=True)[:CLEAR_EXPIRED_BATCH_SIZE])
            if not keys:
                return total
            with transaction.atomic(using=using):
                deleted = Session._base_manager.using(using).filter(pk__in=keys).delete()[0]
                if history and deleted:
                    record_ends(rows, END_EXPIRED, using=using, expired=True)
            total += deleted
            # Refused by their expiry already: their cache entries are dropped, not marked revoked.
            session_cache.forget(keys)
            if conf.PREVIOUS_ENGINE is not None:
                previous.forget(keys, self.db)

    async def adelete_expired(self) -> int:
        return await sync_to_async(self.delete_expired)()


class SessionManager(BaseSessionManager.from_queryset(SessionQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def save(self, session_key: str, session_dict: dict[str, Any], expire_date: Any) -> Session:
        """Django's ``SessionManager.save``, keeping the owner in step and ``created_at`` intact."""
        using = self._db or router.db_for_write(self.model)  # a write: never the read replica
        if not session_dict:
            delete_sessions_by_key([session_key], using=using)
            return cast(Session, self.model(session_key=session_key, expire_date=expire_date))
        fields = {
            "session_data": self.encode(session_dict),
            "expire_date": expire_date,
            "user_id": user_id_from_session_data(session_dict),
        }
        manager = self.db_manager(using)
        # Marked stale while the UPDATE holds the row's lock: after any revocation's tombstone could be
        # written, and so that a read that missed before the commit cannot add the old row back.
        with transaction.atomic(using=using, savepoint=False):
            updated = manager.filter(pk=session_key).update(updated_at=timezone.now(), **fields)
            if updated:
                session_cache.invalidate(session_key)  # the next read takes the new data from the database
        if updated:
            return cast(Session, self.model(session_key=session_key, **fields))
        return cast(Session, manager.create(session_key=session_key, created_at=timezone.now(), **fields))


class SessionKeyField(models.CharField):  # type: ignore[type-arg]
    """Django's session key column. A value with a NUL character is no session key, and PostgreSQL refuses
    it in a query (a DataError, a 500 in Django's "view on site" redirect, /admin/r/...): a lookup with one
    raises ValueError, which Django's views take for "not found". The column is Django's CharField."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("A session key has no NUL character.")
        return value

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs


class Session(DeviceAndPlace, AbstractBaseSession):
    """A session with its owner, the client that uses it, and when it was created and last written."""

    # As Django's (AbstractBaseSession), whose catalogue translates the name.
    session_key = SessionKeyField(
        AbstractBaseSession._meta.get_field("session_key").verbose_name, max_length=40, primary_key=True
    )

    # Indexed by (user, expire_date) below, which starts with it (migration 0007).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, db_index=False, verbose_name=_("user")
    )
    user_agent = models.CharField(_("user agent"), null=True, blank=True, max_length=300)
    created_at = models.DateTimeField(_("created at"), null=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP"))
    public_id = models.CharField(_("public id"), max_length=32, unique=True, null=True, editable=False)
    # When the session was last used, written at most once per QSESSIONS_ACTIVITY_INTERVAL.
    last_activity = models.DateTimeField(_("last activity"), null=True, blank=True)
    # User-Agent Client Hints (Sec-CH-UA-*) the browser sent, when QSESSIONS_CLIENT_HINTS is on.
    client_hints = models.JSONField(_("client hints"), null=True, blank=True)
    # Who is really using this session when it is an impersonation (django-hijack): the owner did not sign in.
    impersonator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("impersonator"),
    )

    objects: SessionManager = SessionManager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [models.Index(fields=["user", "expire_date"], name="qsessions_user_expiry_idx")]

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        """The configured engine's store (encoding and decoding session data are the same in every engine)."""
        store_class: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
        return store_class

    @classmethod
    def from_row(cls, session_key: str, row: session_cache.SessionRow) -> Session:
        """An unsaved instance with what a store knows of the session's row (for signals and the history)."""
        return cls(
            session_key=session_key,
            public_id=make_public_id(session_key),
            user_id=row.user_id,
            ip=row.ip,
            user_agent=row.user_agent,
            client_hints=row.client_hints,
            created_at=session_cache.moment(row.created_at),
            last_activity=session_cache.moment(row.last_activity),
            expire_date=session_cache.moment(row.expire_date) or timezone.now(),
        )

    def __str__(self) -> str:
        # Never the key: it is a bearer credential, and str() ends up in logs and the admin's history.
        return self.public_id or (make_public_id(self.session_key) if self.session_key else "")

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The key never changes, so neither does its public id: computed for writes that store it.
        update_fields = kwargs.get("update_fields")
        if self.public_id is None and self.session_key and (update_fields is None or "public_id" in update_fields):
            self.public_id = make_public_id(self.session_key)
        super().save(*args, **kwargs)

    def delete(self, using: str | None = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Delete the session from the database, then from the session cache."""
        key = self.session_key  # Django clears the primary key of a deleted instance
        if conf.PREVIOUS_ENGINE is not None:  # first, as in delete_sessions_by_key()
            previous.forget([key], using or self._state.db)
        result = super().delete(using=using, keep_parents=keep_parents)
        session_cache.evict([key], seconds_left=_seconds_left([self.expire_date]))
        return result

    @property
    def is_active(self) -> bool:
        return self.expire_date > timezone.now()


# -- the history of ended sessions ----------------------------------------------------------------------

# What an ended session's record copies from its row (and "expire_date", the end of an expired one), in
# the order of the tuples record_ends() takes.
ENDED_COLUMNS: Final = (
    "session_key",
    "public_id",
    "user_id",
    "ip",
    "user_agent",
    "client_hints",
    "created_at",
    "last_activity",
    "expire_date",
    "impersonator_id",
)


def ended_values(session: Session) -> tuple[Any, ...]:
    """A session's ``ENDED_COLUMNS``, for record_ends()."""
    return tuple(getattr(session, name) for name in ENDED_COLUMNS)


def record_ends(
    rows: list[tuple[Any, ...]], reason: str, using: str | None = None, *, expired: bool = False, told: bool = False
) -> int:
    """Record that these sessions (``ENDED_COLUMNS`` tuples) ended, for ``reason``: one INSERT per batch;
    only signed-in sessions.

    Nothing when QSESSIONS_HISTORY_RETENTION is 0. The privacy settings in force now apply to what is
    copied (a site that stopped storing IPs keeps none in its history). ``expired``: they ended at their
    expiry date, not now. ``told``: the browser has been told already (it ended during its own request).
    Returns how many records were written.
    """
    if not conf.HISTORY:
        return 0
    now = timezone.now()
    # Stored values were cleaned when written: only a stricter mode since then changes them.
    whole_ip, keep_agent = conf.IP_STORAGE == "full", conf.STORE_USER_AGENT
    keep_hints = keep_agent and conf.CLIENT_HINTS
    records = [
        EndedSession(
            user_id=user_id,
            public_id=public_id or make_public_id(key),
            reason=reason,
            ip=ip if ip is None or whole_ip else client_ip_for_storage(ip),
            user_agent=user_agent if keep_agent else None,
            client_hints=hints if keep_hints and isinstance(hints, dict) else None,
            created_at=created_at,
            last_activity=last_activity,
            ended_at=min(expire_date, now) if expired and expire_date else now,
            impersonator_id=impersonator_id,
            told=told,
        )
        for (
            key,
            public_id,
            user_id,
            ip,
            user_agent,
            hints,
            created_at,
            last_activity,
            expire_date,
            impersonator_id,
        ) in rows
        if user_id is not None
    ]
    if records:
        EndedSession._base_manager.using(using).bulk_create(records)
    return len(records)


class EndedSessionQuerySet(models.QuerySet["EndedSession"]):
    def for_user(self, user: Any) -> EndedSessionQuerySet:
        return self.filter(user=user)

    def past_retention(self) -> EndedSessionQuerySet:
        """Records older than QSESSIONS_HISTORY_RETENTION (none when it is None: kept until the user goes)."""
        retention = conf.HISTORY_RETENTION
        if retention is None:
            return self.none()
        return self.filter(ended_at__lt=timezone.now() - datetime.timedelta(seconds=retention))


class EndedSession(models.Model):
    """A signed-in session that ended: when, why, and what it was (never its key).

    Written where sessions end (qsessions.revocation, logout, the timeouts, clearsessions); deleted with
    its user, and by clearsessions after QSESSIONS_HISTORY_RETENTION.
    """

    id = models.BigAutoField(primary_key=True)  # a log: it may outgrow 2**31 rows on a busy site
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ended_sessions", verbose_name=_("user")
    )
    public_id = models.CharField(_("public id"), max_length=32, db_index=True, editable=False)
    reason = models.CharField(_("reason"), max_length=32)
    user_agent = models.CharField(_("user agent"), max_length=300, null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    client_hints = models.JSONField(_("client hints"), null=True, blank=True)
    created_at = models.DateTimeField(_("signed in"), null=True, blank=True)
    last_activity = models.DateTimeField(_("last activity"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"))
    # Whether the browser of that session has been told why it was signed out (it is told once).
    told = models.BooleanField(_("told"), default=False)
    impersonator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("impersonator"),
    )

    objects = EndedSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("ended session")
        verbose_name_plural = _("ended sessions")
        indexes = [models.Index(fields=["user", "ended_at"], name="qsessions_ended_user_idx")]

    def __str__(self) -> str:
        return self.public_id

    @cached_property
    def device_description(self) -> devices.DeviceDescription | None:
        if not self.user_agent:
            return None
        hints = self.client_hints if isinstance(self.client_hints, dict) else None
        return devices.describe_device(self.user_agent, hints)

    @cached_property
    def location(self) -> str | None:
        return geo.format_location(geo.location_info(self.ip))


# -- known devices (qsessions.known_devices) ---------------------------------------------------------------


class KnownDevice(models.Model):
    """A browser a user signed in from, recognised by the digest of its device cookie (never the cookie)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, verbose_name=_("user"))
    token_digest = models.CharField(_("token digest"), max_length=64, editable=False)
    user_agent = models.CharField(_("user agent"), max_length=300, null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    created_at = models.DateTimeField(_("first sign-in"))
    last_sign_in_at = models.DateTimeField(_("last sign-in"))
    # Set when the user forgets the device: hidden from the list; a sign-in from it again clears it.
    forgotten_at = models.DateTimeField(_("forgotten at"), null=True, blank=True)
    # Changes with every "new sign-in" e-mail: the "this wasn't me" link names it, so it works once.
    alert_nonce = models.CharField(max_length=32, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("known device")
        verbose_name_plural = _("known devices")
        constraints = [models.UniqueConstraint(fields=["user", "token_digest"], name="qsessions_known_device_once")]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.user_agent or '-'}"

    @property
    def device_name(self) -> str:
        """The device as people read it, like :attr:`Session.device_name`; ``""`` when unknown."""
        return devices.describe_device(self.user_agent).name if self.user_agent else ""
