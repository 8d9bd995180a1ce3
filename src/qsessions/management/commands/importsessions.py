"""Copy existing sessions into qsessions, so that switching engines signs nobody out.

Sources: the table of django.contrib.sessions (or of a custom session model built on it), the table of
django-user-sessions, or the sessions that Django's ``cache`` engine keeps in a Redis server. Every session
keeps its key, data and expiry, so the cookie the browser already holds keeps working.
"""

from __future__ import annotations

import contextlib
import datetime
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

DJANGO = "django"
USER_SESSIONS = "user-sessions"
REDIS_CACHE = "redis-cache"
DEFAULT_TABLES = {DJANGO: "django_session", USER_SESSIONS: "user_sessions_session"}
# The prefix of the cache keys of Django's ``cache`` session engine (SessionStore.cache_key_prefix).
DJANGO_CACHE_KEY_PREFIX = "django.contrib.sessions.cache"
# Django's SessionBase refuses keys shorter than this; the column holds at most 40 characters.
MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 40
# The keys Django generates (SessionBase._get_new_session_key). Matching them tells the cache engine's
# entries apart from cached_db's, whose prefix "django.contrib.sessions.cached_db" starts the same way.
GENERATED_KEY = re.compile(r"[a-z0-9]+")


@dataclass
class SourceSession:
    """One session as the source stores it; ``session_data`` is already encoded the way Django encodes it."""

    session_key: str
    session_data: str | None
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
        self.model = source_model(table, with_client=with_client)
        self.sqlite = connections[database].vendor == "sqlite"

    def check(self) -> None:
        if self.table not in connections[self.database].introspection.table_names():
            raise CommandError(f"There is no table {self.table!r} in database {self.database!r}.")
        if self.table == Session._meta.db_table:
            raise CommandError(f"{self.table!r} is qsessions' own table; name the table to import from.")

    def batches(self, batch_size: int) -> Iterator[list[SourceSession]]:
        columns = ["session_key", "session_data", "expire_date"]
        if self.with_client:
            columns += ["ip", "user_agent", "last_activity"]
        rows = self.model._base_manager.using(self.database).order_by("session_key")
        if self.sqlite:
            # SQLite keeps any text in a datetime column, and its driver parses dates while fetching: one
            # malformed value would fail the whole batch. Read them as text; _date() parses them row by row.
            dates = {"expire_date": "expires", "last_activity": "active"}
            rows = rows.annotate(**{dates[c]: Cast(c, models.TextField()) for c in columns if c in dates})
            columns = [dates.get(column, column) for column in columns]
        # Keyset pagination: each batch starts after the last key seen, so memory stays bounded and no batch
        # gets slower as the import advances (unlike OFFSET).
        last_key = ""
        while batch := list(rows.filter(session_key__gt=last_key).values_list(*columns)[:batch_size]):
            last_key = batch[-1][0]
            yield [self._session(row) for row in batch]

    def _session(self, row: tuple[Any, ...]) -> SourceSession:
        session = SourceSession(str(row[0]), row[1], self._date(row[2]))
        if self.with_client:
            # Stored as a live request's would be: QSESSIONS_IP_STORAGE and QSESSIONS_STORE_USER_AGENT apply.
            session.ip = client_ip_for_storage(row[3])
            session.user_agent = user_agent_for_storage(row[4])
            session.last_activity = self._date(row[5])
        return session

    def _date(self, value: Any) -> datetime.datetime | None:
        if not self.sqlite or value is None:
            return value  # type: ignore[no-any-return]
        try:
            parsed = parse_datetime(value)
        except ValueError:
            return None
        if parsed is not None and settings.USE_TZ and timezone.is_naive(parsed):
            return parsed.replace(tzinfo=datetime.timezone.utc)  # Django stores UTC in SQLite
        return parsed


class RedisCacheSource:
    """The sessions of Django's ``cache`` engine in a Redis server behind Django's RedisCache.

    A cache cannot be listed portably; Redis can, with SCAN, through a redis-py client of our own on the
    cache's first server (RedisCache writes there). Entries are read through the cache (``get_many``), so
    the cache's own serializer decodes them; their time to live is the session's remaining lifetime.
    """

    def __init__(self, alias: str, store: SessionStore) -> None:
        from django.core.cache.backends.redis import RedisCache

        cache = caches[alias]
        if not isinstance(cache, RedisCache):
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
        import redis

        location = settings.CACHES[alias]["LOCATION"]
        servers = location.split(",") if isinstance(location, str) else list(location)
        # The options RedisCache passes on to redis-py's connection pool (the others are its own).
        options = settings.CACHES[alias].get("OPTIONS", {})
        pool_options = {k: v for k, v in options.items() if k not in ("parser_class", "pool_class", "serializer")}
        self.client = redis.Redis.from_url(servers[0].strip(), **pool_options)

    def check(self) -> None:
        try:
            self.client.ping()
        except Exception as exc:
            raise CommandError(f"The Redis server of cache {self.alias!r} does not answer: {exc}") from exc

    def batches(self, batch_size: int) -> Iterator[list[SourceSession]]:
        pattern = _escape_glob(self.prefix) + "*"
        keys: list[str] = []
        for key in self.client.scan_iter(match=pattern, count=batch_size):
            session_key = key[len(self.prefix.encode()) :].decode("ascii", "replace")
            if not GENERATED_KEY.fullmatch(session_key):
                continue
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
            if value is None:  # expired or deleted since SCAN returned it
                sessions.append(SourceSession(session_key, None, now))
                continue
            # A key without a time to live never expires in Redis; give it the lifetime Django would.
            seconds = ttl_ms / 1000 if ttl_ms > 0 else settings.SESSION_COOKIE_AGE
            sessions.append(SourceSession(session_key, self._encode(value), now + datetime.timedelta(seconds=seconds)))
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

    def _encode(self, data: Any) -> str | None:
        # The cache engine pickles; SESSION_SERIALIZER (JSON by default) may not hold every value.
        try:
            return self.store.encode(data) if isinstance(data, dict) else None
        except Exception:
            return None


