"""QSESSIONS_MAX_SESSIONS_PER_USER holds on every login path (cycled key, flushed session, async), under
either policy, with a per-user override; impersonations (django-hijack) never count and never look like
the target's own session."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client

from qsessions.lifecycle import MESSAGES
from qsessions.models import END_LIMIT, END_LIMIT_REFUSED, EndedSession, Session, make_public_id
from qsessions.signals import session_client_changed
from tests.helpers import CHROME_UA, FIREFOX_WINDOWS, IPHONE_UA, SAFARI_MAC, make_user, session_key_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def active(username: str) -> int:
    count: int = Session.objects.active().filter(user__username=username).count()
    return count


def whoami(client: Client) -> dict[str, Any]:
    data: dict[str, Any] = client.get("/whoami/").json()
    return data


def switch_user(client: Client, username: str) -> None:
    """Sign ``username`` in on a browser where someone else is signed in: login() flushes the session."""
    assert client.get("/login/", {"username": username}).status_code == 200


def test_the_limit_holds_when_login_flushes_another_users_session(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 1
    make_user()
    make_user("bob")
    phone = signed_in("alice", user_agent=IPHONE_UA)
    phone_key = session_key_of(phone)
    shared_pc = signed_in("bob", user_agent=CHROME_UA)
    switch_user(shared_pc, "alice")
    assert whoami(shared_pc)["user"] == "alice"
    assert active("alice") == 1
    # The evicted phone is told why, once.
    assert whoami(phone) == {"user": None, "messages": [str(MESSAGES[END_LIMIT])]}
    assert EndedSession.objects.get(public_id=make_public_id(phone_key)).reason == END_LIMIT


def test_the_limit_holds_on_a_cycled_key_and_with_more_room(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 2
    make_user()
    make_user("bob")
    first = signed_in("alice", user_agent=IPHONE_UA)
    signed_in("alice", user_agent=SAFARI_MAC)
    shared_pc = signed_in("bob")
    switch_user(shared_pc, "alice")
    signed_in("alice", user_agent=FIREFOX_WINDOWS)
    assert active("alice") == 2
    assert whoami(first)["user"] is None


def _alogin(client: AsyncClient, username: str) -> None:
    assert async_to_sync(client.get)("/alogin/", {"username": username}).status_code == 200


def test_the_limit_holds_on_async_logins_including_the_flush_path(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 1
    make_user()
    make_user("bob")
    phone = AsyncClient()
    _alogin(phone, "alice")
    shared = AsyncClient()
    _alogin(shared, "bob")
    _alogin(shared, "alice")
    assert active("alice") == 1
    body = async_to_sync(phone.get)("/awhoami/").json()
    assert body == {"user": None, "messages": [str(MESSAGES[END_LIMIT])]}
    tablet = AsyncClient()
    _alogin(tablet, "alice")
    assert active("alice") == 1
    assert async_to_sync(tablet.get)("/awhoami/").json()["user"] == "alice"


def test_refuse_keeps_the_existing_sessions_and_tells_the_new_browser(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 1
    settings.QSESSIONS_SESSION_LIMIT_POLICY = "refuse"
    make_user()
    make_user("bob")
    phone = signed_in("alice", user_agent=IPHONE_UA)
    laptop = Client(HTTP_USER_AGENT=CHROME_UA)
    laptop.get("/login/", {"username": "alice"})
    assert whoami(laptop) == {"user": None, "messages": [str(MESSAGES[END_LIMIT_REFUSED])]}
    assert whoami(phone)["user"] == "alice"
    assert active("alice") == 1
    shared_pc = signed_in("bob")  # the flush path is refused too
    switch_user(shared_pc, "alice")
    assert whoami(shared_pc)["user"] is None
    assert active("alice") == 1
    assert EndedSession.objects.filter(reason=END_LIMIT_REFUSED).count() == 2


def test_refuse_lets_a_sign_in_with_room_through(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 2
    settings.QSESSIONS_SESSION_LIMIT_POLICY = "refuse"
    make_user()
    first, second = signed_in("alice"), signed_in("alice", user_agent=IPHONE_UA)
    assert whoami(first)["user"] == whoami(second)["user"] == "alice"
    assert not EndedSession.objects.exists()


def unlimited_service_accounts(user: Any) -> int | None:
    return None if user.username.startswith("svc-") else 1


@pytest.mark.parametrize(
    "override", [unlimited_service_accounts, "tests.test_session_limits.unlimited_service_accounts"]
)
def test_a_per_user_override_exempts_service_accounts(engine: str, settings: Any, override: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_FOR_USER = override
    make_user()
    make_user("svc-backup")
    for _ in range(3):
        signed_in("svc-backup")
        signed_in("alice")
    assert active("svc-backup") == 3
    assert active("alice") == 1


# -- impersonation (django-hijack) -----------------------------------------------------------------------


def _hijack(staff: Client, username: str) -> None:
    assert staff.get("/hijack/", {"username": username}).status_code == 200


def test_an_impersonation_never_counts_never_evicts_and_records_the_impersonator(engine: str, settings: Any) -> None:
    settings.QSESSIONS_MAX_SESSIONS_PER_USER = 1
    root = get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    make_user()
    phone = signed_in("alice", user_agent=IPHONE_UA)
    staff = signed_in("root", user_agent=FIREFOX_WINDOWS, ip="10.0.0.9")
    _hijack(staff, "alice")
    assert whoami(staff)["user"] == "alice"
    assert whoami(phone)["user"] == "alice"  # not evicted by the impersonation
    impersonation = Session.objects.get(pk=session_key_of(staff))
    assert impersonation.impersonator_id == root.pk
    # alice's own next sign-in does not count the impersonation: it evicts nothing but her phone's room
    laptop = signed_in("alice", user_agent=SAFARI_MAC)
    assert whoami(laptop)["user"] == "alice"
    assert Session.objects.active().filter(user__username="alice", impersonator__isnull=True).count() == 1
    assert whoami(staff)["user"] == "alice"  # the impersonation goes on

    page = laptop.get("/account/sessions/").content.decode()
    assert page.count("Staff member signed in as you") == 1
    listed = laptop.get("/account/sessions/api/sessions/").json()["sessions"]
    assert sorted(item["impersonated"] for item in listed) == [False, True]

    admin = Client()
    admin.force_login(root)
    assert "Impersonated by \u2068root\u2069" in admin.get("/admin/qsessions/session/").content.decode()


def test_an_impersonators_client_is_not_reported_as_the_targets_change(engine: str) -> None:
    get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    make_user()
    heard: list[Any] = []

    def receiver(sender: Any, session: Any, **kwargs: Any) -> None:
        heard.append(session.user_id)

    staff = signed_in("root", ip="10.0.0.9")
    _hijack(staff, "alice")
    staff.defaults["REMOTE_ADDR"] = "10.0.0.77"
    session_client_changed.connect(receiver)
    try:
        staff.get("/write/?value=y")
        alice = signed_in("alice", ip="192.0.2.1")
        alice.defaults["REMOTE_ADDR"] = "192.0.2.2"
        alice.get("/write/?value=z")
    finally:
        session_client_changed.disconnect(receiver)
    assert heard == [Session.objects.get(pk=session_key_of(alice)).user_id]  # alice's own change only


def test_the_history_of_an_impersonation_names_the_impersonator(engine: str) -> None:
    root = get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    make_user()
    staff = signed_in("root")
    _hijack(staff, "alice")
    key = session_key_of(staff)
    staff.get("/logout/")
    record = EndedSession.objects.get(public_id=make_public_id(key))
    assert (record.user.get_username(), record.impersonator_id) == ("alice", root.pk)


@pytest.mark.parametrize("hijacker", ["99999", "not-a-number"])
def test_a_bogus_impersonator_in_the_session_is_ignored(engine: str, hijacker: str) -> None:
    make_user()
    client = Client()
    assert client.get("/hijack/", {"username": "alice", "hijacker": hijacker}).status_code == 200
    assert whoami(client)["user"] == "alice"
    assert Session.objects.get(pk=session_key_of(client)).impersonator_id is None
