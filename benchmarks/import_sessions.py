"""How fast `manage.py importsessions` copies a large django_session table, and how much memory it takes.

Fills a django_session table with --rows sessions written the way Django's engine writes them (70% signed
in across 10,000 users, 20% anonymous, 10% expired), then runs the command in a child process and reports
its rows per second and its peak resident memory (RSS), against the RSS of the same process right after
Django has started (the baseline).

    .venv/bin/python benchmarks/import_sessions.py --rows 1000000
    .venv/bin/python benchmarks/import_sessions.py --rows 1000000 --db postgresql --pg-name qs_bench_import
        (PostgreSQL needs `pip install "psycopg[binary]"`; the database is created and dropped)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
USERS = 10_000
FILL_BATCH = 20_000


def configure(db: str, name: str) -> None:
    import django
    from django.conf import settings

    if db == "sqlite":
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    else:
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": "postgres", "HOST": "127.0.0.1"}
    settings.configure(
        SECRET_KEY="benchmark-secret-key-not-secret",
        USE_TZ=True,
        DATABASES={"default": database},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "qsessions"],
        SESSION_ENGINE="qsessions.backends.db",
        MIDDLEWARE=["qsessions.middleware.SessionMiddleware"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def rss_mib() -> float:
    """Peak RSS of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fill(rows: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore as DjangoStore
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    user_model.objects.bulk_create(
        [user_model(username=f"user{i}", password="!") for i in range(USERS)], batch_size=5_000
    )
    user_ids = list(user_model.objects.values_list("pk", flat=True))
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {quote('django_session')} ({quote('session_key')} varchar(40) PRIMARY KEY, "
            f"{quote('session_data')} text NOT NULL, {quote('expire_date')} "
            f"{'datetime' if connection.vendor == 'sqlite' else 'timestamp with time zone'} NOT NULL)"
        )
    # Django's own engine encodes the data (same signing and serializer as a real site).
    store = DjangoStore()
    rng = random.Random(7)
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"INSERT INTO {quote('django_session')} VALUES (%s, %s, %s)"
    started = time.monotonic()
    for start in range(0, rows, FILL_BATCH):
        batch = []
        for i in range(start, min(rows, start + FILL_BATCH)):
            kind = rng.random()
            if kind < 0.7:
                user = rng.choice(user_ids)
                data: dict[str, Any] = {
                    "_auth_user_id": str(user),
                    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                    "_auth_user_hash": f"{user:064x}",
                    "cart": [rng.randrange(1000) for _ in range(3)],
                }
            else:
                data = {"cart": [rng.randrange(1000)], "theme": "dark"}
            days = -1 if kind > 0.9 else 14
            expiry = now + datetime.timedelta(days=days, seconds=i % 86_400)
            batch.append((f"{i:032x}", store.encode(data), adapt(expiry)))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)
    print(f"filled {rows} rows in {time.monotonic() - started:.0f}s", file=sys.stderr)


def run_import(batch_size: int) -> dict[str, Any]:
    import io

    from django.core.management import call_command

    baseline = current_rss_mib()
    out = io.StringIO()
    started, cpu_started = time.monotonic(), time.process_time()
    call_command("importsessions", "--batch-size", str(batch_size), "--verbosity", "0", stdout=out, stderr=out)
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
    from qsessions.models import Session

    return {
        "elapsed_s": round(elapsed, 1),
        "cpu_s": round(cpu, 1),
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": round(rss_mib(), 1),
        "imported": Session.objects.count(),
        "summary": out.getvalue().strip().splitlines(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-name", default="qs_bench_import")
    parser.add_argument("--phase", choices=["fill", "import"])
    parser.add_argument("--name")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))

    if args.phase:
        configure(args.db, args.name)
        if args.phase == "fill":
            fill(args.rows)
        else:
            print(json.dumps(run_import(args.batch_size)))
        return 0

    with tempfile.TemporaryDirectory(dir=ROOT / ".cache") as workdir:
        name = str(Path(workdir) / "bench.sqlite3") if args.db == "sqlite" else args.pg_name
        if args.db == "postgresql":
            subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name], check=True)
            subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
        try:
            base = [sys.executable, __file__, "--db", args.db, "--name", name, "--rows", str(args.rows)]
            subprocess.run([*base, "--phase", "fill"], check=True)
            done = subprocess.run(
                [*base, "--phase", "import", "--batch-size", str(args.batch_size)],
                check=True,
                capture_output=True,
                text=True,
            )
        finally:
            if args.db == "postgresql":
                subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name], check=False)
    result = json.loads(done.stdout)
    rate = args.rows / result["elapsed_s"]
    print(f"importsessions on {args.db}, {args.rows} rows, batch size {args.batch_size}:")
    print(f"  {result['elapsed_s']}s, {rate:,.0f} rows/s read ({result['cpu_s']}s of CPU in the command's process)")
    print(f"  peak RSS {result['peak_rss_mib']} MiB (baseline after Django setup {result['baseline_rss_mib']} MiB)")
    for line in result["summary"]:
        print(f"  | {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
