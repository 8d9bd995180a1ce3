"""`make bench-load`: qsessions' engines against Django's of the same kind under load, across processes.

Two identical sites (benchmarks/load_site.py), one per engine, each served by gunicorn with several sync
workers, on PostgreSQL + Redis. Closed-loop clients (threads, one connection per request, each client with
its own sessions on both sites) send 85% reads, 10% writes and 5% logins. The load alternates between the
sites in short slices, so that the noise of a shared machine hits both alike; a request counts for the
slice it started and ended in. Meanwhile victim clients of each site keep reading; halfway through, their
users are signed out from a shell (qsessions: revoke_all; Django: SessionStore.delete of each of their
sessions, found by decoding every session: every row on cached_db, every key in Redis on the cache engine),
and every later answer that still names the user counts as a revoked session served.

The kind (--kind): cached_db (qsessions.backends.cached_db against Django's cached_db, the default) or cache
(sessions in Redis only: qsessions.backends.cache against django.contrib.sessions.backends.cache).

Then, untimed: queries and cache calls per request kind (the X-Bench-Count header), and qsessions'
"Your sessions" page for users with 1, 10, 100 and 1,000 sessions.

    .venv/bin/python benchmarks/load.py [--kind cached_db|cache] [--seconds 120] [--slice 5] [--clients 24]
    .venv/bin/python benchmarks/load.py --smoke        a few seconds, nothing written
    .venv/bin/python benchmarks/load.py --aa           A/A: qsessions' cached_db on both sides

--aa serves qsessions' cached_db on both sites (their own database and cache keys), so every ratio shows
what the harness itself gives when nothing differs: about 1.00, within the run's noise.

Needs PostgreSQL (QSESSIONS_BENCH_PG_HOST/PORT/USER; creates and drops <prefix>_ours and <prefix>_django,
the prefix QSESSIONS_BENCH_LOAD_DB_PREFIX, default qs_load) and Redis (QSESSIONS_BENCH_LOAD_REDIS_URL,
default redis://127.0.0.1:6379/6; it deletes its own keys there first), and gunicorn (the `bench-load`
dependency group).
Writes benchmarks/results/load.md and load.json (load-cache.* with --kind cache, load-aa.* with --aa); --json PATH
also writes the report there (the smoke test reads it).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
SITES = ("ours", "django")
KINDS = ("cached_db", "cache")
# The engine each site serves (benchmarks/load_site.py's LOAD_FLAVOUR and LOAD_KIND): --aa serves ours on
# both, --kind cache the cache-only engines.
FLAVOURS = {"ours": "ours", "django": "django"}
KIND = {"kind": "cached_db"}
MIX = (("read", 0.85), ("write", 0.10), ("login", 0.05))
LIST_SIZES = (1, 10, 100, 1000)
# The targets the README states, against Django's cached_db measured in the same run.
TARGET_THROUGHPUT, TARGET_P99 = 0.95, 1.10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database(site: str) -> str:
    return f"{os.environ.get('QSESSIONS_BENCH_LOAD_DB_PREFIX', 'qs_load')}_{site}"


def site_env(site: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "LOAD_FLAVOUR": FLAVOURS[site],
        "LOAD_KIND": KIND["kind"],
        "LOAD_DB": database(site),
        "LOAD_REDIS_URL": redis_url,
        "LOAD_KEY_PREFIX": f"load-{site}",  # two sites of one flavour never share cache entries
    }


def site_command(site: str, redis_url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / "load_site.py"), *args],
        env=site_env(site, redis_url),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def psql(sql: str) -> None:
    host = os.environ.get("QSESSIONS_BENCH_PG_HOST", "127.0.0.1")
    port = os.environ.get("QSESSIONS_BENCH_PG_PORT", "5432")
    user = os.environ.get("QSESSIONS_BENCH_PG_USER", "postgres")
    subprocess.run(["psql", "-q", "-h", host, "-p", port, "-U", user, "-d", "postgres", "-c", sql], check=True)


# -- HTTP ------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def request(port: int, path: str, cookie: str | None, count: bool = False) -> tuple[Answer, str | None]:
    """One GET with a fresh connection (gunicorn's sync workers close each one); the new session cookie."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
    if count:
        headers["X-Bench-Count"] = "1"
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        new_cookie = cookie
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("sessionid="):
                new_cookie = value.split(";", 1)[0].split("=", 1)[1] or None
        return Answer(response.status, body, {k.lower(): v for k, v in response.getheaders()}), new_cookie
    finally:
        connection.close()


def names_user(answer: Answer, username: str) -> bool:
    try:
        return answer.status == 200 and json.loads(answer.body).get("user") == username
    except ValueError:
        return False


# -- the load --------------------------------------------------------------------------------------------


@dataclass
class Slices:
    """Which site the load goes to, and since when."""

    site: str = "ours"
    number: int = 0
    started: float = 0.0
    stopped: bool = False
    durations: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SITES, 0.0))


