"""Benchmark orchestrator (standard library only): `make bench` and `make bench-full`.

Creates one virtualenv per contender family under .cache/bench/venvs/ (django-qsessions and qsessions
share the module name, so they cannot live together) and starts one worker (benchmarks/worker.py
--serve) per contender in its virtualenv. Each worker sets up its own Django site and database once;
then, round after round, every scenario is sent to every contender in turn (in a balanced order, see
balanced_orders()), a few dozen operations at a time, so that the drift of a shared machine affects all
contenders alike. Samples of all rounds are pooled per contender and scenario for the medians and
interquartile ranges; the ratios against Django's engine of the same kind (db vs db, cached_db vs
cached_db) and against django-qsessions 2.1.0 are paired by round (see paired_ratio()), measured in the
same run.

    python benchmarks/run.py                 quick: SQLite file + local memory cache
    python benchmarks/run.py --full          quick run, then PostgreSQL + Redis with the large scenarios

QSESSIONS_BENCH_SETTINGS='{"QSESSIONS_IDLE_TIMEOUT": 3600}' adds settings to qsessions (ours) only, to
measure a feature's cost against the same peers in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
CACHE = ROOT / ".cache" / "bench"
DJANGO = "Django>=5.2,<5.3"
TIMES, DASH = "\u00d7", "\u2013"
DRIVERS = ["psycopg[binary]>=3.1", "redis>=5.0"]

VENVS: dict[str, list[str]] = {
    "django": [DJANGO, *DRIVERS],
    "django-qsessions": [DJANGO, *DRIVERS, "django-qsessions==2.1.0"],
    "user-sessions": [DJANGO, *DRIVERS, "django-user-sessions==2.0.0"],
    "ours": [DJANGO, *DRIVERS],  # plus this worktree, reinstalled on every run
}

CONTENDERS: list[dict[str, str]] = [
    {"id": "django-db", "label": "Django db", "family": "django", "kind": "db", "venv": "django",
     "engine": "django.contrib.sessions.backends.db"},
    {"id": "django-cached_db", "label": "Django cached_db", "family": "django", "kind": "cached_db", "venv": "django",
     "engine": "django.contrib.sessions.backends.cached_db"},
    {"id": "dqs-db", "label": "django-qsessions 2.1.0 db", "family": "qsessions", "kind": "db",
     "venv": "django-qsessions", "engine": "qsessions.backends.db"},
    {"id": "dqs-cached_db", "label": "django-qsessions 2.1.0 cached_db", "family": "qsessions", "kind": "cached_db",
     "venv": "django-qsessions", "engine": "qsessions.backends.cached_db"},
    {"id": "user_sessions-db", "label": "django-user-sessions 2.0.0 db", "family": "user_sessions", "kind": "db",
     "venv": "user-sessions", "engine": "user_sessions.backends.db"},
    {"id": "ours-db", "label": "qsessions db (ours)", "family": "qsessions", "kind": "db", "venv": "ours",
     "engine": "qsessions.backends.db"},
    {"id": "ours-cached_db", "label": "qsessions cached_db (ours)", "family": "qsessions", "kind": "cached_db",
     "venv": "ours", "engine": "qsessions.backends.cached_db"},
    # Sessions in Redis only (also in the quick run): ours against Django's cache engine.
    {"id": "django-cache", "label": "Django cache (Redis)", "family": "django", "kind": "cache", "venv": "django",
     "engine": "django.contrib.sessions.backends.cache"},
    {"id": "ours-cache", "label": "qsessions cache (ours, Redis)", "family": "qsessions", "kind": "cache",
     "venv": "ours", "engine": "qsessions.backends.cache"},
]  # fmt: skip

# --aa: each of Django's engines once more, in processes of its own, measured like any contender: its ratio
# to Django is what the harness gives when nothing differs (the noise floor of the run).
AA_CONTENDERS: list[dict[str, str]] = [
    {"id": "django-db-aa", "label": "Django db again (A/A)", "family": "django", "kind": "db",
     "venv": "django", "engine": "django.contrib.sessions.backends.db"},
    {"id": "django-cached_db-aa", "label": "Django cached_db again (A/A)", "family": "django",
     "kind": "cached_db", "venv": "django", "engine": "django.contrib.sessions.backends.cached_db"},
]  # fmt: skip

SCENARIO_TITLES = {
    "anonymous": "Anonymous request, session untouched",
    "read": "Signed-in request reading the session",
    "write": "Signed-in request changing session data",
    "login": "Login (session key cycled)",
    "ip_change": "Signed-in request from a new IP",
    "store_save": "store.save() of an existing session",
    "admin_changelist": "Admin changelist, 1,000 sessions",
    "revoke_all": "Revoke all sessions of a user with 1,000",
    "revoke_all_recorded": "Revoke all 1,000 sessions of a user, recorded in the history (ours)",
    "your_sessions": "'Your sessions' list, 20 sessions",
    "clearsessions": "clearsessions over expired rows",
}


# Scenarios of one request or one store call, run by every contender: the per-request targets.
REQUEST_SCENARIOS = frozenset({"anonymous", "read", "write", "login", "ip_change", "store_save"})


def scenarios(mode: str, sizes: int) -> dict[str, dict[str, int]]:
    """Per scenario: iterations per round, warm-up iterations (before round 1), and the data size."""
    many = 20 if mode == "quick" else 30
    return {
        "anonymous": {"iterations": many, "warmup": 20},
        "read": {"iterations": many, "warmup": 20},
        "write": {"iterations": many, "warmup": 20},
        "login": {"iterations": many // 4, "warmup": 5},
        "ip_change": {"iterations": many, "warmup": 20},
        "store_save": {"iterations": many, "warmup": 20},
        "admin_changelist": {"iterations": 1, "warmup": 1, "size": sizes},
        "revoke_all": {"iterations": 1, "warmup": 0, "size": sizes},
        "revoke_all_recorded": {"iterations": 1, "warmup": 0, "size": sizes},
        "your_sessions": {"iterations": many // 4, "warmup": 5, "size": 20},
    }


# -- virtualenvs ------------------------------------------------------------------------------------------


def pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args], check=True)


def ensure_venvs(names: set[str]) -> dict[str, Path]:
    paths = {}
    for name in sorted(names):
        venv = CACHE / "venvs" / name
        stamp = venv / ".bench-requirements"
        wanted = json.dumps({"python": sys.version, "requirements": VENVS[name]})
        if not stamp.exists() or stamp.read_text() != wanted:
            print(f"[bench] creating virtualenv {venv.relative_to(ROOT)}", flush=True)
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip(venv, *VENVS[name])
            stamp.write_text(wanted)
        if name == "ours":
            pip(venv, "--no-deps", "--force-reinstall", str(ROOT))
            pip(venv, str(ROOT))  # its dependencies, if new ones appeared
        paths[name] = venv
    return paths


# -- running ------------------------------------------------------------------------------------------------


def measuring_cpu() -> int | None:
    """The one CPU every worker runs on (the last this process may use); None where that cannot be set.

    Left to the scheduler, each worker lands on a core of its own relative to the database and cache
    servers, and that placement, not the engine, moved a ratio on Redis by up to 0.2 between runs of the
    same code. On one CPU, every contender is measured where every other is.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))


