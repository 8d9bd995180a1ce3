"""One contender, one round: runs inside the contender's virtualenv, prints one JSON line per scenario.

    python worker.py CONFIG_JSON            the scenarios named in the config
    python worker.py --serve CONFIG_JSON    set up once, then run the scenarios that stdin asks for
    python worker.py --clear CONFIG_JSON    (internal) clearsessions on an existing database, peak RSS

The config (see run.py) names the session engine, its family (django, qsessions, user_sessions), the
database and cache, the scenarios and their iteration counts. Requests go through Django's WSGIHandler
with the full middleware stack (session, authentication, messages) of the contender.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
IP = "203.0.113.5"
OTHER_IP = "198.51.100.7"
CART = {"items": [1, 2, 3], "currency": "EUR"}

FAMILIES = {
    "django": ("django.contrib.sessions", "django.contrib.sessions.middleware.SessionMiddleware"),
    "qsessions": ("qsessions", "qsessions.middleware.SessionMiddleware"),
    "user_sessions": ("user_sessions", "user_sessions.middleware.SessionMiddleware"),
}


# -- settings --------------------------------------------------------------------------------------------


def database_settings(config: dict[str, Any], test_name: str | None = None) -> dict[str, Any]:
    name = f"qs_bench_{config['contender']['id'].replace('-', '_')}_{config.get('process', 0)}"
    if config["db"] == "sqlite":
        path = str(Path(config["workdir"]) / f"{name}.sqlite3")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "TEST": {"NAME": path},
            "CONN_MAX_AGE": None,
            # No fsync per commit: the benchmark measures the engines, not the disk (whose latency on a
            # shared machine varies by milliseconds and would drown every difference).
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF"},
        }
    pg = config["postgresql"]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": test_name or pg.get("maintenance_db", "postgres"),
        "USER": pg["user"],
        "PASSWORD": pg.get("password", ""),
        "HOST": pg["host"],
        "PORT": str(pg["port"]),
        "CONN_MAX_AGE": None,
        # For these connections only: a commit does not wait for the WAL to reach the disk (see SQLite's
        # synchronous=OFF above). Every statement still runs and commits as usual.
        "OPTIONS": {"options": "-c synchronous_commit=off"},
        "TEST": {"NAME": name},
    }


def cache_settings(config: dict[str, Any]) -> dict[str, Any]:
    # The cache engines (Django's and ours) keep sessions in Redis only: always on Redis, also in the
    # quick run, where the database engines use local memory.
    if config["cache"] == "locmem" and config["contender"]["kind"] != "cache":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bench"}
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": config["redis_url"]}


def configure(config: dict[str, Any], test_name: str | None = None) -> None:
    import django
    from django.conf import settings

    app, middleware = FAMILIES[config["contender"]["family"]]
    # QSESSIONS_BENCH_SETTINGS='{"QSESSIONS_IDLE_TIMEOUT": 3600}': extra settings for qsessions (ours) only,
    # to measure a feature's cost against the same peers in the same run.
    ours = config["contender"]["id"].startswith("ours")
    extra = json.loads(os.environ.get("QSESSIONS_BENCH_SETTINGS", "{}")) if ours else {}
    settings.configure(
        **extra,
        DEBUG=False,
        SECRET_KEY="qsessions-benchmarks-not-secret",
        USE_TZ=True,
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.messages",
            app,
        ],
        MIDDLEWARE=[
            middleware,
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF="bench_urls",
        SESSION_ENGINE=config["contender"]["engine"],
        DATABASES={"default": database_settings(config, test_name)},
        CACHES={"default": cache_settings(config)},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        LOGGING_CONFIG=None,
    )
    django.setup()


# -- measuring -------------------------------------------------------------------------------------------


class QueryCounter:
    def __init__(self) -> None:
        self.statements: Counter[str] = Counter()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements[sql.lstrip().split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)


class Bench:
    """Times operations; in counting mode it instead records their queries and cache calls."""

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.samples: list[int] = []  # wall-clock time of each operation
        # CPU time of this process for each operation: what our code costs, hardly moved by other processes
        # competing for the machine (it leaves out the database and cache servers' own time).
        self.cpu_samples: list[int] = []
        self.counting = False
        self.last_body = b""
        self.reading_key: str | None = None  # the session the read scenario reads, signed in once
        self.queries: Counter[str] = Counter()
        self.cache_ops: Counter[str] = Counter()

    def measure(self, operation: Callable[[], Any]) -> Any:
        if not self.counting:
            start_cpu, start = time.process_time_ns(), time.perf_counter_ns()
            result = operation()
            self.samples.append(time.perf_counter_ns() - start)
            self.cpu_samples.append(time.process_time_ns() - start_cpu)
            return result
        import counting_cache
        from django.db import connection

        counter = QueryCounter()
        with counting_cache.counting() as cache_calls, connection.execute_wrapper(counter):
            result = operation()
        self.queries = counter.statements
        self.cache_ops = Counter(cache_calls)
        return result

    def request(self, path: str, cookie: str | None = None, ip: str = IP) -> str | None:
        """GET ``path``; return the session key the response sets, if any."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path.split("?", 1)[0],
            "QUERY_STRING": path.split("?", 1)[1] if "?" in path else "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "REMOTE_ADDR": ip,
            "HTTP_USER_AGENT": USER_AGENT,
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if cookie:
            environ["HTTP_COOKIE"] = f"sessionid={cookie}"
        status: list[str] = []
        headers: list[tuple[str, str]] = []

        def start_response(s: str, h: list[tuple[str, str]], exc_info: Any = None) -> None:
            status.append(s)
            headers.extend(h)

        response = self.handler(environ, start_response)
        try:
            self.last_body = b"".join(response)
        finally:
            response.close()
        if not status[0].startswith("200"):
            raise RuntimeError(f"GET {path}: {status[0]}")
        for name, value in headers:
            value = value.strip()
            if name.lower() == "set-cookie" and value.startswith("sessionid="):
                return value.split(";", 1)[0].split("=", 1)[1] or None
        return None


