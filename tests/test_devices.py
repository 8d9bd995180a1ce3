"""Device descriptions: human names, form factors, honesty under user-agent reduction, client hints, caching."""

from __future__ import annotations

import dataclasses
import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from qsessions import devices
from qsessions.devices import DeviceDescription, describe_device
from qsessions.models import Session

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "user_agents_sample.tsv"
FULL_SET = Path(__file__).resolve().parents[2] / "shared" / "data" / "user_agents.txt"

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36"
)
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/118.0.0.0 Safari/537.36"
)
CHROME_ANDROID_REDUCED = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36"
)
CHROME_ANDROID_TABLET_REDUCED = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("user_agent", "name", "os", "device", "kind"),
    [
        (CHROME_WINDOWS, "Chrome 118 on Windows", "Windows", "", "pc"),
        (CHROME_MAC, "Chrome 118 on macOS", "macOS", "Mac", "pc"),
        (CHROME_ANDROID_REDUCED, "Chrome 118 on Android", "Android", "", "mobile"),
        (CHROME_ANDROID_TABLET_REDUCED, "Chrome 118 on Android", "Android", "", "tablet"),
        (SAFARI_IPHONE, "Safari 17 on iPhone", "iOS 17.1", "iPhone", "mobile"),
        (GOOGLEBOT, "Googlebot", "", "", "bot"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:119.0) Gecko/20100101 Firefox/119.0",
            "Firefox 119 on Windows",
            "Windows",
            "",
            "pc",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:119.0) Gecko/20100101 Firefox/119.0",
            "Firefox 119 on macOS",
            "macOS",
            "Mac",
            "pc",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.1 Safari/605.1.15",
            "Safari 17 on macOS",
            "macOS",
            "Mac",
            "pc",
        ),
        # Before the freeze, versions in the string are true and are shown.
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/12.1.2 Safari/605.1.15",
            "Safari 12 on macOS 10.14",
            "macOS 10.14",
            "Mac",
            "pc",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/60.0.3112.113 Safari/537.36",
            "Chrome 60 on Windows 7",
            "Windows 7",
            "",
            "pc",
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; SM-G973F) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/83.0.4103.106 Mobile Safari/537.36",
            "Chrome 83 on Android 10",
            "Android 10",
            "Samsung SM-G973F",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            "Samsung Internet 23 on Android 13",
            "Android 13",
            "Samsung SM-S911B",
            "mobile",
        ),
        # Safari 26 on iOS still says iPhone OS 18_6: the OS version is not shown.
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/26.0 Mobile/15E148 Safari/604.1",
            "Safari 26 on iPhone",
            "iOS",
            "iPhone",
            "mobile",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "CriOS/118.0.5993.92 Mobile/15E148 Safari/604.1",
            "Chrome 118 on iPad",
            "iOS 16.6",
            "iPad",
            "tablet",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/118.0.0.0 Safari/537.36",
            "Chrome 118 on ChromeOS",
            "ChromeOS",
            "",
            "pc",
        ),
        (
            CHROME_WINDOWS + " Edg/118.0.2088.76",
            "Edge 118 on Windows",
            "Windows",
            "",
            "pc",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/119.0",
            "Firefox 119 on Ubuntu",
            "Ubuntu",
            "",
            "pc",
        ),
        ("curl/8.4.0", "curl 8", "", "", "none"),
        ("x", "Unknown device", "", "", "none"),
    ],
)
def test_well_known_user_agents(user_agent: str, name: str, os: str, device: str, kind: str) -> None:
    description = describe_device(user_agent)
    assert (description.name, description.os, description.device) == (name, os, device)
    assert str(description) == name
    flags = {
        "mobile": description.is_mobile,
        "tablet": description.is_tablet,
        "bot": description.is_bot,
        "pc": description.is_pc,
    }
    assert [flag for flag, on in flags.items() if on] == ([] if kind == "none" else [kind])


