"""Translations: every shipped catalogue is complete and compiled, and every page speaks each language.

The untranslated-string test renders each page in English and in the language under test, with the same
data, and collects the text a person reads (text nodes, and the attributes a browser shows or reads out:
``title``, ``aria-label``, ``placeholder``, ``alt``, a button's ``value``). Text that comes out the same in
both is untranslated, unless it is data (the fixture's names, addresses, user agents; numbers and
punctuation) or its translation is the same words on purpose (the catalogue says so: "IP", "Bot").
So a string nobody marked for translation is found as surely as a marked one the catalogue lacks.
"""

from __future__ import annotations

import datetime
import functools
import gettext
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from pprint import pformat
from typing import Any

import django
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation
from django.utils.formats import date_format
from django.utils.text import capfirst

from qsessions.models import KnownDevice, Session
from qsessions.revocation import REASON_ADMIN, revoke
from tests import services
from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS, SAFARI_MAC, signed_in
from tests.test_cache_engine import redis_sessions  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "src" / "qsessions" / "locale"
# Django's language codes (the catalogue directories are their locale names: pt_BR, zh_Hans).
LANGUAGES = ["de", "es", "fa", "fr", "it", "nl", "pl", "pt-br", "ru", "zh-hans"]
RIGHT_TO_LEFT = {"fa"}
LIST_URL = "/account/sessions/"
SIGNED_IN_AT = datetime.datetime(2026, 3, 5, 14, 30, tzinfo=datetime.timezone.utc)
OTHER_IP = "198.51.100.2"


# -- the catalogues ----------------------------------------------------------------------------------------


def catalogue_path(language: str, suffix: str) -> Path:
    return LOCALE / translation.to_locale(language) / "LC_MESSAGES" / f"django.{suffix}"


def _unquote(text: str) -> str:
    """A PO string literal's content (C escapes)."""
    body = text.strip()
    assert body.startswith('"') and body.endswith('"'), body
    return re.sub(
        r"\\(.)", lambda m: {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(m.group(1), m.group(0)), body[1:-1]
    )


def read_po(path: Path) -> list[dict[str, Any]]:
    """The entries of a .po file: msgid, msgid_plural, msgstr (a dict of form index -> text), flags."""
    entries: list[dict[str, Any]] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict[str, Any] = {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}, "flags": set()}
        field: tuple[str, int] | None = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#") or not line.strip():
                continue
            elif line.startswith('"'):
                assert field is not None, line
                if field[0] == "msgstr":
                    entry["msgstr"][field[1]] += _unquote(line)
                else:
                    entry[field[0]] += _unquote(line)
            else:
                keyword, _, value = line.partition(" ")
                plural_form = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
                if plural_form or keyword == "msgstr":
                    field = ("msgstr", int(plural_form.group(1)) if plural_form else 0)
                    entry["msgstr"][field[1]] = _unquote(value)
                else:
                    field = (keyword, 0)
                    entry[keyword] = _unquote(value)
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