def run_worker(venv: Path, config: dict[str, Any], timeout: int) -> list[dict[str, Any]]:
    """A one-shot worker: every scenario of ``config`` in turn (used for clearsessions)."""
    command = [str(venv / "bin" / "python"), str(BENCH / "worker.py"), json.dumps(config)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"worker {config['contender']['id']} failed:\n{out.stderr[-4000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


class Worker:
    """A serving worker (worker.py --serve): set up once, then one scenario command at a time.

    Started at construction; ``ready()`` waits for the end of its set-up (its ``_meta`` line).
    """

    def __init__(self, venv: Path, config: dict[str, Any]) -> None:
        self.id = config["contender"]["id"]
        self.stderr_path = Path(config["workdir"]) / f"{self.id}-{config['process']}.stderr"
        self.stderr = self.stderr_path.open("w")
        command = [str(venv / "bin" / "python"), str(BENCH / "worker.py"), "--serve", json.dumps(config)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, bufsize=1
        )
        self.meta: dict[str, Any] = {}

    def ready(self) -> dict[str, Any]:
        self.meta = self._read()
        return self.meta

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise RuntimeError(f"worker {self.id} died:\n{self.stderr_path.read_text()[-4000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=300)
        self.stderr.close()


def balanced_orders(count: int) -> list[list[int]]:
    """Orders of ``count`` contenders in which each one runs right after each other one equally often.

    With the order only rotating, each contender always ran right after the same other one: Django's
    cached_db right after its A/A twin, and the twin measured 4 to 7 percent slower than it on Redis in
    four runs (2026-12-07). A balanced Latin square (Williams' design) gives every contender every
    predecessor and every position alike: ``count`` orders when ``count`` is even, twice as many (each
    also reversed) when odd. (It did not remove that gap alone; paired ratios did, see paired_ratio().)
    """
    if count < 2:
        return [list(range(count))]
    # The first order runs 0, 1, n-1, 2, n-2, ...; the others add 1, 2, ... to each (mod n).
    first, low, high = [0], 1, count - 1
    while len(first) < count:
        first.append(low)
        low += 1
        if len(first) < count:
            first.append(high)
            high -= 1
    orders = [[(value + shift) % count for value in first] for shift in range(count)]
    if count % 2:
        orders += [order[::-1] for order in orders]
    return orders


def default_rounds(contenders: int, at_least: int) -> int:
    """Whole cycles of the balanced orders, at least ``at_least`` rounds."""
    cycle = len(balanced_orders(contenders))
    return cycle * -(-at_least // cycle)


def measure(
    setup: str,
    plan: dict[str, dict[str, int]],
    base: dict[str, Any],
    contenders: list[dict[str, str]],
    venvs: dict[str, Path],
    rounds: int,
    processes: int,
    started: float,
    with_meta: bool,
) -> list[dict[str, Any]]:
    """The rounds of ``plan``'s scenarios, in ``processes`` fresh workers per contender; their result lines.

    Several processes per contender, started in turns whose order rotates, so that what one process draws
    (its memory layout, its hash seed, its place in the start order) is averaged over several, as for
    every other contender. Round r of a contender runs in its process r mod n.
    """
    pools: dict[str, list[Worker]] = {c["id"]: [] for c in contenders}
    all_workers: list[Worker] = []
    lines: list[dict[str, Any]] = []
    try:
        for index in range(processes):
            shift = index % len(contenders)
            for c in contenders[shift:] + contenders[:shift]:
                config = {**base, "contender": c, "scenarios": plan, "round": 0, "process": index}
                worker = Worker(venvs[c["venv"]], config)
                pools[c["id"]].append(worker)
                all_workers.append(worker)
        for worker in all_workers:
            worker.ready()  # every set-up done (each clears the shared cache) before anything is measured
        if with_meta:
            lines += [pools[c["id"]][0].meta for c in contenders]
        skip: set[tuple[str, str]] = set()  # (contender, scenario) found not applicable
        for name, spec in plan.items():
            for worker in all_workers:
                if spec["warmup"]:
                    worker.ask(scenario=name, iterations=spec["warmup"])
        orders = balanced_orders(len(contenders))
        for round_number in range(rounds):
            for position, (name, spec) in enumerate(plan.items()):
                # Over the rounds, each scenario runs in every balanced order once per cycle: no contender
                # always runs first, last, or right after the same other one.
                for c in (contenders[i] for i in orders[(round_number + position) % len(orders)]):
                    if (c["id"], name) in skip:
                        continue
                    pool = pools[c["id"]]
                    line = pool[round_number % len(pool)].ask(
                        scenario=name, iterations=spec["iterations"], round=round_number
                    )
                    lines.append(line)
                    if "not_applicable" in line:
                        skip.add((c["id"], name))
            print(f"[bench] {setup}: {', '.join(plan)}: round {round_number + 1}/{rounds} done, "
                  f"{time.monotonic() - started:.0f}s", flush=True)  # fmt: skip
        for name in plan:
            for c in contenders:
                if (c["id"], name) not in skip:
                    lines.append(pools[c["id"]][0].ask(scenario=name, iterations=1, count=True, round=rounds))
    finally:
        for worker in all_workers:
            worker.close()
    return lines


def run_config(args: argparse.Namespace, setup: str, venvs: dict[str, Path]) -> dict[str, Any]:
    mode = "quick" if setup == "sqlite-locmem" else "full"
    plan = scenarios(mode, args.sizes)
    if args.only:
        plan = {name: spec for name, spec in plan.items() if name in args.only}
    workdir = CACHE / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    base: dict[str, Any] = {
        "db": "sqlite" if setup == "sqlite-locmem" else "postgresql",
        "cache": "locmem" if setup == "sqlite-locmem" else "redis",
        "workdir": str(workdir),
        "postgresql": {"host": args.pg_host, "port": args.pg_port, "user": args.pg_user},
        "redis_url": args.redis_url,
        "cpu": measuring_cpu(),
    }
    contenders = chosen_contenders(args)
    # Requests: many short rounds, each a pair of blocks close in time (see paired_ratio()). The bulk
    # scenarios run one operation per round, each a second or more: half as many rounds suffice.
    rounds = args.rounds or default_rounds(len(contenders), 36)
    bulk_rounds = args.rounds or default_rounds(len(contenders), 18)
    processes = max(1, args.processes)
    started = time.monotonic()
    lines: list[dict[str, Any]] = []
    # The requests first, in workers that run nothing else; then the bulk scenarios in workers of their own.
    # Several of those (the admin of 1,000 sessions, "Your sessions") exist for some contenders only, and
    # what they leave in a process (garbage, filled caches) would slow that contender's requests alone.
    requests = {name: spec for name, spec in plan.items() if name in REQUEST_SCENARIOS}
    bulk = {name: spec for name, spec in plan.items() if name not in REQUEST_SCENARIOS}
    for part, part_rounds in ((requests, rounds), (bulk, bulk_rounds)):
        if part:
            lines += measure(setup, part, base, contenders, venvs, part_rounds, processes, started, with_meta=not lines)
    if mode == "full" and args.clear_rows and (not args.only or "clearsessions" in args.only):
        for contender in (c for c in contenders if c not in AA_CONTENDERS):  # one clearsessions each is enough
            config = {**base, "contender": contender, "scenarios": {"clearsessions": {"rows": args.clear_rows}},
                      "round": 0, "process": 0}  # fmt: skip
            t0 = time.monotonic()
            lines += run_worker(venvs[contender["venv"]], config, timeout=3600)
            print(f"[bench] {setup} clearsessions {contender['id']}: {time.monotonic() - t0:.1f}s", flush=True)
    return summarise(setup, contenders, lines, rounds, bulk_rounds, processes, time.monotonic() - started)


# -- summarising -----------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def paired_ratio(
    blocks: dict[int, tuple[float, float | None]], reference: dict[int, tuple[float, float | None]], index: int
) -> float | None:
    """The median, over the rounds both ran, of a contender's block median over the reference's.

    The machine drifts between fast and slow spells lasting a few rounds (a shared virtual machine's
    neighbours): pooling every sample, a contender with more of its blocks in slow spells than the
    reference measured slower although nothing differed (Django against itself: 0.90 to 1.07 times in
    thirteen runs of 2026-12-07). Within one round both run within a second, so each round's ratio cancels
    the spell, and the median of those ratios resists the block that a neighbour disturbed.
    """
    ratios = []
    for round_number, values in blocks.items():
        other = reference.get(round_number)
        if other is not None and values[index] and other[index]:
            ratios.append(values[index] / other[index])  # type: ignore[operator]
    return statistics.median(ratios) if ratios else None


def summarise(
    setup: str,
    contenders: list[dict[str, str]],
    lines: list[dict[str, Any]],
    rounds: int,
    bulk_rounds: int,
    processes: int,
    seconds: float,
) -> dict[str, Any]:
    meta = [line for line in lines if line["scenario"] == "_meta"]
    results: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line["scenario"] == "_meta":
            continue
        entry = results.setdefault(line["scenario"], {}).setdefault(line["contender"], {"samples_ns": [], "cpu_ns": []})
        if "not_applicable" in line or "failed" in line:
            entry["not_applicable"] = line.get("not_applicable") or f"failed: {line['failed']}"
            continue
        entry["samples_ns"] += line.get("samples_ns", [])
        entry["cpu_ns"] += line.get("cpu_ns", [])
        if line.get("samples_ns"):  # a timed block (a counting pass records no samples)
            # Each block's median, by round: what the ratios pair (see paired_ratio()).
            blocks = entry.setdefault("blocks", {})
            blocks[line["round"]] = (
                statistics.median(line["samples_ns"]),
                statistics.median(line["cpu_ns"]) if line.get("cpu_ns") else None,
            )
        for key in ("queries", "cache_ops", "peak_rss_mb", "baseline_rss_mb", "remaining_rows", "rows", "size"):
            if key in line:
                entry[key] = line[key]
    kinds = {c["id"]: c["kind"] for c in contenders}
    for by_contender in results.values():
        for entry in by_contender.values():
            samples = [ns / 1e6 for ns in entry.pop("samples_ns")]
            cpu = [ns / 1e6 for ns in entry.pop("cpu_ns", [])]
            if samples:
                entry.update(
                    n=len(samples),
                    median_ms=statistics.median(samples),
                    p25_ms=quantile(samples, 0.25),
                    p75_ms=quantile(samples, 0.75),
                )
            if cpu:
                entry["cpu_median_ms"] = statistics.median(cpu)
        for contender_id, entry in by_contender.items():
            for reference, key in (
                (f"django-{kinds[contender_id]}", "vs_django"),
                (f"dqs-{kinds[contender_id]}", "vs_dqs"),
            ):
                other = by_contender.get(reference, {})
                for suffix, index in (("", 0), ("_cpu", 1)):
                    ratio = paired_ratio(entry.get("blocks", {}), other.get("blocks", {}), index)
                    if ratio is not None:
                        entry[key + suffix] = ratio
        for entry in by_contender.values():
            entry.pop("blocks", None)
    versions = {line["contender"]: line["versions"] for line in meta}
    return {
        "setup": setup,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {**machine(), "measuring_cpu": measuring_cpu()},
        "versions": versions,
        "rounds": rounds,
        "bulk_rounds": bulk_rounds,
        "processes": processes,
        "duration_s": round(seconds, 1),
        "contenders": contenders,
        "results": results,
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(), "python": platform.python_version()}


def format_queries(counts: dict[str, int] | None) -> str:
    if not counts:
        return "0"
    total = sum(counts.values())
    detail = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    return f"{total} ({detail})"


def format_cache(counts: dict[str, int] | None) -> str:
    if not counts:
        return "0"
    return ", ".join(f"{n} {op}" for op, n in sorted(counts.items()))


def format_ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}{TIMES}"


def target_rows(run: dict[str, Any]) -> list[str]:
    """The issue's targets for qsessions, checked against one run's results."""
    results = run["results"]

    def entry(scenario: str, contender: str) -> dict[str, Any]:
        found: dict[str, Any] = results.get(scenario, {}).get(contender, {})
        return found

    def statements(e: dict[str, Any]) -> dict[str, int]:
        return {k: v for k, v in (e.get("queries") or {}).items() if k not in ("BEGIN", "SAVEPOINT", "RELEASE")}

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "**missed**")

    rows = []
    for kind, queries_wanted in (("cached_db", 0), ("db", 1)):
        e = entry("read", f"ours-{kind}")
        if "median_ms" in e:
            count = sum(statements(e).values())
            ratio = e.get("vs_django_cpu", e.get("vs_django"))
            ok = count == queries_wanted and ratio is not None and ratio <= 1.05
            noun = "query" if queries_wanted == 1 else "queries"
            rows.append(f"| {kind} read: {queries_wanted} {noun}, ≤ 1.05{TIMES} Django | {count} queries, "
                        f"{format_ratio(ratio)} | {verdict(ok)} |")  # fmt: skip
    for kind in ("db", "cached_db"):
        e, peer = entry("store_save", f"ours-{kind}"), entry("store_save", f"dqs-{kind}")
        if "median_ms" in e:
            mine, theirs = statements(e), statements(peer)
            ok = mine == {"UPDATE": 1}
            rows.append(f"| {kind} session save: one UPDATE, no SELECT | ours {format_queries(mine)}; "
                        f"django-qsessions {format_queries(theirs)} | {verdict(ok)} |")  # fmt: skip
            if run["setup"] == "postgresql-redis" and "median_ms" in peer:
                speedup = peer["median_ms"] / e["median_ms"]
                rows.append(f"| {kind} store.save() on PostgreSQL ≥ 1.5{TIMES} faster than django-qsessions | "
                            f"{speedup:.2f}{TIMES} faster | {verdict(speedup >= 1.5)} |")  # fmt: skip
        for scenario, name in (("write", "write request"), ("login", "login")):
            w = entry(scenario, f"ours-{kind}")
            ratio = w.get("vs_django_cpu", w.get("vs_django"))
            if ratio is not None:
                rows.append(f"| {kind} {name} ≤ 1.05{TIMES} Django | {format_ratio(ratio)} | "
                            f"{verdict(ratio <= 1.05)} |")  # fmt: skip
    for kind, cache_wanted in (("db", {}), ("cached_db", {"set_many": 1})):
        e = entry("revoke_all", f"ours-{kind}")
        if "median_ms" in e:
            deletes = statements(e).get("DELETE", 0)
            ok = deletes == 1 and (e.get("cache_ops") or {}) == cache_wanted
            wanted = "one DELETE" + (", one set_many (the tombstones)" if cache_wanted else "")
            measured = f"{format_queries(statements(e))}; cache {format_cache(e.get('cache_ops'))}"
            rows.append(f"| {kind} revoke all of 1,000: {wanted} | {measured} | {verdict(ok)} |")
    for kind in ("db", "cached_db"):
        e = entry("clearsessions", f"ours-{kind}")
        if "peak_rss_mb" in e:
            batched = statements(e).get("DELETE", 0) > 1
            ok = batched and e["peak_rss_mb"] < 100
            wanted = f"clearsessions over {e.get('rows', 0):,} rows: batched, peak RSS < 100 MB"
            measured = f"{statements(e).get('DELETE', 0)} DELETEs, {e['peak_rss_mb']} MB, {e['median_ms'] / 1000:.1f} s"
            rows.append(f"| {kind} {wanted} | {measured} | {verdict(ok)} |")
    if not rows:
        return []
    return ["### Targets (qsessions)", "", "| target | measured | |", "|---|---|---|", *rows, ""]