@dataclass
class Sample:
    site: str
    kind: str
    seconds: float
    ok: bool


class LoadClient(threading.Thread):
    def __init__(self, number: int, ports: dict[str, int], slices: Slices, samples: list[Sample], seed: int) -> None:
        super().__init__(daemon=True)
        self.username = f"load{number}"
        self.ports, self.slices, self.samples = ports, slices, samples
        self.cookies: dict[str, str | None] = dict.fromkeys(SITES)
        self.random = random.Random(seed)

    def sign_in(self) -> None:
        for site in SITES:
            answer, self.cookies[site] = request(self.ports[site], f"/login/?user={self.username}", None)
            assert names_user(answer, self.username), (site, answer.status, answer.body[:200])

    def kind(self) -> str:
        draw, total = self.random.random(), 0.0
        for kind, share in MIX:
            total += share
            if draw < total:
                return kind
        return MIX[0][0]

    def run(self) -> None:
        paths = {"read": "/read/", "write": "/write/", "login": f"/login/?user={self.username}"}
        while not self.slices.stopped:
            number = self.slices.number  # first: the site changes before the slice's number does
            site = self.slices.site
            kind = self.kind()
            started = time.perf_counter()
            try:
                answer, cookie = request(self.ports[site], paths[kind], self.cookies[site])
                ok = names_user(answer, self.username)
                if ok:
                    self.cookies[site] = cookie
            except OSError:
                ok = False
            if self.slices.number == number:  # started and ended in the same slice
                self.samples.append(Sample(site, kind, time.perf_counter() - started, ok))


