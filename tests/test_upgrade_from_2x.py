"""A database created by django-qsessions 2.1.0 upgrades in place (scripts/upgrade_from_django_qsessions.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "upgrade_from_django_qsessions.py"
INDEX_UNREACHABLE = 3


@pytest.mark.network
def test_a_django_qsessions_2_1_database_upgrades_in_place_and_stays_signed_in() -> None:
    # The first run installs django-qsessions 2.1.0 in .cache/; later runs reuse it.
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    if done.returncode == INDEX_UNREACHABLE:
        pytest.skip(output.strip().splitlines()[-1])
    assert done.returncode == 0, output
    assert (
        "migrate applied qsessions.0003_session_public_id, qsessions.0004_session_last_activity_client_hints" in output
    )
    assert "qsessions.backends.cached_db: signed-in cookie -> {'user': 'alice'" in output
    assert "OK: the django-qsessions 2.1.0 database upgraded in place" in output
