"""The site that `make bench-load` (benchmarks/load.py) serves with gunicorn: one small Django project on
PostgreSQL + Redis, with qsessions' engine (LOAD_FLAVOUR=ours) or Django's own (LOAD_FLAVOUR=django) of one
kind (LOAD_KIND: cached_db, the default, or cache: sessions in Redis only), everything else the same.

    gunicorn load_site:application --chdir benchmarks        the site (environment: see settings below)
    python benchmarks/load_site.py migrate | users N | sessions USER N | revoke USER...

A request with the header ``X-Bench-Count`` answers how many queries and cache calls it made
(``X-Queries``, ``X-Cache-Calls``), counted in the worker, so the timed requests count nothing.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

FLAVOUR = os.environ.get("LOAD_FLAVOUR", "ours")
OURS = FLAVOUR == "ours"
KIND = os.environ.get("LOAD_KIND", "cached_db")
if KIND not in ("cached_db", "cache"):
    raise SystemExit(f"LOAD_KIND must be cached_db or cache, not {KIND!r}")

settings.configure(
    DEBUG=False,
    SECRET_KEY="load-benchmark-not-secret",
    ALLOWED_HOSTS=["*"],
    USE_TZ=True,
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.messages",
        "qsessions" if OURS else "django.contrib.sessions",
    ],
    MIDDLEWARE=[
        f"{__name__}.counting_middleware",
        "qsessions.middleware.SessionMiddleware" if OURS else "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("LOAD_DB", "qs_load_" + FLAVOUR),
            "HOST": os.environ.get("QSESSIONS_BENCH_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("QSESSIONS_BENCH_PG_PORT", "5432"),
            "USER": os.environ.get("QSESSIONS_BENCH_PG_USER", "postgres"),
            "CONN_MAX_AGE": None,
        }
    },
    CACHES={
        "default": {
            "BACKEND": "counting_cache.CountingRedisCache",
            "LOCATION": os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/6"),
            "KEY_PREFIX": os.environ.get("LOAD_KEY_PREFIX", "load-" + FLAVOUR),
        }
    },
    SESSION_ENGINE=f"qsessions.backends.{KIND}" if OURS else f"django.contrib.sessions.backends.{KIND}",
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
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
    LOGGING_CONFIG=None,
)
django.setup()

from counting_cache import COUNTS  # noqa: E402
from django.contrib.auth import get_user_model, login  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402


def counting_middleware(get_response: Any) -> Any:
    def middleware(request: HttpRequest) -> HttpResponse:
        if "HTTP_X_BENCH_COUNT" not in request.META:
            return get_response(request)  # type: ignore[no-any-return]
        queries: list[str] = []

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            queries.append(sql)
            return execute(sql, params, many, context)

        COUNTS.clear()
        with connection.execute_wrapper(count):
            response: HttpResponse = get_response(request)
        response["X-Queries"] = str(len(queries))
        response["X-Cache-Calls"] = str(sum(COUNTS.values()))
        response["X-Cache-Detail"] = ",".join(f"{name}={n}" for name, n in sorted(COUNTS.items()))
        return response

    return middleware


def _answer(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username() or None, "n": request.session.get("n")})


def read(request: HttpRequest) -> HttpResponse:
    return _answer(request)


def write(request: HttpRequest) -> HttpResponse:
    request.session["n"] = (request.session.get("n") or 0) + 1
    return _answer(request)


def sign_in(request: HttpRequest) -> HttpResponse:
    user = get_user_model()._default_manager.get(username=request.GET["user"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["cart"] = {"items": [1, 2, 3], "currency": "EUR"}
    return _answer(request)


urlpatterns = [path("read/", read), path("write/", write), path("login/", sign_in)]
if OURS:
    urlpatterns.append(path("account/sessions/", include("qsessions.urls")))

application = WSGIHandler()


# -- commands for benchmarks/load.py --------------------------------------------------------------------


def _revoke(usernames: list[str]) -> int:
    """Sign these users out everywhere, the way each kind of site does it."""
    users = list(get_user_model()._default_manager.filter(username__in=usernames))
    if OURS:
        from qsessions.revocation import revoke_all

        return sum(revoke_all(user, "admin") for user in users)
    wanted = {str(user.pk) for user in users}
    if KIND == "cache":
        keys = _django_cache_sessions_of(wanted)
    else:
        from django.contrib.sessions.models import Session

        keys = [s.session_key for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") in wanted]
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store_class(key).delete()  # cached_db: the database row, then the cache entry
    return len(keys)


def _django_cache_sessions_of(user_ids: set[str]) -> list[str]:
    """The keys of these users' sessions on Django's cache engine, which keeps no index: scan Redis."""
    from django.contrib.sessions.backends.cache import KEY_PREFIX
    from django.core.cache import cache

    prefix = cache.make_key(KEY_PREFIX)
    client = cache._cache.get_client(prefix)  # type: ignore[attr-defined]  # the redis-py client of RedisCache
    keys = [raw.decode()[len(prefix) :] for raw in client.scan_iter(match=prefix + "*", count=1000)]
    return [key for key in keys if (cache.get(KEY_PREFIX + key) or {}).get("_auth_user_id") in user_ids]


def _user_agent(number: int) -> str:
    version = 60 + number % 70
    return f"Mozilla/5.0 (X11; Linux x86_64; rv:{version}.0) Gecko/20100101 Firefox/{version}.{number // 70}"


def _ip(number: int) -> str:
    return f"198.51.{number // 250}.{number % 250 + 1}"


def _add_sessions(username: str, count: int) -> None:
    """``count`` more sessions of ``username``, each from a browser of its own (ours only)."""
    import datetime

    from django.utils import timezone

    from qsessions.models import Session, make_public_id

    user = get_user_model()._default_manager.get(username=username)
    if KIND == "cache":  # no table: each session is created through the store, which indexes it in Redis
        from django.contrib.auth import SESSION_KEY

        store_class = Session.get_session_store_class()
        for number in range(count):
            store = store_class(user_agent=_user_agent(number), ip=_ip(number))
            store[SESSION_KEY] = str(user.pk)
            store.create()
        return
    data = Session.get_session_store_class()().encode({"_auth_user_id": str(user.pk)})
    now = timezone.now()
    keys = [f"{username[:12]}x{number:019d}" for number in range(count)]
    Session.objects.bulk_create(
        [
            Session(
                session_key=key,
                public_id=make_public_id(key),
                session_data=data,
                expire_date=now + datetime.timedelta(days=14),
                user=user,
                user_agent=_user_agent(number),
                ip=_ip(number),
                created_at=now - datetime.timedelta(minutes=number),
                last_activity=now - datetime.timedelta(minutes=number),
            )
            for number, key in enumerate(keys)
        ],
        batch_size=1000,
    )


def main(argv: list[str]) -> None:
    from django.core.management import call_command

    command, args = argv[0], argv[1:]
    if command == "migrate":
        call_command("migrate", verbosity=0)
    elif command == "users":
        model = get_user_model()
        model._default_manager.bulk_create([model(username=name) for name in args])
    elif command == "sessions":
        _add_sessions(args[0], int(args[1]))
    elif command == "revoke":
        print(_revoke(args))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
