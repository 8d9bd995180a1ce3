"""The benchmark worker (benchmarks/worker.py) runs every scenario once against our engines.

No time is asserted: only that the scenarios work, and the statement and cache-call counts that the
benchmark's targets name (a read costs one SELECT on db and none on cached_db, a save is one UPDATE
without a SELECT, revoking all of a user's sessions is one DELETE and one cache delete_many).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).resolve().parent.parent / "benchmarks" / "worker.py"
SCENARIOS = [
    "anonymous",
    "read",
    "write",
    "login",
    "ip_change",
    "store_save",
    "revoke_all",
    "revoke_all_recorded",
    "your_sessions",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Both engines' worker runs, started together: {"db": {scenario: line}, "cached_db": {...}}."""
    processes = {}
    for kind in ("db", "cached_db"):
        plan: dict[str, dict[str, int]] = {name: {"iterations": 1} for name in SCENARIOS}
        plan["admin_changelist"] = {"iterations": 1, "size": 5}
        plan["revoke_all"] = {"iterations": 1, "size": 5}
        plan["revoke_all_recorded"] = {"iterations": 1, "size": 5}
        config = {
            "db": "sqlite",
            "cache": "locmem",
            "workdir": str(tmp_path_factory.mktemp(kind)),
            "round": 0,
            "contender": {
                "id": f"ours-{kind}",
                "family": "qsessions",
                "kind": kind,
                "engine": f"qsessions.backends.{kind}",
            },
            "scenarios": plan,
        }
        command = [sys.executable, str(WORKER), json.dumps(config)]
        processes[kind] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found = {}
    for kind, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        found[kind] = {line["scenario"]: line for line in map(json.loads, stdout.splitlines())}
    return found


@pytest.mark.parametrize("kind", ["db", "cached_db"])
def test_every_scenario_produces_a_sample(results: dict[str, dict[str, Any]], kind: str) -> None:
    lines = results[kind]
    for scenario in [*SCENARIOS, "admin_changelist"]:
        assert len(lines[scenario]["samples_ns"]) == 1, scenario


@pytest.mark.parametrize(("kind", "queries", "cache_ops"), [("db", {"SELECT": 1}, {}), ("cached_db", {}, {"get": 1})])
def test_read_only_request(results: dict[str, dict[str, Any]], kind: str, queries: Any, cache_ops: Any) -> None:
    assert results[kind]["read"]["queries"] == queries
    assert results[kind]["read"]["cache_ops"] == cache_ops


@pytest.mark.parametrize("kind", ["db", "cached_db"])
def test_anonymous_request_touches_no_storage(results: dict[str, dict[str, Any]], kind: str) -> None:
    assert results[kind]["anonymous"]["queries"] == {}
    assert results[kind]["anonymous"]["cache_ops"] == {}


@pytest.mark.parametrize("kind", ["db", "cached_db"])
def test_saving_a_session_is_one_update_without_select(results: dict[str, dict[str, Any]], kind: str) -> None:
    queries = results[kind]["store_save"]["queries"]
    assert queries.get("UPDATE") == 1
    assert "SELECT" not in queries


@pytest.mark.parametrize(("kind", "cache_ops"), [("db", {}), ("cached_db", {"set_many": 1})])
def test_revoking_all_sessions_is_one_delete(results: dict[str, dict[str, Any]], kind: str, cache_ops: Any) -> None:
    queries = results[kind]["revoke_all"]["queries"]
    assert queries.get("DELETE") == 1
    assert results[kind]["revoke_all"]["cache_ops"] == cache_ops


@pytest.mark.parametrize("kind", ["db", "cached_db"])
def test_revoking_all_with_the_history_is_one_select_one_delete_one_insert(
    results: dict[str, dict[str, Any]], kind: str
) -> None:
    queries = results[kind]["revoke_all_recorded"]["queries"]
    assert (queries.get("SELECT"), queries.get("DELETE"), queries.get("INSERT")) == (1, 1, 1)


@pytest.mark.parametrize(("kind", "queries"), [("db", {"SELECT": 4}), ("cached_db", {"SELECT": 3})])
def test_your_sessions_page_queries(results: dict[str, dict[str, Any]], kind: str, queries: Any) -> None:
    # db: the session, the user, the list, the recently ended; cached_db: the session comes from the cache.
    assert results[kind]["your_sessions"]["queries"] == queries