def expected_catalogue(entries: list[dict[str, Any]]) -> dict[Any, str]:
    """What msgfmt compiles from these entries, keyed as Python's gettext reads a .mo file."""
    catalogue: dict[Any, str] = {}
    for entry in entries:
        if "fuzzy" in entry["flags"] or not all(entry["msgstr"].values()):
            continue
        key = entry["msgid"] if entry["msgctxt"] is None else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if not key:  # the header: msgfmt leaves out the template's date
            catalogue[key] = re.sub(r"POT-Creation-Date: [^\n]*\n", "", entry["msgstr"][0])
        elif entry["msgid_plural"] is None:
            catalogue[key] = entry["msgstr"][0]
        else:
            for index, text in entry["msgstr"].items():
                catalogue[(key, index)] = text
    return catalogue


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_po_file(language: str) -> None:
    with catalogue_path(language, "mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
    assert mo._catalog == expected_catalogue(read_po(catalogue_path(language, "po"))), (  # type: ignore[attr-defined]
        f"{catalogue_path(language, 'mo')} is out of date: run `make messages`"
    )


PLACEHOLDER = re.compile(r"%(?:\([a-z_]+\))?[sd]")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_with_its_placeholders(language: str) -> None:
    entries = read_po(catalogue_path(language, "po"))
    header = entries[0]["msgstr"][0]
    forms = int(re.search(r"nplurals=(\d+)", header).group(1))  # type: ignore[union-attr]
    assert f"Language: {translation.to_locale(language)}\n" in header
    problems = []
    for entry in entries[1:]:
        msgid = entry["msgid"]
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {msgid!r}")
        if not all(entry["msgstr"].values()):
            problems.append(f"untranslated: {msgid!r}")
        expected = {0} if entry["msgid_plural"] is None else set(range(forms))
        if set(entry["msgstr"]) != expected:
            problems.append(f"{len(entry['msgstr'])} forms, not {len(expected)}: {msgid!r}")
        wanted = sorted(PLACEHOLDER.findall(entry["msgid_plural"] or msgid))
        for text in entry["msgstr"].values():
            # A singular form may leave the number out ("one other session"); names are never dropped.
            found = sorted(PLACEHOLDER.findall(text))
            if found != wanted and not (len(entry["msgstr"]) > 1 and set(found) < set(wanted)):
                problems.append(f"placeholders {found} instead of {wanted}: {msgid!r} -> {text!r}")
    assert not problems, "\n".join(problems)


def test_the_catalogues_hold_every_string_the_code_marks(tmp_path: Path) -> None:
    """makemessages over the code finds no message that the shipped catalogues lack, nor one they keep extra."""
    if shutil.which("xgettext") is None:
        reason = "GNU gettext is not installed (apt-get install gettext)"
        if services.REQUIRE_SERVICES:
            pytest.fail(f"QSESSIONS_TEST_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    copy = tmp_path / "qsessions"
    shutil.copytree(ROOT / "src" / "qsessions", copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    (copy / "locale").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "de", "--no-location"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": ""},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    marked = {entry["msgid"] for entry in read_po(copy / "locale" / "de" / "LC_MESSAGES" / "django.po")}
    shipped = {entry["msgid"] for entry in read_po(catalogue_path("de", "po"))}
    assert marked == shipped, f"run `make messages`: new {marked - shipped}, gone {shipped - marked}"


# -- the pages, in every language --------------------------------------------------------------------------


class VisibleText(HTMLParser):
    """The text a person reads or hears on a page, as whitespace-collapsed segments."""

    SHOWN_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.segments: list[str] = []
        self._hidden = 0

    def _add(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.segments.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1
        values = dict(attrs)
        for name in self.SHOWN_ATTRIBUTES & values.keys():
            self._add(values[name] or "")
        if tag == "input" and values.get("type") in ("submit", "button"):
            self._add(values.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._add(data)


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return parser.segments


# Django's admin writes these in English in every language (the alt text of its search and yes/no icons).
DJANGO_LITERALS = {"Search", "True", "False"}


@functools.cache
def django_messages() -> frozenset[str]:
    """Django's own messages on these pages (its admin chrome): a language Django has not finished
    ("Breadcrumbs" in some) is Django's to translate, not ours."""
    root = Path(django.__file__).parent
    catalogues = [root / "conf", root / "contrib" / "admin", root / "contrib" / "auth"]
    return frozenset(
        entry["msgid"] for path in catalogues for entry in read_po(path / "locale" / "en" / "LC_MESSAGES" / "django.po")
    )


def same_on_purpose(language: str) -> set[str]:
    """Texts whose translation in ``language`` is the English text itself, as the catalogues say (ours and
    Django's, merged as Django merges them: "IP" in ours, "Filter" in Django's German), also capitalised as
    the admin shows labels."""
    with translation.override(language):
        catalogue = translation.trans_real.translation(language)._catalog  # type: ignore[attr-defined]
        same = {text for key, text in catalogue.items() if isinstance(text, str) and text == key}
    return same | {capfirst(text) for text in same}


class Site:
    """The pages of one fixture, fetched in any language (LocaleMiddleware reads Accept-Language)."""

    def _sign_in(self) -> None:
        """alice on two devices, root (a superuser) on one."""
        users = get_user_model()._default_manager
        self.alice = users.create_user("alice", "alice@example.com", "correct horse")
        users.create_superuser("root", "root@example.com", "correct horse")
        self.user_client = signed_in("alice", FIREFOX_WINDOWS, ip="203.0.113.7")
        self.other_client = signed_in("alice", CHROME_ANDROID, ip=OTHER_IP)
        self.admin_client = signed_in("root", FIREFOX_WINDOWS, ip="192.0.2.1")

    def __init__(self) -> None:
        self._sign_in()
        # A session that an administrator ended: "Recently signed out" on the list, with its reason.
        ended = signed_in("alice", SAFARI_MAC, ip="192.0.2.9")
        revoke(Session.objects.get(ip="192.0.2.9"), REASON_ADMIN)
        assert ended.get("/read/").json()["user"] is None
        Session.objects.update(created_at=SIGNED_IN_AT, last_activity=SIGNED_IN_AT)
        self.other = Session.objects.get(ip=OTHER_IP)
        self.device = KnownDevice.objects.create(
            user=self.alice,
            token_digest="0" * 64,
            user_agent=CHROME_ANDROID,
            ip=OTHER_IP,
            created_at=SIGNED_IN_AT,
            last_sign_in_at=SIGNED_IN_AT,
            alert_nonce="nonce",
        )
        # What the fixture itself writes on pages, whatever the language.
        self.data = ["alice", "root", "alice@example.com", "203.0.113.7", OTHER_IP, "192.0.2.1", "192.0.2.9", "UTC"]
        self.data += [session.device for session in Session.objects.all()]  # 2.x summaries, in admin tooltips
        self.data += [session.user_agent or "" for session in Session.objects.all()]
        self.data += [" ".join(pformat(self.other.get_decoded()).split()), "https://example.com/not-me/"]

    def get(self, client: Client, url: str, language: str, status: int = 200) -> str:
        response = client.get(url, headers={"accept-language": language})
        assert response.status_code == status, (url, response.status_code)
        return str(response.content.decode())

    def post(self, client: Client, url: str, language: str, data: dict[str, Any]) -> str:
        response = client.post(url, data, headers={"accept-language": language}, follow=True)
        assert response.status_code == 200, (url, response.status_code)
        return str(response.content.decode())

    def pages(self, language: str) -> Iterator[tuple[str, str]]:
        from qsessions.known_devices import not_me_token

        public_id = self.other.public_id
        own = Session.objects.get(pk=self.user_client.cookies[settings.SESSION_COOKIE_NAME].value)
        user, admin = self.user_client, self.admin_client
        yield "Your sessions", self.get(user, LIST_URL, language)
        yield "sign out one session", self.get(user, f"{LIST_URL}{public_id}/revoke/", language)
        yield "sign out this session", self.get(user, f"{LIST_URL}{own.public_id}/revoke/", language)
        yield "sign out the others", self.get(user, f"{LIST_URL}others/revoke/", language)
        yield "re-authentication", self.get(user, f"{LIST_URL}reauthenticate/", language)
        yield "wrong password", self.post(user, f"{LIST_URL}reauthenticate/", language, {"password": "wrong"})
        yield "known devices", self.get(user, f"{LIST_URL}devices/", language)
        token = not_me_token(self.device, public_id)
        yield "this wasn't me", self.get(Client(), f"{LIST_URL}not-me/{token}/", language)
        yield "this wasn't me, expired", self.get(Client(), f"{LIST_URL}not-me/expired/", language, status=404)
        admin_list = "/admin/qsessions/session/"
        yield "admin list", self.get(admin, admin_list, language)
        yield "admin detail", self.get(admin, f"{admin_list}{public_id}/change/", language)
        yield "admin revoke", self.get(admin, f"{admin_list}{public_id}/delete/", language)
        selected = {"action": "revoke_selected", "_selected_action": [public_id, own.public_id]}
        yield "admin revoke selected", self.post(admin, admin_list, language, selected)
        context = {
            "user": self.alice,
            "device": "Chrome 118 on Android",
            "location": "",
            "ip": OTHER_IP,
            "time": SIGNED_IN_AT,
            "not_me_url": "https://example.com/not-me/",
            "site_name": "example.com",
        }
        with translation.override(language):
            context["device"] = self.device_name()
            subject = render_to_string("qsessions/email/new_device_subject.txt", context)
            body = render_to_string("qsessions/email/new_device_body.txt", context)
        yield "new-device e-mail", subject + "\n" + body.replace("\n", "<br>")

    def device_name(self) -> str:
        return self.device.device_name

    def untranslated(self, english: list[str], translated: list[str], language: str, *, admin: bool) -> list[str]:
        allowed = same_on_purpose(language)
        if admin:
            allowed |= DJANGO_LITERALS | django_messages()
        found = []
        for segment in dict.fromkeys(translated):
            if segment not in english or segment in allowed:
                continue
            rest = segment
            for value in sorted([*self.data, *allowed], key=len, reverse=True):
                rest = rest.replace(value, "") if value else rest
            if re.search(r"[^\W\d_]", rest):  # letters left once the data is taken out
                found.append(segment)
        return found


@pytest.fixture
def site(db: None, settings: Any) -> Site:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:1],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    settings.QSESSIONS_KNOWN_DEVICES = True
    settings.QSESSIONS_REAUTHENTICATION_WINDOW = 3600
    return Site()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_is_in_the_language_asked_for(site: Site, language: str) -> None:
    english = {name: visible_text(html) for name, html in site.pages("en")}
    problems = []
    for name, html in site.pages(language):
        admin = name.startswith("admin")
        for segment in site.untranslated(english[name], visible_text(html), language, admin=admin):
            problems.append(f"{name}: {segment!r}")
        if name.startswith(("admin", "new-device")):
            continue
        assert f'lang="{language}"' in html, name
        assert f'dir="{"rtl" if language in RIGHT_TO_LEFT else "ltr"}"' in html, name
    assert not problems, f"untranslated in {language}:\n" + "\n".join(problems)


def test_the_english_pages_show_english(site: Site) -> None:
    """The comparison above is only as good as the English rendering: it holds the strings looked for."""
    pages = dict(site.pages("en"))
    assert "Sign out all other sessions" in visible_text(pages["Your sessions"])
    assert "Recently signed out" in visible_text(pages["Your sessions"])
    assert "Signed out by an administrator" in visible_text(pages["Your sessions"])
    assert "Confirm it is you" in visible_text(pages["re-authentication"])
    assert "That is not your password." in visible_text(pages["wrong password"])
    assert "Chrome 118 on Android" in visible_text(pages["known devices"])
    assert "Revoke selected sessions" in visible_text(pages["admin list"])
    assert "New sign-in to your account on example.com" in pages["new-device e-mail"]


class CacheOnlySite(Site):
    """The admin's pages on the cache-only engine (sessions in Redis): the user search, a user's sessions,
    and the two revocation confirmations."""

    def __init__(self) -> None:
        self._sign_in()
        self.data = ["alice", "root", "alice@example.com", "203.0.113.7", OTHER_IP, "192.0.2.1", "UTC"]
        from qsessions.devices import device_summary, parse_user_agent

        self.data += [FIREFOX_WINDOWS, CHROME_ANDROID]
        self.data += [device_summary(parse_user_agent(ua)) for ua in (FIREFOX_WINDOWS, CHROME_ANDROID)]  # tooltips

    def pages(self, language: str) -> Iterator[tuple[str, str]]:
        from qsessions.models import make_public_id

        admin = self.admin_client
        user_url = f"/admin/qsessions/session/user/{self.alice.pk}/"
        public_id = make_public_id(self.other_client.cookies[settings.SESSION_COOKIE_NAME].value)
        yield "admin user search", self.get(admin, "/admin/qsessions/session/?q=ali", language)
        yield "admin user search, none", self.get(admin, "/admin/qsessions/session/?q=nobody", language)
        yield "admin user sessions", self.get(admin, user_url, language)
        yield "admin revoke one", self.get(admin, f"{user_url}{public_id}/revoke/", language)
        yield "admin revoke all", self.get(admin, f"{user_url}revoke/", language)


@pytest.mark.usefixtures("redis_sessions")
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_cache_only_admin_is_in_the_language_asked_for(
    transactional_db: None, settings: Any, language: str
) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:1],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    site = CacheOnlySite()
    english = {name: visible_text(html) for name, html in site.pages("en")}
    assert "Sessions of \u2068alice\u2069" in " ".join(english["admin user sessions"])
    assert "Revoke all sessions…" in english["admin user sessions"]
    problems = []
    for name, html in site.pages(language):
        for segment in site.untranslated(english[name], visible_text(html), language, admin=True):
            problems.append(f"{name}: {segment!r}")
    assert not problems, f"untranslated in {language}:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("language", "signed_in_text", "device_text", "message"),
    [
        ("de", "5. März 2026 14:30", "Chrome 118 auf Android", "1 andere Sitzung wurde abgemeldet."),
        ("fr", "5 mars 2026 14:30", "Chrome 118 sur Android", "1 autre session a été déconnectée."),
        ("ru", "5 марта 2026 г. 14:30", "Chrome 118 на Android", "Завершён 1 другой сеанс."),  # noqa: RUF001
        ("pl", "5 marca 2026 14:30", "Chrome 118 na Android", "Wylogowano 1 inną sesję."),
        ("zh-hans", "2026年3月5日 14:30", "Android 上的 Chrome 118", "已退出其他 1 个会话。"),
    ],
)
def test_dates_devices_and_messages_read_as_the_language_writes_them(
    site: Site, language: str, signed_in_text: str, device_text: str, message: str
) -> None:
    with translation.override(language):
        assert date_format(SIGNED_IN_AT, "DATETIME_FORMAT") == signed_in_text  # Django's format for the language
    page = visible_text(site.get(site.user_client, LIST_URL, language))
    assert f"{signed_in_text} UTC" in page
    assert device_text in page
    after = visible_text(site.post(site.user_client, f"{LIST_URL}others/revoke/", language, {}))
    assert message in after
    assert not site.other_client.get("/read/").json()["user"]


def test_device_names_follow_the_language_of_each_request(site: Site) -> None:
    """Names are cached per user agent: the cache must not keep the first reader's language."""
    from qsessions.devices import describe_device

    with translation.override("de"):
        assert describe_device(CHROME_ANDROID).name == "Chrome 118 auf Android"
    with translation.override("fa"):
        assert describe_device(CHROME_ANDROID).name == "Chrome 118 روی Android"
    with translation.override("en"):
        assert describe_device(CHROME_ANDROID).name == "Chrome 118 on Android"


# -- right to left, in a browser ---------------------------------------------------------------------------


@pytest.fixture
def live_site(transactional_db: None, settings: Any) -> Iterator[str]:
    """The fixture's site served by a live server with LocaleMiddleware, data made before the browser starts."""
    from pytest_django.live_server_helper import LiveServer

    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:1],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    settings.QSESSIONS_KNOWN_DEVICES = True
    Site()
    live = LiveServer("localhost")
    try:
        yield live.url
    finally:
        live.stop()


# The left edge, on screen, of each word's first occurrence in the text of the first element `selector` finds.
WORD_POSITIONS = """([selector, words]) => {
    const element = document.querySelector(selector);
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    const at = {};
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const word of words) {
            const start = node.data.indexOf(word);
            if (start < 0 || word in at) continue;
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, start + word.length);
            at[word] = range.getBoundingClientRect().left;
        }
    }
    return at;
}"""
NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None
    return {"left": box["x"], "right": box["x"] + box["width"], "top": box["y"], "height": box["height"]}


def test_persian_pages_are_laid_out_right_to_left(live_site: str, browser: Any) -> None:
    from tests.test_browser import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(user_agent=FIREFOX_WINDOWS, locale="fa", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_site}/login/?username=alice")
    page.goto(f"{live_site}{LIST_URL}")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.get_by_role("heading", name="نشست‌های شما").is_visible()
    assert page.evaluate(NO_OVERFLOW)
    page.screenshot(path=str(ARTIFACTS / "i18n-fa-sessions.png"), full_page=True)

    # The table reads from the right: the device column is the rightmost, its name starts at the right edge
    # of its cell, and "This device" follows the name, to its left (or below it, at the cell's right edge).
    header_cells = page.locator("thead th")
    assert _box(header_cells.first)["left"] > _box(header_cells.last)["right"]
    cell = page.locator("tr[aria-current] th")
    name, badge = _box(cell.locator("bdi")), _box(cell.locator(".qsessions-this-device"))
    cell_box = _box(cell)
    assert cell_box["right"] - name["right"] < 16  # the cell's padding, no more
    assert cell_box["left"] <= badge["left"] and badge["right"] <= cell_box["right"]
    if abs(badge["top"] - name["top"]) < name["height"]:
        assert badge["right"] <= name["left"]
    else:
        assert cell_box["right"] - badge["right"] < 16

    # The device name is a Persian phrase ("Firefox 121 روی Windows"): read from the right, the browser
    # comes first. (Isolated with its first strong letter's direction, Latin, it would read "Windows on Firefox".)
    positions = page.evaluate(WORD_POSITIONS, ["tr[aria-current] th bdi", ["Firefox", "Windows"]])
    assert positions["Firefox"] > positions["Windows"], positions

    other = page.locator("tbody tr:not([aria-current])", has_text="Firefox")  # the other Firefox on Windows
    other.first.get_by_role("link", name="خروج").click()
    assert page.get_by_role("heading", name="این نشست خاتمه یابد؟").is_visible()
    assert page.evaluate("document.documentElement.dir") == "rtl" and page.evaluate(NO_OVERFLOW)
    page.screenshot(path=str(ARTIFACTS / "i18n-fa-revoke.png"), full_page=True)
    page.get_by_role("button", name="خروج").click()
    page.wait_for_url(f"{live_site}{LIST_URL}")
    message = page.locator(".qsessions-messages li")
    assert "خاتمه یافت" in message.inner_text()
    positions = page.evaluate(WORD_POSITIONS, [".qsessions-messages li", ["Firefox", "Windows"]])
    assert positions["Firefox"] > positions["Windows"], positions  # the name isolated right to left, too

    admin = browser.new_context(user_agent=FIREFOX_WINDOWS, locale="fa", viewport={"width": 1280, "height": 900})
    admin_page = admin.new_page()
    admin_page.goto(f"{live_site}/login/?username=root")
    admin_page.goto(f"{live_site}/admin/qsessions/session/")
    assert admin_page.evaluate("document.documentElement.dir") == "rtl"
    assert admin_page.evaluate(NO_OVERFLOW)
    own_row = admin_page.locator("#result_list tbody tr").filter(has=admin_page.locator(".qsessions-badge"))
    assert own_row.count() == 1
    assert "همین نشست" in own_row.inner_text()
    device = admin_page.evaluate(
        WORD_POSITIONS, ["#result_list tbody tr .field-device_column bdi", ["Firefox", "Windows"]]
    )
    assert device["Firefox"] > device["Windows"], device
    admin_page.screenshot(path=str(ARTIFACTS / "i18n-fa-admin.png"), full_page=True)
