"""Copy existing sessions into qsessions, so that switching engines signs nobody out.

Sources: the table of django.contrib.sessions (or of a custom session model built on it), the table of
django-user-sessions, or the sessions that Django's ``cache`` engine keeps in a Redis server. Every session
keeps its key, data and expiry, so the cookie the browser already holds keeps working.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps.registry import Apps
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core import signing
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from qsessions import previous
from qsessions.backends.db import SessionStore
from qsessions.client import client_ip_for_storage, user_agent_for_storage
from qsessions.models import Session, make_public_id, user_id_from_session_data
from qsessions.redis_connection import redis_client, redis_kind

DJANGO = "django"
USER_SESSIONS = "user-sessions"
REDIS_CACHE = "redis-cache"
DEFAULT_TABLES = {DJANGO: "django_session", USER_SESSIONS: "user_sessions_session"}
DJANGO_CACHE_KEY_PREFIX = "django.contrib.sessions.cache"  # SessionStore.cache_key_prefix of Django's cache engine
# Django's SessionBase refuses keys shorter than this; the column holds at most 40 characters.
MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 40
# The keys Django generates: they tell the cache engine's entries apart from cached_db's, whose prefix
# "django.contrib.sessions.cached_db" starts the same way.
GENERATED_KEY = re.compile(r"[a-z0-9]+")


@dataclass
class SourceSession:
    """One session as the source stores it; ``session_data`` is encoded the way Django encodes it."""

    session_key: str
    session_data: str  # "" when there is none
    expire_date: datetime.datetime | None
    ip: str | None = None
    user_agent: str | None = None
    last_activity: datetime.datetime | None = None


@dataclass
class Counts:
    scanned: int = 0
    imported: int = 0
    signed_in: int = 0
    expired: int = 0
    present: int = 0
    undecodable: int = 0
    ownerless: int = 0
    undecodable_examples: list[str] = field(default_factory=list)


@functools.cache
def source_model(table: str, *, with_client: bool) -> type[models.Model]:
    """An unmanaged model over the table to import, in an app registry of its own (nothing is registered)."""
    meta = type("Meta", (), {"managed": False, "db_table": table, "apps": Apps(), "app_label": "qsessions_import"})
    fields: dict[str, Any] = {
        "session_key": models.CharField(max_length=40, primary_key=True),
        "session_data": models.TextField(),
        "expire_date": models.DateTimeField(),
    }
    if with_client:
        fields |= {
            "ip": models.GenericIPAddressField(null=True),
            "user_agent": models.TextField(null=True),
            "last_activity": models.DateTimeField(null=True),
        }
    return type("SourceSessionRow", (models.Model,), {"__module__": __name__, "Meta": meta, **fields})


class TableSource:
    """Sessions in a table shaped like django.contrib.sessions', read through the ORM in session_key order."""

    def __init__(self, database: str, table: str, with_client: bool) -> None:
        self.database = database
        self.table = table
        self.with_client = with_client
        self.sqlite = connections[database].vendor == "sqlite"
        if self.table not in connections[self.database].introspection.table_names():
            raise CommandError(f"There is no table {self.table!r} in database {self.database!r}.")
        if self.table == Session._meta.db_table:
            raise CommandError(f"{self.table!r} is qsessions' own table; name the table to import from.")

    def batches(self, batch_size: int) -> Iterator[list[SourceSession]]:
        columns = ["session_key", "session_data", "expire_date"]
        if self.with_client:
            columns += ["ip", "user_agent", "last_activity"]
        model = source_model(self.table, with_client=self.with_client)
        rows = model._base_manager.using(self.database).order_by("session_key")
        if self.sqlite:
            # SQLite keeps any text in a datetime column, and its driver parses dates while fetching: one
            # malformed value would fail the whole batch. Read them as text; _date() parses them row by row.
            dates = {"expire_date": "expires", "last_activity": "active"}
            rows = rows.annotate(**{dates[c]: Cast(c, models.TextField()) for c in columns if c in dates})
            columns = [dates.get(column, column) for column in columns]
        # Keyset pagination: bounded memory, and no batch gets slower as the import advances (unlike OFFSET).
        last_key = ""
        while batch := list(rows.filter(session_key__gt=last_key).values_list(*columns)[:batch_size]):
            last_key = batch[-1][0]
            yield [self._session(row) for row in batch]

    def _session(self, row: tuple[Any, ...]) -> SourceSession:
        session = SourceSession(str(row[0]), row[1] or "", self._date(row[2]))
        if self.with_client:
            # Stored as a live request's would be: QSESSIONS_IP_STORAGE and QSESSIONS_STORE_USER_AGENT apply.
            session.ip = client_ip_for_storage(row[3])
            session.user_agent = user_agent_for_storage(row[4])
            session.last_activity = self._date(row[5])
        return session

    def _date(self, value: Any) -> datetime.datetime | None:
        if not self.sqlite or value is None:
            return value  # type: ignore[no-any-return]
        with contextlib.suppress(ValueError):
            parsed = parse_datetime(value)
            if parsed is not None and settings.USE_TZ and timezone.is_naive(parsed):
                return parsed.replace(tzinfo=datetime.timezone.utc)  # Django stores UTC in SQLite
            return parsed
        return None


