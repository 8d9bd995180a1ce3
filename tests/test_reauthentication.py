"""Re-authentication ("sudo mode") before signing sessions out: pages redirect, the API answers 403."""

from __future__ import annotations

import re
import time
from importlib import import_module
from typing import Any
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient, Client

from qsessions.models import Session
from qsessions.reauthentication import AUTHENTICATED_AT_SESSION_KEY
from tests.helpers import CHROME_ANDROID, SAFARI_MAC, make_user, session_key_of, session_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

LIST_URL = "/account/sessions/"
OTHERS_URL = "/account/sessions/others/revoke/"
REAUTH_URL = "/account/sessions/reauthenticate/"
API = "/account/sessions/api/sessions/"
WINDOW = 300


@pytest.fixture
def window(settings: Any) -> int:
    settings.QSESSIONS_REAUTHENTICATION_WINDOW = WINDOW
    return WINDOW


def is_signed_in(client: Client) -> bool:
    return client.get("/read/").json()["user"] is not None


def set_authenticated_at(client: Client, value: Any) -> None:
    """Write the session's recorded authentication time (``None``: remove it), as a stored session."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key_of(client))
    if value is None:
        store.pop(AUTHENTICATED_AT_SESSION_KEY, None)
    else:
        store[AUTHENTICATED_AT_SESSION_KEY] = value
    store.save()


def authenticated_at(client: Client) -> Any:
    return session_of(client).get_decoded().get(AUTHENTICATED_AT_SESSION_KEY)


def stale(client: Client) -> Client:
    set_authenticated_at(client, time.time() - WINDOW - 60)
    return client


def alice_with_two_others() -> tuple[Client, list[Client]]:
    make_user("alice", password="correct horse")
    laptop = signed_in("alice")
    others = [signed_in("alice", CHROME_ANDROID), signed_in("alice", SAFARI_MAC)]
    return laptop, others


def test_a_login_records_when_the_session_authenticated(engine: str, window: int) -> None:
    make_user()
    before = time.time()
    client = signed_in("alice")
    recorded = authenticated_at(client)
    assert isinstance(recorded, float)
    assert before <= recorded <= time.time()


def test_nothing_is_recorded_while_reauthentication_is_off(engine: str) -> None:
    make_user()
    assert AUTHENTICATED_AT_SESSION_KEY not in session_of(signed_in("alice")).get_decoded()


def test_an_async_login_records_it_too(engine: str, window: int) -> None:
    make_user()
    client = AsyncClient()
    async_to_sync(client.get)("/alogin/", {"username": "alice"})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert isinstance(Session.objects.get(pk=key).get_decoded()[AUTHENTICATED_AT_SESSION_KEY], float)


def test_off_by_default_an_old_authentication_still_revokes(engine: str) -> None:
    laptop, others = alice_with_two_others()
    stale(laptop)
    response = laptop.post(OTHERS_URL)
    assert response["Location"] == LIST_URL
    assert not any(is_signed_in(other) for other in others)


def test_a_fresh_login_revokes_without_asking_again(engine: str, window: int) -> None:
    laptop, others = alice_with_two_others()
    assert laptop.post(OTHERS_URL)["Location"] == LIST_URL
    assert not any(is_signed_in(other) for other in others)


@pytest.mark.parametrize(
    "recorded",
    [
        pytest.param(None, id="never-recorded"),
        pytest.param(-WINDOW - 60, id="too-old"),
        pytest.param(+3600, id="in-the-future"),
        pytest.param("yesterday", id="not-a-number"),
    ],
)
def test_without_a_recent_authentication_revoking_others_asks_for_the_password_and_comes_back(
    engine: str, window: int, recorded: Any
) -> None:
    laptop, others = alice_with_two_others()
    set_authenticated_at(laptop, recorded if not isinstance(recorded, int) else time.time() + recorded)

    refused = laptop.post(OTHERS_URL)
    assert refused.status_code == 302
    assert refused["Location"] == f"{REAUTH_URL}?next={quote(OTHERS_URL, safe='/')}"
    assert all(is_signed_in(other) for other in others)
    # The confirmation page asks first as well.
    assert laptop.get(OTHERS_URL)["Location"] == refused["Location"]

    page = laptop.get(refused["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Confirm it is you" in html
    assert 'type="password"' in html
    assert f'name="next" value="{OTHERS_URL}"' in html

    wrong = laptop.post(REAUTH_URL, {"password": "wrong", "next": OTHERS_URL})
    assert wrong.status_code == 200
    assert "That is not your password." in wrong.content.decode()
    assert laptop.post(OTHERS_URL).status_code == 302
    assert all(is_signed_in(other) for other in others)

    right = laptop.post(REAUTH_URL, {"password": "correct horse", "next": OTHERS_URL})
    assert right.status_code == 302
    assert right["Location"] == OTHERS_URL
    assert "2 other sessions will be signed out" in laptop.get(OTHERS_URL).content.decode()
    response = laptop.post(OTHERS_URL, follow=True)
    assert response.redirect_chain == [(LIST_URL, 302)]
    assert "2 other sessions were signed out" in response.content.decode()
    assert not any(is_signed_in(other) for other in others)
    assert is_signed_in(laptop)


def test_revoking_one_session_asks_too(engine: str, window: int) -> None:
    laptop, (phone, _tablet) = alice_with_two_others()
    stale(laptop)
    url = f"/account/sessions/{session_of(phone).public_id}/revoke/"
    assert laptop.post(url)["Location"] == f"{REAUTH_URL}?next={quote(url, safe='/')}"
    assert is_signed_in(phone)
    laptop.post(REAUTH_URL, {"password": "correct horse", "next": url})
    assert laptop.post(url)["Location"] == LIST_URL
    assert not is_signed_in(phone)


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "http://testserver/account/sessions/", "javascript:alert(1)", ""],
)
def test_next_must_be_on_this_site(engine: str, window: int, next_url: str) -> None:
    laptop, _others = alice_with_two_others()
    stale(laptop)
    page = laptop.get(REAUTH_URL, {"next": next_url}).content.decode()
    assert "evil" not in page and "javascript" not in page
    response = laptop.post(REAUTH_URL, {"password": "correct horse", "next": next_url})
    # http://testserver/... is this site (an allowed host and scheme); everything else falls back to the list.
    expected = next_url if next_url.startswith("http://testserver/") else LIST_URL
    assert response["Location"] == expected


def test_the_password_page_needs_a_signed_in_user_and_a_csrf_token(engine: str, client: Client, window: int) -> None:
    response = client.get(REAUTH_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(str(settings.LOGIN_URL))
    make_user("alice", password="correct horse")
    strict = signed_in("alice", enforce_csrf_checks=True)
    stale(strict)
    assert strict.post(REAUTH_URL, {"password": "correct horse"}).status_code == 403
    page = strict.get(REAUTH_URL)
    assert "no-cache" in page["Cache-Control"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    response = strict.post(REAUTH_URL, {"password": "correct horse", "csrfmiddlewaretoken": token.group(1)})
    assert response["Location"] == LIST_URL
    assert strict.post(OTHERS_URL, {"csrfmiddlewaretoken": token.group(1)})["Location"] == LIST_URL


def test_another_users_password_does_not_count(engine: str, window: int) -> None:
    make_user("bob", password="bobs password")
    laptop, others = alice_with_two_others()
    stale(laptop)
    response = laptop.post(REAUTH_URL, {"password": "bobs password"})
    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    assert laptop.post(OTHERS_URL).status_code == 302
    assert all(is_signed_in(other) for other in others)


def test_the_api_answers_403_with_a_code_until_the_user_reauthenticates(engine: str, window: int) -> None:
    laptop, (phone, tablet) = alice_with_two_others()
    stale(laptop)
    phone_id = session_of(phone).public_id
    for response in (
        laptop.post(f"{API}revoke-others/"),
        laptop.delete(f"{API}{phone_id}/"),
    ):
        assert response.status_code == 403
        assert response["Content-Type"] == "application/json"
        error = response.json()["error"]
        assert error["code"] == "reauthentication_required"
        assert error["reauthenticate_url"] == REAUTH_URL
        assert isinstance(error["detail"], str)
    # Reading needs no re-authentication.
    assert laptop.get(f"{API}{phone_id}/").status_code == 200
    assert len(laptop.get(API).json()["sessions"]) == 3
    assert is_signed_in(phone) and is_signed_in(tablet)

    laptop.post(REAUTH_URL, {"password": "correct horse"})
    assert laptop.delete(f"{API}{phone_id}/").json() == {"revoked": 1, "signed_out": False}
    assert laptop.post(f"{API}revoke-others/").json() == {"revoked": 1, "signed_out": False}
    assert not is_signed_in(phone) and not is_signed_in(tablet)


def test_the_api_checks_sign_in_and_csrf_before_reauthentication(engine: str, client: Client, window: int) -> None:
    assert client.post(f"{API}revoke-others/").json()["error"]["code"] == "not_authenticated"
    make_user()
    strict = stale(signed_in("alice", enforce_csrf_checks=True))
    assert strict.post(f"{API}revoke-others/").json()["error"]["code"] == "csrf_failed"


def test_a_sites_own_reauthentication_url(engine: str, window: int, settings: Any) -> None:
    settings.QSESSIONS_REAUTHENTICATION_URL = "/accounts/reauthenticate/"
    laptop, _others = alice_with_two_others()
    stale(laptop)
    assert laptop.post(OTHERS_URL)["Location"] == f"/accounts/reauthenticate/?next={quote(OTHERS_URL, safe='/')}"
    error = laptop.post(f"{API}revoke-others/").json()["error"]
    assert error["reauthenticate_url"] == "/accounts/reauthenticate/"
    # That view calls record_authentication(request) once it has checked the user (tests/testapp/views.py).
    assert laptop.post("/accounts/reauthenticate/").status_code == 200
    assert laptop.post(OTHERS_URL)["Location"] == LIST_URL


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("QSESSIONS_REAUTHENTICATION_WINDOW", 0, "qsessions.E050"),
        ("QSESSIONS_REAUTHENTICATION_WINDOW", "600", "qsessions.E050"),
        ("QSESSIONS_REAUTHENTICATION_WINDOW", True, "qsessions.E050"),
        ("QSESSIONS_REAUTHENTICATION_WINDOW", 600, None),
        ("QSESSIONS_REAUTHENTICATION_WINDOW", None, None),
        ("QSESSIONS_REAUTHENTICATION_URL", "", "qsessions.E051"),
        ("QSESSIONS_REAUTHENTICATION_URL", 42, "qsessions.E051"),
        ("QSESSIONS_REAUTHENTICATION_URL", "account_reauthenticate", None),
    ],
)
def test_bad_settings_are_reported(settings: Any, name: str, value: Any, error: str | None) -> None:
    from qsessions.checks import check_reauthentication

    setattr(settings, name, value)
    assert [message.id for message in check_reauthentication()] == ([error] if error else [])


def test_async_views(engine: str, window: int) -> None:
    make_user()
    client = AsyncClient()
    async_to_sync(client.get)("/alogin/", {"username": "alice"})
    assert async_to_sync(client.get)("/async-sudo/").content == b"done"  # the login counts
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    store[AUTHENTICATED_AT_SESSION_KEY] = time.time() - WINDOW - 1
    store.save()
    assert async_to_sync(client.get)("/async-sudo/")["Location"] == f"{REAUTH_URL}?next=/async-sudo/"
    assert async_to_sync(client.get)("/async-sudo-api/").json() == {"done": True}  # GET is not checked
    refused = async_to_sync(client.post)("/async-sudo-api/")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "reauthentication_required"
    async_to_sync(client.get)("/async-record/")
    assert async_to_sync(client.get)("/async-sudo/").content == b"done"
    assert async_to_sync(client.post)("/async-sudo-api/").json() == {"done": True}
