"""User-agent parsing throughput, cold (no cache), with ua-parser's pure-Python resolver and with ua-parser-rs.

    python benchmarks/ua_parsing.py [--file ../shared/data/user_agents.txt] [--repeat 3]

Every string of the file is parsed once per round by a resolver with no cache in front of it, so each
parse does the full matching work. "describe" runs qsessions' own path (devices.describe_device) with its
caches and ua-parser's cleared, through each resolver. Install the ``speedups`` extra to measure both
(`pip install -e '.[speedups]'`); without it only the pure-Python figures are printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import ua_parser  # noqa: E402
from ua_parser import BasicResolver, Domain, Parser, load_builtins, load_lazy_builtins  # noqa: E402

from qsessions import devices  # noqa: E402

DEFAULT_FILE = ROOT.parent / "shared" / "data" / "user_agents.txt"


def resolvers() -> dict[str, Callable[[], ua_parser.Resolver]]:
    found: dict[str, Callable[[], ua_parser.Resolver]] = {"python (re)": lambda: BasicResolver(load_builtins())}
    if importlib.util.find_spec("ua_parser_rs"):
        from ua_parser.regex import Resolver as RegexResolver

        found["ua-parser-rs"] = lambda: RegexResolver(load_lazy_builtins())
    return found


def best_of(repeat: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = [line for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"{len(lines)} user agents from {args.file}; best of {args.repeat} rounds, no cache")
    print(f"ua-parser {'.'.join(map(str, ua_parser.VERSION))}, default resolver: {ua_parser.BestAvailableResolver}")

    figures: dict[str, tuple[float, float]] = {}
    for label, make in resolvers().items():
        start = time.perf_counter()
        resolver = make()
        resolver("warm-up", Domain.ALL)
        setup = time.perf_counter() - start

        def parse_all(resolver: ua_parser.Resolver = resolver) -> None:
            for line in lines:
                resolver(line, Domain.ALL)

        parse = best_of(args.repeat, parse_all)

        def describe_all(resolver: ua_parser.Resolver = resolver) -> None:
            ua_parser.parser = Parser(resolver)  # no cache in front of the resolver
            devices.parse_user_agent.cache_clear()
            devices._describe.cache_clear()
            for line in lines:
                devices.describe_device(line)

        describe = best_of(args.repeat, describe_all)
        figures[label] = (parse, describe)
        print(
            f"{label:>12}: setup {setup * 1000:7.1f} ms | parse {len(lines) / parse:9.0f} UA/s "
            f"({parse * 1e6 / len(lines):6.1f} us each) | describe {len(lines) / describe:9.0f} UA/s"
        )
    if len(figures) == 2:
        (python_parse, python_describe), (rust_parse, rust_describe) = figures.values()
        print(
            f"ratio ua-parser-rs / python: parse x{python_parse / rust_parse:.1f}, "
            f"describe x{python_describe / rust_describe:.1f}"
        )


if __name__ == "__main__":
    main()
