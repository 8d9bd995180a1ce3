"""`make bench-load`'s harness (benchmarks/load.py) runs: a smoke run of a few seconds, both sites served.

It needs PostgreSQL, Redis, gunicorn and psql, so it is collected only in the suite run on PostgreSQL and
Redis (QSESSIONS_TEST_DB=postgresql QSESSIONS_TEST_CACHE=redis, once in CI: tests/conftest.py). There a
missing piece skips it, or fails it with QSESSIONS_TEST_REQUIRE_SERVICES=1. The harness gets the suite's
PostgreSQL server (its own databases, ``<QSESSIONS_TEST_PG_NAME>_load_*``) and the suite's Redis database
(it deletes only its own keys there). No speed is asserted: only that it measured both sides, with no
error and no revoked session served.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services

ROOT = Path(__file__).resolve().parent.parent
LOAD = ROOT / "benchmarks" / "load.py"


def _missing() -> str | None:
    if importlib.util.find_spec("gunicorn") is None or not Path(sys.executable).with_name("gunicorn").exists():
        return "gunicorn is not installed (the `services` dependency group)"
    if shutil.which("psql") is None:
        return "psql is missing (apt-get install postgresql-client)"
    for kind, address in (("PostgreSQL", services.server_address()), ("Redis", services.cache_address())):
        if address is None or not services.answers(address):
            return f"{kind} does not answer"
    return None


@pytest.mark.parametrize("kind", ["cached_db", "cache"])
def test_a_smoke_run_measures_both_sites_with_no_error(tmp_path: Path, kind: str) -> None:
    missing = _missing()
    if missing is not None:
        if services.REQUIRE_SERVICES:
            pytest.fail(f"QSESSIONS_TEST_REQUIRE_SERVICES=1 but {missing}")
        pytest.skip(missing)
    host, port = services.server_address() or ("127.0.0.1", 5432)
    env = {
        **os.environ,
        "QSESSIONS_BENCH_PG_HOST": host,
        "QSESSIONS_BENCH_PG_PORT": str(port),
        "QSESSIONS_BENCH_PG_USER": os.environ.get("QSESSIONS_TEST_PG_USER", "postgres"),
        "QSESSIONS_BENCH_LOAD_DB_PREFIX": os.environ.get("QSESSIONS_TEST_PG_NAME", "qsessions") + "_load",
        "QSESSIONS_BENCH_LOAD_REDIS_URL": services.redis_url(),
    }
    if os.environ.get("QSESSIONS_TEST_PG_PASSWORD"):
        env["PGPASSWORD"] = os.environ["QSESSIONS_TEST_PG_PASSWORD"]
    report_path = tmp_path / "load.json"
    done = subprocess.run(
        [sys.executable, str(LOAD), "--smoke", "--kind", kind, "--json", str(report_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["smoke"] is True
    assert report["kind"] == kind
    results = report["results"]
    for site in ("ours", "django"):
        figures = results["sites"][site]
        assert figures["requests"] > 0 and figures["throughput"] > 0, site
        assert figures["errors"] == 0, site
        assert figures["counts"]["read"]["queries"] >= 0, site  # the counting header answered
        revoked = results["revoked"][site]
        assert revoked["sessions_revoked"] > 0 and revoked["requests_after"] > 0, site
        assert revoked["served_signed_in"] == 0, site
    pages = results["your_sessions"]
    assert {page["queries"] for page in pages.values()} == {pages["1"]["queries"]}
    assert pages["100"]["rows"] == 50