# -- client hints say more than a reduced user agent ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "hints", "name", "device", "kind"),
    [
        (CHROME_WINDOWS, {"platform": "Windows", "platform_version": "15.0.0"}, "Chrome 118 on Windows 11", "", "pc"),
        (CHROME_WINDOWS, {"platform": "Windows", "platform_version": "13.0.0"}, "Chrome 118 on Windows 11", "", "pc"),
        (CHROME_WINDOWS, {"platform": "Windows", "platform_version": "10.0.0"}, "Chrome 118 on Windows 10", "", "pc"),
        (CHROME_WINDOWS, {"platform": "Windows", "platform_version": "0.3.0"}, "Chrome 118 on Windows 8.1", "", "pc"),
        (CHROME_WINDOWS, {"platform": "Windows", "platform_version": "0.9.0"}, "Chrome 118 on Windows", "", "pc"),
        (CHROME_WINDOWS, {"platform": "Windows", "platform_version": "soon"}, "Chrome 118 on Windows", "", "pc"),
        (CHROME_WINDOWS, {"platform": "Windows"}, "Chrome 118 on Windows", "", "pc"),
        # Hints about another system than the user agent's are not mixed in.
        (CHROME_WINDOWS, {"platform": "Android", "platform_version": "14.0.0"}, "Chrome 118 on Windows", "", "pc"),
        (CHROME_MAC, {"platform": "macOS", "platform_version": "14.5.0"}, "Chrome 118 on macOS 14.5", "Mac", "pc"),
        (CHROME_MAC, {"platform": "macOS", "platform_version": "15.0.0"}, "Chrome 118 on macOS 15", "Mac", "pc"),
        (
            CHROME_ANDROID_REDUCED,
            {"platform": "Android", "platform_version": "14.0.0", "model": "Pixel 7", "mobile": True},
            "Chrome 118 on Android 14",
            "Pixel 7",
            "mobile",
        ),
        (
            CHROME_ANDROID_REDUCED,
            {"platform": "Android", "platform_version": "10.0.0"},
            "Chrome 118 on Android 10",
            "",
            "mobile",
        ),
        (
            CHROME_ANDROID_TABLET_REDUCED,
            {"platform": "Android", "platform_version": "13", "model": "SM-X710", "mobile": False},
            "Chrome 118 on Android 13",
            "SM-X710",
            "tablet",
        ),
        (CHROME_ANDROID_TABLET_REDUCED, {"platform": "Android", "mobile": True}, "Chrome 118 on Android", "", "mobile"),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/118.0.0.0 Safari/537.36",
            {"platform": "Chrome OS", "platform_version": "15633.69.0"},
            "Chrome 118 on ChromeOS",
            "",
            "pc",
        ),
    ],
)
def test_client_hints(user_agent: str, hints: dict[str, Any], name: str, device: str, kind: str) -> None:
    description = describe_device(user_agent, hints)
    assert (description.name, description.device) == (name, device)
    assert {"mobile": description.is_mobile, "tablet": description.is_tablet, "pc": description.is_pc}[kind]


def test_unhashable_hint_values_are_ignored() -> None:
    hints: dict[str, Any] = {"platform": "Windows", "platform_version": "15.0.0", "brands": ["x"]}
    assert describe_device(CHROME_WINDOWS, hints).name == "Chrome 118 on Windows 11"


# -- caching -------------------------------------------------------------------------------------------------------


def test_descriptions_are_immutable_and_cached() -> None:
    first = describe_device(SAFARI_IPHONE, {"mobile": True})
    assert describe_device(SAFARI_IPHONE, {"mobile": True}) is first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.name = "changed"  # type: ignore[misc]
    assert isinstance(first, DeviceDescription)


@pytest.mark.django_db
def test_a_page_of_sessions_parses_each_distinct_user_agent_once() -> None:
    user_agents = [CHROME_WINDOWS, SAFARI_IPHONE, GOOGLEBOT]
    expires = timezone.now() + datetime.timedelta(days=1)
    for number in range(100):
        Session.objects.create(
            session_key=f"key{number:030d}",
            session_data="",
            expire_date=expires,
            user_agent=user_agents[number % 3],
        )
    devices.parse_user_agent.cache_clear()
    devices._describe.cache_clear()
    names = {session.device_description.name for session in Session.objects.all()}
    assert names == {"Chrome 118 on Windows", "Safari 17 on iPhone", "Googlebot"}
    assert devices.parse_user_agent.cache_info().misses == 3