class Victim(threading.Thread):
    """Reads on one site until stopped; after its user is revoked, counts every answer that names it."""

    def __init__(self, number: int, site: str, port: int, slices: Slices) -> None:
        super().__init__(daemon=True)
        self.username, self.site, self.port, self.slices = f"victim{number}", site, port, slices
        self.cookie: str | None = None
        self.revoked_at: float | None = None  # set when the revocation has returned
        self.after = self.served = 0

    def run(self) -> None:
        answer, self.cookie = request(self.port, f"/login/?user={self.username}", None)
        assert names_user(answer, self.username)
        while not self.slices.stopped:
            if self.slices.site != self.site:
                time.sleep(0.01)
                continue
            revoked_at = self.revoked_at
            started = time.perf_counter()
            try:
                answer, _ = request(self.port, "/read/", self.cookie)  # always the revoked cookie
            except OSError:
                continue
            if revoked_at is not None and started > revoked_at:
                self.after += 1
                self.served += names_user(answer, self.username)
            time.sleep(0.02)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def cpu_seconds(master: int) -> float:
    """User + system CPU seconds of a gunicorn master and its workers, so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == master or ppid == master:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def wait_until_up(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request(port, "/read/", None)
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the site on port {port} did not answer")


def run(args: argparse.Namespace) -> dict[str, Any]:
    redis_url = os.environ.get("QSESSIONS_BENCH_LOAD_REDIS_URL", "redis://127.0.0.1:6379/6")
    import redis

    client = redis.Redis.from_url(redis_url)
    for site in SITES:  # only the sites' own keys: the database may be shared (the smoke test runs in the suite's)
        stale = list(client.scan_iter(match=f"load-{site}:*", count=1000))
        for start in range(0, len(stale), 1000):
            client.delete(*stale[start : start + 1000])
    users = [f"load{n}" for n in range(args.clients)] + [f"victim{n}" for n in range(args.victims)]
    users += [f"list{size}" for size in args.list_sizes]
    for site in SITES:
        psql(f"DROP DATABASE IF EXISTS {database(site)}")
        psql(f"CREATE DATABASE {database(site)}")
        site_command(site, redis_url, "migrate")
        site_command(site, redis_url, "users", *users)
    ports = {site: free_port() for site in SITES}
    servers = {
        site: subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "load_site:application",
                "--chdir",
                str(BENCH),
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{ports[site]}",
                "--log-level",
                "warning",
            ],
            env=site_env(site, redis_url),
        )
        for site in SITES
    }
    try:
        for site in SITES:
            wait_until_up(ports[site])
        return measure(args, ports, servers, redis_url)
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.wait(timeout=30)
        if not args.keep_databases:
            for site in SITES:
                psql(f"DROP DATABASE IF EXISTS {database(site)}")


def measure(
    args: argparse.Namespace, ports: dict[str, int], servers: dict[str, subprocess.Popen[bytes]], redis_url: str
) -> dict[str, Any]:
    slices = Slices()
    samples: list[Sample] = []
    clients = [LoadClient(n, ports, slices, samples, seed=n) for n in range(args.clients)]
    for client in clients:
        client.sign_in()
    victims = [Victim(n, SITES[n % 2], ports[SITES[n % 2]], slices) for n in range(args.victims)]
    cpu = dict.fromkeys(SITES, 0.0)
    slices.started = time.perf_counter()
    for thread in [*clients, *victims]:
        thread.start()
    total_slices = max(2, round(args.seconds / args.slice))
    revocation: dict[str, float] = {}
    for number in range(total_slices):
        site = SITES[number % 2] if (number // 2) % 2 == 0 else SITES[1 - number % 2]  # ABBA: no order bias
        if number == total_slices // 2:
            # Halfway: sign the victims out, site by site, while that site is under load; uncounted time.
            for victim_site in SITES:
                slices.site, slices.number = victim_site, -1_000_000 - number
                names = [victim.username for victim in victims if victim.site == victim_site]
                begun = time.perf_counter()
                site_command(victim_site, redis_url, "revoke", *names)
                revocation[victim_site] = time.perf_counter() - begun
                for victim in victims:
                    if victim.site == victim_site:
                        victim.revoked_at = time.perf_counter()
        cpu_before = cpu_seconds(servers[site].pid)
        started = time.perf_counter()
        slices.site, slices.number = site, number
        time.sleep(max(0.0, args.slice - (time.perf_counter() - started)))
        slices.number = -1 - number  # requests still in flight do not count
        slices.durations[site] += time.perf_counter() - started
        cpu[site] += cpu_seconds(servers[site].pid) - cpu_before
    slices.stopped = True
    for thread in [*clients, *victims]:
        thread.join(timeout=60)

    results: dict[str, Any] = {"sites": {}, "revoked": {}}
    for site in SITES:
        mine = [sample for sample in samples if sample.site == site]
        ok = [sample.seconds for sample in mine if sample.ok]
        results["sites"][site] = {
            "requests": len(mine),
            "errors": sum(not sample.ok for sample in mine),
            "seconds": slices.durations[site],
            "throughput": len(mine) / slices.durations[site],
            "p50_ms": percentile(ok, 0.50) * 1000,
            "p95_ms": percentile(ok, 0.95) * 1000,
            "p99_ms": percentile(ok, 0.99) * 1000,
            "cpu_ms_per_request": cpu[site] / max(1, len(mine)) * 1000,
            "kinds": {
                kind: {
                    "requests": len(values := [s.seconds for s in mine if s.kind == kind and s.ok]),
                    "p50_ms": percentile(values, 0.50) * 1000,
                    "p99_ms": percentile(values, 0.99) * 1000,
                }
                for kind, _ in MIX
            },
            "counts": count_per_kind(ports[site], site),
        }
        site_victims = [victim for victim in victims if victim.site == site]
        results["revoked"][site] = {
            "sessions_revoked": len(site_victims),
            "revocation_seconds": revocation.get(site, 0.0),
            "requests_after": sum(victim.after for victim in site_victims),
            "served_signed_in": sum(victim.served for victim in site_victims),
        }
    results["your_sessions"] = your_sessions(ports["ours"], redis_url, args.page_requests, args.list_sizes)
    return results


def count_per_kind(port: int, site: str) -> dict[str, dict[str, Any]]:
    """Queries and cache calls of each kind of request, from a client of its own, once warm."""
    username = "load0"
    answer, cookie = request(port, f"/login/?user={username}", None)
    counts: dict[str, dict[str, Any]] = {}
    for kind, path in (("read", "/read/"), ("write", "/write/"), ("login", f"/login/?user={username}")):
        request(port, path, cookie)  # warm: the cache holds the session
        answer, cookie = request(port, path, cookie, count=True)
        counts[kind] = {
            "queries": int(answer.headers.get("x-queries", -1)),
            "cache_calls": int(answer.headers.get("x-cache-calls", -1)),
            "cache_detail": answer.headers.get("x-cache-detail", ""),
        }
    return counts


def your_sessions(port: int, redis_url: str, repeats: int, sizes: tuple[int, ...]) -> dict[str, Any]:
    """qsessions' "Your sessions" page (first page) for users with 1, 10, 100 and 1,000 sessions."""
    figures: dict[str, Any] = {}
    for size in sizes:
        username = f"list{size}"
        if size > 1:
            site_command("ours", redis_url, "sessions", username, str(size - 1))
        _, cookie = request(port, f"/login/?user={username}", None)
        request(port, "/account/sessions/", cookie)  # warm
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            answer, _ = request(port, "/account/sessions/", cookie)
            times.append(time.perf_counter() - started)
            assert answer.status == 200, answer.status
        counted, _ = request(port, "/account/sessions/", cookie, count=True)
        api, _ = request(port, "/account/sessions/api/sessions/", cookie)
        figures[str(size)] = {
            "p50_ms": percentile(times, 0.50) * 1000,
            "p95_ms": percentile(times, 0.95) * 1000,
            "bytes": len(counted.body),
            "rows": counted.body.count(b'<th scope="row">'),
            "queries": int(counted.headers.get("x-queries", -1)),
            "api_sessions": len(json.loads(api.body)["sessions"]),
        }
    return figures


