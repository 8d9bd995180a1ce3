from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.utils import translation

from qsessions.checks import check_engine_matches_middleware


def test_qsessions_middleware_needs_a_qsessions_engine() -> None:
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db"):
        errors = check_engine_matches_middleware()
        assert [e.id for e in errors] == ["qsessions.E001"]
        with pytest.raises(SystemCheckError, match=r"qsessions\.E001"):
            call_command("check")


def test_matching_configuration_passes() -> None:
    for engine in ("qsessions.backends.db", "qsessions.backends.cached_db"):
        with override_settings(SESSION_ENGINE=engine):
            assert check_engine_matches_middleware() == []
    with override_settings(SESSION_ENGINE="no.such.module"):
        assert [e.id for e in check_engine_matches_middleware()] == ["qsessions.E001"]


def test_check_messages_speak_the_active_language() -> None:
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db"), translation.override("de"):
        (error,) = check_engine_matches_middleware()
        with pytest.raises(SystemCheckError, match="keine Engine von qsessions"):
            call_command("check")
    assert error.msg == (
        "SESSION_ENGINE ist 'django.contrib.sessions.backends.db', keine Engine von qsessions, aber MIDDLEWARE "
        "verwendet qsessions.middleware.SessionMiddleware."
    )
    assert error.hint == 'Setzen Sie SESSION_ENGINE = "qsessions.backends.db" oder "qsessions.backends.cached_db".'
