"""clearsessions: works without django.contrib.sessions, deletes in batches, clears the cache too."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.apps import apps
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from qsessions.backends.cached_db import KEY_PREFIX, SessionStore
from qsessions.models import Session

pytestmark = pytest.mark.django_db


def make_session(expires_in: datetime.timedelta) -> str:
    store = SessionStore()
    store["a"] = 1
    store.set_expiry(timezone.now() + expires_in)
    store.save()
    return str(store.session_key)


def test_runs_without_django_contrib_sessions_installed(engine: str) -> None:
    assert not apps.is_installed("django.contrib.sessions")
    Session.objects.create(session_key="x" * 32, session_data="x", expire_date=timezone.now() - datetime.timedelta(1))
    out = StringIO()
    call_command("clearsessions", verbosity=2, stdout=out)
    assert "Deleted 1 expired session(s)." in out.getvalue()
    assert not Session.objects.exists()


def test_deletes_expired_in_batches_and_from_the_cache(cached_engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from qsessions import models

    monkeypatch.setattr(models, "CLEAR_EXPIRED_BATCH_SIZE", 2)
    alive = make_session(datetime.timedelta(days=1))
    expired = []
    for _ in range(5):
        key = make_session(datetime.timedelta(days=1))
        Session.objects.filter(pk=key).update(expire_date=timezone.now() - datetime.timedelta(seconds=5))
        expired.append(key)
    call_command("clearsessions")
    assert list(Session.objects.values_list("pk", flat=True)) == [alive]
    assert all(caches["default"].get(KEY_PREFIX + key) is None for key in expired)
    assert caches["default"].get(KEY_PREFIX + alive) is not None


def test_engine_without_clear_expired_is_a_clear_error() -> None:
    with (
        override_settings(SESSION_ENGINE="tests.testapp.engine_without_clear_expired"),
        pytest.raises(CommandError),
    ):
        call_command("clearsessions")