class RedisCacheSource:
    """The sessions of Django's ``cache`` engine behind Django's RedisCache: listed with SCAN on the cache's
    primary, read through the cache (``get_many``: its own serializer decodes them), expiring with their TTL."""

    def __init__(self, alias: str, store: SessionStore) -> None:
        cache = caches[alias]
        if redis_kind(cache) != "django":
            raise CommandError(
                f"--from={REDIS_CACHE} reads Django's RedisCache (django.core.cache.backends.redis.RedisCache); "
                f"cache {alias!r} is {type(cache).__module__}.{type(cache).__qualname__}."
            )
        self.alias = alias
        self.cache = cache
        self.store = store
        self.prefix = cache.make_key(DJANGO_CACHE_KEY_PREFIX)
        if cache.make_key(DJANGO_CACHE_KEY_PREFIX + "k") != self.prefix + "k":
            raise CommandError(f"Cache {alias!r} has a KEY_FUNCTION that does not append the key; cannot list it.")
        self.client = redis_client(alias)
        try:
            self.client.ping()
        except Exception as exc:
            raise CommandError(f"The Redis server of cache {self.alias!r} does not answer: {exc}") from exc

    def batches(self, batch_size: int) -> Iterator[list[SourceSession]]:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"  # the prefix, glob characters escaped
        keys: list[str] = []
        for key in self.client.scan_iter(match=pattern, count=batch_size):
            session_key = key[len(self.prefix.encode()) :].decode("ascii", "replace")
            if GENERATED_KEY.fullmatch(session_key):
                keys.append(session_key)
            if len(keys) >= batch_size:
                yield self._read(keys)
                keys = []
        if keys:
            yield self._read(keys)

    def _read(self, session_keys: list[str]) -> list[SourceSession]:
        pipeline = self.client.pipeline(transaction=False)
        for session_key in session_keys:
            pipeline.pttl(self.prefix + session_key)
        ttls = pipeline.execute()
        values = self._values([DJANGO_CACHE_KEY_PREFIX + session_key for session_key in session_keys])
        now = timezone.now()
        sessions = []
        for session_key, ttl_ms in zip(session_keys, ttls, strict=True):
            value = values.get(DJANGO_CACHE_KEY_PREFIX + session_key)
            # A key without a time to live never expires in Redis; give it the lifetime Django would.
            seconds = ttl_ms / 1000 if ttl_ms > 0 else settings.SESSION_COOKIE_AGE
            try:  # the cache engine pickles; SESSION_SERIALIZER (JSON by default) may not hold every value
                data = self.store.encode(value) if isinstance(value, dict) else ""
            except Exception:
                data = ""
            sessions.append(SourceSession(session_key, data, now + datetime.timedelta(seconds=seconds)))
        return sessions

    def _values(self, keys: list[str]) -> dict[str, Any]:
        try:
            return self.cache.get_many(keys)
        except Exception:  # one entry the cache cannot decode: read the others one by one
            values = {}
            for key in keys:
                with contextlib.suppress(Exception):
                    values[key] = self.cache.get(key)
            return values


class Command(BaseCommand):
    help = (
        "Copy the sessions of django.contrib.sessions (or django-user-sessions, or Django's cache engine on "
        "Redis) into qsessions, keeping their keys, data and expiry, so nobody is signed out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="source",
            choices=[DJANGO, USER_SESSIONS, REDIS_CACHE],
            default=DJANGO,
            help=f"What to import: {DJANGO} (django.contrib.sessions' table, the default), {USER_SESSIONS} "
            f"(django-user-sessions' table, with its IPs, user agents and last activity), or {REDIS_CACHE} "
            "(the sessions of Django's cache engine in Django's RedisCache).",
        )
        parser.add_argument(
            "--table",
            help="The table to read (default: django_session, or user_sessions_session with "
            f"--from={USER_SESSIONS}), e.g. the table of a custom session model.",
        )
        parser.add_argument(
            "--cache",
            help=f"With --from={REDIS_CACHE}: the cache alias the sessions are in (default: SESSION_CACHE_ALIAS).",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="The database alias to read the table from and to write qsessions' sessions to.",
        )
        parser.add_argument("--batch-size", type=int, default=2000, help="Sessions per batch (default 2000).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be imported; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        database: str = options["database"]
        if database not in connections:
            raise CommandError(f"There is no database {database!r} in DATABASES.")
        store = SessionStore()  # decodes the data: every engine's SessionStore does it alike
        importer = Importer(database, store, dry_run=options["dry_run"])
        source: TableSource | RedisCacheSource
        if options["source"] == REDIS_CACHE:
            if options["table"]:
                raise CommandError(f"--table does not apply to --from={REDIS_CACHE}.")
            source = RedisCacheSource(options["cache"] or settings.SESSION_CACHE_ALIAS, store)
        else:
            if options["cache"]:
                raise CommandError(f"--cache only applies to --from={REDIS_CACHE}.")
            table = options["table"] or DEFAULT_TABLES[options["source"]]
            source = TableSource(database, table, with_client=options["source"] == USER_SESSIONS)
            importer.source_table = table

        counts, started = importer.counts, time.monotonic()
        for batch in source.batches(options["batch_size"]):
            importer.import_batch(batch)
            if options["verbosity"] >= 1:
                elapsed = time.monotonic() - started
                rate = counts.scanned / elapsed if elapsed > 0 else 0.0
                self.stdout.write(
                    f"  {counts.scanned} sessions read, {counts.imported} to import ({rate:.0f} sessions/s)"
                )
        verb = "Would import" if options["dry_run"] else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {counts.imported} sessions ({counts.signed_in} signed in) of {counts.scanned} read "
                f"in {time.monotonic() - started:.1f}s."
            )
        )
        self.stdout.write(f"  skipped, expired: {counts.expired}")
        self.stdout.write(f"  skipped, already in qsessions: {counts.present}")
        self.stdout.write(f"  skipped, undecodable: {counts.undecodable}")
        done = "to import" if options["dry_run"] else "imported"
        self.stdout.write(f"  {done} without owner (user gone): {counts.ownerless}")
        if counts.undecodable:
            self.stderr.write(
                f"{counts.undecodable} sessions could not be decoded with this site's SECRET_KEY "
                "(and SECRET_KEY_FALLBACKS) and SESSION_SERIALIZER, or had an invalid key or expiry date; "
                "they were skipped (their users will sign in again). First public ids: "
                + ", ".join(counts.undecodable_examples)
            )


