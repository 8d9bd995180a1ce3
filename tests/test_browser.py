"""A real browser (Playwright driving Debian's chromium) on the sessions page.

Two browsers sign in as the same user; the first sees both sessions, marks itself "This device" and
signs the second out; the second lands on the login page at its next page load.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS

CHROMIUM = Path("/usr/bin/chromium")
ACTIVE_ROWS = "table:not(.qsessions-ended) tbody tr"  # not those under "Recently signed out"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install --group test)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


def _sign_in(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/account/sessions/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/account/sessions/")


@pytest.fixture
def alice(transactional_db: None) -> Any:
    # Created before the browser starts: Playwright's event loop makes Django refuse database calls.
    return get_user_model()._default_manager.create_user(username="alice", password="correct horse")


@pytest.fixture
def server(engine: str, alice: Any) -> Iterator[str]:
    """A live server started for this test, so that its middleware uses the engine under test.

    (pytest-django's ``live_server`` is started once per run, with the engine of that moment.)
    """
    from pytest_django.live_server_helper import LiveServer

    live = LiveServer("localhost")
    try:
        yield live.url
    finally:
        live.stop()


def test_two_browsers_one_signs_the_other_out(engine: str, server: str, browser: Any) -> None:
    session_engine = engine
    laptop_device = "Firefox 121 on Windows"
    phone_device = "Chrome 118 on Android"
    base = server

    laptop = browser.new_context(user_agent=FIREFOX_WINDOWS, locale="en-US").new_page()
    phone = browser.new_context(user_agent=CHROME_ANDROID, locale="en-US").new_page()
    _sign_in(laptop, base)
    _sign_in(phone, base)

    laptop.reload()
    rows = laptop.locator(ACTIVE_ROWS)
    assert rows.count() == 2
    this_device = rows.filter(has_text="This device")
    assert this_device.count() == 1
    assert laptop_device in this_device.locator("th").inner_text()
    other = rows.filter(has_not_text="This device")
    assert phone_device in other.locator("th").inner_text()
    assert laptop.get_by_role("button", name="Sign out all other sessions").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    laptop.screenshot(path=str(ARTIFACTS / f"sessions-page-{session_engine.rsplit('.', 1)[1]}.png"), full_page=True)

    other.get_by_role("link", name="Sign out").click()
    assert laptop.get_by_role("heading", name="Sign out this session?").is_visible()
    assert phone_device in laptop.locator("dl").inner_text()
    laptop.get_by_role("button", name="Sign out").click()
    laptop.wait_for_url(f"{base}/account/sessions/")
    assert laptop.locator(ACTIVE_ROWS).count() == 1
    assert "This device" in laptop.locator(ACTIVE_ROWS).inner_text()
    laptop.screenshot(
        path=str(ARTIFACTS / f"sessions-page-after-revoke-{session_engine.rsplit('.', 1)[1]}.png"), full_page=True
    )

    phone.reload()
    assert "/accounts/login/" in phone.url
    assert phone.get_by_role("heading", name="Sign in").is_visible()

    laptop.goto(f"{base}/account/sessions/")
    assert laptop.url == f"{base}/account/sessions/"
    assert laptop.locator(ACTIVE_ROWS).count() == 1


RLO = "\u202e"
DISGUISED_UA = f"{RLO}Evil/1.0 CFNetwork/978.0.7 Darwin/18.5.0"  # the override reaches the device name


@pytest.fixture
def disguised_page(engine: str, transactional_db: None) -> str:
    """The sessions page of a session whose user agent starts with a right-to-left override.

    Rendered before the browser starts (Playwright's event loop makes Django refuse database calls).
    Browsers send headers in Latin-1, so the override comes in through the test client here.
    """
    from tests.helpers import make_user, signed_in

    make_user()
    response = signed_in("alice", DISGUISED_UA).get("/account/sessions/")
    html: str = response.content.decode()
    assert RLO in html
    return html.replace('href="/static/', 'href="data:,')  # no server behind set_content


def _badge_after_device(browser: Any, html: str) -> bool:
    page = browser.new_context(locale="en-US").new_page()
    page.set_content(html)
    row = page.locator("tbody tr").filter(has_text="This device")
    device = row.locator(".qsessions-device").bounding_box()
    badge = row.locator(".qsessions-this-device").bounding_box()
    assert device is not None and badge is not None
    return bool(badge["x"] >= device["x"] + device["width"])


def test_a_right_to_left_override_cannot_move_the_text_after_it(disguised_page: str, browser: Any) -> None:
    assert _badge_after_device(browser, disguised_page)
    # The same page without the isolation: the override carries "This device" to the left of the name.
    unisolated = disguised_page.replace("<bdi", "<span").replace("</bdi>", "</span>")
    assert not _badge_after_device(browser, unisolated)


def _age_authentication(session_key: str, seconds: float) -> None:
    """Move the session's recorded authentication into the past (in a thread: Playwright's loop runs here)."""
    import time
    from concurrent.futures import ThreadPoolExecutor
    from importlib import import_module

    from django.conf import settings
    from django.db import connection

    from qsessions.reauthentication import AUTHENTICATED_AT_SESSION_KEY

    def age() -> None:
        try:
            store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
            store[AUTHENTICATED_AT_SESSION_KEY] = time.time() - seconds
            store.save()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(age).result()


def test_signing_others_out_asks_for_the_password_first(engine: str, server: str, browser: Any, settings: Any) -> None:
    settings.QSESSIONS_REAUTHENTICATION_WINDOW = 300
    base = server
    laptop_context = browser.new_context(user_agent=FIREFOX_WINDOWS, locale="en-US")
    laptop = laptop_context.new_page()
    phone = browser.new_context(user_agent=CHROME_ANDROID, locale="en-US").new_page()
    _sign_in(laptop, base)
    _sign_in(phone, base)
    # The laptop signed in an hour ago: too long for signing others out.
    session_key = next(c["value"] for c in laptop_context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    _age_authentication(session_key, 3600)

    laptop.reload()
    assert laptop.locator(ACTIVE_ROWS).count() == 2
    laptop.get_by_role("button", name="Sign out all other sessions").click()
    laptop.wait_for_url(f"{base}/account/sessions/reauthenticate/?next=/account/sessions/others/revoke/")
    assert laptop.get_by_role("heading", name="Confirm it is you").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    laptop.screenshot(path=str(ARTIFACTS / f"reauthenticate-{engine.rsplit('.', 1)[1]}.png"), full_page=True)

    laptop.get_by_label("Password").fill("not my password")
    laptop.get_by_role("button", name="Confirm").click()
    assert laptop.get_by_role("alert").inner_text() == "That is not your password."
    phone.reload()
    assert phone.url == f"{base}/account/sessions/"  # still signed in

    laptop.get_by_label("Password").fill("correct horse")
    laptop.get_by_role("button", name="Confirm").click()
    laptop.wait_for_url(f"{base}/account/sessions/others/revoke/")
    assert laptop.get_by_role("heading", name="Sign out all other sessions?").is_visible()
    laptop.get_by_role("button", name="Sign out all other sessions").click()
    laptop.wait_for_url(f"{base}/account/sessions/")
    assert "1 other session was signed out." in laptop.get_by_role("status").inner_text()
    assert laptop.locator(ACTIVE_ROWS).count() == 1

    phone.reload()
    assert "/accounts/login/" in phone.url
