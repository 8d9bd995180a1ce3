"""session_created, session_revoked and session_client_changed: sent from every path, once per event."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.dispatch import Signal
from django.test import AsyncClient, Client

from qsessions.models import Session
from qsessions.signals import session_client_changed, session_created, session_revoked
from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS, SAFARI_MAC, log_out, make_user, session_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append({"sender": sender, **kwargs})

    @property
    def reasons(self) -> list[str]:
        return [call["reason"] for call in self.calls]


def _listen(signal: Signal) -> Iterator[Receiver]:
    receiver = Receiver()
    signal.connect(receiver)
    yield receiver
    signal.disconnect(receiver)


@pytest.fixture
def created() -> Iterator[Receiver]:
    yield from _listen(session_created)


@pytest.fixture
def revoked() -> Iterator[Receiver]:
    yield from _listen(session_revoked)


@pytest.fixture
def client_changed() -> Iterator[Receiver]:
    yield from _listen(session_client_changed)


# -- session_created -----------------------------------------------------------------------------------------


def test_created_once_per_new_session(engine: str, created: Receiver) -> None:
    client = Client(HTTP_USER_AGENT=CHROME_ANDROID)
    client.get("/write/")
    assert len(created.calls) == 1
    call = created.calls[0]
    assert call["sender"] is Session
    assert call["request"] is None
    session = call["session"]
    assert session.public_id == session_of(client).public_id
    assert session.user_agent == CHROME_ANDROID
    assert session.created_at == session.last_activity
    client.get("/write/?value=2")
    client.get("/read/")
    assert len(created.calls) == 1


def test_created_on_async_paths(engine: str, created: Receiver) -> None:
    client = AsyncClient()
    async_to_sync(client.get)("/awrite/")
    async_to_sync(client.get)("/awrite/?value=2")
    assert len(created.calls) == 1
    store = import_module(engine).SessionStore()
    async_to_sync(store.acreate)()
    assert len(created.calls) == 2
    assert created.calls[1]["session"].session_key == store.session_key


def test_created_once_per_login(engine: str, created: Receiver) -> None:
    make_user()
    signed_in("alice")
    assert len(created.calls) == 1
    assert created.calls[0]["session"].created_at is not None


# -- session_client_changed ----------------------------------------------------------------------------------


def test_client_change_is_reported_once(engine: str, client_changed: Receiver) -> None:
    make_user()
    client = signed_in("alice", FIREFOX_WINDOWS, ip="198.51.100.1")
    client.get("/read/")
    assert client_changed.calls == []
    # The same cookie, now from another browser and address: a stolen session, perhaps.
    client.defaults.update(HTTP_USER_AGENT=CHROME_ANDROID, REMOTE_ADDR="203.0.113.5")
    assert client.get("/read/").json()["user"] == "alice"
    assert len(client_changed.calls) == 1
    call = client_changed.calls[0]
    assert (call["old_ip"], call["new_ip"]) == ("198.51.100.1", "203.0.113.5")
    assert (call["old_user_agent"], call["new_user_agent"]) == (FIREFOX_WINDOWS, CHROME_ANDROID)
    assert call["session"].public_id == session_of(client).public_id
    assert call["session"].user_id is not None
    client.get("/read/")
    client.get("/write/")
    assert len(client_changed.calls) == 1
    row = session_of(client)
    assert (row.ip, row.user_agent) == ("203.0.113.5", CHROME_ANDROID)


def test_ip_change_alone_is_reported(engine: str, client_changed: Receiver) -> None:
    client = Client(HTTP_USER_AGENT=SAFARI_MAC, REMOTE_ADDR="192.0.2.1")
    client.get("/write/")
    client.defaults["REMOTE_ADDR"] = "192.0.2.2"
    client.get("/read/")
    assert [(c["old_ip"], c["new_ip"], c["old_user_agent"], c["new_user_agent"]) for c in client_changed.calls] == [
        ("192.0.2.1", "192.0.2.2", SAFARI_MAC, SAFARI_MAC)
    ]


def test_async_client_change_is_reported_once(engine: str, client_changed: Receiver) -> None:
    # AsyncClient ignores headers given to its constructor: they go with each request.
    client = AsyncClient()
    async_to_sync(client.get)("/awrite/", headers={"user-agent": SAFARI_MAC})
    assert session_of(client).user_agent == SAFARI_MAC
    async_to_sync(client.get)("/aread/", headers={"user-agent": CHROME_ANDROID})
    async_to_sync(client.get)("/aread/", headers={"user-agent": CHROME_ANDROID})
    assert [c["new_user_agent"] for c in client_changed.calls] == [CHROME_ANDROID]


def test_a_client_that_sends_nothing_is_no_change(engine: str, client_changed: Receiver) -> None:
    client = Client(HTTP_USER_AGENT=SAFARI_MAC)
    client.get("/write/")
    del client.defaults["HTTP_USER_AGENT"]
    client.get("/write/?value=y")
    assert client_changed.calls == []
    assert session_of(client).user_agent == SAFARI_MAC


def test_a_session_first_seen_with_a_client_is_no_change(engine: str, client_changed: Receiver) -> None:
    store = import_module(engine).SessionStore()
    store["value"] = 1
    store.save()
    key = store.session_key
    with_client = import_module(engine).SessionStore(key, user_agent=SAFARI_MAC, ip="192.0.2.9")
    with_client.load()
    with_client.save()
    assert client_changed.calls == []
    assert Session.objects.get(pk=key).ip == "192.0.2.9"


# -- session_revoked -----------------------------------------------------------------------------------------


def test_revoked_by_the_user_on_the_page(engine: str, revoked: Receiver) -> None:
    make_user()
    laptop = signed_in("alice")
    phone = signed_in("alice", CHROME_ANDROID)
    target = session_of(phone)
    laptop.post(f"/account/sessions/{target.public_id}/revoke/")
    assert revoked.reasons == ["user"]
    assert revoked.calls[0]["session"].public_id == target.public_id
    assert revoked.calls[0]["request"] is not None
    laptop.post(f"/account/sessions/{session_of(laptop).public_id}/revoke/")  # and the current one: no "logout" too
    assert revoked.reasons == ["user", "user"]


def test_revoked_other_sessions_through_the_api(engine: str, revoked: Receiver) -> None:
    make_user()
    laptop = signed_in("alice")
    signed_in("alice", CHROME_ANDROID)
    signed_in("alice", SAFARI_MAC)
    laptop.post("/account/sessions/api/sessions/revoke-others/")
    assert revoked.reasons == ["other-sessions", "other-sessions"]


def test_revoked_by_an_admin(engine: str, revoked: Receiver) -> None:
    get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    make_user()
    phone = signed_in("alice", CHROME_ANDROID)
    admin = Client()
    admin.login(username="root", password="pw")
    target = session_of(phone).public_id
    response = admin.post(f"/admin/qsessions/session/{target}/delete/")
    assert response.status_code == 302
    assert revoked.reasons == ["admin"]


@pytest.mark.parametrize("path", ["/logout/", "/alogout/"], ids=["sync", "async"])
def test_revoked_on_logout(engine: str, revoked: Receiver, path: str) -> None:
    make_user()
    client = signed_in("alice")
    public_id = session_of(client).public_id
    log_out(client, path)
    assert revoked.reasons == ["logout"]
    assert revoked.calls[0]["session"].public_id == public_id
    assert not Session.objects.filter(public_id=public_id).exists()


def test_logout_without_listeners_still_deletes(engine: str) -> None:
    make_user()
    client = signed_in("alice")
    key = client.cookies["sessionid"].value
    client.get("/logout/")
    assert not Session.objects.filter(pk=key).exists()


def test_revoked_when_the_password_changes(engine: str, revoked: Receiver) -> None:
    user = make_user()
    signed_in("alice")
    signed_in("alice", CHROME_ANDROID)
    user.set_password("another")
    user.save()
    assert revoked.reasons == ["password-change", "password-change"]


def test_revoked_by_the_session_limit(engine: str, revoked: Receiver, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 1
    make_user()
    first = signed_in("alice")
    signed_in("alice", CHROME_ANDROID)
    assert revoked.reasons == ["limit"]
    assert revoked.calls[0]["session"].public_id not in {s.public_id for s in Session.objects.all()}
    assert first.get("/read/").json()["user"] is None


def test_created_once_per_async_login(engine: str, created: Receiver) -> None:
    make_user()
    client = AsyncClient()
    async_to_sync(client.get)("/awrite/")
    async_to_sync(client.get)("/alogin/", {"username": "alice"})
    # The anonymous session, then the signed-in one under its new key.
    assert len(created.calls) == 2
    assert created.calls[1]["session"].session_key == client.cookies["sessionid"].value


def test_revoked_once_per_session_by_the_async_functions(engine: str, revoked: Receiver) -> None:
    from qsessions.revocation import arevoke, arevoke_all, arevoke_sessions

    user = make_user()
    clients = [signed_in("alice", agent) for agent in (FIREFOX_WINDOWS, CHROME_ANDROID, SAFARI_MAC)]
    first, second, third = (session_of(client) for client in clients)
    assert async_to_sync(arevoke)(first, "user") is True
    assert async_to_sync(arevoke)(first, "user") is False  # already gone: no second signal
    assert async_to_sync(arevoke_sessions)(Session.objects.filter(pk=second.pk), "admin") == 1
    assert async_to_sync(arevoke_all)(user, "other-sessions", keep=third.pk) == 0
    assert async_to_sync(arevoke_all)(user, "password-change") == 1
    assert revoked.reasons == ["user", "admin", "password-change"]
    assert [call["session"].public_id for call in revoked.calls] == [s.public_id for s in (first, second, third)]
