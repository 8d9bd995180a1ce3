"""A real browser is told why it was signed out, once, and loses the stale cookie; the other browser
sees it under "Recently signed out"."""

from __future__ import annotations

from typing import Any

from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS
from tests.test_browser import _sign_in, alice, server  # noqa: F401  (fixtures)

TOLD = "You were signed out: this session was signed out from another of your devices."


def test_the_signed_out_browser_is_told_why_once(engine: str, server: str, browser: Any) -> None:  # noqa: F811
    base = server
    laptop = browser.new_context(user_agent=FIREFOX_WINDOWS, locale="en-US").new_page()
    phone_context = browser.new_context(user_agent=CHROME_ANDROID, locale="en-US")
    phone = phone_context.new_page()
    _sign_in(laptop, base)
    _sign_in(phone, base)

    laptop.reload()
    other = laptop.locator("tbody tr").filter(has_not_text="This device")
    other.get_by_role("link", name="Sign out").click()
    laptop.get_by_role("button", name="Sign out").click()
    laptop.wait_for_url(f"{base}/account/sessions/")
    ended = laptop.locator(".qsessions-ended tbody tr")
    assert ended.count() == 1
    assert "Chrome 118 on Android" in ended.inner_text()
    assert "Signed out from another device" in ended.inner_text()

    phone.reload()
    assert "/accounts/login/" in phone.url
    assert phone.get_by_role("status").inner_text() == TOLD
    assert "sessionid" not in {cookie["name"] for cookie in phone_context.cookies()}
    phone.reload()
    assert phone.get_by_role("status").count() == 0  # once
