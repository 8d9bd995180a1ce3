"""A fresh machine: the README's install on a new startproject, in a virtualenv of its own.

Slow (a virtualenv and a pip install, about half a minute) and it needs the package index the first time,
so it runs in a pytest session of its own: `make test-install` (CI runs it once).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRESH_INSTALL = ROOT / "scripts" / "fresh_install.py"
INDEX_UNREACHABLE = 3

pytestmark = pytest.mark.network


def test_the_readme_install_works_on_a_fresh_startproject() -> None:
    done = subprocess.run([sys.executable, str(FRESH_INSTALL)], capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    if done.returncode == INDEX_UNREACHABLE:
        pytest.skip(output.strip().splitlines()[-1])
    assert done.returncode == 0, output
    assert "ok: the sign-in page exists (got 200)" in output
    assert "ok: it lists this session, as This device, in Firefox" in output
    assert "OK: README's install works on a fresh startproject" in output