def markdown(runs: list[dict[str, Any]]) -> str:
    out = ["# qsessions benchmarks", ""]
    for run in runs:
        m = run["machine"]
        versions = next(iter(run["versions"].values()), {})
        out += [
            f"## {run['setup']} — {run['date']}",
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores ({m['os']}); Python {versions.get('python', m['python'])}, "
            f"Django {versions.get('django', '?')}. {run['rounds']} interleaved rounds of the requests"
            + (f" ({run['bulk_rounds']} of the bulk scenarios)" if run.get("bulk_rounds") else "")
            + f" in balanced orders, {run.get('processes', 1)} processes per contender, {run['duration_s']} s"
            + (f", every worker on CPU {m['measuring_cpu']}. " if m.get("measuring_cpu") is not None else ". ")
            + "Times are medians over all rounds, spread p25"
            + DASH
            + "p75. Ratios are paired: each round's median over the median of Django's engine of the same "
            "kind (db, cached_db or cache), or of django-qsessions 2.1.0 of the same kind, in that round; the "
            "tables show the median of those ratios over the rounds (< 1 is faster). *CPU ms* is the CPU time "
            "of the measuring process (our code's cost, hardly moved by other processes, without the database "
            "and cache servers' time); the targets use its ratio. "
            "Queries and cache calls are those of one operation.",
            "",
        ]
        out += target_rows(run)
        labels = {c["id"]: c["label"] for c in run["contenders"]}
        for scenario, title in SCENARIO_TITLES.items():
            by_contender = run["results"].get(scenario)
            if not by_contender:
                continue
            clear = scenario == "clearsessions"
            if clear:
                rows = next((e["rows"] for e in by_contender.values() if "rows" in e), 0)
                title = f"clearsessions, {rows:,} expired rows"
            out += [f"### {title}", ""]
            columns = ["contender", "median ms", f"p25{DASH}p75 ms", "vs Django", "vs django-qsessions"]
            columns += ["CPU ms", "CPU vs Django"]
            columns += ["DB queries", "cache calls"] + (["peak RSS MB"] if clear else [])
            head = "| " + " | ".join(columns) + " |"
            out += [head, "|" + "---|" * (head.count("|") - 1)]
            for contender in run["contenders"]:
                entry = by_contender.get(contender["id"])
                if entry is None:
                    continue
                if "not_applicable" in entry:
                    note = entry["not_applicable"]
                    note = note if note.startswith("failed") else f"n/a: {note}"
                    row = f"| {labels[contender['id']]} | {note} | | | | | | | |"
                    out.append(row + (" |" if clear else ""))
                    continue
                spread = f"{entry['p25_ms']:.3f}{DASH}{entry['p75_ms']:.3f}"
                row = (
                    f"| {labels[contender['id']]} | {entry['median_ms']:.3f} | {spread}"
                    f" | {format_ratio(entry.get('vs_django'))} | {format_ratio(entry.get('vs_dqs'))}"
                    f" | {entry.get('cpu_median_ms', 0):.3f} | {format_ratio(entry.get('vs_django_cpu'))}"
                    f" | {format_queries(entry.get('queries'))} | {format_cache(entry.get('cache_ops'))} |"
                )
                if clear:
                    row += f" {entry.get('peak_rss_mb', '')} (baseline {entry.get('baseline_rss_mb', '')}) |"
                out.append(row)
            out.append("")
    return "\n".join(out)