@pytest.mark.django_db
def test_session_device_properties() -> None:
    expires = timezone.now() + datetime.timedelta(days=1)
    session = Session(session_key="k" * 32, expire_date=expires, user_agent=SAFARI_IPHONE)
    # The drop-in properties keep django-qsessions' format.
    assert session.device == "iPhone / iOS 17.1 / Mobile Safari 17.1"
    assert session.device_info is not None
    assert session.device_info.user_agent is not None
    assert session.device_info.user_agent.family == "Mobile Safari"
    assert session.device_description == describe_device(SAFARI_IPHONE)
    hinted = Session(user_agent=CHROME_WINDOWS, client_hints={"platform": "Windows", "platform_version": "14.0.0"})
    assert hinted.device_description is not None
    assert hinted.device_description.name == "Chrome 118 on Windows 11"
    odd = Session(user_agent=CHROME_WINDOWS, client_hints=["not", "a", "dict"])
    assert odd.device_description == describe_device(CHROME_WINDOWS)
    blank = Session(user_agent=None)
    assert (blank.device_description, blank.device, blank.device_info) == (None, "", None)


# -- real strings ----------------------------------------------------------------------------------------------------


def sample() -> list[tuple[str, str, str]]:
    rows = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        name, flags, user_agent = line.split("\t")
        rows.append((name, flags, user_agent))
    return rows


def flag_text(description: DeviceDescription) -> str:
    flags = {"m": description.is_mobile, "t": description.is_tablet, "b": description.is_bot, "p": description.is_pc}
    return "".join(flag for flag, on in flags.items() if on) or "-"


def test_the_shipped_sample_is_described_as_recorded() -> None:
    """A few hundred real user agents, one per kind of client (scripts/sample_user_agents.py chose them)."""
    rows = sample()
    assert len(rows) >= 250
    mismatches = [
        (user_agent, (name, flags), (described.name, flag_text(described)))
        for name, flags, user_agent in rows
        if ((described := describe_device(user_agent)).name, flag_text(described)) != (name, flags)
    ]
    assert mismatches == []


def assert_sane(user_agent: str) -> None:
    described = describe_device(user_agent)
    assert described.name.strip() == described.name
    assert described.name
    assert len(described.name) <= 2 * len(user_agent) + 40
    assert sum((described.is_mobile, described.is_tablet, described.is_pc, described.is_bot)) <= 1
    assert devices.device_summary(devices.parse_user_agent(user_agent)).count(" / ") >= 2


@pytest.mark.skipif(
    not FULL_SET.exists(),
    reason=f"the full user-agent set is not here ({FULL_SET}); it lives in ../shared/data/ beside the project",
)
def test_every_real_user_agent_gets_a_sane_description() -> None:
    lines = [line for line in FULL_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) > 17_000
    for user_agent in lines:
        assert_sane(user_agent)


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    user_agent=st.text(min_size=1, max_size=400),
    hints=st.dictionaries(
        st.sampled_from(["platform", "platform_version", "model", "mobile"]),
        st.one_of(st.text(max_size=20), st.booleans(), st.sampled_from(["Windows", "Android", "macOS", "15.0.0"])),
    ),
)
def test_no_user_agent_or_hint_raises(user_agent: str, hints: dict[str, Any]) -> None:
    described = describe_device(user_agent, hints)
    assert described.name
    assert sum((described.is_mobile, described.is_tablet, described.is_pc, described.is_bot)) <= 1


# -- versions are dropped only for the tokens reduced user agents freeze --------------------------------------

