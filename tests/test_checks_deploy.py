"""`manage.py check --deploy` warns about the session cookie after the switch (qsessions.W050, W051)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import override_settings

DJANGO_APP = "django.contrib.sessions"
DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
OUR_MIDDLEWARE = "qsessions.middleware.SessionMiddleware"


def deploy_check_ids(deploy: bool = True) -> set[str]:
    """The ids `manage.py check [--deploy]` prints about the session cookie, ours and Django's."""
    out = io.StringIO()
    call_command("check", deploy=deploy, stdout=out, stderr=out)
    return set(re.findall(r"\((qsessions\.W05\d|security\.W01[0-5])\)", out.getvalue()))


def test_after_the_switch_an_insecure_session_cookie_is_reported_by_check_deploy() -> None:
    # The test settings are a switched site: neither Django's session app nor its middleware.
    assert DJANGO_APP not in django_settings.INSTALLED_APPS
    with override_settings(SESSION_COOKIE_SECURE=False, SESSION_COOKIE_HTTPONLY=False):
        assert deploy_check_ids() == {"qsessions.W050", "qsessions.W051"}


def test_only_check_deploy_reports_it() -> None:
    with override_settings(SESSION_COOKIE_SECURE=False, SESSION_COOKIE_HTTPONLY=False):
        assert deploy_check_ids(deploy=False) == set()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"SESSION_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True}, set()),
        ({"SESSION_COOKIE_SECURE": False, "SESSION_COOKIE_HTTPONLY": True}, {"qsessions.W050"}),
        ({"SESSION_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": False}, {"qsessions.W051"}),
        # As in Django: only True itself counts as set.
        ({"SESSION_COOKIE_SECURE": 1, "SESSION_COOKIE_HTTPONLY": "yes"}, {"qsessions.W050", "qsessions.W051"}),
    ],
    ids=["both set", "not secure", "not httponly", "truthy is not True"],
)
def test_each_setting_is_reported_as_django_would(overrides: dict[str, Any], expected: set[str]) -> None:
    with override_settings(**overrides):
        assert deploy_check_ids() == expected


def middleware_with_djangos() -> list[str]:
    return [DJANGO_MIDDLEWARE, *(m for m in django_settings.MIDDLEWARE if m != OUR_MIDDLEWARE)]


@pytest.mark.parametrize(
    ("overrides", "djangos"),
    [
        (
            # The first deploy of a staged switch: Django's app, middleware and engine, qsessions installed.
            {
                "INSTALLED_APPS": [*django_settings.INSTALLED_APPS, DJANGO_APP],
                "MIDDLEWARE": middleware_with_djangos(),
                "SESSION_ENGINE": "django.contrib.sessions.backends.db",
            },
            {"security.W012", "security.W015"},
        ),
        (
            {"INSTALLED_APPS": [*django_settings.INSTALLED_APPS, DJANGO_APP]},
            {"security.W010", "security.W013"},
        ),
        (
            {"MIDDLEWARE": middleware_with_djangos(), "SESSION_ENGINE": "django.contrib.sessions.backends.cache"},
            {"security.W011", "security.W014"},
        ),
    ],
    ids=["Django's app and middleware", "Django's app", "Django's middleware"],
)
def test_while_djangos_own_checks_fire_the_settings_are_not_reported_twice(
    overrides: dict[str, Any], djangos: set[str]
) -> None:
    with override_settings(SESSION_COOKIE_SECURE=False, SESSION_COOKIE_HTTPONLY=False, **overrides):
        assert deploy_check_ids() == djangos
