"""The admin on the cache-only engine: find a user, list their sessions from Redis, revoke one or all.

On a real Redis (the redis_sessions fixture of tests/test_cache_engine.py, both Redis backends); skips
without one (fails with QSESSIONS_TEST_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from qsessions.models import make_public_id
from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS, make_user, session_key_of, signed_in
from tests.test_cache_engine import redis_sessions  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_sessions")]

LIST = "/admin/qsessions/session/"


def user_url(user: Any) -> str:
    return f"{LIST}user/{user.pk}/"


def is_signed_in(client: Client) -> bool:
    return client.get("/read/").json()["user"] is not None


@pytest.fixture
def alice() -> Any:
    return make_user("alice")


@pytest.fixture
def phone(alice: Any) -> Client:
    return signed_in("alice", CHROME_ANDROID, ip="203.0.113.7")


@pytest.fixture
def laptop(alice: Any) -> Client:
    return signed_in("alice", FIREFOX_WINDOWS, ip="198.51.100.4")


@pytest.fixture
def root() -> Client:
    make_user("root", password="correct horse", is_staff=True, is_superuser=True)
    return signed_in("root", FIREFOX_WINDOWS, ip="192.0.2.10")


def staff(username: str, *permissions: str) -> Client:
    user = make_user(username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="qsessions", codename__in=permissions))
    return signed_in(username, FIREFOX_WINDOWS, ip="192.0.2.20")


def assert_no_key_in(body: str, *clients: Client) -> None:
    for client in clients:
        key = session_key_of(client)
        assert key and key not in body


def test_the_list_finds_users_by_username_or_email(root: Client, alice: Any, phone: Client) -> None:
    bob = make_user("bob")
    page = root.get(LIST)
    assert page.status_code == 200
    assert "search for a user" in page.content.decode()
    for query in ("ALI", "alice@example"):
        body = root.get(LIST, {"q": query}).content.decode()
        assert f'href="{user_url(alice)}"' in body
        # Bob's link and address, not the letters "bob" (a random CSRF token in the page may hold them).
        assert f'href="{user_url(bob)}"' not in body and "bob@example.com" not in body
    assert "No user matches this search." in root.get(LIST, {"q": "nobody"}).content.decode()


def test_the_list_parameters_of_the_database_admin_lead_to_a_user(root: Client, alice: Any) -> None:
    response = root.get(LIST, {"user__id__exact": alice.pk})
    assert response.status_code == 302 and response["Location"] == user_url(alice)
    mine = root.get(LIST, {"owner": "my"})
    assert mine.status_code == 302 and mine["Location"].startswith(f"{LIST}user/")
    assert root.get(LIST, {"user__id__exact": "abc"}).status_code == 404


def test_the_admin_index_links_sessions_to_the_user_search(root: Client) -> None:
    body = root.get("/admin/").content.decode()
    assert f'href="{LIST}"' in body


def test_a_users_sessions_without_their_keys(root: Client, alice: Any, phone: Client, laptop: Client) -> None:
    response = root.get(user_url(alice))
    assert response.status_code == 200
    body = response.content.decode()
    assert "203.0.113.7" in body and "198.51.100.4" in body
    assert "Chrome 118 on Android" in body and "Firefox 121 on Windows" in body
    assert "UTC" in body  # times with their zone
    assert "This session" not in body  # root's own session is not alice's
    for client in (phone, laptop):
        assert f"{user_url(alice)}{make_public_id(session_key_of(client))}/revoke/" in body
    assert_no_key_in(body, phone, laptop, root)


def test_the_admins_own_session_is_marked(root: Client) -> None:
    from django.contrib.auth import get_user_model

    own = get_user_model()._default_manager.get(username="root")
    assert "This session" in root.get(user_url(own)).content.decode()


def test_ip_storage_applies(root: Client, alice: Any, settings: Any) -> None:
    settings.QSESSIONS_IP_STORAGE = "none"
    signed_in("alice", CHROME_ANDROID, ip="203.0.113.99")
    body = root.get(user_url(alice)).content.decode()
    assert "Chrome 118 on Android" in body and "203.0.113" not in body


def test_revoking_one_session_signs_it_out_at_once(root: Client, alice: Any, phone: Client, laptop: Client) -> None:
    key = session_key_of(phone)
    public_id = make_public_id(key)
    url = f"{user_url(alice)}{public_id}/revoke/"
    confirmation = root.get(url)
    assert confirmation.status_code == 200
    assert "Are you sure you want to revoke this session?" in confirmation.content.decode()
    assert_no_key_in(confirmation.content.decode(), phone, laptop, root)
    assert is_signed_in(phone)  # GET never revokes
    response = root.post(url)
    assert response.status_code == 302 and response["Location"] == user_url(alice)
    assert not is_signed_in(phone)
    assert is_signed_in(laptop) and is_signed_in(root)
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.action_flag, entry.change_message) == (public_id, DELETION, "Revoked")
    assert "alice" in entry.object_repr and key not in entry.object_repr
    assert "The session was revoked." in root.get(user_url(alice)).content.decode()


def test_revoking_all_sessions_signs_them_all_out(root: Client, alice: Any, phone: Client, laptop: Client) -> None:
    url = f"{user_url(alice)}revoke/"
    confirmation = root.get(url).content.decode()
    assert "Are you sure you want to revoke all 2 sessions of" in confirmation
    assert_no_key_in(confirmation, phone, laptop, root)
    assert is_signed_in(phone) and is_signed_in(laptop)  # GET never revokes
    response = root.post(url)
    assert response.status_code == 302 and response["Location"] == user_url(alice)
    assert not is_signed_in(phone) and not is_signed_in(laptop)
    assert is_signed_in(root)
    assert LogEntry.objects.count() == 2
    page = root.get(user_url(alice)).content.decode()
    assert "Revoked 2 sessions." in page and "This user has no active sessions." in page


def test_revoking_ones_own_sessions_signs_the_admin_out(root: Client) -> None:
    from django.contrib.auth import get_user_model

    own = get_user_model()._default_manager.get(username="root")
    assert "you will be signed out" in root.get(f"{user_url(own)}revoke/").content.decode()
    response = root.post(f"{user_url(own)}revoke/")
    assert response.status_code == 302
    assert not is_signed_in(root)
    assert root.get(user_url(own)).status_code == 302  # to the admin's login page


@pytest.mark.parametrize("method", ["get", "post"])
def test_staff_without_the_permissions_get_403(alice: Any, phone: Client, method: str) -> None:
    public_id = make_public_id(session_key_of(phone))
    nobody = staff("nobody")
    for url in (LIST, user_url(alice), f"{user_url(alice)}{public_id}/revoke/", f"{user_url(alice)}revoke/"):
        assert getattr(nobody, method)(url).status_code == 403, url
    viewer = staff("viewer", "view_session")
    assert viewer.get(user_url(alice)).status_code == 200
    assert "/revoke/" not in viewer.get(user_url(alice)).content.decode()
    assert getattr(viewer, method)(f"{user_url(alice)}{public_id}/revoke/").status_code == 403
    assert getattr(viewer, method)(f"{user_url(alice)}revoke/").status_code == 403
    assert is_signed_in(phone)


def test_revoking_with_the_permission_alone(alice: Any, phone: Client) -> None:
    revoker = staff("revoker", "view_session", "delete_session")
    assert revoker.post(f"{user_url(alice)}revoke/").status_code == 302
    assert not is_signed_in(phone)


def test_csrf_is_enforced(alice: Any, phone: Client) -> None:
    make_user("root", password="correct horse", is_staff=True, is_superuser=True)
    admin = Client(enforce_csrf_checks=True)
    assert admin.get("/login/", {"username": "root"}).status_code == 200
    public_id = make_public_id(session_key_of(phone))
    one, every = f"{user_url(alice)}{public_id}/revoke/", f"{user_url(alice)}revoke/"
    assert admin.post(one).status_code == 403
    assert admin.post(every).status_code == 403
    assert is_signed_in(phone)
    admin.get(one)  # the confirmation page sets the CSRF cookie
    token = admin.cookies["csrftoken"].value
    assert admin.post(one, {"csrfmiddlewaretoken": token}).status_code == 302
    assert not is_signed_in(phone)


@pytest.mark.parametrize(
    "public_id",
    ["garbage", "x" * 300, "0" * 32, "%00", "..", make_public_id("notakeyofanysession")],
)
def test_an_unknown_or_malformed_id_is_404(root: Client, alice: Any, phone: Client, public_id: str) -> None:
    assert root.get(f"{user_url(alice)}{public_id}/revoke/").status_code == 404
    assert root.post(f"{user_url(alice)}{public_id}/revoke/").status_code == 404
    assert is_signed_in(phone)


def test_a_session_is_found_only_under_its_owner(root: Client, alice: Any, phone: Client) -> None:
    bob = make_user("bob")
    public_id = make_public_id(session_key_of(phone))
    assert root.post(f"{user_url(bob)}{public_id}/revoke/").status_code == 404
    assert is_signed_in(phone)


@pytest.mark.parametrize("user_id", ["abc", "999999", "99999999999999999999999", "-1", "%00"])
def test_an_unknown_user_is_404(root: Client, user_id: str) -> None:
    assert root.get(f"{LIST}user/{user_id}/").status_code == 404
    assert root.post(f"{LIST}user/{user_id}/revoke/").status_code == 404


def test_pages_of_sessions(root: Client, alice: Any, phone: Client, laptop: Client, monkeypatch: Any) -> None:
    from qsessions.admin import SessionAdmin

    monkeypatch.setattr(SessionAdmin, "list_per_page", 1)
    first, second = root.get(user_url(alice)), root.get(user_url(alice), {"p": "2"})
    assert first.status_code == second.status_code == 200
    assert 'rel="next"' in first.content.decode() and 'rel="prev"' in second.content.decode()
    for page in ("3", "0", "abc", "1" * 9):
        assert root.get(user_url(alice), {"p": page}).status_code == 404


def test_the_database_admins_session_pages_are_not_served(root: Client, phone: Client) -> None:
    public_id = make_public_id(session_key_of(phone))
    assert root.get(f"{LIST}{public_id}/change/").status_code == 404
    assert root.post(f"{LIST}{public_id}/delete/").status_code == 404
    assert is_signed_in(phone)


# -- in a browser ------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Any:
    from pytest_django.live_server_helper import LiveServer

    live = LiveServer("localhost")
    try:
        yield live.url
    finally:
        live.stop()


@pytest.fixture
def operator() -> None:
    make_user("root", password="correct horse", is_staff=True, is_superuser=True)


def test_an_operator_finds_a_user_and_revokes_a_session_in_a_browser(
    alice: Any, phone: Client, laptop: Client, operator: None, server: str, browser: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.test_browser import ARTIFACTS

    def signed_in_now(client: Client) -> bool:
        # Playwright's sync API runs an event loop in this thread: the database is reached from another.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(is_signed_in, client).result()

    phone_key = session_key_of(phone)
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
    page.goto(f"{server}/admin/login/?next={LIST}")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}{LIST}")
    page.locator("#searchbar").fill("alice")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="alice").click()
    page.wait_for_url(f"{server}{user_url(alice)}")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cache-admin-user.png"), full_page=True)
    assert phone_key not in page.content()
    rows.filter(has_text="Chrome 118 on Android").get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Yes, revoke it").click()
    page.wait_for_url(f"{server}{user_url(alice)}")
    assert page.get_by_text("The session was revoked.").is_visible()
    assert rows.count() == 1
    assert not signed_in_now(phone) and signed_in_now(laptop)
    page.get_by_role("link", name="Revoke all sessions…").click()
    page.get_by_role("button", name="Yes, revoke them").click()
    page.wait_for_url(f"{server}{user_url(alice)}")
    assert page.get_by_text("This user has no active sessions.").is_visible()
    assert not signed_in_now(laptop)