class Importer:
    """Turns source sessions into qsessions rows, a batch at a time, never overwriting an existing row."""

    def __init__(self, database: str, store: SessionStore, dry_run: bool) -> None:
        self.database = database
        self.store = store
        self.dry_run = dry_run
        self.counts = Counts()
        self.now = timezone.now()
        self.source_table: str | None = None

    def import_batch(self, batch: list[SourceSession]) -> None:
        counts = self.counts
        counts.scanned += len(batch)
        decoded: list[tuple[SourceSession, dict[str, Any]]] = []
        for session in batch:
            if session.expire_date is not None and session.expire_date <= self.now:
                counts.expired += 1
            elif (data := self._decode(session)) is None:
                counts.undecodable += 1
                if len(counts.undecodable_examples) < 5:  # public ids, never keys: a key is a bearer credential
                    counts.undecodable_examples.append(make_public_id(session.session_key))
            else:
                decoded.append((session, data))
        if not decoded:
            return

        manager = Session._base_manager.using(self.database)
        present = set(manager.filter(pk__in=[entry[0].session_key for entry in decoded]).values_list("pk", flat=True))
        users = get_user_model()._base_manager.using(self.database)
        wanted = {user_id_from_session_data(data) for _, data in decoded} - {None}
        existing_users = set(users.filter(pk__in=wanted).values_list("pk", flat=True))
        rows = []
        for session, data in decoded:
            if session.session_key in present:
                counts.present += 1
                continue
            user_id = user_id_from_session_data(data)
            if user_id not in existing_users:
                user_id = None
                counts.ownerless += SESSION_KEY in data
            counts.signed_in += user_id is not None
            # created_at: unknown, neither source records when a session began. NULL says so; a made-up time would not.
            public_id = make_public_id(session.session_key)
            rows.append(Session(**vars(session), user_id=user_id, public_id=public_id, created_at=None))
        counts.imported += len(rows)
        if rows and not self.dry_run:
            with transaction.atomic(using=self.database):
                rows = self._still_in_previous_engine(rows)
                # A row that appeared meanwhile (a live request, a second import) wins: never overwrite it.
                manager.bulk_create(rows, ignore_conflicts=True)

    def _still_in_previous_engine(self, rows: list[Session]) -> list[Session]:
        """With QSESSIONS_PREVIOUS_ENGINE reading the source table, the rows that are still there, locked
        until the insert commits. A session moved by a request and then revoked since this batch was read
        is gone from the source (revocations delete it there too): importing it would undo the revocation.
        """
        old = previous.engine()
        if old is None or self.source_table is None or old.table != self.source_table:
            return rows
        source = source_model(self.source_table, with_client=False)._base_manager.using(self.database)
        locked = source.select_for_update().filter(pk__in=[row.session_key for row in rows])
        still_there = set(locked.values_list("pk", flat=True))
        kept = [row for row in rows if row.session_key in still_there]
        self.counts.imported -= len(rows) - len(kept)
        return kept

    def _decode(self, session: SourceSession) -> dict[str, Any] | None:
        """The session's data as qsessions' engine will read it, or ``None`` if that engine cannot."""
        key_ok = MIN_KEY_LENGTH <= len(session.session_key) <= MAX_KEY_LENGTH
        if not key_ok or not session.session_data or session.expire_date is None:
            return None
        try:
            # Exactly what SessionBase.decode does, minus its silent fallback to an empty session.
            data = signing.loads(session.session_data, salt=self.store.key_salt, serializer=self.store.serializer)
        except Exception:
            return None
        return data if isinstance(data, dict) else None
