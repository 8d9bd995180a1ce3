"""System checks: configuration mistakes reported by ``manage.py check`` with ids qsessions.E0xx/W0xx."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

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


@register()
def check_geoip(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """GEOIP_PATH set, but no location will ever show: the package or the database is missing."""
    from qsessions import geo

    if not getattr(settings, "GEOIP_PATH", None):
        return []
    from django.contrib.gis import geoip2 as django_geoip2

    if not django_geoip2.HAS_GEOIP2:
        return [
            Warning(
                "GEOIP_PATH is set but the geoip2 package is not installed: sessions will have no location.",
                hint="pip install 'qsessions[geoip2]'",
                id="qsessions.W040",
            )
        ]
    if not any(path.is_file() for path in geo.database_files()):
        return [
            Warning(
                f"GEOIP_PATH is set but holds no GeoIP database ({', '.join(map(str, geo.database_files()))}): "
                "sessions will have no location.",
                hint="Run 'manage.py download_geoip_db' (with MAXMIND_ACCOUNT_ID and MAXMIND_LICENSE_KEY set).",
                id="qsessions.W041",
            )
        ]
    return []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@register(Tags.compatibility)
def check_session_policies(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """QSESSIONS_ACTIVITY_INTERVAL, QSESSIONS_MAX_SESSIONS_PER_USER and QSESSIONS_REVOKE_ON_PASSWORD_CHANGE."""
    errors = []
    interval = getattr(settings, "QSESSIONS_ACTIVITY_INTERVAL", 60)
    if not _is_int(interval) or interval < 0:
        errors.append(
            Error(
                f"QSESSIONS_ACTIVITY_INTERVAL is {interval!r}; it must be a whole number of seconds, 0 or more.",
                hint="The default, 60, writes a session's last activity at most once a minute.",
                id="qsessions.E020",
            )
        )
    limit = getattr(settings, "QSESSIONS_MAX_SESSIONS_PER_USER", None)
    if limit is not None and (not _is_int(limit) or limit < 1):
        errors.append(
            Error(
                f"QSESSIONS_MAX_SESSIONS_PER_USER is {limit!r}; it must be None (no limit) or a whole number, "
                "1 or more.",
                id="qsessions.E021",
            )
        )
    revoke = getattr(settings, "QSESSIONS_REVOKE_ON_PASSWORD_CHANGE", True)
    if not isinstance(revoke, bool):
        errors.append(
            Error(
                f"QSESSIONS_REVOKE_ON_PASSWORD_CHANGE is {revoke!r}; it must be True or False.",
                id="qsessions.E022",
            )
        )
    return errors