# -- scenario helpers ------------------------------------------------------------------------------------


def store_class() -> Any:
    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore


def new_store(session_key: str | None = None) -> Any:
    from django.conf import settings

    cls = store_class()
    if settings.SESSION_ENGINE.startswith("django.contrib"):
        return cls(session_key)
    return cls(session_key=session_key, user_agent=USER_AGENT, ip=IP)


def sign_in(bench: Bench, username: str = "bench") -> str:
    key = bench.request(f"/login/?user={username}")
    assert key, "login did not set a session cookie"
    bench.request("/write/", key)  # the cart and the first write happen before measuring
    return key


def session_model() -> Any:
    from django.apps import apps

    for app, label in (
        ("qsessions", "qsessions"),
        ("user_sessions", "user_sessions"),
        ("django.contrib.sessions", "sessions"),
    ):
        if apps.is_installed(app):
            return apps.get_model(label, "Session")
    raise LookupError("no session model installed")


def row_values(user: Any, expired: bool) -> dict[str, Any]:
    """Column values (except the key) of a signed-in session row, for whichever model is installed."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    model = session_model()
    now = timezone.now()
    data = {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
        HASH_SESSION_KEY: user.get_session_auth_hash(),
        "cart": CART,
    }
    values: dict[str, Any] = {
        "session_data": new_store().encode(data),
        "expire_date": now - timedelta(days=1) if expired else now + timedelta(days=14),
    }
    names = {field.name for field in model._meta.concrete_fields}
    optional = {
        "user": user,
        "user_agent": USER_AGENT,
        "ip": IP,
        "created_at": now - timedelta(days=2),
        "updated_at": now - timedelta(days=2),
        "last_activity": now - timedelta(days=2),
    }
    values.update({name: value for name, value in optional.items() if name in names})
    return values


def bulk_sessions(user: Any, count: int) -> list[str]:
    """Insert ``count`` sessions owned by ``user`` directly (untimed set-up); return their keys."""
    from django.utils.crypto import get_random_string

    model = session_model()
    values = row_values(user, expired=False)
    has_public_id = any(field.name == "public_id" for field in model._meta.concrete_fields)
    rows = []
    for _ in range(count):
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        row = model(session_key=key, **values)
        if has_public_id:
            from qsessions.models import make_public_id

            row.public_id = make_public_id(key)
        rows.append(row)
    model._default_manager.bulk_create(rows, batch_size=500)
    return [row.session_key for row in rows]


# -- scenarios -------------------------------------------------------------------------------------------
# Each takes the Bench, the users and an iteration count, and calls bench.measure() once per iteration.


def scenario_anonymous(bench: Bench, users: dict[str, Any], n: int) -> None:
    for _ in range(n):
        bench.measure(lambda: bench.request("/anon/"))


def scenario_read(bench: Bench, users: dict[str, Any], n: int) -> None:
    # One session, signed in at the worker's first read (its warm-up) and read in every round after: the
    # reads of a block follow other requests, not a login of their own. (A login right before each block
    # measured its first reads as the reads after a login: their code evicted by the login's.)
    if bench.reading_key is None:
        bench.reading_key = sign_in(bench)
    key = bench.reading_key
    for _ in range(n):
        bench.measure(lambda: bench.request("/read/", key))
    if b"items" not in bench.last_body:
        raise RuntimeError("the read scenario's session no longer holds its data (signed out?)")


def scenario_write(bench: Bench, users: dict[str, Any], n: int) -> None:
    key = sign_in(bench)
    for _ in range(n):
        bench.measure(lambda: bench.request("/write/", key))


def scenario_login(bench: Bench, users: dict[str, Any], n: int) -> None:
    for _ in range(n):
        anonymous_key = bench.request("/write/")  # a visitor with a session (say, a cart) signs in
        new_key = bench.measure(lambda key=anonymous_key: bench.request("/login/", key))
        if new_key == anonymous_key:
            raise RuntimeError("login did not cycle the session key")


def scenario_ip_change(bench: Bench, users: dict[str, Any], n: int) -> None:
    key = sign_in(bench)
    for i in range(n):
        ip = OTHER_IP if i % 2 == 0 else IP
        bench.measure(lambda ip=ip: bench.request("/read/", key, ip=ip))


def scenario_store_save(bench: Bench, users: dict[str, Any], n: int) -> None:
    """The store's save() of an existing, loaded session whose data changed (no request around it)."""
    key = sign_in(bench)
    for i in range(n):
        store = new_store(key)
        store["counter"] = i
        bench.measure(store.save)


