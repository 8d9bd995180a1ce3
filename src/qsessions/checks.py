"""System checks: configuration mistakes reported by ``manage.py check`` with ids qsessions.E0xx/W0xx."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

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