# -- the report ------------------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> list[str]:
    ours, django = report["results"]["sites"]["ours"], report["results"]["sites"]["django"]
    machine = report["machine"]
    aa = report.get("aa", False)
    kind = report.get("kind", "cached_db")
    if aa:
        labels = {"ours": f"qsessions {kind} (A)", "django": f"qsessions {kind} (B)"}
    else:
        labels = {"ours": f"qsessions {kind}", "django": f"Django {kind}"}
    a_name, b_name = ("A", "B") if aa else ("qsessions", "Django")
    title = (
        f"# Load, A/A: qsessions {kind} against itself, across processes"
        if aa
        else f"# Load: qsessions {kind} against Django's {kind}, across processes"
    )
    lines = [
        title,
        "",
        f"{report['date']}. {machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']},"
        f" Django {report['django']}, PostgreSQL + Redis on the same machine. gunicorn {report['gunicorn']},"
        f" {report['workers']} sync workers per site; {report['clients']} closed-loop clients (85% reads, 10%"
        f" writes, 5% logins) on both sites, the load alternating between them in {report['slice']} s slices"
        f" (ABBA order), {report['seconds']:.0f} s per site. `make bench-load` (benchmarks/load.py --kind {kind}"
        + (
            f" --aa: the same engine, qsessions' {kind}, on both sites, each with its own database and cache"
            " keys; every ratio is what the harness gives when nothing differs)."
            if aa
            else ")."
        ),
        "",
        f"| | {a_name} | {b_name} | ratio |",
        "|---|---:|---:|---:|",
    ]

    def row(label: str, a: float, b: float, fmt: str = "{:.1f}") -> str:
        if not b:
            return f"| {label} | - | - | - |"
        return f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {a / b:.2f}\u00d7 |"

    lines += [
        row("throughput, requests/s", ours["throughput"], django["throughput"]),
        row("p50, ms", ours["p50_ms"], django["p50_ms"]),
        row("p95, ms", ours["p95_ms"], django["p95_ms"]),
        row("p99, ms", ours["p99_ms"], django["p99_ms"]),
        row("server CPU per request, ms", ours["cpu_ms_per_request"], django["cpu_ms_per_request"], "{:.2f}"),
        f"| requests (errors) | {ours['requests']} ({ours['errors']}) | {django['requests']} ({django['errors']}) | |",
    ]
    for kind, _ in MIX:
        a, b = ours["kinds"][kind], django["kinds"][kind]
        lines.append(row(f"{kind}: p50, ms", a["p50_ms"], b["p50_ms"]))
        lines.append(row(f"{kind}: p99, ms", a["p99_ms"], b["p99_ms"]))
    lines += ["", "Queries and cache calls per request (one warm request of each kind):", ""]
    lines += [f"| kind | {a_name}: queries, cache calls | {b_name}: queries, cache calls |", "|---|---|---|"]
    for kind, _ in MIX:
        a, b = ours["counts"][kind], django["counts"][kind]
        lines.append(
            f"| {kind} | {a['queries']}, {a['cache_calls']} ({a['cache_detail']}) |"
            f" {b['queries']}, {b['cache_calls']} ({b['cache_detail']}) |"
        )
    lines += ["", "Revocation under load (halfway through, from a shell, while the victims keep reading):", ""]
    lines += ["| | sessions revoked | took, s | requests after | served signed in |", "|---|---:|---:|---:|---:|"]
    for site in SITES:
        revoked = report["results"]["revoked"][site]
        lines.append(
            f"| {labels[site]} | {revoked['sessions_revoked']} | {revoked['revocation_seconds']:.2f} |"
            f" {revoked['requests_after']} | {revoked['served_signed_in']} |"
        )
    lines += ["", 'qsessions\' "Your sessions" page (first page of 50), sequential requests:', ""]
    lines += ["| sessions | p50, ms | p95, ms | KB | rows | queries |", "|---:|---:|---:|---:|---:|---:|"]
    for size, page in report["results"]["your_sessions"].items():
        lines.append(
            f"| {int(size):,} | {page['p50_ms']:.1f} | {page['p95_ms']:.1f} | {page['bytes'] / 1024:.1f} |"
            f" {page['rows']} | {page['queries']} |"
        )
    verdicts = ", ".join(f"{name} {'met' if met else 'NOT met'}" for name, met in targets(report))
    source = "README's, A against B" if aa else "README"
    lines += ["", f"Targets ({source}): {verdicts}."]
    return lines