def cache_only() -> bool:
    from django.conf import settings

    return str(settings.SESSION_ENGINE).endswith("backends.cache")


def cached_sessions(user: Any, count: int) -> None:
    """Create ``count`` sessions of ``user`` through the cache-only engine's store (untimed set-up)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    for _ in range(count):
        store = new_store()
        store.update(
            {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash(),
                "cart": CART,
            }
        )
        store.create()


def scenario_admin_changelist(bench: Bench, users: dict[str, Any], n: int, size: int = 1000) -> None:
    from django.apps import apps

    if apps.is_installed("django.contrib.sessions"):
        raise NotApplicable("django.contrib.sessions has no admin")
    if cache_only():
        if store_class().__module__.startswith("django."):
            raise NotApplicable("Django's cache engine has no admin")
        # No rows to list: the admin lists one user's sessions (its first page of 100) from the user's index.
        from qsessions.cache_sessions import user_sessions

        cached_sessions(users["bench"], size - len(user_sessions(users["bench"])))
        key = sign_in(bench, "admin")
        url = f"/admin/qsessions/session/user/{users['bench'].pk}/"
        for _ in range(n):
            bench.measure(lambda: bench.request(url, key))
        return
    model = session_model()
    bulk_sessions(users["bench"], size - model._default_manager.filter(user=users["bench"]).count())
    key = sign_in(bench, "admin")
    url = f"/admin/{model._meta.app_label}/session/"
    for _ in range(n):
        bench.measure(lambda: bench.request(url, key))


def scenario_revoke_all(bench: Bench, users: dict[str, Any], n: int, size: int = 1000) -> None:
    """Sign a user out everywhere: one who has ``size`` sessions."""
    user = users["victim"]
    if cache_only():
        if store_class().__module__.startswith("django."):
            raise NotApplicable("Django's cache engine cannot find a user's sessions")
        from qsessions.cache_sessions import user_sessions
        from qsessions.revocation import REASON_ADMIN, revoke_all

        for _ in range(n):
            cached_sessions(user, size)
            bench.measure(lambda: revoke_all(user, REASON_ADMIN))
            if user_sessions(user):
                raise RuntimeError("sessions survived revocation")
        return
    model = session_model()
    for _ in range(n):
        bulk_sessions(user, size)
        if model._meta.app_label == "sessions":
            bench.measure(lambda: revoke_all_django(model, user))
        else:
            bench.measure(lambda: user.session_set.all().delete())
        if model._meta.app_label != "sessions" and model._default_manager.filter(user=user).exists():
            raise RuntimeError("sessions survived revocation")


def scenario_revoke_all_recorded(bench: Bench, users: dict[str, Any], n: int, size: int = 1000) -> None:
    """The same through qsessions' revocation (reason "admin"), which records each end in the history of
    ended sessions; contenders without one revoke as in ``revoke_all``."""
    try:
        from qsessions.models import record_ends  # noqa: F401  (only a qsessions with the history)
        from qsessions.revocation import revoke_all
    except ImportError:
        return scenario_revoke_all(bench, users, n, size)
    if cache_only():
        raise NotApplicable("the cache-only engine keeps no history of ended sessions")
    user = users["victim"]
    for _ in range(n):
        bulk_sessions(user, size)
        bench.measure(lambda: revoke_all(user, "admin"))
        if user.session_set.exists():
            raise RuntimeError("sessions survived revocation")
    return None


def revoke_all_django(model: Any, user: Any) -> None:
    """Django's sessions keep the owner inside the encoded data: decode every row, delete the matches."""
    from django.conf import settings
    from django.contrib.auth import SESSION_KEY
    from django.core.cache import caches

    store = store_class()
    decoder = store()
    owner = str(user.pk)
    keys = [
        row.session_key
        for row in model.objects.iterator(chunk_size=2000)
        if decoder.decode(row.session_data).get(SESSION_KEY) == owner
    ]
    model.objects.filter(pk__in=keys).delete()
    prefix = getattr(store, "cache_key_prefix", None)
    if prefix is not None:
        caches[settings.SESSION_CACHE_ALIAS].delete_many([prefix + key for key in keys])


