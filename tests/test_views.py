"""The "Your sessions" pages: listing, revoking one (with confirmation), signing out all others."""

from __future__ import annotations

import datetime
import logging
import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import AsyncClient, Client
from django.utils import timezone

from qsessions.models import Session
from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS, SAFARI_MAC, make_user, session_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

LIST_URL = "/account/sessions/"


def revoke_url(session: Session) -> str:
    return f"/account/sessions/{session.public_id}/revoke/"


def is_signed_in(client: Client) -> bool:
    return client.get("/read/").json()["user"] is not None


def test_anonymous_users_are_sent_to_the_login_page(engine: str, client: Client) -> None:
    for url in (LIST_URL, "/account/sessions/others/revoke/", "/account/sessions/0123/revoke/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(resolve_url(settings.LOGIN_URL) + "?next=")
        assert client.post(url).status_code == 302


def test_the_list_shows_own_active_sessions_most_recent_first(engine: str) -> None:
    make_user("alice")
    make_user("bob")
    phone = signed_in("alice", CHROME_ANDROID, ip="203.0.113.7")
    laptop = signed_in("alice", FIREFOX_WINDOWS, ip="198.51.100.2")
    bobs = signed_in("bob", SAFARI_MAC)
    expired = signed_in("alice", SAFARI_MAC)
    Session.objects.filter(pk=session_of(expired).pk).update(expire_date=timezone.now() - datetime.timedelta(1))
    # The phone was used an hour ago, the laptop just now.
    Session.objects.filter(pk=session_of(phone).pk).update(last_activity=timezone.now() - datetime.timedelta(hours=1))

    response = laptop.get(LIST_URL)
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\">(.*?)</tr>", html, flags=re.S)
    assert len(rows) == 2
    assert "Firefox 121 on Windows" in rows[0]
    assert "This device" in rows[0]
    assert "Chrome 118 on Android" in rows[1]
    assert "This device" not in rows[1]
    assert "Firefox 121" in rows[0]
    assert "Chrome 118 on Android" in rows[1]
    assert "198.51.100.2" in rows[0]
    assert "203.0.113.7" in rows[1]
    assert "1\xa0hour ago" in rows[1]
    assert "Just now" in rows[0]
    # The exact time sits in a machine-readable <time> with a title shown on hover.
    last = session_of(phone).last_activity
    assert last is not None
    assert f'<time datetime="{last.isoformat(timespec="microseconds")}"' in rows[1]
    assert 'title="' in rows[1]
    assert html.count('<th scope="col">') == 6
    assert bobs.cookies["sessionid"].value not in html
    assert str(session_of(bobs).public_id) not in html
    assert str(session_of(expired).public_id) not in html
    assert "Sign out all other sessions" in html


def test_the_only_session_offers_no_sign_out_of_others(engine: str) -> None:
    make_user()
    html = signed_in("alice").get(LIST_URL).content.decode()
    assert "This device" in html
    assert "Sign out all other sessions" not in html


def test_sessions_without_a_client_or_location_render(engine: str) -> None:
    user = make_user()
    client = signed_in("alice")
    Session.objects.create(
        session_key="k" * 32, session_data="", expire_date=timezone.now() + datetime.timedelta(1), user=user
    )
    html = client.get(LIST_URL).content.decode()
    assert "Unknown device" in html
    assert "Unknown location" in html


@pytest.mark.parametrize("count", [1, 50])
def test_the_list_makes_a_constant_number_of_queries(engine: str, count: int, django_assert_num_queries: Any) -> None:
    user = make_user()
    client = signed_in("alice", CHROME_ANDROID)
    for number in range(count - 1):
        Session.objects.create(
            session_key=f"extra{number:027d}",
            session_data="",
            expire_date=timezone.now() + datetime.timedelta(days=1),
            user=user,
            user_agent=(FIREFOX_WINDOWS, SAFARI_MAC)[number % 2],
            ip=f"192.0.2.{number}",
            created_at=timezone.now(),
            last_activity=timezone.now() - datetime.timedelta(minutes=number),
        )
    client.get("/read/")  # warm the session cache (cached_db)
    # db: the session, the user, the sessions, the recently ended ones; cached_db: all but the session.
    with django_assert_num_queries(3 if engine.endswith("cached_db") else 4):
        response = client.get(LIST_URL)
    assert response.content.decode().count('<th scope="row">') == count


