"""The sessions admin in a real browser (Playwright driving Debian's chromium) at 1280 and 1440 px.

An operator signs in to the admin, reads the filtered session list (it fits the screen, names devices as
the user pages do, marks the operator's own session, shows time zones), revokes one session with the
bulk action and one from its page, each through a red confirmation step, and keeps the list's filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.helpers import CHROME_UA, IPHONE_UA, signed_in_client
from tests.test_browser import ARTIFACTS

LONG_UA = (
    "Mozilla/5.0 (Linux; Android 14; SM-S928B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36 Instagram 361.0.0.35.82 Android (34/14; 480dpi)"
)


def _is_red(css_color: str) -> bool:
    """Whether a computed colour is Django's danger red (#ba2121, #cc3434 and their hover shades)."""
    red, green, blue = (int(part) for part in css_color.removeprefix("rgb(").rstrip(")").split(",")[:3])
    return red >= 150 and green <= 80 and blue <= 80


@pytest.fixture
def sessions(engine: str, transactional_db: None) -> None:
    """Users and their sessions, made through real requests before the browser starts."""
    users = get_user_model()._default_manager
    users.create_user(username="root", password="correct horse", is_staff=True, is_superuser=True)
    users.create_user(username="alice", password="pw", email="alice@example.com")
    users.create_user(username="bartholomew.longname", password="pw", email="bartholomew.longname@example.com")
    signed_in_client("alice", ip="203.0.113.7", user_agent=CHROME_UA)
    signed_in_client("alice", ip="2001:db8:85a3:1234:5678:8a2e:370:7334", user_agent=IPHONE_UA)
    signed_in_client("bartholomew.longname", ip="198.51.100.23", user_agent=LONG_UA)


@pytest.fixture
def server(sessions: None) -> Iterator[str]:
    from pytest_django.live_server_helper import LiveServer

    live = LiveServer("localhost")
    try:
        yield live.url
    finally:
        live.stop()


def _sign_in_to_admin(page: Any, base: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/qsessions/session/%3Factive%3D1")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/admin/qsessions/session/?active=1")


def _assert_fits(page: Any, width: int) -> None:
    sizes = page.evaluate(
        """() => {
            const results = document.querySelector('#changelist .results');
            return {
                page: document.documentElement.scrollWidth,
                results: results ? results.scrollWidth : 0,
                resultsVisible: results ? results.clientWidth : 0,
            };
        }"""
    )
    assert sizes["page"] <= width, sizes
    assert sizes["results"] <= sizes["resultsVisible"], sizes  # no scrolling inside the table either


@pytest.mark.parametrize("width", [1280, 1440])
def test_admin_list_fits_and_revokes_through_red_confirmations(
    engine: str, server: str, browser: Any, width: int
) -> None:
    label = f"{engine.rsplit('.', 1)[1]}-{width}"
    page = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US").new_page()
    base = server
    _sign_in_to_admin(page, base)

    # The list: fits the screen, one line per device, the operator's own session marked, zones shown.
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-list-{label}.png"), full_page=True)
    _assert_fits(page, width)
    chrome = rows.filter(has_text="Chrome 131 on Windows")
    assert chrome.count() == 1
    device_lines = chrome.locator(".field-device_column bdi").evaluate("e => e.getClientRects().length")
    assert device_lines == 1
    assert "Other / Windows 10 / Chrome 131.0.0.0" not in chrome.inner_text()
    own = rows.filter(has_text="This session")
    assert own.count() == 1
    assert "root" in own.inner_text()
    assert "UTC" in chrome.locator(".field-signed_in").inner_text()

    # Bulk action: a confirmation page whose button is Django's red delete button; the filter survives.
    chrome.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("revoke_selected")
    page.get_by_role("button", name=re.compile(r"^(Go|Run)$")).click()  # Django 6.1 renamed it "Run"
    page.wait_for_url(f"{base}/admin/qsessions/session/?active=1")  # the confirmation is the POST's answer
    assert page.get_by_text("Are you sure you want to revoke this 1 session?").is_visible()
    confirm = page.get_by_role("button", name="Yes, revoke them")
    assert _is_red(confirm.evaluate("e => getComputedStyle(e).backgroundColor"))
    page.screenshot(path=str(ARTIFACTS / f"admin-revoke-selected-{label}.png"), full_page=True)
    confirm.click()
    page.wait_for_url(f"{base}/admin/qsessions/session/?active=1")
    assert page.get_by_text("Revoked 1 session.").is_visible()
    assert rows.count() == 3
    assert rows.filter(has_text="Chrome 131 on Windows").count() == 0

    # One session from its page: a red "Revoke" link, a red confirmation, back to the filtered list.
    rows.filter(has_text="Safari 17 on iPhone").locator("th a").click()
    assert "_changelist_filters=active%3D1" in page.url
    assert "UTC" in page.locator(".qsessions-admin-detail").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"admin-detail-{label}.png"), full_page=True)
    revoke = page.get_by_role("link", name="Revoke this session…")
    assert _is_red(revoke.evaluate("e => getComputedStyle(e).color"))
    revoke.click()
    confirm = page.get_by_role("button", name="Yes, revoke it")
    assert _is_red(confirm.evaluate("e => getComputedStyle(e).backgroundColor"))
    page.screenshot(path=str(ARTIFACTS / f"admin-revoke-one-{label}.png"), full_page=True)
    confirm.click()
    page.wait_for_url(f"{base}/admin/qsessions/session/?active=1")
    assert page.get_by_text("The session was revoked.").is_visible()
    assert rows.count() == 2
    _assert_fits(page, width)