def chosen_contenders(args: argparse.Namespace) -> list[dict[str, str]]:
    chosen = [c for c in CONTENDERS if not args.contenders or c["id"] in args.contenders]
    if args.aa:
        kinds = {c["kind"] for c in chosen}
        chosen += [c for c in AA_CONTENDERS if c["kind"] in kinds]
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="also PostgreSQL + Redis and clearsessions")
    parser.add_argument(
        "--rounds", type=int, help="interleaved rounds (default: whole cycles of the balanced orders, 36 or more)"
    )
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--contenders", nargs="*", help="contender ids to run")
    parser.add_argument("--sizes", type=int, default=1000, help="sessions for the admin and revoke scenarios")
    parser.add_argument("--clear-rows", type=int, default=1_000_000, help="expired rows for clearsessions (0: skip)")
    parser.add_argument("--skip-quick", action="store_true", help="with --full: only the PostgreSQL + Redis part")
    parser.add_argument("--pg-host", default=os.environ.get("QSESSIONS_BENCH_PG_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("QSESSIONS_BENCH_PG_PORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("QSESSIONS_BENCH_PG_USER", "postgres"))
    parser.add_argument("--redis-url", default=os.environ.get("QSESSIONS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5"))
    parser.add_argument("--no-write", action="store_true", help="print the table, do not update results/")
    parser.add_argument("--aa", action="store_true", help="measure Django's engines twice (A/A)")
    parser.add_argument("--processes", type=int, default=3, help="worker processes per contender (default 3)")
    args = parser.parse_args()

    contenders = chosen_contenders(args)
    venvs = ensure_venvs({c["venv"] for c in contenders})
    setups = ([] if args.full and args.skip_quick else ["sqlite-locmem"]) + (["postgresql-redis"] if args.full else [])
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs = []
    for setup in setups:
        run = run_config(args, setup, venvs)
        runs.append(run)
        if not args.no_write:
            (RESULTS / f"{setup}.json").write_text(json.dumps(run, indent=1) + "\n")
    if args.no_write:
        print(markdown(runs))
        return 0
    # latest.* show every setup measured so far (a quick run keeps the last full run's PostgreSQL table).
    stored = [json.loads((RESULTS / f"{s}.json").read_text()) for s in ("sqlite-locmem", "postgresql-redis")
              if (RESULTS / f"{s}.json").exists()]  # fmt: skip
    (RESULTS / "latest.json").write_text(json.dumps(stored, indent=1) + "\n")
    table = markdown(stored)
    (RESULTS / "latest.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
