from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from tests import services

ENGINES = ["qsessions.backends.db", "qsessions.backends.cached_db"]

# Django's own session tests run in a pytest session of their own (make test-contract), and so do the slow
# fresh-virtualenv tests (make test-install); the main run does not collect them rather than report them as
# skipped.
CONTRACT = os.environ.get("QSESSIONS_TEST_CONTRACT") == "1"
INSTALL = os.environ.get("QSESSIONS_TEST_INSTALL") == "1"
# The load harness's smoke test needs PostgreSQL and Redis: collected in the run on those two (once in CI).
LOAD_HARNESS = services.DB == "postgresql" and services.CACHE == "redis"
collect_ignore = [
    *([] if CONTRACT else ["test_django_contract.py"]),
    *([] if INSTALL else ["test_install.py"]),
    *([] if LOAD_HARNESS and not CONTRACT and not INSTALL else ["test_load_harness.py"]),
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = services.missing_services()
    if not missing:
        return
    reason = "; ".join(missing)
    if services.REQUIRE_SERVICES:
        raise pytest.UsageError(f"QSESSIONS_TEST_REQUIRE_SERVICES=1 but {reason}")
    for item in items:
        item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """With QSESSIONS_TEST_SUMMARY=<file>, append one line per run: what ran on what, and the counts.

    .ci/run prints these lines and checks them (tests ran, none failed, none skipped on real services).
    """
    path = os.environ.get("QSESSIONS_TEST_SUMMARY")
    if not path:
        return
    import platform

    import django

    counts = {kind: len(terminalreporter.stats.get(kind, [])) for kind in ("passed", "failed", "error", "skipped")}
    suite = "contract" if CONTRACT else "install" if INSTALL else "main"
    label = f"Python {platform.python_version()} Django {django.__version__} {services.DB}+{services.CACHE} {suite}"
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(
            f"{label}: {counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors,"
            f" {counts['skipped']} skipped (exit {int(exitstatus)})\n"
        )


@pytest.fixture(params=ENGINES, ids=["db", "cached_db"])
def engine(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Run the test once per qsessions engine, with an empty cache."""
    settings.SESSION_ENGINE = request.param
    caches["default"].clear()
    yield request.param
    caches["default"].clear()


@pytest.fixture
def cached_engine(settings: Any) -> Iterator[str]:
    settings.SESSION_ENGINE = "qsessions.backends.cached_db"
    caches["default"].clear()
    yield settings.SESSION_ENGINE
    caches["default"].clear()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (tests/test_browser.py says how); skips without it, fails in CI."""
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _missing

    missing = _missing()
    if missing is not None:
        if services.REQUIRE_SERVICES:
            pytest.fail(f"QSESSIONS_TEST_REQUIRE_SERVICES=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
