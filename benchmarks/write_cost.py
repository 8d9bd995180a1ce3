"""The cost of a session write on PostgreSQL, before and after migration 0007 (the lean table), in one run.

Two databases, one migrated to the migration before 0007 (seven indexes on qsessions_session) and one to the latest
migration; the same seeded rows in both. The same writes go to each in turn (one each, in alternating
order) through qsessions.backends.db: a new session (INSERT) and a save of a loaded session (UPDATE). Reports
the median time of one write, the WAL bytes and records of one write (EXPLAIN (ANALYZE, WAL) of the very
statement the store sent), the indexes and their size, and the share of HOT updates.

    .venv/bin/python benchmarks/write_cost.py [--rounds 12] [--ops 100] [--seed-sessions 20000]

Needs PostgreSQL (QSESSIONS_BENCH_PG_HOST/PORT/USER, default 127.0.0.1:5432 postgres); creates and drops
the databases qs_bench_write_before and qs_bench_write_after. Writes benchmarks/results/write-cost.md/.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SCHEMAS = {"before": "0006_endedsession_session_impersonator", "after": None}  # None: the latest migration
_target = "before"


class SchemaRouter:
    """Every query of the store to the schema being measured."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return _target

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return _target

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, *args: Any, **hints: Any) -> bool:
        return True


def configure() -> None:
    import django
    from django.conf import settings

    server = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("QSESSIONS_BENCH_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("QSESSIONS_BENCH_PG_PORT", "5432"),
        "USER": os.environ.get("QSESSIONS_BENCH_PG_USER", "postgres"),
        "CONN_MAX_AGE": None,
    }
    settings.configure(
        SECRET_KEY="write-cost",
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "qsessions"],
        DATABASES={
            "default": {**server, "NAME": "postgres"},
            **{name: {**server, "NAME": f"qs_bench_write_{name}"} for name in SCHEMAS},
        },
        DATABASE_ROUTERS=[f"{__name__}.SchemaRouter"],
        SESSION_ENGINE="qsessions.backends.db",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    )
    django.setup()


def create_databases(seed_sessions: int) -> None:
    global _target
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from qsessions.models import Session, make_public_id

    with connections["default"].cursor() as cursor:
        for name in SCHEMAS:
            cursor.execute(f"DROP DATABASE IF EXISTS qs_bench_write_{name}")
            cursor.execute(f"CREATE DATABASE qs_bench_write_{name}")
    expire = timezone.now() + datetime.timedelta(days=14)
    for name, migration in SCHEMAS.items():
        _target = name
        args = ["migrate", "qsessions", migration] if migration else ["migrate"]
        call_command(*args, database=name, verbosity=0)
        if migration:
            call_command("migrate", "auth", database=name, verbosity=0)
        users = get_user_model()._base_manager.using(name)
        users.bulk_create([get_user_model()(username=f"user{i}") for i in range(200)])
        ids = list(users.values_list("pk", flat=True))
        Session._base_manager.using(name).bulk_create(
            [
                Session(
                    session_key=f"seed{i:028d}",
                    public_id=make_public_id(f"seed{i:028d}"),
                    session_data="e30:seed",
                    expire_date=expire,
                    user_id=ids[i % len(ids)],
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                    ip="203.0.113.7",
                    created_at=timezone.now(),
                    last_activity=timezone.now(),
                )
                for i in range(seed_sessions)
            ],
            batch_size=2000,
        )
        with connections[name].cursor() as cursor:
            cursor.execute("VACUUM ANALYZE qsessions_session")


class Capture:
    """The last INSERT or UPDATE of qsessions_session a store sent, with its parameters."""

    def __init__(self) -> None:
        self.statements: dict[str, tuple[str, Any]] = {}

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb in ("INSERT", "UPDATE") and "qsessions_session" in sql:
            self.statements[verb] = (sql, params)
        return execute(sql, params, many, context)


