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

from qsessions.backends.cached_db import SessionStore as CachedDatabaseStore
from qsessions.backends.db import SessionStore as DatabaseStore
from qsessions.middleware import SessionMiddleware

pytestmark = pytest.mark.contract


class DatabaseSessionTests(django_tests.DatabaseSessionTests):
    backend = DatabaseStore
    session_engine = "qsessions.backends.db"


class DatabaseSessionWithTimeZoneTests(django_tests.DatabaseSessionWithTimeZoneTests):
    backend = DatabaseStore
    session_engine = "qsessions.backends.db"


class CacheDBSessionTests(django_tests.CacheDBSessionTests):
    backend = CachedDatabaseStore


class CacheDBSessionWithTimeZoneTests(django_tests.CacheDBSessionWithTimeZoneTests):
    backend = CachedDatabaseStore


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
    classes: list[Any] = [DatabaseSessionTests, CacheDBSessionTests]
    assert all(issubclass(c.backend, DatabaseStore) for c in classes)
