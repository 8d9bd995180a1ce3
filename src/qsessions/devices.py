"""User agent -> device, operating system and browser, through ua-parser.

Results are cached per user agent string, so a page listing many sessions parses each distinct user
agent once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ua_parser import Result


@lru_cache(maxsize=2048)
def parse_user_agent(user_agent: str) -> Result:
    from ua_parser import parse  # imported late: loading the regexes costs time at first use only

    return parse(user_agent)


def _version(*parts: str | None) -> str:
    """Join the leading non-empty version parts: ("17", "1", None) -> "17.1"."""
    taken: list[str] = []
    for part in parts:
        if not part:
            break
        taken.append(part)
    return ".".join(taken)


def _named(family: str, version: str) -> str:
    return f"{family} {version}" if version else family


def device_summary(result: Result) -> str:
    """The django-qsessions format: ``"<device> / <os> <version> / <browser> <version>"``."""
    device = result.device.family if result.device else "Other"
    os = result.os
    os_text = _named(os.family, _version(os.major, os.minor, os.patch, os.patch_minor)) if os else "Other"
    ua = result.user_agent
    browser = _named(ua.family, _version(ua.major, ua.minor, ua.patch, ua.patch_minor)) if ua else "Other"
    return f"{device} / {os_text} / {browser}"