def test_async_clients_see_the_list(engine: str) -> None:
    make_user()
    client = AsyncClient()
    async_to_sync(client.get)("/alogin/", {"username": "alice"}, headers={"user-agent": CHROME_ANDROID})
    response = async_to_sync(client.get)(LIST_URL, headers={"user-agent": CHROME_ANDROID})
    assert response.status_code == 200
    assert "This device" in response.content.decode()
    assert "Chrome 118 on Android" in response.content.decode()


def test_revoking_asks_for_confirmation_first(engine: str) -> None:
    make_user()
    laptop = signed_in("alice", FIREFOX_WINDOWS)
    phone = signed_in("alice", CHROME_ANDROID)
    target = session_of(phone)
    response = laptop.get(revoke_url(target))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Chrome 118 on Android" in html
    assert '<button type="submit"' in html
    assert 'method="post"' in html
    assert is_signed_in(phone)  # a GET revokes nothing

    response = laptop.post(revoke_url(target))
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    assert "was signed out" in laptop.get(LIST_URL).content.decode()


def test_revoking_the_current_session_signs_out(engine: str) -> None:
    make_user()
    laptop = signed_in("alice")
    phone = signed_in("alice", CHROME_ANDROID)
    current = session_of(laptop)
    page = laptop.get(revoke_url(current)).content.decode()
    assert "you will be signed out" in page
    response = laptop.post(revoke_url(current))
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_URL)
    assert not is_signed_in(laptop)
    assert not Session.objects.filter(pk=current.pk).exists()
    assert is_signed_in(phone)


def test_another_users_session_is_not_found_like_a_missing_one(engine: str) -> None:
    make_user("alice")
    make_user("bob")
    alice = signed_in("alice")
    bob = signed_in("bob")
    bobs = session_of(bob)
    missing = alice.get("/account/sessions/0123456789abcdef0123456789abcdef/revoke/")
    for response in (alice.get(revoke_url(bobs)), alice.post(revoke_url(bobs))):
        assert response.status_code == 404
        assert response.content == missing.content
    assert is_signed_in(bob)


@pytest.mark.parametrize(
    "public_id",
    ["x" * 5000, "%C3%A9%00", "%00" * 32, "..%2F..", "'; DROP TABLE qsessions_session; --", "A" * 32, "0" * 33],
)
def test_malformed_ids_are_not_found(engine: str, public_id: str) -> None:
    make_user()
    client = signed_in("alice")
    assert client.get(f"/account/sessions/{public_id}/revoke/").status_code == 404
    assert client.post(f"/account/sessions/{public_id}/revoke/").status_code == 404
    assert is_signed_in(client)


def test_revocation_needs_post_and_a_csrf_token(engine: str) -> None:
    make_user()
    laptop = signed_in("alice", enforce_csrf_checks=True)
    phone = signed_in("alice", CHROME_ANDROID)
    target = revoke_url(session_of(phone))
    lenient = signed_in("alice", SAFARI_MAC)
    assert lenient.put(target).status_code == 405
    assert lenient.delete(target).status_code == 405
    assert lenient.post(LIST_URL).status_code == 405
    assert laptop.put(target).status_code == 403
    assert laptop.post(target).status_code == 403
    assert laptop.post("/account/sessions/others/revoke/").status_code == 403
    assert is_signed_in(phone)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', laptop.get(target).content.decode())
    assert token is not None
    assert laptop.post(target, {"csrfmiddlewaretoken": token.group(1)}).status_code == 302
    assert not is_signed_in(phone)


