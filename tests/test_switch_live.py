"""Switching a running site to qsessions while a browser keeps using it (docs/upgrading.md, followed).

Each site is a real `runserver` process (tests/switch_site.py) on this test's database and cache; the
browser is Chromium driven by Playwright. The browser keeps its cookies across the deploy as a real one
does (cookies do not depend on the port).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from tests import services
from tests.test_importsessions import LegacySession, UserSessionsSession, legacy_tables  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
DJANGO_ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "cached_db": "django.contrib.sessions.backends.cached_db",
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
}


class Site:
    """One `runserver` process with the settings of one side of the switch."""

    def __init__(self, engine: str, previous: str | None = None, shared: bool = False) -> None:
        self.port = services.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.switch_site",
            "SWITCH_ENGINE": engine,
            "SWITCH_DB_NAME": str(connection.settings_dict["NAME"]),
            "SWITCH_CACHE_PREFIX": _cache_prefix(),
            "SWITCH_PREVIOUS_ENGINE": previous or "",
            "SWITCH_PREVIOUS_ENGINE_SHARED": "1" if shared else "",
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not services.answers(("127.0.0.1", self.port), timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the site did not start: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.1)

    def manage(self, *args: str) -> subprocess.Popen[bytes]:
        """A management command with this site's settings (a deploy step run next to the live site)."""
        return subprocess.Popen(
            [sys.executable, "-m", "django", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _cache_prefix() -> str:
    from django.conf import settings

    return str(settings.CACHES["default"].get("KEY_PREFIX", ""))


@pytest.fixture
def sites(legacy_tables: None, transactional_db: None) -> Iterator[list[Site]]:  # noqa: F811
    get_user_model()._default_manager.create_user("alice", password="pw")
    get_user_model()._default_manager.create_user("bob", password="pw")
    started: list[Site] = []
    yield started
    for site in started:
        site.stop()
    # Unmanaged tables are not flushed between transactional tests.
    LegacySession.objects.all().delete()
    UserSessionsSession.objects.all().delete()


def _read(page: Any, site: Site) -> Any:
    import json

    page.goto(f"{site.url}/read/")
    return json.loads(page.locator("body").inner_text())


def _get(page: Any, site: Site, path: str) -> None:
    response = page.goto(f"{site.url}{path}")
    assert response is not None and response.status == 200, path


@pytest.mark.parametrize("old_engine", list(DJANGO_ENGINES))
def test_a_browser_stays_signed_in_through_the_switch(old_engine: str, sites: list[Site], browser: Any) -> None:
    """docs/upgrading.md, "From django.contrib.sessions", step by step, with two browsers using the site."""
    engine = DJANGO_ENGINES[old_engine]
    # Before: the site runs Django's engine; alice and bob sign in and put something in their sessions.
    old = Site(engine)
    sites.append(old)
    alice = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    for page, name in ((alice, "alice"), (bob, "bob")):
        _get(page, old, f"/login/?username={name}")
        _get(page, old, f"/write/?value=cart-of-{name}")
        assert _read(page, old) == {"user": name, "value": f"cart-of-{name}"}

    # Deploy: qsessions' engine, with QSESSIONS_PREVIOUS_ENGINE naming Django's.
    old.stop()
    sites.remove(old)
    new = Site("qsessions.backends.cached_db", previous=engine)
    sites.append(new)
    # After the deploy, before the import: alice's session is moved on her first request.
    assert _read(alice, new) == {"user": "alice", "value": "cart-of-alice"}
    if old_engine != "signed_cookies":
        # The import, while bob's browser goes on using the site.
        importing = new.manage("importsessions")
        assert _read(bob, new) == {"user": "bob", "value": "cart-of-bob"}
        out, err = importing.communicate(timeout=120)
        assert importing.returncode == 0, err.decode()
        assert b"Imported" in out
    # After the import: both signed in, data intact, and they go on writing.
    for page, name in ((alice, "alice"), (bob, "bob")):
        assert _read(page, new) == {"user": name, "value": f"cart-of-{name}"}
        _get(page, new, f"/write/?value=more-for-{name}")
        assert _read(page, new) == {"user": name, "value": f"more-for-{name}"}
    # The check says when the setting can go: every session is qsessions' now.
    checking = new.manage("check", "--database", "default")
    out, err = checking.communicate(timeout=120)
    # (a signed cookie is in the browsers only: nothing can say when the last one is gone)
    assert (b"qsessions.I080" in out + err) is (old_engine != "signed_cookies"), (out + err).decode()


def test_a_rolling_deploy_old_and_new_processes_side_by_side(sites: list[Site], browser: Any) -> None:
    """A process of Django's engine and one of qsessions' share the database and the cache (in CI:
    PostgreSQL + Redis, MariaDB + memcached). A local-memory cache is not shared: there both use ``db``."""
    kind = "db" if services.CACHE == "locmem" else "cached_db"
    engine = DJANGO_ENGINES[kind]
    old = Site(engine)
    new = Site(f"qsessions.backends.{kind}", previous=engine, shared=True)
    sites.extend([old, new])
    alice = browser.new_context().new_page()
    # Signed in by an old process; the new one sees her, and so does the old one afterwards.
    _get(alice, old, "/login/?username=alice")
    _get(alice, old, "/write/?value=from-old")
    assert _read(alice, new) == {"user": "alice", "value": "from-old"}
    assert _read(alice, old) == {"user": "alice", "value": "from-old"}
    # What the new process writes, the old one reads.
    _get(alice, new, "/write/?value=from-new")
    assert _read(alice, old) == {"user": "alice", "value": "from-new"}
    assert _read(alice, new) == {"user": "alice", "value": "from-new"}
    # Signed in by a new process: the old one sees that session too.
    bob = browser.new_context().new_page()
    _get(bob, new, "/login/?username=bob")
    _get(bob, new, "/write/?value=bob-new")
    assert _read(bob, old) == {"user": "bob", "value": "bob-new"}
    # Revoked on the new side (by code, as an admin action does): signed out on both sides, for good.
    revoking = new.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; from qsessions.revocation import revoke_all; "
        "revoke_all(User.objects.get(username='bob'), reason='admin')",
    )
    _, err = revoking.communicate(timeout=120)
    assert revoking.returncode == 0, err.decode()
    assert _read(bob, old) == {"user": None, "value": None}
    assert _read(bob, new) == {"user": None, "value": None}
    # Alice was never signed out on either side.
    assert _read(alice, old)["user"] == "alice"
    assert _read(alice, new)["user"] == "alice"
