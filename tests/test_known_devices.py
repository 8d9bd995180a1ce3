"""Known devices: the device cookie, the new-device sign-in alert (signal and e-mail), "this wasn't me"."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core import mail
from django.test import AsyncClient, Client

from qsessions.known_devices import COOKIE_MAX_AGE, COOKIE_NAME, token_digest
from qsessions.models import KnownDevice, Session
from qsessions.signals import new_device_sign_in
from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS, SAFARI_MAC, make_user

pytestmark = pytest.mark.django_db(transaction=True)

DEVICES_URL = "/account/sessions/devices/"


@pytest.fixture
def known_devices(settings: Any, engine: str) -> Iterator[list[dict[str, Any]]]:
    """Known devices and e-mails on; yields the new_device_sign_in signals received."""
    settings.QSESSIONS_KNOWN_DEVICES = True
    settings.QSESSIONS_NEW_DEVICE_EMAIL = True
    settings.QSESSIONS_PASSWORD_CHANGE_URL = "/password/"
    settings.MIDDLEWARE = [
        "qsessions.middleware.SessionMiddleware",
        "qsessions.known_devices.KnownDeviceMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    new_device_sign_in.connect(receiver)
    try:
        yield received
    finally:
        new_device_sign_in.disconnect(receiver)


def browser(user_agent: str = FIREFOX_WINDOWS, ip: str = "203.0.113.7") -> Client:
    return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)


def sign_in(client: Client, username: str = "alice") -> Client:
    assert client.get("/login/", {"username": username}).status_code == 200
    return client


def sign_out(client: Client) -> Client:
    client.get("/logout/")
    return client


def is_signed_in(client: Client) -> bool:
    return client.get("/read/").json()["user"] is not None


def forget(client: Client, device: KnownDevice) -> None:
    assert client.post(f"{DEVICES_URL}{device.pk}/forget/").status_code == 302


def _first_login() -> None:
    sign_in(browser())


def _second_browser() -> None:
    sign_in(browser())
    sign_in(browser(CHROME_ANDROID))


def _relogin_on_known_device() -> None:
    laptop = sign_in(browser())
    sign_in(browser(CHROME_ANDROID))  # the one alert
    sign_in(sign_out(laptop))
    sign_in(laptop)  # again, without signing out


def _new_browser_signs_in_twice() -> None:
    sign_in(browser())
    phone = sign_in(browser(CHROME_ANDROID))
    sign_in(sign_out(phone))


def _impersonation() -> None:
    make_user("root", is_staff=True, is_superuser=True)
    sign_in(browser())
    admin = sign_in(browser(SAFARI_MAC), "root")
    admin.get("/hijack/", {"username": "alice"})


def _forgotten_device_signs_in_again() -> None:
    laptop = sign_in(browser())
    phone = sign_in(browser(CHROME_ANDROID))  # the one alert
    forget(phone, KnownDevice.objects.get(user__username="alice", user_agent=FIREFOX_WINDOWS))
    sign_in(sign_out(laptop))


def _known_only_to_another_user() -> None:
    sign_in(browser())
    shared = sign_in(browser(CHROME_ANDROID), "bob")
    sign_in(sign_out(shared), "alice")


def _async_login_from_a_new_browser() -> None:
    sign_in(browser())
    client = AsyncClient(headers={"user-agent": CHROME_ANDROID})
    async_to_sync(client.get)("/alogin/", {"username": "alice"})


def _cookie_not_ours() -> None:
    laptop = sign_in(browser())
    sign_out(laptop).cookies[COOKIE_NAME] = "forged" + "A" * 37
    sign_in(laptop)


CASES: list[tuple[str, Callable[[], None], int]] = [
    # case                                   steps                              alerts to alice
    ("first login after sign-up", _first_login, 0),
    ("a second browser", _second_browser, 1),
    ("re-login on a known device", _relogin_on_known_device, 1),
    ("a new browser signs in twice", _new_browser_signs_in_twice, 1),
    ("impersonation (django-hijack)", _impersonation, 0),
    ("a device the user forgot signs in again", _forgotten_device_signs_in_again, 1),
    ("a browser known only to another user", _known_only_to_another_user, 1),
    ("async login from a new browser", _async_login_from_a_new_browser, 1),
    ("a cookie qsessions did not make", _cookie_not_ours, 1),
]


@pytest.mark.parametrize(("steps", "alerts"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_the_alert_fires_exactly_once_for_a_new_browser_and_never_in_the_excluded_cases(
    known_devices: list[dict[str, Any]], steps: Callable[[], None], alerts: int
) -> None:
    alice = make_user("alice")
    make_user("bob")
    steps()
    to_alice = [signal for signal in known_devices if signal["user"] == alice]
    assert len(to_alice) == alerts
    assert len([message for message in mail.outbox if message.to == ["alice@example.com"]]) == alerts


def test_nothing_happens_while_the_setting_is_off(engine: str, settings: Any) -> None:
    settings.MIDDLEWARE = ["qsessions.known_devices.KnownDeviceMiddleware", *settings.MIDDLEWARE]
    make_user()
    laptop = sign_in(browser())
    sign_in(browser(CHROME_ANDROID))
    assert COOKIE_NAME not in laptop.cookies
    assert not KnownDevice.objects.exists()
    assert mail.outbox == []


def test_the_cookie_is_random_long_lived_http_only_and_stored_hashed(known_devices: list[Any]) -> None:
    make_user()
    laptop = sign_in(browser())
    cookie = laptop.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["max-age"] == COOKIE_MAX_AGE
    assert cookie["samesite"] == "Lax"
    device = KnownDevice.objects.get()
    assert device.token_digest == token_digest(cookie.value) != cookie.value
    assert cookie.value not in str(list(KnownDevice.objects.values()))
    assert len(cookie.value) >= 43
    other = sign_in(browser(CHROME_ANDROID))
    assert other.cookies[COOKIE_NAME].value != cookie.value
    assert hashlib.sha256(cookie.value.encode()).hexdigest() != device.token_digest  # salted with a prefix


def _not_me_link(message: Any) -> str:
    match = re.search(r"http://testserver(/account/sessions/not-me/[^/\s]+/)", message.body)
    assert match is not None
    return match.group(1)


def test_the_email_names_device_place_and_time_and_its_link_signs_that_session_out(
    known_devices: list[Any],
) -> None:
    make_user()
    laptop = sign_in(browser())
    phone = sign_in(browser(CHROME_ANDROID, ip="198.51.100.23"))
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "New sign-in to your account on testserver"
    assert "Chrome 118 on Android" in message.body
    assert "198.51.100.23" in message.body
    device = KnownDevice.objects.get(user_agent=CHROME_ANDROID)
    assert f"{device.last_sign_in_at:%Y}" in message.body
    link = _not_me_link(message)

    stranger = Client()  # the owner reads the mail anywhere, signed in or not
    page = stranger.get(link)
    assert page.status_code == 200
    assert "Chrome 118 on Android" in page.content.decode()
    assert is_signed_in(phone)  # a GET (a mail scanner) changes nothing
    response = stranger.post(link)
    assert response.status_code == 302
    assert response["Location"] == "/password/"
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    assert not KnownDevice.objects.filter(user_agent=CHROME_ANDROID).exists()

    # Used once: a replay changes nothing more and says so.
    phone_again = sign_in(browser(CHROME_ANDROID))
    replay = stranger.post(link)
    assert replay.status_code == 404
    assert "expired or has already been used" in replay.content.decode()
    assert is_signed_in(phone_again)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: "x" + token,
        lambda token: "not-a-token",
    ],
    ids=["signature", "payload", "garbage"],
)
def test_a_forged_link_does_nothing(known_devices: list[Any], tamper: Callable[[str], str]) -> None:
    make_user()
    sign_in(browser())
    phone = sign_in(browser(CHROME_ANDROID))
    link = _not_me_link(mail.outbox[0])
    token = link.rstrip("/").rsplit("/", 1)[1]
    forged = f"/account/sessions/not-me/{tamper(token)}/"
    assert Client().post(forged).status_code == 404
    assert is_signed_in(phone)


def test_your_sessions_lists_and_forgets_known_devices(known_devices: list[Any]) -> None:
    make_user("alice")
    make_user("bob")
    laptop = sign_in(browser())
    sign_in(browser(CHROME_ANDROID))
    sign_in(browser(SAFARI_MAC), "bob")
    html = laptop.get(DEVICES_URL).content.decode()
    rows = re.findall(r'<tr[^>]*>\s*<th scope="row">(.*?)</tr>', html, flags=re.S)
    assert len(rows) == 2
    assert any("Firefox 121 on Windows" in row and "This device" in row for row in rows)
    assert any("Chrome 118 on Android" in row and "This device" not in row for row in rows)
    assert "Safari" not in html
    assert 'href="/account/sessions/devices/"' in laptop.get("/account/sessions/").content.decode()

    phone_device = KnownDevice.objects.get(user__username="alice", user_agent=CHROME_ANDROID)
    forget(laptop, phone_device)
    assert "Chrome 118 on Android" not in laptop.get(DEVICES_URL).content.decode()
    bobs = KnownDevice.objects.get(user__username="bob")
    assert laptop.post(f"{DEVICES_URL}{bobs.pk}/forget/").status_code == 404
    assert laptop.get(f"{DEVICES_URL}{phone_device.pk}/forget/").status_code == 405
    assert laptop.post(f"{DEVICES_URL}{phone_device.pk}/forget/").status_code == 404  # already forgotten


def test_deleting_the_user_deletes_their_devices(known_devices: list[Any]) -> None:
    alice = make_user()
    sign_in(browser())
    alice.delete()
    assert not KnownDevice.objects.exists()
    assert not Session.objects.exists()


def test_a_missing_middleware_is_reported(settings: Any) -> None:
    from qsessions.checks import check_known_devices

    assert check_known_devices() == []
    settings.QSESSIONS_KNOWN_DEVICES = True
    assert [message.id for message in check_known_devices()] == ["qsessions.W053"]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "qsessions.known_devices.KnownDeviceMiddleware"]
    assert check_known_devices() == []


def test_the_signal_alone_without_the_email(known_devices: list[dict[str, Any]], settings: Any) -> None:
    settings.QSESSIONS_NEW_DEVICE_EMAIL = False
    make_user()
    sign_in(browser())
    phone = sign_in(browser(CHROME_ANDROID))
    (signal,) = known_devices
    assert signal["device"].user_agent == CHROME_ANDROID
    assert signal["request"].session.session_key == phone.cookies["sessionid"].value
    assert mail.outbox == []


def test_a_user_without_an_email_address_gets_the_signal_only(known_devices: list[dict[str, Any]]) -> None:
    user = make_user()
    user.email = ""
    user.save()
    sign_in(browser())
    sign_in(browser(CHROME_ANDROID))
    assert len(known_devices) == 1
    assert mail.outbox == []


def test_two_logins_of_one_new_browser_at_once_alert_once(known_devices: list[dict[str, Any]]) -> None:
    from unittest import mock

    make_user()
    sign_in(browser())
    phone = sign_in(browser(CHROME_ANDROID))
    # The other login has not committed its row when this one looks, and has when this one inserts.
    real_filter = KnownDevice.objects.filter

    def filter_missing_the_row(*args: Any, **kwargs: Any) -> Any:
        queryset = real_filter(*args, **kwargs)
        return queryset.none() if "token_digest" in kwargs else queryset

    with mock.patch.object(KnownDevice.objects, "filter", side_effect=filter_missing_the_row):
        sign_in(sign_out(phone))
    assert len(known_devices) == 1
    assert len(mail.outbox) == 1
    assert is_signed_in(phone)


@pytest.mark.parametrize(
    "payload",
    [
        ["not", "a", "dict"],
        {"d": 1, "s": 3, "n": "x"},
        {"d": 1, "s": "a" * 32, "n": ""},
        {"d": "1", "s": "a", "n": "x"},
    ],
)
def test_a_signed_link_of_the_wrong_shape_does_nothing(known_devices: list[Any], payload: Any) -> None:
    from django.core import signing

    from qsessions.known_devices import NOT_ME_SALT

    make_user()
    sign_in(browser())
    phone = sign_in(browser(CHROME_ANDROID))
    token = signing.dumps(payload, salt=NOT_ME_SALT)
    assert Client().post(f"/account/sessions/not-me/{token}/").status_code == 404
    assert is_signed_in(phone)


def test_async_requests_pass_through_the_middleware(known_devices: list[Any]) -> None:
    make_user()
    sign_in(browser())
    client = AsyncClient(headers={"user-agent": CHROME_ANDROID})
    async_to_sync(client.get)("/alogin/", {"username": "alice"})
    response = async_to_sync(client.get)("/aread/")
    assert response.json()["user"] == "alice"
    assert COOKIE_NAME not in response.cookies  # set once, at login
    assert len(known_devices) == 1
