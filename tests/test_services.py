"""tests/services.py and the conftest hook: a selected server that does not answer skips the run with the
reason, or fails it under QSESSIONS_TEST_REQUIRE_SERVICES=1. Each case runs pytest in a subprocess,
because the selection is read once, when the settings load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import services

ROOT = Path(__file__).resolve().parent.parent
ONE_TEST = "tests/test_migrations.py::test_models_and_migrations_agree"


def _pytest(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("QSESSIONS_TEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", ONE_TEST, "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_missing_database_server_skips_with_the_reason() -> None:
    port = str(services.free_port())
    result = _pytest(QSESSIONS_TEST_DB="postgresql", QSESSIONS_TEST_PG_PORT=port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert f"database postgresql at 127.0.0.1:{port} does not answer" in result.stdout


def test_a_missing_cache_server_fails_when_services_are_required() -> None:
    port = str(services.free_port())
    result = _pytest(
        QSESSIONS_TEST_CACHE="memcached",
        QSESSIONS_TEST_MEMCACHED=f"127.0.0.1:{port}",
        QSESSIONS_TEST_REQUIRE_SERVICES="1",
    )
    assert result.returncode == 4  # pytest's usage error: nothing ran
    assert f"cache memcached at 127.0.0.1:{port} does not answer" in result.stderr


def test_unknown_selections_are_refused() -> None:
    result = _pytest(QSESSIONS_TEST_DB="oracle")
    assert result.returncode != 0
    assert "QSESSIONS_TEST_DB='oracle'" in result.stdout + result.stderr
