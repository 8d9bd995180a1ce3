"""System checks: configuration mistakes reported by ``manage.py check`` with ids qsessions.E0xx/W0xx."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

MIDDLEWARE_PATH = "qsessions.middleware.SessionMiddleware"


def _engine_is_qsessions(engine: str) -> bool:
    from qsessions.backends.db import SessionStore

    try:
        store_class = getattr(import_module(engine), "SessionStore", None)
    except ImportError:
        return False
    return isinstance(store_class, type) and issubclass(store_class, SessionStore)


@register(Tags.compatibility)
def check_engine_matches_middleware(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    engine = getattr(settings, "SESSION_ENGINE", "")
    if MIDDLEWARE_PATH in middleware and not _engine_is_qsessions(engine):
        return [
            Error(
                f"SESSION_ENGINE is {engine!r}, which is not a qsessions engine, but MIDDLEWARE uses "
                f"{MIDDLEWARE_PATH}.",
                hint='Set SESSION_ENGINE = "qsessions.backends.db" or "qsessions.backends.cached_db".',
                id="qsessions.E001",
            )
        ]
    return []


# -- switching from django.contrib.sessions (ids E030-E039 / W030-W039) -------------------------------

DJANGO_MIDDLEWARE_PATH = "django.contrib.sessions.middleware.SessionMiddleware"
DJANGO_TABLE_ENGINES = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")
# Samples of what django.contrib.auth.login() and qsessions put into session data.
_AUTH_SHAPED_DATA = {"_auth_user_id": "1", "_auth_user_backend": "path.Backend", "_auth_user_hash": "0f" * 32}


def _installed(app: str) -> bool:
    return app in list(getattr(settings, "INSTALLED_APPS", None) or [])


@register(Tags.compatibility)
def check_switched_from_django_sessions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A half-done switch: qsessions installed, while Django's engine or middleware still does the work."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    engine = getattr(settings, "SESSION_ENGINE", "")
    ours_engine = _engine_is_qsessions(engine)
    messages: list[CheckMessage] = []
    if not ours_engine and MIDDLEWARE_PATH not in middleware:  # with our middleware, E001 says it
        if _installed("django.contrib.sessions") and engine in DJANGO_TABLE_ENGINES:
            messages.append(
                Error(
                    f"qsessions and django.contrib.sessions are both installed and SESSION_ENGINE is {engine!r}: "
                    "sessions are written to django.contrib.sessions' table, qsessions never sees them.",
                    hint='Set SESSION_ENGINE = "qsessions.backends.db" (or "qsessions.backends.cached_db"), '
                    f'MIDDLEWARE "{MIDDLEWARE_PATH}", remove "django.contrib.sessions" from INSTALLED_APPS, then '
                    "run `manage.py importsessions` so nobody is signed out.",
                    id="qsessions.E030",
                )
            )
        else:
            messages.append(
                Warning(
                    f"qsessions is installed but SESSION_ENGINE is {engine!r}, not a qsessions engine: sessions "
                    "are not stored by qsessions.",
                    hint='Set SESSION_ENGINE = "qsessions.backends.db" or "qsessions.backends.cached_db".',
                    id="qsessions.W030",
                )
            )
    if DJANGO_MIDDLEWARE_PATH in middleware and MIDDLEWARE_PATH in middleware:
        messages.append(
            Error(
                f"MIDDLEWARE has both {DJANGO_MIDDLEWARE_PATH} and {MIDDLEWARE_PATH}: each loads and saves the "
                "session, the later one replaces request.session of the first.",
                hint=f"Remove {DJANGO_MIDDLEWARE_PATH!r} from MIDDLEWARE.",
                id="qsessions.E032",
            )
        )
    elif ours_engine and DJANGO_MIDDLEWARE_PATH in middleware:
        messages.append(
            Error(
                f"SESSION_ENGINE is a qsessions engine but MIDDLEWARE uses {DJANGO_MIDDLEWARE_PATH}: sessions "
                "never record their IP address or user agent.",
                hint=f"Replace {DJANGO_MIDDLEWARE_PATH!r} with {MIDDLEWARE_PATH!r} in MIDDLEWARE.",
                id="qsessions.E031",
            )
        )
    return messages


@register(Tags.caches)
def check_cached_db_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """cached_db needs a cache that every process shares, or revocation does not reach them all."""
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache

    engine = getattr(settings, "SESSION_ENGINE", "")
    if not _engine_is_qsessions(engine):
        return []
    from qsessions.models import Session

    if not Session.get_session_store_class().caches_sessions:
        return []
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    backend = (getattr(settings, "CACHES", None) or {}).get(alias, {}).get("BACKEND", "")
    try:
        backend_class = import_string(backend)
    except ImportError:
        return []  # Django's own cache checks report an unusable BACKEND
    if issubclass(backend_class, LocMemCache):
        return [
            Warning(
                f"SESSION_ENGINE is {engine!r} and cache {alias!r} is local memory: each process has its own copy, "
                "so a session revoked in one process stays valid in the others until its cache entry expires.",
                hint="Use a shared cache (Redis, Memcached) for SESSION_CACHE_ALIAS, or qsessions.backends.db. "
                "A single-process site can silence this check.",
                id="qsessions.W033",
            )
        ]
    if issubclass(backend_class, DummyCache):
        return [
            Warning(
                f"SESSION_ENGINE is {engine!r} but cache {alias!r} is a dummy cache, which keeps nothing: every "
                "request reads the database, as with qsessions.backends.db.",
                hint='Use a real cache for SESSION_CACHE_ALIAS, or SESSION_ENGINE = "qsessions.backends.db".',
                id="qsessions.W034",
            )
        ]
    return []


@register(Tags.security)
def check_session_serializer(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The serializer must round-trip what auth and qsessions read back from the data; pickle is unsafe."""
    path = getattr(settings, "SESSION_SERIALIZER", "django.core.signing.JSONSerializer")
    try:
        serializer = import_string(path)()
        round_trip = serializer.loads(serializer.dumps(_AUTH_SHAPED_DATA))
    except Exception as exc:
        round_trip = exc
    if round_trip != _AUTH_SHAPED_DATA:
        return [
            Error(
                f"SESSION_SERIALIZER {path!r} does not turn a session's data back into the same dict of strings "
                f"({round_trip!r}): sign-in and the session's owner cannot be read back.",
                hint='Use the default, SESSION_SERIALIZER = "django.core.signing.JSONSerializer".',
                id="qsessions.E035",
            )
        ]
    if "pickle" in path.lower():
        return [
            Warning(
                f"SESSION_SERIALIZER {path!r} looks pickle-based: anyone who learns SECRET_KEY can run code on "
                "the server by sending a crafted session (Django removed its PickleSerializer for this reason).",
                hint='Use SESSION_SERIALIZER = "django.core.signing.JSONSerializer" and keep only JSON values '
                "in sessions.",
                id="qsessions.W035",
            )
        ]
    return []