# Real user agents (from ../shared/data/user_agents.txt) whose OS version is not a frozen one: it is shown.
UNFROZEN_VERSIONS = [
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) Brave "
        "Chrome/80.0.3987.87 Safari/537.36",
        "macOS 10.15",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/80.0.3987.87 Safari/537.36",
        "macOS 10.15",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.0.5 Safari/605.1.15",
        "macOS 10.15",
    ),
    ("Mozilla/5.0 (Windows NT 6.4; Trident/7.0; rv:11.0) like Gecko", "Windows 10"),
    (
        "Mozilla/5.0 (Windows NT 6.4; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 "
        "Safari/537.36 Edge/12.0",
        "Windows 10",
    ),
    ("Mozilla/5.0 (Windows NT 6.4; WOW64; rv:36.0) Gecko/20100101 Firefox/36.0", "Windows 10"),
    (
        "ArcGISRuntime-NET/10.3.0 (Windows 10.0.18362; x64; UAP; Windows.Desktop) arcgis-collector/18.0.2 "
        "(00000000-0000-0000-0000-000000000000)",
        "Windows 10",
    ),
    ("ArcGISRuntime-NET/100.7 (Windows 10.0.18362; Win64; WOW64; UAP; Windows.Desktop)", "Windows 10"),
    ("ArcGISRuntime-Qt/100.3 (Windows 10; x86_64; Qt 5.12.1; C++)", "Windows 10"),
    ("Cyberduck/6.3.0.27105 (Windows 10/10.0) (x86)", "Windows 10"),
    ("Box Sync/4.0.7848;Windows/10;Intel64 Family 6 Model 158 Stepping 9, GenuineIntel/64bit", "Windows 10"),
    ("Box/1.2.93;Windows/10;Intel64 Family 6 Model 158 Stepping 9, GenuineIntel/64bit", "Windows 10"),
    ("PAN GlobalProtect/4.1.2-11 (Microsoft Windows 10 Pro , 64-bit)", "Windows 10"),
    (
        "PAN GlobalProtect/5.0.0-87 (Microsoft Windows 10 Pro , 64-bit) Mozilla/5.0 (Windows NT 6.2; Win64; x64; "
        "Trident/7.0; rv:11.0) like Gecko",
        "Windows 10",
    ),
]
# Frozen tokens: Chrome, Edge and Safari say 10_15_7 on every macOS since 11, Firefox caps it at 10.15, and
# Windows 10 and 11 both say NT 10.0.
FROZEN_VERSIONS = [
    (CHROME_MAC, "macOS"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0", "macOS"),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Safari/605.1.15",
        "macOS",
    ),
    (CHROME_WINDOWS, "Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0", "Windows"),
]


@pytest.mark.parametrize(("user_agent", "os"), UNFROZEN_VERSIONS + FROZEN_VERSIONS)
def test_versions_are_dropped_only_for_frozen_tokens(user_agent: str, os: str) -> None:
    assert describe_device(user_agent).os == os


# The tokens reduced user agents always send, whatever the real version (what devices.py may drop).
FROZEN_TOKEN = re.compile(
    r"Windows NT 10\.0(?![\d.])|Mac OS X 10(?:_15_7|\.15\.7|\.15)(?![\d_.])|Android 10; K\b|CrOS \S+ 14541\.0\.0"
    r"|OS 18_\d+(?:_\d+)? like Mac OS X"
)


@pytest.mark.skipif(
    not FULL_SET.exists(),
    reason=f"the full user-agent set is not here ({FULL_SET}); it lives in ../shared/data/ beside the project",
)
def test_no_real_user_agent_loses_a_version_that_is_not_frozen() -> None:
    lost = []
    for user_agent in FULL_SET.read_text(encoding="utf-8").splitlines():
        parsed = devices.parse_user_agent(user_agent).os
        described = describe_device(user_agent)
        version_known = parsed is not None and (parsed.major or "").isdigit()
        version_shown = any(ch.isdigit() for ch in described.os)
        if version_known and described.os and not version_shown and not FROZEN_TOKEN.search(user_agent):
            lost.append(user_agent)
    assert lost == []