def targets(report: dict[str, Any]) -> list[tuple[str, bool]]:
    results = report["results"]
    ours, django = results["sites"]["ours"], results["sites"]["django"]
    pages = results["your_sessions"]
    served_by_us = SITES if report.get("aa") else ("ours",)  # Django's workaround is not held to it
    throughput_met = ours["throughput"] >= TARGET_THROUGHPUT * django["throughput"]
    return [
        (f"throughput \u2265 {TARGET_THROUGHPUT}\u00d7", throughput_met),
        (f"p99 \u2264 {TARGET_P99}\u00d7", ours["p99_ms"] <= TARGET_P99 * django["p99_ms"]),
        ("0 errors", ours["errors"] == 0 and django["errors"] == 0),
        ("0 revoked sessions served", all(results["revoked"][site]["served_signed_in"] == 0 for site in served_by_us)),
        ("page queries bounded", len({page["queries"] for page in pages.values()}) == 1),
    ]


# What a smoke run checks: the harness works and qsessions is correct; a few seconds say nothing of speed.
CORRECTNESS = ("0 errors", "0 revoked sessions served", "page queries bounded")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=KINDS, default="cached_db", help="the engines compared")
    parser.add_argument("--seconds", type=float, default=120, help="load time, both sites together")
    parser.add_argument("--slice", type=float, default=5)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--victims", type=int, default=20, help="sessions revoked under load, half on each site")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers per site")
    parser.add_argument("--page-requests", type=int, default=30)
    parser.add_argument(
        "--smoke", action="store_true", help="a few seconds, to check the harness: nothing written, no speed targets"
    )
    parser.add_argument("--aa", action="store_true", help="A/A: qsessions' engine on both sites")
    parser.add_argument("--json", type=Path, help="also write the report (JSON) to this file")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--keep-databases", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.slice, args.clients, args.victims, args.workers, args.page_requests = 4, 1, 4, 4, 2, 2
        # Fewer users and pages: Django starts once per set-up command, and that is most of a smoke run.
        args.no_write = True
    args.list_sizes = (1, 100) if args.smoke else LIST_SIZES
    if args.aa:
        FLAVOURS["django"] = "ours"
    KIND["kind"] = args.kind
    import django
    import gunicorn

    results = run(args)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "django": django.__version__,
        "gunicorn": gunicorn.__version__,
        "workers": args.workers,
        "clients": args.clients,
        "slice": args.slice,
        "seconds": results["sites"]["ours"]["seconds"],
        "aa": args.aa,
        "kind": args.kind,
        "smoke": args.smoke,
        "results": results,
    }
    lines = render(report)
    print("\n".join(lines))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        name = "load" + ("-cache" if args.kind == "cache" else "") + ("-aa" if args.aa else "")
        (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    checked = [(name, met) for name, met in targets(report) if not args.smoke or name in CORRECTNESS]
    return 0 if all(met for _, met in checked) else 1


if __name__ == "__main__":
    sys.exit(main())
