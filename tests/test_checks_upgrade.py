"""System checks for a half-done switch from django.contrib.sessions (qsessions.E030-E039 / W030-W039)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.checks import CheckMessage
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from qsessions import checks

DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
OUR_MIDDLEWARE = "qsessions.middleware.SessionMiddleware"
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
DUMMY = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/7"}


def middleware_with(*session_middleware: str) -> list[str]:
    rest = [m for m in django_settings.MIDDLEWARE if m != OUR_MIDDLEWARE]
    return [*session_middleware, *rest]


def ids(messages: Sequence[CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


def all_upgrade_checks() -> list[str]:
    return ids(checks.check_switched_from_django_sessions() + checks.check_cached_db_cache())


def test_the_test_settings_are_clean() -> None:
    assert all_upgrade_checks() == []


# Every case: its name, the settings, and the one id the upgrade checks must report for it.
CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "both apps, Django's database engine (the default): a staged switch",
        {
            "INSTALLED_APPS": [*django_settings.INSTALLED_APPS, "django.contrib.sessions"],
            "SESSION_ENGINE": "django.contrib.sessions.backends.db",
            "MIDDLEWARE": middleware_with(DJANGO_MIDDLEWARE),
        },
        "qsessions.W030",
    ),
    (
        "both apps, Django's cached_db engine",
        {
            "INSTALLED_APPS": [*django_settings.INSTALLED_APPS, "django.contrib.sessions"],
            "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
            "MIDDLEWARE": middleware_with(DJANGO_MIDDLEWARE),
        },
        "qsessions.W030",
    ),
    (
        "qsessions installed, still on Django's cache engine",
        {"SESSION_ENGINE": "django.contrib.sessions.backends.cache", "MIDDLEWARE": middleware_with(DJANGO_MIDDLEWARE)},
        "qsessions.W030",
    ),
    (
        "a qsessions engine with Django's middleware",
        {"SESSION_ENGINE": "qsessions.backends.db", "MIDDLEWARE": middleware_with(DJANGO_MIDDLEWARE)},
        "qsessions.E031",
    ),
    (
        "both middlewares",
        {"SESSION_ENGINE": "qsessions.backends.db", "MIDDLEWARE": middleware_with(DJANGO_MIDDLEWARE, OUR_MIDDLEWARE)},
        "qsessions.E032",
    ),
    (
        "cached_db on a local-memory cache",
        {"SESSION_ENGINE": "qsessions.backends.cached_db", "CACHES": {"default": LOCMEM}},
        "qsessions.W033",
    ),
    (
        "cached_db on a dummy cache",
        {
            "SESSION_ENGINE": "qsessions.backends.cached_db",
            "CACHES": {"default": LOCMEM, "sessions": DUMMY},
            "SESSION_CACHE_ALIAS": "sessions",
        },
        "qsessions.W034",
    ),
    (
        "cached_db on the file-based cache (its add() is not atomic)",
        {
            "SESSION_ENGINE": "qsessions.backends.cached_db",
            "CACHES": {
                "default": LOCMEM,
                "sessions": {
                    "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                    "LOCATION": "/tmp/qsessions-w037",
                },
            },
            "SESSION_CACHE_ALIAS": "sessions",
        },
        "qsessions.W037",
    ),
    (
        "cached_db on the database cache (a write that collides with another is dropped)",
        {
            "SESSION_ENGINE": "qsessions.backends.cached_db",
            "CACHES": {
                "default": LOCMEM,
                "sessions": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "qsessions_cache"},
            },
            "SESSION_CACHE_ALIAS": "sessions",
        },
        "qsessions.W037",
    ),
]


@pytest.mark.parametrize(("case", "overrides", "expected"), CASES, ids=[case for case, _, _ in CASES])
def test_each_mistake_is_reported_alone_with_its_id(case: str, overrides: dict[str, Any], expected: str) -> None:
    with override_settings(**overrides):
        assert all_upgrade_checks() == [expected]


@pytest.mark.parametrize(("case", "overrides", "expected"), CASES, ids=[case for case, _, _ in CASES])
def test_manage_py_check_reports_it(case: str, overrides: dict[str, Any], expected: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with override_settings(**overrides):
        if expected.split(".")[1].startswith("E"):
            with pytest.raises(SystemCheckError, match=rf"\({expected}\)"):
                call_command("check", stdout=out, stderr=err)
        else:
            call_command("check", stdout=out, stderr=err)
            assert f"({expected})" in out.getvalue() + err.getvalue()


def test_a_qsessions_engine_with_our_middleware_and_a_shared_cache_is_clean() -> None:
    with override_settings(SESSION_ENGINE="qsessions.backends.cached_db", CACHES={"default": REDIS}):
        assert all_upgrade_checks() == []


def test_our_middleware_with_djangos_engine_is_left_to_e001() -> None:
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache"):
        assert all_upgrade_checks() == []
        assert ids(checks.check_engine_matches_middleware()) == ["qsessions.E001"]


def test_an_unimportable_cache_backend_is_left_to_djangos_checks() -> None:
    with override_settings(SESSION_ENGINE="qsessions.backends.cached_db", CACHES={"default": {"BACKEND": "no.Such"}}):
        assert checks.check_cached_db_cache() == []


def test_the_db_engine_needs_no_cache() -> None:
    with override_settings(SESSION_ENGINE="qsessions.backends.db", CACHES={"default": DUMMY}):
        assert checks.check_cached_db_cache() == []


def test_silencing_a_warning_for_a_single_process_site() -> None:
    out = io.StringIO()
    with override_settings(
        SESSION_ENGINE="qsessions.backends.cached_db",
        CACHES={"default": LOCMEM},
        SILENCED_SYSTEM_CHECKS=["qsessions.W033"],
    ):
        call_command("check", stdout=out, stderr=out)
    assert "W033" not in out.getvalue()


# The first deploy of a staged switch: qsessions installed and migrated while Django's sessions still run the
# site. A project of its own, run in a subprocess as `manage.py` would be: both tables get created.
STAGE_ONE_SETTINGS = """
SECRET_KEY = "staged-switch-not-secret"
USE_TZ = True
ALLOWED_HOSTS = ["testserver"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "qsessions",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "stage_one_urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""
STAGE_ONE_URLS = """
from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("", lambda request: HttpResponse(request.user.get_username() or "anonymous"))]
"""
# Signing in, using the site and changing a password all go on working under Django's engine.
STAGE_ONE_USE = """
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session as DjangoSession
from django.test import Client
from qsessions.models import Session

user = User.objects.create_user("alice", password="first-password")
client = Client()
assert client.login(username="alice", password="first-password")
assert client.get("/").content == b"alice"
user.set_password("second-password")
user.save()
print("django sessions:", DjangoSession.objects.count(), "qsessions sessions:", Session.objects.count())
"""


def test_qsessions_can_be_installed_and_migrated_while_djangos_engine_still_runs_the_site(tmp_path: Path) -> None:
    (tmp_path / "stage_one_settings.py").write_text(STAGE_ONE_SETTINGS)
    (tmp_path / "stage_one_urls.py").write_text(STAGE_ONE_URLS)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "stage_one_settings", "PYTHONPATH": str(tmp_path)}

    def manage(*arguments: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "django", *arguments], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    migrated = manage("migrate", "--noinput")
    assert "Applying sessions.0001_initial... OK" in migrated.stdout
    assert "Applying qsessions.0001_initial... OK" in migrated.stdout
    assert "(qsessions.W030)" in migrated.stdout + migrated.stderr

    checked = manage("check")
    output = checked.stdout + checked.stderr
    assert "(qsessions.W030)" in output
    assert "Next step" in output and "importsessions" in output

    used = manage("shell", "-c", STAGE_ONE_USE)
    assert "django sessions: 1 qsessions sessions: 0" in used.stdout
    # The dry run that times the import before the switch runs without --skip-checks.
    assert "Would import 1 sessions (1 signed in) of 1 read" in manage("importsessions", "--dry-run").stdout
