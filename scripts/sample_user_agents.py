"""Choose the user-agent sample shipped in tests/data/ from ../shared/data/user_agents.txt.

One string per kind of client, the most common kinds first: a kind is (browser family, OS family,
device class) as ua-parser sees it. The choice is deterministic (file order), so running this again on
the same input gives the same sample. The expectations written beside each string are what
qsessions.devices says today; they were read through by hand before being committed, and the test
(tests/test_devices.py) holds the code to them.

    python scripts/sample_user_agents.py [--size 300] [SOURCE] [DEST]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from qsessions.devices import describe_device, parse_user_agent  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "user_agents.txt"
DEFAULT_DEST = ROOT / "tests" / "data" / "user_agents_sample.tsv"
HEADER = "# name\tflags (m=mobile t=tablet b=bot p=pc, - none)\tuser agent\n"


def kind(user_agent: str) -> tuple[str, str, str]:
    result = parse_user_agent(user_agent)
    description = describe_device(user_agent)
    device_class = next((flag for flag, on in flags(description).items() if on), "-")
    browser = result.user_agent.family if result.user_agent else ""
    os = result.os.family if result.os else ""
    return browser, os, device_class


def flags(description: object) -> dict[str, bool]:
    return {
        "m": getattr(description, "is_mobile"),  # noqa: B009
        "t": getattr(description, "is_tablet"),  # noqa: B009
        "b": getattr(description, "is_bot"),  # noqa: B009
        "p": getattr(description, "is_pc"),  # noqa: B009
    }


def flag_text(description: object) -> str:
    return "".join(flag for flag, on in flags(description).items() if on) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--size", type=int, default=300)
    args = parser.parse_args()

    lines = [line.rstrip("\n") for line in args.source.read_text(encoding="utf-8").splitlines()]
    first: dict[tuple[str, str, str], str] = {}
    sizes: Counter[tuple[str, str, str]] = Counter()
    for line in lines:
        if not line.strip() or "\t" in line:
            continue
        key = kind(line)
        sizes[key] += 1
        first.setdefault(key, line)
    chosen = [first[key] for key, _ in sizes.most_common(args.size)]
    with args.dest.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for user_agent in chosen:
            description = describe_device(user_agent)
            out.write(f"{description.name}\t{flag_text(description)}\t{user_agent}\n")
    print(f"{len(chosen)} of {len(sizes)} kinds from {len(lines)} user agents -> {args.dest}")


if __name__ == "__main__":
    main()