def _new_store(key: str | None = None) -> Any:
    from qsessions.backends.db import SessionStore

    return SessionStore(key, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", ip="203.0.113.7")


def timed_round(ops: int, counter: list[int], user_ids: list[Any], samples: dict[str, dict[str, list[float]]]) -> None:
    """``ops`` new sessions, then ``ops`` saves of loaded sessions, each timed (µs); one write to each schema
    in turn (in alternating order), so that the drift of a shared machine hits both alike."""
    global _target
    keys: dict[str, list[str]] = {name: [] for name in SCHEMAS}
    for i in range(ops):
        counter[0] += 1
        for name in list(SCHEMAS)[:: 1 if i % 2 else -1]:
            _target = name
            store = _new_store()
            store["_auth_user_id"] = str(user_ids[counter[0] % len(user_ids)])
            store["n"] = counter[0]
            started = time.perf_counter_ns()
            store.create()
            samples[name]["insert"].append((time.perf_counter_ns() - started) / 1000)
            keys[name].append(store.session_key)
    for i in range(ops):
        for name in list(SCHEMAS)[:: 1 if i % 2 else -1]:
            _target = name
            store = _new_store(keys[name][i])
            store.load()
            store["n"] = -1
            started = time.perf_counter_ns()
            store.save()
            samples[name]["update"].append((time.perf_counter_ns() - started) / 1000)


def wal_of(name: str, statements: dict[str, tuple[str, Any]], repeats: int = 30) -> dict[str, dict[str, float]]:
    """WAL bytes and records of the store's statements, under EXPLAIN (ANALYZE, WAL), on fresh keys."""
    from django.db import connections

    from qsessions.models import make_public_id

    figures: dict[str, dict[str, float]] = {}
    with connections[name].cursor() as cursor:
        for verb, (sql, params) in statements.items():
            wal_bytes, records = [], []
            for i in range(repeats):
                values = list(params)
                if verb == "INSERT":  # a key and public id of its own each time
                    key = f"wal{name}{i:020d}{time.time_ns() % 10**6:06d}"[:32]
                    values = [key if value == params[0] else value for value in values]
                    values = [make_public_id(key) if v == make_public_id(params[0]) else v for v in values]
                else:  # one seeded session, saved again and again: with a new expiry each time, as a save has
                    values = [
                        value + datetime.timedelta(seconds=i + 1) if isinstance(value, datetime.datetime) else value
                        for value in values
                    ]
                    values[-1] = f"seed{7:028d}"
                cursor.execute("EXPLAIN (ANALYZE, WAL, FORMAT JSON) " + sql, values)
                plan = cursor.fetchone()[0]
                plan = json.loads(plan) if isinstance(plan, str) else plan
                top = plan[0]["Plan"]
                # A page's first change after a checkpoint logs the whole page (a full-page image): that
                # depends on the server's checkpoints, not on the schema, so those samples are left out.
                if top.get("WAL FPI", 0) == 0:
                    wal_bytes.append(float(top.get("WAL Bytes", 0)))
                    records.append(float(top.get("WAL Records", 0)))
            figures[verb.lower()] = {
                "wal_bytes": statistics.median(wal_bytes or [0.0]),
                "wal_records": statistics.median(records or [0.0]),
                "samples": len(wal_bytes),
            }
    return figures


def table_facts(name: str) -> dict[str, Any]:
    from django.db import connections

    with connections[name].cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this connection's counts, now
        cursor.execute(
            "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes"
            " WHERE relname = 'qsessions_session' ORDER BY indexrelname"
        )
        indexes = cursor.fetchall()
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'qsessions_session'")
        updated, hot = cursor.fetchone()
    return {
        "indexes": [index for index, _ in indexes],
        "index_bytes": sum(size for _, size in indexes),
        "updates": updated,
        "hot_updates": hot,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--seed-sessions", type=int, default=20_000)
    parser.add_argument("--no-write", action="store_true", help="print the table, keep the result files")
    args = parser.parse_args()
    configure()
    from django.contrib.auth import get_user_model
    from django.db import connections

    create_databases(args.seed_sessions)
    user_ids = list(get_user_model()._base_manager.using("after").values_list("pk", flat=True))
    samples: dict[str, dict[str, list[float]]] = {name: {"insert": [], "update": []} for name in SCHEMAS}
    counter = [0]
    capture = Capture()
    with connections["before"].execute_wrapper(capture), connections["after"].execute_wrapper(capture):
        for _ in range(args.rounds):
            timed_round(args.ops, counter, user_ids, samples)
    results: dict[str, Any] = {}
    for name in SCHEMAS:
        results[name] = {
            **{f"{kind}_us": statistics.median(values) for kind, values in samples[name].items()},
            **table_facts(name),
            "wal": wal_of(name, capture.statements),
        }
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "postgresql": connections["after"].cursor().connection.info.server_version,
        "rounds": args.rounds,
        "ops_per_round": args.ops,
        "seed_sessions": args.seed_sessions,
        "results": results,
    }
    lines = render(report)
    print("\n".join(lines))
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "write-cost.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / "write-cost.md").write_text("\n".join(lines) + "\n")
    with connections["default"].cursor() as cursor:
        for name in SCHEMAS:
            connections[name].close()
            cursor.execute(f"DROP DATABASE IF EXISTS qs_bench_write_{name}")
    return 0


def render(report: dict[str, Any]) -> list[str]:
    before, after = report["results"]["before"], report["results"]["after"]

    def ratio(a: float, b: float) -> str:  # after / before
        return f"{a / b:.2f}\u00d7" if b else "-"

    wal_b, wal_a = before["wal"], after["wal"]
    rows = [
        ("indexes on qsessions_session", len(before["indexes"]), len(after["indexes"]), "{:.0f}"),
        ("INSERT of a new session, median µs", before["insert_us"], after["insert_us"], "{:.0f}"),
        ("UPDATE of a saved session, median µs", before["update_us"], after["update_us"], "{:.0f}"),
        ("INSERT, WAL bytes", wal_b["insert"]["wal_bytes"], wal_a["insert"]["wal_bytes"], "{:.0f}"),
        ("INSERT, WAL records", wal_b["insert"]["wal_records"], wal_a["insert"]["wal_records"], "{:.0f}"),
        ("UPDATE, WAL bytes", wal_b["update"]["wal_bytes"], wal_a["update"]["wal_bytes"], "{:.0f}"),
        ("UPDATE, WAL records", wal_b["update"]["wal_records"], wal_a["update"]["wal_records"], "{:.0f}"),
        ("index size after the run, KiB", before["index_bytes"] / 1024, after["index_bytes"] / 1024, "{:.0f}"),
    ]
    pg = report["postgresql"]
    lines = [
        "# Session writes on PostgreSQL: before and after migration 0007 (lean indexes)",
        "",
        f"{report['date']}, PostgreSQL {pg // 10000}.{pg % 10000}, Python {report['machine']['python']},"
        f" {report['machine']['platform']}, {report['machine']['cpus']} CPUs. {report['rounds']} rounds of"
        f" {report['ops_per_round']} inserts and {report['ops_per_round']} updates per schema, one write"
        f" to each in turn;"
        f" {report['seed_sessions']:,} seeded sessions. `benchmarks/write_cost.py`.",
        "",
        "| | before | after | after / before |",
        "|---|---:|---:|---:|",
    ]
    for label, a, b, fmt in rows:
        lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio(b, a)} |")
    lines += [
        "",
        f"HOT updates: before {before['hot_updates']} of {before['updates']}, after {after['hot_updates']} of"
        f" {after['updates']} (every save moves `expire_date`, which stays indexed for clearsessions).",
        "",
        f"Indexes before: {', '.join(before['indexes'])}.",
        f"Indexes after: {', '.join(after['indexes'])}.",
    ]
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