def scenario_your_sessions(bench: Bench, users: dict[str, Any], n: int, size: int = 20) -> None:
    """The signed-in user's "Your sessions" page, listing ``size`` sessions (qsessions only)."""
    try:
        import qsessions.urls  # noqa: F401  (only qsessions 3 has the pages)
    except ImportError:
        raise NotApplicable("no 'your sessions' page") from None
    from django.contrib.auth import get_user_model

    user, _ = get_user_model()._default_manager.get_or_create(username="pages")
    key = sign_in(bench, "pages")
    if cache_only():
        from qsessions.cache_sessions import user_sessions

        cached_sessions(user, size - len(user_sessions(user)))
    else:
        bulk_sessions(user, size - session_model()._default_manager.filter(user=user).count())
    for _ in range(n):
        bench.measure(lambda: bench.request("/account/sessions/", key))


class NotApplicable(Exception):
    pass


SCENARIOS: dict[str, Callable[..., None]] = {
    "anonymous": scenario_anonymous,
    "read": scenario_read,
    "write": scenario_write,
    "login": scenario_login,
    "ip_change": scenario_ip_change,
    "store_save": scenario_store_save,
    "admin_changelist": scenario_admin_changelist,
    "revoke_all": scenario_revoke_all,
    "revoke_all_recorded": scenario_revoke_all_recorded,
    "your_sessions": scenario_your_sessions,
}


