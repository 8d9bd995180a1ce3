"""User agent (+ User-Agent Client Hints) -> device, operating system and browser, through ua-parser.

Results are cached per user agent string (and hints), so a page listing many sessions parses each
distinct user agent once. ua-parser picks its fastest resolver itself: with the ``speedups`` extra
installed (ua-parser-rs) it matches in Rust, otherwise with Python's ``re``.

Names are honest about user-agent reduction: browsers freeze parts of the string ("Windows NT 10.0" for
Windows 10 and 11, "Mac OS X 10_15_7" (Firefox: "10.15") for every macOS since 11, "Android 10; K" in
Chrome since 110), so those show as "Windows", "macOS" and "Android" without a version unless client
hints say more. Only those exact tokens lose their version: "Mac OS X 10_15_3" is macOS 10.15.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.utils.translation import gettext, gettext_noop

if TYPE_CHECKING:
    from ua_parser import Result

CACHE_SIZE = 4096


@lru_cache(maxsize=CACHE_SIZE)
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


# -- human descriptions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceDescription:
    """What a person recognises: ``name`` is e.g. "Chrome 118 on Android", "Safari 17 on iPhone", "Googlebot".

    ``browser``, ``os`` and ``device`` are "" when unknown (and in English: they are data); ``place`` is what
    the name puts after "on". At most one of ``is_mobile``, ``is_tablet``, ``is_pc`` is true, and none of
    them for a bot. Descriptions are cached across requests, so ``name`` is put into words in the language
    active when it is read.
    """

    browser: str
    os: str
    device: str
    is_mobile: bool
    is_tablet: bool
    is_bot: bool
    is_pc: bool
    place: str = ""

    @property
    def name(self) -> str:
        browser = gettext(self.browser) if self.browser in _TRANSLATED_NAMES else self.browser
        if self.is_bot:
            return browser
        if self.place:
            return gettext("%(browser)s on %(place)s") % {
                "browser": browser or gettext("Unknown browser"),
                "place": self.place,
            }
        return browser or gettext("Unknown device")

    def __str__(self) -> str:
        return self.name


# Names of our own, not products': put into words in the reader's language (see DeviceDescription.name).
IN_APP_BROWSER = gettext_noop("In-app browser")
BOT = gettext_noop("Bot")
_TRANSLATED_NAMES = {IN_APP_BROWSER, BOT}


# ua-parser's family names, where a shorter or clearer name is what people know the browser by.
_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Android WebView",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": IN_APP_BROWSER,
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer Mobile",
    "Android": "Android Browser",
    "Opera Mobile": "Opera",
}
# Browsers whose version says nothing to a person (in-app views report the app's or the system's).
_UNVERSIONED_BROWSERS = {"Android WebView", IN_APP_BROWSER, "Android Browser", "BlackBerry", "Nokia", "HTC"}
_OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
# Devices named after the device rather than its system ("Safari 17 on iPhone").
_APPLE_HANDHELDS = {"iPhone", "iPad", "iPod"}
# Device families that name no device.
_ANONYMOUS_DEVICES = {"Other", "Spider", "K", "Generic Smartphone", "Generic Feature Phone", "Generic Tablet"}
_PC_SYSTEMS = {
    "Windows",
    "macOS",
    "Mac OS",
    "Linux",
    "ChromeOS",
    "Ubuntu",
    "Debian",
    "Fedora",
    "Red Hat",
    "Gentoo",
    "Mandriva",
    "SUSE",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "BSD",
    "Solaris",
}
_PHONE_SYSTEMS = {
    "Windows Phone",
    "Windows Mobile",
    "BlackBerry OS",
    "Symbian OS",
    "Symbian^3",
    "Symbian^3 Anna",
    "Symbian^3 Belle",
    "Nokia Series 40",
    "Nokia Series 30 Plus",
    "Bada",
    "BREW",
    "Brew MP",
    "KaiOS",
    "MeeGo",
    "Maemo",
    "Sailfish",
    "Windows CE",
}
_TABLET_SYSTEMS = {"BlackBerry Tablet OS", "Kindle"}
# The value of Sec-CH-UA-Platform for each system name used here.
_HINT_PLATFORMS = {"Windows": "Windows", "macOS": "macOS", "Android": "Android", "Chrome OS": "ChromeOS"}
_HINT_PLATFORMS.update({"Chromium OS": "ChromeOS", "Linux": "Linux", "iOS": "iOS"})
# Sec-CH-UA-Platform-Version on Windows: 0.1 / 0.2 / 0.3 are 7 / 8 / 8.1, 1 to 10 are Windows 10 releases,
# 13 and above Windows 11 (Microsoft's documented mapping).
_WINDOWS_11_PLATFORM_VERSION = 13
_OLD_WINDOWS = {"0.1": "7", "0.2": "8", "0.3": "8.1"}

_MOBILE_TOKEN = re.compile(r"\bMobi")
# Feature phones rarely name a system ua-parser knows, but their browsers and Java profiles give them away.
_FEATURE_PHONE_TOKEN = re.compile(r"MIDP|CLDC|J2ME|UP\.Browser|\bWAP|Obigo|Opera Mini|Profile/")
# Televisions, set-top boxes and consoles: neither phones nor computers, whatever system they run.
_TV_TOKEN = re.compile(
    r"hbbtv|smart-?tv|googletv|crkey|roku|appletv|netcast|bravia|playstation|xbox|nintendo|web0s|\btv\b"
)
# Both matched against the lower-cased string: IGNORECASE makes Python's re several times slower here.
_TABLET_TOKEN = re.compile(r"\btablet\b")
_REDUCED_CHROME_OS = "14541.0.0"
# The frozen tokens themselves: ua-parser reads "Windows NT 6.4", "Windows 10.0.18362" and "Windows/10" as
# Windows 10 too, and "10_15_3" as 10.15, all real versions. Chrome, Edge and Safari send "10_15_7" on every
# macOS since 11; Firefox caps the version at "10.15".
_FROZEN_WINDOWS = re.compile(r"Windows NT 10\.0(?![\d.])")
_FROZEN_MACOS = re.compile(r"Mac OS X 10(?:_15_7|\.15\.7|\.15)(?![\d_.])")
_SAFARI_FROZEN_IOS_FROM = 26  # Safari 26 on iOS reports the OS as 18_x


def _numbers(version: str) -> list[int]:
    """ "15.0.0" -> [15, 0, 0]; anything that is not dotted digits -> []."""
    parts = version.split(".")
    if not all(part.isdigit() and len(part) <= 9 for part in parts):
        return []
    return [int(part) for part in parts]


def _short_version(numbers: list[int]) -> str:
    """The version people say: [14, 5, 0] -> "14.5", [14, 0, 0] -> "14"."""
    shown = numbers[:2]
    while len(shown) > 1 and shown[-1] == 0:
        shown.pop()
    return ".".join(map(str, shown))


def _browser_name(result: Result) -> str:
    ua = result.user_agent
    if ua is None or ua.family == "Other":
        return ""
    family = _BROWSER_NAMES.get(ua.family, ua.family)
    if family in _UNVERSIONED_BROWSERS or not ua.major or not ua.major.isdigit():
        return family
    return f"{family} {ua.major}"


def _is_frozen_os(result: Result, system: str) -> bool:
    """Whether the OS version in the string is one that reduced user agents always send."""
    os, ua = result.os, result.user_agent
    assert os is not None
    if system == "Windows":
        return _FROZEN_WINDOWS.search(result.string) is not None  # Windows 10 and 11 alike
    if system == "macOS":
        return _FROZEN_MACOS.search(result.string) is not None
    if system == "Android":
        return os.major == "10" and result.device is not None and result.device.family == "K"
    if system == "ChromeOS":
        return _version(os.major, os.minor, os.patch) == _REDUCED_CHROME_OS
    if system == "iOS" and ua is not None and ua.family == "Mobile Safari" and (ua.major or "").isdigit():
        return int(ua.major or 0) >= _SAFARI_FROZEN_IOS_FROM
    return False


def _os_name(result: Result) -> tuple[str, str]:
    """(system, "system version") from the user agent alone, without frozen versions."""
    os = result.os
    if os is None or os.family == "Other":
        return "", ""
    system = "Windows CE" if os.family == "Windows" and os.major == "CE" else _OS_NAMES.get(os.family, os.family)
    if system == "Windows CE":
        return system, system
    if _is_frozen_os(result, system):
        return system, system
    return system, _named(system, _version(os.major, os.minor))


def _os_from_hints(system: str, hints: Mapping[str, object]) -> str | None:
    """A better OS name from client hints, when they are about the same system as the user agent."""
    platform = hints.get("platform")
    if not isinstance(platform, str) or _HINT_PLATFORMS.get(platform) != system:
        return None
    raw = hints.get("platform_version")
    numbers = _numbers(raw) if isinstance(raw, str) else []
    if not numbers:
        return None
    if system == "Windows":
        if numbers[0] >= _WINDOWS_11_PLATFORM_VERSION:
            return "Windows 11"
        if numbers[0] >= 1:
            return "Windows 10"
        old = _OLD_WINDOWS.get(_version(*map(str, numbers[:2])))
        return f"Windows {old}" if old else None
    if system in ("macOS", "Android"):
        return f"{system} {_short_version(numbers)}"
    return None


def _device_name(result: Result, hints: Mapping[str, object]) -> str:
    model = hints.get("model")
    if isinstance(model, str) and model.strip():
        return model.strip()
    device = result.device
    if device is None or device.family in _ANONYMOUS_DEVICES or device.family.startswith("Generic"):
        return ""
    return device.family


def _form_factor(result: Result, system: str, device: str, hints: Mapping[str, object]) -> tuple[bool, bool, bool]:
    """(is_mobile, is_tablet, is_pc) for a client that is not a bot."""
    text = result.string
    family = result.device.family if result.device else ""
    mobile_hint = hints.get("mobile")
    if family == "iPad" or family.startswith("Kindle") or system in _TABLET_SYSTEMS:
        return False, True, False
    if family in ("iPhone", "iPod") or system in _PHONE_SYSTEMS or family == "Generic Feature Phone":
        return True, False, False
    lowered = text.lower()
    if _TV_TOKEN.search(lowered):
        return False, False, False
    if system == "Android":
        # Android browsers mark phones with "Mobile"; a tablet's user agent lacks it.
        if isinstance(mobile_hint, bool):
            return mobile_hint, not mobile_hint, False
        phone = bool(_MOBILE_TOKEN.search(text))
        return phone, not phone, False
    if (_TABLET_TOKEN.search(lowered) and system != "Windows") or family == "Generic Tablet":
        return False, True, False
    if mobile_hint is True or family == "Generic Smartphone":
        return True, False, False
    if _MOBILE_TOKEN.search(text) or _FEATURE_PHONE_TOKEN.search(text):
        return True, False, False
    return False, False, system in _PC_SYSTEMS


@lru_cache(maxsize=CACHE_SIZE)
def _describe(user_agent: str, hint_items: tuple[tuple[str, object], ...]) -> DeviceDescription:
    result = parse_user_agent(user_agent)
    hints = dict(hint_items)
    browser = _browser_name(result)
    if result.device is not None and result.device.family == "Spider":
        bot = result.user_agent.family if result.user_agent and result.user_agent.family != "Other" else BOT
        return DeviceDescription(bot, "", "", is_mobile=False, is_tablet=False, is_bot=True, is_pc=False)
    system, os_name = _os_name(result)
    os_name = _os_from_hints(system, hints) or os_name
    device = _device_name(result, hints)
    is_mobile, is_tablet, is_pc = _form_factor(result, system, device, hints)
    place = device if device in _APPLE_HANDHELDS else (os_name or device)
    return DeviceDescription(browser, os_name, device, is_mobile, is_tablet, False, is_pc, place)


def describe_device(user_agent: str, client_hints: Mapping[str, object] | None = None) -> DeviceDescription:
    """A :class:`DeviceDescription` of ``user_agent`` and the stored client hints, cached per distinct pair."""
    hint_items = tuple(sorted((key, value) for key, value in (client_hints or {}).items() if _hashable(value)))
    return _describe(user_agent, hint_items)


def _hashable(value: object) -> bool:
    return isinstance(value, (str, bool, int, float)) or value is None