def test_sign_out_all_other_sessions(engine: str) -> None:
    make_user("alice")
    make_user("bob")
    laptop = signed_in("alice")
    others = [signed_in("alice", CHROME_ANDROID), signed_in("alice", SAFARI_MAC)]
    bob = signed_in("bob")
    page = laptop.get("/account/sessions/others/revoke/")
    assert "2 other sessions will be signed out" in page.content.decode()
    assert all(is_signed_in(other) for other in others)
    response = laptop.post("/account/sessions/others/revoke/", follow=True)
    assert response.redirect_chain == [(LIST_URL, 302)]
    assert "2 other sessions were signed out" in response.content.decode()
    assert not any(is_signed_in(other) for other in others)
    assert is_signed_in(laptop)
    assert is_signed_in(bob)


def test_templates_extend_an_overridable_base(engine: str, settings: Any, tmp_path: Any) -> None:
    (tmp_path / "qsessions").mkdir()
    (tmp_path / "qsessions" / "base.html").write_text("<main id=site>{% block content %}{% endblock %}</main>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    make_user()
    html = signed_in("alice").get(LIST_URL).content.decode()
    assert html.startswith("<main id=site>")
    assert "This device" in html


def test_strings_are_translated(engine: str, settings: Any) -> None:
    """Every string goes through gettext: with German active, Django's own catalog translates some of them."""
    make_user()
    client = signed_in("alice")
    settings.LANGUAGE_CODE = "de"
    html = client.get(LIST_URL).content.decode()
    assert 'lang="de"' in html
    assert '<th scope="col">IP-Adresse</th>' in html


def test_no_session_key_in_pages_urls_or_logs(engine: str, caplog: pytest.LogCaptureFixture) -> None:
    make_user()
    caplog.set_level(logging.DEBUG)
    laptop = signed_in("alice", enforce_csrf_checks=False)
    phone = signed_in("alice", CHROME_ANDROID)
    tablet = signed_in("alice", SAFARI_MAC)
    keys = {c.cookies["sessionid"].value for c in (laptop, phone, tablet)}
    responses: list[Any] = []  # the test client's responses
    responses.append(laptop.get(LIST_URL))
    for session in Session.objects.filter(pk__in=keys):
        responses.append(laptop.get(revoke_url(session)))
    responses.append(laptop.get("/account/sessions/others/revoke/"))
    responses.append(laptop.post(revoke_url(session_of(phone)), follow=True))
    responses.append(laptop.post("/account/sessions/others/revoke/", follow=True))
    responses.append(laptop.post(revoke_url(session_of(laptop)), follow=True))
    for response in responses:
        texts = [response.content.decode(errors="replace"), response.wsgi_request.get_full_path()]
        texts += [f"{name}: {value}" for name, value in response.items() if name.lower() != "set-cookie"]
        texts += [url for url, _status in getattr(response, "redirect_chain", [])]
        for key in keys:
            assert all(key not in text for text in texts)
    for key in keys:
        assert key not in caplog.text


# -- CSRF without the site's middleware, and no caching ---------------------------------------------------

NEVER_CACHE = {"max-age=0", "no-cache", "no-store", "must-revalidate", "private"}


def cache_control(response: Any) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.fixture
def without_csrf_middleware(settings: Any) -> None:
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != "django.middleware.csrf.CsrfViewMiddleware"]