# -- clearsessions ---------------------------------------------------------------------------------------


def fill_expired(count: int) -> None:
    """Insert ``count`` expired sessions in one statement on PostgreSQL (generate_series)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    model = session_model()
    values = row_values(get_user_model()._default_manager.get(username="victim"), expired=True)
    columns = ["session_key"]
    expressions = ["'k' || md5(i::text)"]
    params: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.name == "session_key":
            continue
        if field.name == "public_id":
            columns.append(field.column)
            expressions.append("md5('p' || i::text)")
        elif field.name in values:
            value = values[field.name]
            columns.append(field.column)
            expressions.append("%s")
            params.append(value.pk if field.name == "user" else value)
    table = model._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(expressions)} FROM generate_series(1, %s) AS i"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, count])
        cursor.execute(f"ANALYZE {table}")


CLEAR_MEMORY_CAP_MB = 6144


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clear_child(config: dict[str, Any]) -> None:
    """In a fresh process: run clearsessions against the filled database, report time, queries and RSS."""
    import resource

    # A contender that loads every expired row must fail here rather than exhaust a shared machine.
    cap = CLEAR_MEMORY_CAP_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    configure(config, test_name=config["test_db_name"])
    import counting_cache
    from django.core.management import call_command, get_commands
    from django.db import connection

    connection.ensure_connection()
    baseline = vm_hwm_mb()
    counter = QueryCounter()
    start = time.perf_counter_ns()
    with counting_cache.counting() as cache_calls, connection.execute_wrapper(counter):
        if "clearsessions" in get_commands():
            call_command("clearsessions")
        else:
            store_class().clear_expired()
    elapsed = time.perf_counter_ns() - start
    remaining = session_model()._default_manager.count()
    print(
        json.dumps(
            {
                "samples_ns": [elapsed],
                "queries": dict(counter.statements),
                "cache_ops": dict(cache_calls),
                "peak_rss_mb": round(vm_hwm_mb(), 1),
                "baseline_rss_mb": round(baseline, 1),
                "remaining_rows": remaining,
            }
        )
    )


def scenario_clearsessions(config: dict[str, Any], rows: int) -> dict[str, Any]:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise NotApplicable("clearsessions over many rows runs on PostgreSQL only")
    fill_expired(rows)
    connection.close()
    child = {**config, "test_db_name": connection.settings_dict["NAME"]}
    out = subprocess.run(
        [sys.executable, __file__, "--clear", json.dumps(child)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        # Most likely the memory cap of clear_child(): report it as this contender's result.
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": f"{last[:200]} (memory capped at {CLEAR_MEMORY_CAP_MB} MB)", "rows": rows}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["rows"] = rows
    return result


# -- main ------------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import django

    found = {"python": sys.version.split()[0], "django": django.get_version()}
    for dist in ("qsessions", "django-qsessions", "django-user-sessions"):
        with contextlib.suppress(PackageNotFoundError):
            found[dist] = version(dist)
    return found


def emit(config: dict[str, Any], scenario: str, **fields: Any) -> None:
    contender = config["contender"]
    line = {"contender": contender["id"], "kind": contender["kind"], "scenario": scenario, "round": config["round"]}
    print(json.dumps({**line, **fields}), flush=True)


def measure_scenario(
    users: dict[str, Any], scenario: str, spec: dict[str, Any], iterations: int, counting: bool = False
) -> dict[str, Any]:
    """Run ``scenario`` ``iterations`` times: its samples, or (``counting``) one operation's queries and cache calls."""
    extra = {"size": spec["size"]} if "size" in spec else {}
    bench = Bench()
    bench.counting = counting
    try:
        SCENARIOS[scenario](bench, users, iterations, **extra)
    except NotApplicable as reason:
        return {"not_applicable": str(reason)}
    if counting:
        return {"queries": dict(bench.queries), "cache_ops": dict(bench.cache_ops), **extra}
    return {"samples_ns": bench.samples, "cpu_ns": bench.cpu_samples, **extra}