def _escape_glob(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


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
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        database: str = options["database"]
        if database not in connections:
            raise CommandError(f"There is no database {database!r} in DATABASES.")
        source_name: str = options["source"]
        store = SessionStore()  # decodes the data: every engine's SessionStore does it alike
        source: TableSource | RedisCacheSource
        if source_name == REDIS_CACHE:
            if options["table"]:
                raise CommandError(f"--table does not apply to --from={REDIS_CACHE}.")
            source = RedisCacheSource(options["cache"] or settings.SESSION_CACHE_ALIAS, store)
        else:
            if options["cache"]:
                raise CommandError(f"--cache only applies to --from={REDIS_CACHE}.")
            table = options["table"] or DEFAULT_TABLES[source_name]
            source = TableSource(database, table, with_client=source_name == USER_SESSIONS)
        source.check()

        importer = Importer(database, store, dry_run=options["dry_run"])
        if isinstance(source, TableSource):
            importer.source_table = source.table
        started = time.monotonic()
        for batch in source.batches(batch_size):
            importer.import_batch(batch)
            if options["verbosity"] >= 1:
                self.stdout.write(self._progress(importer.counts, time.monotonic() - started))
        self._summary(importer.counts, options["dry_run"], time.monotonic() - started)

    def _progress(self, counts: Counts, elapsed: float) -> str:
        rate = counts.scanned / elapsed if elapsed > 0 else 0.0
        return f"  {counts.scanned} sessions read, {counts.imported} to import ({rate:.0f} sessions/s)"

    def _summary(self, counts: Counts, dry_run: bool, elapsed: float) -> None:
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {counts.imported} sessions ({counts.signed_in} signed in) of {counts.scanned} read "
                f"in {elapsed:.1f}s."
            )
        )
        self.stdout.write(f"  skipped, expired: {counts.expired}")
        self.stdout.write(f"  skipped, already in qsessions: {counts.present}")
        self.stdout.write(f"  skipped, undecodable: {counts.undecodable}")
        self.stdout.write(f"  {'to import' if dry_run else 'imported'} without owner (user gone): {counts.ownerless}")
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
        decoded: list[tuple[SourceSession, str, datetime.datetime, dict[str, Any]]] = []
        for session in batch:
            if session.expire_date is not None and session.expire_date <= self.now:
                counts.expired += 1
                continue
            data = self._decode(session)
            if data is None or session.session_data is None or session.expire_date is None:
                counts.undecodable += 1
                if len(counts.undecodable_examples) < 5:
                    # Public ids, never keys: a key is a bearer credential.
                    counts.undecodable_examples.append(make_public_id(session.session_key))
                continue
            decoded.append((session, session.session_data, session.expire_date, data))
        if not decoded:
            return

        manager = Session._base_manager.using(self.database)
        present = set(manager.filter(pk__in=[entry[0].session_key for entry in decoded]).values_list("pk", flat=True))
        wanted_users = {user_id_from_session_data(entry[3]) for entry in decoded} - {None}
        existing_users = set(
            get_user_model()._base_manager.using(self.database).filter(pk__in=wanted_users).values_list("pk", flat=True)
        )
        rows = []
        for session, session_data, expire_date, data in decoded:
            if session.session_key in present:
                counts.present += 1
                continue
            user_id = user_id_from_session_data(data)
            if user_id not in existing_users:
                user_id = None
            if user_id is None and SESSION_KEY in data:
                counts.ownerless += 1
            elif user_id is not None:
                counts.signed_in += 1
            rows.append(
                Session(
                    session_key=session.session_key,
                    session_data=session_data,
                    expire_date=expire_date,
                    user_id=user_id,
                    ip=session.ip,
                    user_agent=session.user_agent,
                    last_activity=session.last_activity,
                    public_id=make_public_id(session.session_key),
                    # Unknown: neither source records when a session began. NULL says so; a made-up time would not.
                    created_at=None,
                )
            )
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
        table = self.source_table
        if old is None or table is None or old.table != table or not rows:
            return rows
        connection = connections[self.database]
        quote = connection.ops.quote_name
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('session_key')} FROM {quote(table)} "  # noqa: S608
                f"WHERE {quote('session_key')} IN ({', '.join(['%s'] * len(rows))}){lock}",
                [row.session_key for row in rows],
            )
            still_there = {key for (key,) in cursor.fetchall()}
        kept = [row for row in rows if row.session_key in still_there]
        self.counts.imported -= len(rows) - len(kept)
        return kept

    def _decode(self, session: SourceSession) -> dict[str, Any] | None:
        """The session's data as qsessions' engine will read it, or ``None`` if that engine cannot."""
        key = session.session_key
        if not (MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH) or session.expire_date is None:
            return None
        if not session.session_data:
            return None
        try:
            # Exactly what SessionBase.decode does, minus its silent fallback to an empty session.
            data = signing.loads(session.session_data, salt=self.store.key_salt, serializer=self.store.serializer)
        except Exception:
            return None
        return data if isinstance(data, dict) else None
