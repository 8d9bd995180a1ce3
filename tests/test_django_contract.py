"""Django's own session-backend test suite, run unchanged against our engines and middleware.

Run by ``make test`` in a separate pytest session with QSESSIONS_TEST_CONTRACT=1, because Django's
tests need django.contrib.sessions installed (the main suite proves we do not).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import sessions_tests.tests as django_tests
from django.test import override_settings

from qsessions.backends.cache import SessionStore as CacheStore
from qsessions.backends.cached_db import SessionStore as CachedDatabaseStore
from qsessions.backends.db import SessionStore as DatabaseStore
from qsessions.middleware import SessionMiddleware

pytestmark = pytest.mark.contract


class _PublicIdInsteadOfKey:
    """The one deliberate difference: ``str(session)`` is the public id, never the session key.

    Django's model shows the key (its ``test_session_str``); ours never does, because the key is a bearer
    credential and ``str()`` ends up in logs and in the admin's history. Django's test is replaced by the
    same steps asserting our behaviour, so that the difference stays visible here.
    """

    def test_session_str(self) -> None:
        self.session["x"] = 1  # type: ignore[attr-defined]
        self.session.save()  # type: ignore[attr-defined]
        session_key = self.session.session_key  # type: ignore[attr-defined]
        row = self.model.objects.get(session_key=session_key)  # type: ignore[attr-defined]
        assert str(row) == row.public_id and session_key not in str(row) and session_key not in repr(row)


class DatabaseSessionTests(_PublicIdInsteadOfKey, django_tests.DatabaseSessionTests):
    backend = DatabaseStore
    session_engine = "qsessions.backends.db"


class DatabaseSessionWithTimeZoneTests(_PublicIdInsteadOfKey, django_tests.DatabaseSessionWithTimeZoneTests):
    backend = DatabaseStore
    session_engine = "qsessions.backends.db"


class CacheDBSessionTests(django_tests.CacheDBSessionTests):
    backend = CachedDatabaseStore


class CacheDBSessionWithTimeZoneTests(django_tests.CacheDBSessionWithTimeZoneTests):
    backend = CachedDatabaseStore


# The cache-only engine, on the cache the suite runs on (Redis in CI's PostgreSQL + Redis run). Django's tests
# store no signed-in user, so they need no per-user index: that part is tests/test_cache_engine.py's, on Redis.
class CacheSessionTests(django_tests.CacheSessionTests):
    backend = CacheStore


class _OurMiddleware:
    """Run Django's middleware tests with qsessions' middleware, store and model in place of Django's."""

    @classmethod
    def setUpClass(cls) -> None:
        from qsessions.models import Session

        for name, ours in (
            ("SessionMiddleware", SessionMiddleware),
            ("DatabaseSession", DatabaseStore),
            ("Session", Session),
        ):
            patcher = mock.patch.object(django_tests, name, ours)
            patcher.start()
            cls.addClassCleanup(patcher.stop)  # type: ignore[attr-defined]
        super().setUpClass()  # type: ignore[misc]


@override_settings(SESSION_ENGINE="qsessions.backends.db")
class SessionMiddlewareTests(_OurMiddleware, django_tests.SessionMiddlewareTests):
    pass


@override_settings(SESSION_ENGINE="qsessions.backends.cached_db")
class CachedSessionMiddlewareTests(_OurMiddleware, django_tests.SessionMiddlewareTests):
    pass


def test_contract_classes_use_our_engines() -> None:
    """Guard against a refactor that silently runs Django's engines instead of ours."""
    classes: list[Any] = [DatabaseSessionTests, CacheDBSessionTests, CacheSessionTests]
    assert all(issubclass(c.backend, DatabaseStore) for c in classes)