def set_up(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Configure Django, create the test database and the users; return the original database name."""
    configure(config)
    from django.contrib.auth import get_user_model
    from django.core.cache import caches
    from django.db import connection

    original_name: str = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    caches["default"].clear()
    user_model = get_user_model()
    users = {
        "bench": user_model.objects.create_user("bench", password="x"),
        "victim": user_model.objects.create_user("victim", password="x"),
        "admin": user_model.objects.create_superuser("admin", password="x"),
    }
    emit(config, "_meta", versions=versions(), vendor=connection.vendor)
    return original_name, users


def tear_down(original_name: str) -> None:
    from django.db import connection

    connection.creation.destroy_test_db(original_name, verbosity=0)


def run(config: dict[str, Any]) -> None:
    """Every scenario of the config in turn: warm-up, timed iterations, one counted operation."""
    original_name, users = set_up(config)
    try:
        for scenario, spec in config["scenarios"].items():
            if config.get("profile") == scenario:
                profile(users, scenario, spec)
            elif scenario == "clearsessions":
                emit(config, scenario, **scenario_clearsessions(config, spec["rows"]))
            else:
                if spec.get("warmup"):
                    measure_scenario(users, scenario, spec, spec["warmup"])
                result = measure_scenario(users, scenario, spec, spec["iterations"])
                if "samples_ns" in result:
                    result.update(measure_scenario(users, scenario, spec, 1, counting=True))
                emit(config, scenario, **result)
    finally:
        tear_down(original_name)


def serve(config: dict[str, Any]) -> None:
    """Set up once, then answer commands from stdin, one JSON line each, until end of input.

    A command is {"scenario": name, "iterations": n, "round": r, "count": bool}; the orchestrator sends
    the same command to every contender in turn, so that all of them are measured close together in time.
    """
    import gc

    original_name, users = set_up(config)
    gc.collect()
    gc.freeze()  # the set-up's objects need no more collecting; only the measured work is left
    try:
        for raw in sys.stdin:
            command = json.loads(raw)
            spec = config["scenarios"][command["scenario"]]
            result = measure_scenario(
                users, command["scenario"], spec, command["iterations"], command.get("count", False)
            )
            emit({**config, "round": command.get("round", 0)}, command["scenario"], **result)
    finally:
        tear_down(original_name)


def profile(users: dict[str, Any], scenario: str, spec: dict[str, Any]) -> None:
    """Run a scenario under cProfile and print where its time goes (to stderr)."""
    import cProfile
    import pstats

    extra = {"size": spec["size"]} if "size" in spec else {}
    bench = Bench()
    SCENARIOS[scenario](bench, users, spec.get("warmup", 0) or 1, **extra)
    profiler = cProfile.Profile()
    profiler.enable()
    SCENARIOS[scenario](bench, users, spec["iterations"], **extra)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


def pin(config: dict[str, Any]) -> None:
    """Run on the CPU the orchestrator chose for every worker (run.py's measuring_cpu)."""
    if config.get("cpu") is not None:
        os.sched_setaffinity(0, {config["cpu"]})


def main(argv: list[str]) -> int:
    if argv[:1] == ["--clear"]:
        clear_child(json.loads(argv[1]))
        return 0
    if argv[:1] == ["--serve"]:
        config = json.loads(argv[1])
        pin(config)
        os.chdir(config["workdir"])
        serve(config)
        return 0
    config = json.loads(argv[0])
    pin(config)
    os.chdir(config["workdir"])
    run(config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
