"""A fresh machine: the README's install on a new startproject, and `make demo`, each in a virtualenv of its own.

Slow (a virtualenv and a pip install each, about a minute in all) and they need the package index the
first time, so they run in a pytest session of their own: `make test-install` (CI runs it once).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRESH_INSTALL = ROOT / "scripts" / "fresh_install.py"
INDEX_UNREACHABLE = 3
# What a clone has that a working copy may also have: virtualenvs, caches, the demo's database.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv*", ".nox", ".cache", "__pycache__", "*.sqlite3", ".mypy_cache", ".ruff_cache", ".pytest_cache"
)
DEVELOPMENT_TOOLS = {"pytest", "pytest-django", "mypy", "django-stubs", "ruff", "nox", "playwright", "hypothesis"}

pytestmark = pytest.mark.network


def index_answers() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


def test_the_readme_install_works_on_a_fresh_startproject() -> None:
    done = subprocess.run([sys.executable, str(FRESH_INSTALL)], capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    if done.returncode == INDEX_UNREACHABLE:
        pytest.skip(output.strip().splitlines()[-1])
    assert done.returncode == 0, output
    assert "ok: the sign-in page exists (got 200)" in output
    assert "ok: it lists this session, as This device, in Firefox" in output
    assert "OK: README's install works on a fresh startproject" in output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect()).open(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def test_make_demo_in_a_fresh_clone_serves_on_the_port_it_is_given(tmp_path: Path) -> None:
    if not index_answers():
        pytest.skip("the package index (pypi.org) does not answer: the demo cannot be installed")
    clone = tmp_path / "qsessions"
    shutil.copytree(ROOT, clone, ignore=NOT_IN_A_CLONE)
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "demo.log"
    env = {key: value for key, value in os.environ.items() if key not in {"VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE"}}
    with log_path.open("w") as log:
        demo = subprocess.Popen(
            ["make", "demo", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    status, page = get(f"{site}/")
                    break
                except OSError:
                    assert demo.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.5)
            assert status == 200 and "qsessions demo" in page
            assert get(f"{site}/account/sessions/") == (302, "/login/?next=/account/sessions/")
            assert get(f"{site}/login/")[0] == 200
        finally:
            os.killpg(demo.pid, signal.SIGTERM)
            demo.wait(timeout=30)
    output = log_path.read_text()
    assert f"Open {site}/ (admin: {site}/admin/)" in output
    assert f"Your sessions: {site}/account/sessions/" in output
    assert ":8000" not in output
    freeze = subprocess.run(
        [str(clone / ".venv-demo" / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {re.split(r"[=@ ]", line, maxsplit=1)[0].lower() for line in freeze.splitlines() if line}
    assert {"qsessions", "django"} <= installed
    assert not installed & DEVELOPMENT_TOOLS, installed
    assert not (clone / ".venv").exists(), "make demo installed the development virtualenv"