def test_the_cache_only_engine_scenarios_on_redis(tmp_path: Path) -> None:
    """`make bench`'s cache contender: no query, and the Redis calls its figures report."""
    from tests import services

    rest = services.redis_url().split("://", 1)[1].split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    if not services.answers((host or "127.0.0.1", int(port or 6379))):
        if services.REQUIRE_SERVICES:
            pytest.fail(f"Redis at {services.redis_url()} does not answer")
        pytest.skip(f"Redis at {services.redis_url()} does not answer")
    plan: dict[str, dict[str, int]] = {name: {"iterations": 1} for name in ("read", "store_save", "login")}
    plan["revoke_all"] = {"iterations": 1, "size": 5}
    plan["your_sessions"] = {"iterations": 1, "size": 3}
    plan["admin_changelist"] = {"iterations": 1, "size": 3}
    config = {
        "db": "sqlite",
        "cache": "locmem",  # the cache contenders run on Redis whatever the others use
        "redis_url": services.redis_url(),
        "workdir": str(tmp_path),
        "round": 0,
        "contender": {"id": "ours-cache", "family": "qsessions", "kind": "cache", "engine": "qsessions.backends.cache"},
        "scenarios": plan,
    }
    out = subprocess.run(
        [sys.executable, str(WORKER), json.dumps(config)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    lines = {line["scenario"]: line for line in map(json.loads, out.stdout.splitlines())}
    assert lines["read"]["queries"] == {} and lines["read"]["cache_ops"] == {"get_many": 1}
    # A save that keeps the owner and the hour of expiry leaves the index alone.
    assert lines["store_save"]["cache_ops"] == {"get_many": 1, "set": 1}
    assert lines["login"]["cache_ops"].get("redis EVALSHA") == 1
    assert lines["revoke_all"]["queries"] == {}
    assert lines["revoke_all"]["cache_ops"] == {
        "redis ZRANGEBYSCORE": 1,
        "get_many": 1,
        "set_many": 1,
        "redis pipeline": 1,
    }
    # The page: the session, the index, the entries (and the user from the database).
    assert lines["your_sessions"]["cache_ops"] == {"get_many": 2, "redis ZRANGEBYSCORE": 1}
    assert lines["your_sessions"]["queries"] == {"SELECT": 1}
    # The admin's list of one user's sessions: the index and the entries, whatever their number.
    assert len(lines["admin_changelist"]["samples_ns"]) == 1
    assert lines["admin_changelist"]["cache_ops"] == {"get_many": 2, "redis ZRANGEBYSCORE": 1}


# -- the orchestrator's design (benchmarks/run.py, standard library only) -----------------------------------


def _orchestrator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", WORKER.parent / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("count", [2, 3, 4, 11, 13])
def test_every_contender_runs_after_every_other_and_in_every_position_equally_often(count: int) -> None:
    orders = _orchestrator().balanced_orders(count)
    assert all(sorted(order) == list(range(count)) for order in orders)
    followers: dict[tuple[int, int], int] = {}
    positions: dict[tuple[int, int], int] = {}
    for order in orders:
        for position, contender in enumerate(order):
            positions[contender, position] = positions.get((contender, position), 0) + 1
        for before, after in itertools.pairwise(order):
            followers[before, after] = followers.get((before, after), 0) + 1
    assert len(followers) == count * (count - 1)  # every ordered pair of two contenders
    assert len(set(followers.values())) == 1
    assert len(positions) == count * count and len(set(positions.values())) == 1


def test_the_default_rounds_are_whole_cycles_of_the_orders() -> None:
    run = _orchestrator()
    assert run.default_rounds(11, 36) == 44  # make bench --aa: 22 orders per cycle
    assert run.default_rounds(4, 36) == 36
    assert run.default_rounds(11, 18) == 22


def test_ratios_pair_each_round_with_the_reference_in_that_round() -> None:
    paired_ratio = _orchestrator().paired_ratio
    # The same engine twice, by round: both slow in round 2 (a slow spell of the machine), the twin alone
    # slow in round 1 (a neighbour disturbed its block). Pooled, the twin's median (200) would be twice the
    # reference's (100); paired, it is 1.
    reference = {0: (100.0, 90.0), 1: (100.0, 90.0), 2: (200.0, 180.0)}
    twin = {0: (100.0, 90.0), 1: (200.0, 180.0), 2: (200.0, 180.0)}
    assert paired_ratio(twin, reference, 0) == 1.0
    assert paired_ratio(twin, reference, 1) == 1.0
    # A contender 10% slower in every round is 1.1, whatever the spells; rounds only one ran are left out.
    slower = {k: (v[0] * 1.1, v[1] * 1.1) for k, v in reference.items()} | {7: (5.0, 5.0)}
    assert paired_ratio(slower, reference, 1) == pytest.approx(1.1)
    assert paired_ratio({}, reference, 0) is None