@pytest.mark.usefixtures("without_csrf_middleware")
def test_revocation_needs_a_csrf_token_even_without_the_csrf_middleware(engine: str) -> None:
    make_user()
    laptop = signed_in("alice", enforce_csrf_checks=True)
    phone = signed_in("alice", CHROME_ANDROID)
    tablet = signed_in("alice", SAFARI_MAC)
    target = revoke_url(session_of(phone))
    assert laptop.post(target).status_code == 403
    assert laptop.post("/account/sessions/others/revoke/").status_code == 403
    assert laptop.post(target, {"csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert is_signed_in(phone)
    assert is_signed_in(tablet)
    # The pages hand out the token themselves, so the forms still work.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', laptop.get(target).content.decode())
    assert token is not None
    assert laptop.post(target, {"csrfmiddlewaretoken": token.group(1)}).status_code == 302
    assert not is_signed_in(phone)
    assert is_signed_in(tablet)


@pytest.mark.parametrize("middleware", ["with", "without"])
def test_no_page_may_be_cached(engine: str, middleware: str, settings: Any) -> None:
    if middleware == "without":
        settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if "csrf" not in name]
    make_user()
    laptop = signed_in("alice")
    phone = signed_in("alice", CHROME_ANDROID)
    answers = {
        "list": laptop.get(LIST_URL),
        "revoke one (confirmation)": laptop.get(revoke_url(session_of(phone))),
        "revoke others (confirmation)": laptop.get("/account/sessions/others/revoke/"),
        "wrong method": laptop.put(LIST_URL),
        "revoke one": laptop.post(revoke_url(session_of(phone))),
        "revoke others": laptop.post("/account/sessions/others/revoke/"),
        "signed out": Client().get(LIST_URL),
    }
    assert answers["list"].status_code == 200
    for name, response in answers.items():
        assert cache_control(response) >= NEVER_CACHE, name
        assert "Expires" in response, name


# -- text that cannot disguise itself, times with their zone ----------------------------------------------

RLO = "\u202e"
# ua-parser takes the app name in front of CFNetwork as the browser: the override reaches the device name.
DISGUISED_UA = f"{RLO}Evil/1.0 CFNetwork/978.0.7 Darwin/18.5.0"


def test_device_names_are_bidi_isolated(engine: str) -> None:
    make_user()
    laptop = signed_in("alice", FIREFOX_WINDOWS)
    disguised = signed_in("alice", DISGUISED_UA)
    name = session_of(disguised).device_description
    assert name is not None
    assert name.name.startswith(RLO)

    html = laptop.get(LIST_URL).content.decode()
    # Every occurrence of the override sits inside an isolate, which ends before "This device" or a button.
    assert html.count(RLO) == 2  # the device cell and the sign-out link's label
    assert len(re.findall(f"<bdi[^>]*>{name.name}</bdi>", html)) == 2
    assert len(re.findall("<bdi[^>]*>Firefox 121 on Windows</bdi>", html)) == 2

    page = laptop.get(revoke_url(session_of(disguised))).content.decode()
    assert page.count(RLO) == 1
    assert f"<bdi>{name.name}</bdi>" in page

    # The message after signing it out is plain text: the name is wrapped in Unicode isolate marks there.
    html = laptop.post(revoke_url(session_of(disguised)), follow=True).content.decode()
    assert f"The session on \u2068{name.name}\u2069 was signed out." in html


def test_times_show_their_time_zone(engine: str, settings: Any) -> None:
    make_user()
    client = signed_in("alice")
    signed_in_at = datetime.datetime(2026, 11, 30, 1, 12, tzinfo=datetime.timezone.utc)
    last = timezone.now() - datetime.timedelta(hours=3)
    Session.objects.filter(pk=session_of(client).pk).update(created_at=signed_in_at, last_activity=last)

    html = client.get(LIST_URL).content.decode()
    assert "Nov. 30, 2026, 1:12 a.m. UTC" in html
    assert re.search(r'title="[^"]+ UTC"', html)

    # The active time zone, not the server's: New York is five hours behind UTC in November.
    settings.TIME_ZONE = "America/New_York"
    html = client.get(LIST_URL).content.decode()
    assert "Nov. 29, 2026, 8:12 p.m. EST" in html
    assert re.search(r'title="[^"]+ (EST|EDT)"', html)
    with timezone.override("Asia/Tokyo"):
        html = client.get(LIST_URL).content.decode()
    assert "Nov. 30, 2026, 10:12 a.m. JST" in html
