"""How sessions end (qsessions.lifecycle): idle and absolute timeouts, the history of ended sessions, and
the signed-out browser told why, once, for every reason."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qsessions.cache import Found, lookup, session_cache
from qsessions.lifecycle import MESSAGES
from qsessions.models import (
    END_ADMIN,
    END_EXPIRED,
    END_IDLE,
    END_LIFETIME,
    END_LIMIT,
    END_LOGOUT,
    END_OTHER_SESSIONS,
    END_PASSWORD_CHANGE,
    END_USER,
    EndedSession,
    Session,
    make_public_id,
)
from qsessions.revocation import REASON_ADMIN, revoke_all, revoke_sessions
from qsessions.signals import session_end_reported
from tests.helpers import CHROME_UA, IPHONE_UA, make_user, session_key_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

IDLE = {"QSESSIONS_IDLE_TIMEOUT": 600, "QSESSIONS_ACTIVITY_INTERVAL": 60}


@contextmanager
def later(minutes: float) -> Iterator[None]:
    """Pretend that ``minutes`` have passed, for django.utils.timezone and time.time()."""
    then = timezone.now() + datetime.timedelta(minutes=minutes)
    with (
        mock.patch("django.utils.timezone.now", return_value=then),
        mock.patch("time.time", return_value=then.timestamp()),
    ):
        yield


def whoami(client: Client) -> dict[str, Any]:
    response = client.get("/whoami/")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def cookie_gone(client: Client | AsyncClient) -> bool:
    morsel = client.cookies.get("sessionid")
    return morsel is None or morsel.value == ""


def ended(key: str) -> EndedSession:
    return EndedSession.objects.get(public_id=make_public_id(key))


# -- idle and absolute timeouts ------------------------------------------------------------------------------


def test_an_idle_session_ends_on_its_next_request_and_says_why(engine: str, settings: Any) -> None:
    settings.QSESSIONS_IDLE_TIMEOUT = 600
    make_user()
    client = signed_in("alice", user_agent=IPHONE_UA, ip="203.0.113.9")
    key = session_key_of(client)
    with later(9):
        assert whoami(client) == {"user": "alice", "messages": []}
    with later(9 + 9):  # 9 minutes after the last use: still in
        assert whoami(client)["user"] == "alice"
    with later(18 + 11):
        assert whoami(client) == {"user": None, "messages": [str(MESSAGES[END_IDLE])]}
        assert cookie_gone(client)
        assert not Session.objects.filter(pk=key).exists()
        assert not isinstance(lookup(session_cache(), key), Found)
        record = ended(key)
        assert (record.reason, record.told, record.ip) == (END_IDLE, True, "203.0.113.9")
        assert record.user_agent == IPHONE_UA
        # Told once: the old cookie, sent again (a tab that did not get the response), says nothing more.
        client.cookies["sessionid"] = key
        assert whoami(client) == {"user": None, "messages": []}


def test_the_absolute_lifetime_ends_even_a_busy_session(engine: str, settings: Any) -> None:
    settings.QSESSIONS_ABSOLUTE_TIMEOUT = datetime.timedelta(hours=1)
    make_user()
    client = signed_in("alice")
    key = session_key_of(client)
    for minutes in range(5, 60, 5):
        with later(minutes):
            assert whoami(client)["user"] == "alice"
    with later(61):
        assert whoami(client) == {"user": None, "messages": [str(MESSAGES[END_LIFETIME])]}
    assert ended(key).reason == END_LIFETIME


def test_signing_in_in_an_old_anonymous_session_starts_the_lifetime_afresh(engine: str, settings: Any) -> None:
    settings.QSESSIONS_ABSOLUTE_TIMEOUT = 3600
    make_user()
    client = Client()
    client.get("/write/?value=cart")
    with later(300):
        assert client.get("/login/", {"username": "alice"}).status_code == 200
        assert whoami(client)["user"] == "alice"
        assert client.get("/read/").json()["value"] == "cart"


def test_async_requests_end_timed_out_sessions_too(engine: str, settings: Any) -> None:
    settings.QSESSIONS_IDLE_TIMEOUT = 600
    make_user()
    client = AsyncClient()
    assert async_to_sync(client.get)("/alogin/", {"username": "alice"}).status_code == 200
    key = client.cookies["sessionid"].value
    with later(5):
        assert async_to_sync(client.get)("/awhoami/").json()["user"] == "alice"
    with later(20):
        body = async_to_sync(client.get)("/awhoami/").json()
    assert body == {"user": None, "messages": [str(MESSAGES[END_IDLE])]}
    assert cookie_gone(client)
    assert ended(key).reason == END_IDLE


def test_sessions_without_an_owner_never_time_out(engine: str, settings: Any) -> None:
    settings.QSESSIONS_IDLE_TIMEOUT = 600
    settings.QSESSIONS_ABSOLUTE_TIMEOUT = 900
    client = Client()
    client.get("/write/?value=cart")
    with later(60 * 24):
        assert client.get("/read/").json()["value"] == "cart"
    assert not EndedSession.objects.exists()


def test_a_cached_read_stays_free_with_timeouts_on(cached_engine: str, settings: Any) -> None:
    settings.QSESSIONS_IDLE_TIMEOUT = 600
    settings.QSESSIONS_ABSOLUTE_TIMEOUT = 3600
    make_user()
    client = signed_in("alice")
    whoami(client)
    with CaptureQueriesContext(connection) as queries:
        assert whoami(client)["user"] == "alice"
    # django.contrib.auth reads the user; the session itself costs nothing.
    assert not [q for q in queries.captured_queries if "qsessions" in q["sql"]]


def test_ending_an_idle_session_costs_its_delete_and_its_record(engine: str, settings: Any) -> None:
    settings.QSESSIONS_IDLE_TIMEOUT = 600
    make_user()
    client = signed_in("alice")
    whoami(client)
    with later(11), CaptureQueriesContext(connection) as queries:
        assert whoami(client)["user"] is None
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries if "qsessions" in q["sql"]]
    reads = [] if engine.endswith("cached_db") else ["SELECT"]
    assert statements == [*reads, "DELETE", "INSERT"]


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("QSESSIONS_IDLE_TIMEOUT", 0, "qsessions.E060"),
        ("QSESSIONS_IDLE_TIMEOUT", "600", "qsessions.E060"),
        ("QSESSIONS_ABSOLUTE_TIMEOUT", -1, "qsessions.E061"),
        ("QSESSIONS_ABSOLUTE_TIMEOUT", True, "qsessions.E061"),
        ("QSESSIONS_HISTORY_RETENTION", "30 days", "qsessions.E062"),
        ("QSESSIONS_HISTORY_RETENTION", datetime.timedelta(days=-1), "qsessions.E062"),
        ("QSESSIONS_IDLE_TIMEOUT", 60, "qsessions.E063"),  # not longer than the activity interval
        ("QSESSIONS_MAX_SESSIONS_FOR_USER", 3, "qsessions.E023"),
        ("QSESSIONS_MAX_SESSIONS_FOR_USER", "no.such.callable", "qsessions.E023"),
        ("QSESSIONS_SESSION_LIMIT_POLICY", "oldest", "qsessions.E024"),
    ],
)
def test_bad_settings_are_reported(settings: Any, name: str, value: Any, check_id: str) -> None:
    setattr(settings, name, value)
    assert check_id in [message.id for message in run_checks()]


@pytest.mark.parametrize(
    "overrides",
    [
        {"QSESSIONS_IDLE_TIMEOUT": 61},
        {"QSESSIONS_IDLE_TIMEOUT": datetime.timedelta(minutes=30), "QSESSIONS_ABSOLUTE_TIMEOUT": 86400},
        {"QSESSIONS_HISTORY_RETENTION": None},
        {"QSESSIONS_HISTORY_RETENTION": 0},
        {"QSESSIONS_MAX_SESSIONS_FOR_USER": "tests.test_session_limits.unlimited_service_accounts"},
        {"QSESSIONS_SESSION_LIMIT_POLICY": "refuse"},
    ],
)
def test_good_settings_pass(settings: Any, overrides: dict[str, Any]) -> None:
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert not [m.id for m in run_checks() if (m.id or "").startswith(("qsessions.E06", "qsessions.E02"))]


# -- every end: a record with its reason, and the browser told why ----------------------------------------


def _by_the_user(victim: Client, owner: Client) -> None:
    public_id = make_public_id(session_key_of(victim))
    assert owner.post(f"/account/sessions/{public_id}/revoke/").status_code == 302


def _all_others(victim: Client, owner: Client) -> None:
    assert owner.post("/account/sessions/others/revoke/").status_code == 302


def _by_an_admin(victim: Client, owner: Client) -> None:
    revoke_sessions(Session.objects.filter(pk=session_key_of(victim)), REASON_ADMIN)


def _password_change(victim: Client, owner: Client) -> None:
    assert owner.get("/password/?keep=1").status_code == 200


def _limit(victim: Client, owner: Client) -> None:
    from django.test import override_settings

    with override_settings(QSESSIONS_MAX_SESSIONS_PER_USER=2):
        signed_in("alice", user_agent=CHROME_UA)  # a third sign-in evicts the least recently active


def _expired(victim: Client, owner: Client) -> None:
    Session.objects.filter(pk=session_key_of(victim)).update(expire_date=timezone.now() - datetime.timedelta(1))
    call_command("clearsessions")


ENDS: list[tuple[Callable[[Client, Client], None], str]] = [
    (_by_the_user, END_USER),
    (_all_others, END_OTHER_SESSIONS),
    (_by_an_admin, END_ADMIN),
    (_password_change, END_PASSWORD_CHANGE),
    (_limit, END_LIMIT),
    (_expired, END_EXPIRED),
]


@pytest.mark.parametrize(("end", "reason"), ENDS, ids=[reason for _, reason in ENDS])
def test_every_end_is_recorded_and_the_browser_is_told_why_once(
    engine: str, end: Callable[[Client, Client], None], reason: str
) -> None:
    make_user()
    victim = signed_in("alice", user_agent=IPHONE_UA, ip="198.51.100.4")
    key = session_key_of(victim)
    with later(2):
        owner = signed_in("alice")
    with later(3):
        end(victim, owner)
    record = ended(key)
    assert (record.reason, record.told, record.user.get_username()) == (reason, False, "alice")
    assert (record.ip, record.user_agent) == ("198.51.100.4", IPHONE_UA)
    assert record.created_at is not None
    with later(4):
        assert whoami(victim) == {"user": None, "messages": [str(MESSAGES[reason])]}
    assert cookie_gone(victim)
    assert ended(key).told
    victim.cookies["sessionid"] = key  # the stale cookie once more: told already
    with later(5):
        assert whoami(victim) == {"user": None, "messages": []}
    assert whoami(owner)["user"] == "alice"


def test_signing_out_is_recorded_and_not_announced(engine: str) -> None:
    make_user()
    client = signed_in("alice")
    key = session_key_of(client)
    assert client.get("/logout/").status_code == 200
    record = ended(key)
    assert (record.reason, record.told) == (END_LOGOUT, True)
    client.cookies["sessionid"] = key
    assert whoami(client) == {"user": None, "messages": []}


def test_a_hook_hears_the_reason(engine: str) -> None:
    heard: list[tuple[str, str]] = []

    def receiver(sender: Any, request: Any, reason: str, message: str, public_id: str, **kwargs: Any) -> None:
        heard.append((reason, public_id))

    make_user()
    victim = signed_in("alice")
    key = session_key_of(victim)
    revoke_sessions(Session.objects.filter(pk=key), REASON_ADMIN)
    session_end_reported.connect(receiver)
    try:
        whoami(victim)
    finally:
        session_end_reported.disconnect(receiver)
    assert heard == [(END_ADMIN, make_public_id(key))]


def test_a_request_without_a_stale_cookie_asks_nothing_more(engine: str, django_assert_num_queries: Any) -> None:
    make_user()
    client = signed_in("alice")
    whoami(client)
    fresh = Client()
    with django_assert_num_queries(0):
        assert whoami(fresh) == {"user": None, "messages": []}


def test_an_unknown_cookie_costs_one_statement_and_says_nothing(engine: str) -> None:
    client = Client()
    client.cookies["sessionid"] = "a" * 32
    with CaptureQueriesContext(connection) as queries:
        assert whoami(client) == {"user": None, "messages": []}
    assert len([q for q in queries.captured_queries if "qsessions_endedsession" in q["sql"]]) == 1


# -- the history: privacy, retention, bulk, the user's pages --------------------------------------------------


def test_the_history_keeps_what_the_privacy_settings_in_force_allow(engine: str, settings: Any) -> None:
    make_user()
    victim = signed_in("alice", ip="198.51.100.4")
    settings.QSESSIONS_IP_STORAGE = "none"
    settings.QSESSIONS_STORE_USER_AGENT = False
    revoke_all(get_user_model()._default_manager.get(), REASON_ADMIN)
    record = ended(session_key_of(victim))
    assert (record.ip, record.user_agent) == (None, None)


def test_a_zero_retention_records_nothing(engine: str, settings: Any) -> None:
    settings.QSESSIONS_HISTORY_RETENTION = 0
    make_user()
    signed_in("alice")
    revoke_all(get_user_model()._default_manager.get(), REASON_ADMIN)
    assert not EndedSession.objects.exists()


def test_clearsessions_deletes_history_past_its_retention(engine: str, settings: Any) -> None:
    settings.QSESSIONS_HISTORY_RETENTION = datetime.timedelta(days=30)
    alice = make_user()
    signed_in("alice")
    revoke_all(alice, REASON_ADMIN)
    with later(60 * 24 * 29):
        signed_in("alice")
        revoke_all(alice, REASON_ADMIN)
    with later(60 * 24 * 31):
        out = StringIO()
        call_command("clearsessions", verbosity=2, stdout=out)
        assert EndedSession.objects.count() == 1
    assert "Deleted 1 ended-session record(s)" in out.getvalue()
    settings.QSESSIONS_HISTORY_RETENTION = None
    with later(60 * 24 * 365):
        call_command("clearsessions")
    assert EndedSession.objects.count() == 1


def test_deleting_the_user_deletes_their_history(engine: str) -> None:
    alice, bob = make_user(), make_user("bob")
    signed_in("alice")
    signed_in("bob")
    revoke_all(alice, REASON_ADMIN)
    revoke_all(bob, REASON_ADMIN)
    alice.delete()
    assert list(EndedSession.objects.values_list("user__username", flat=True)) == ["bob"]


def _inserts(queries: CaptureQueriesContext) -> int:
    return len([q for q in queries.captured_queries if q["sql"].upper().startswith("INSERT")])


def _most_inserts(rows: int) -> int:
    fields = [f for f in EndedSession._meta.concrete_fields if not f.primary_key]
    batch = connection.ops.bulk_batch_size(fields, [EndedSession()] * rows) or rows
    return math.ceil(rows / batch)


def test_revoking_a_thousand_sessions_records_them_in_bulk(engine: str) -> None:
    alice = make_user()
    now = timezone.now()
    Session.objects.bulk_create(
        [
            Session(
                session_key=f"k{n:031d}",
                public_id=make_public_id(f"k{n:031d}"),
                session_data="x",
                user=alice,
                ip="192.0.2.1",
                created_at=now,
                expire_date=now + datetime.timedelta(days=1),
            )
            for n in range(1000)
        ]
    )
    with CaptureQueriesContext(connection) as queries:
        assert revoke_all(alice, REASON_ADMIN) == 1000
    assert EndedSession.objects.filter(reason=END_ADMIN).count() == 1000
    assert _inserts(queries) <= _most_inserts(1000)
    assert len(queries.captured_queries) <= 2 + _most_inserts(1000) + 4  # SELECT, DELETE(s), INSERT(s), savepoints


def test_clearsessions_records_expired_sessions_in_bulk_at_their_expiry(engine: str, monkeypatch: Any) -> None:
    from qsessions import models

    monkeypatch.setattr(models, "CLEAR_EXPIRED_BATCH_SIZE", 300)
    alice = make_user()
    expiry = timezone.now() - datetime.timedelta(hours=1)
    Session.objects.bulk_create(
        [
            Session(session_key=f"e{n:031d}", session_data="x", user=alice if n % 2 else None, expire_date=expiry)
            for n in range(1000)
        ]
    )
    with CaptureQueriesContext(connection) as queries:
        call_command("clearsessions")
    assert not Session.objects.exists()
    records = EndedSession.objects.all()
    assert records.count() == 500  # signed-in sessions only
    assert {record.ended_at for record in records} == {expiry}
    assert _inserts(queries) <= 4 * _most_inserts(150)  # one bulk insert per batch of 300 (150 signed in)


def test_your_sessions_lists_recently_signed_out_ones(engine: str) -> None:
    make_user()
    victim = signed_in("alice", user_agent=IPHONE_UA, ip="198.51.100.4")
    owner = signed_in("alice")
    _by_the_user(victim, owner)
    page = owner.get("/account/sessions/").content.decode()
    assert "Recently signed out" in page
    assert "Signed out from another device" in page
    assert "198.51.100.4" in page
    assert session_key_of(victim) not in page
    body = owner.get("/account/sessions/api/sessions/ended/").json()
    [item] = body["ended_sessions"]
    assert item["id"] == make_public_id(session_key_of(victim))
    assert (item["reason"], item["reason_label"], item["ip"]) == (
        END_USER,
        "Signed out from another device",
        "198.51.100.4",
    )
    assert item["device"] and item["ended_at"] and item["created_at"]
    assert session_key_of(victim) not in str(body)


def test_nobody_sees_anyone_elses_history(engine: str) -> None:
    make_user()
    make_user("bob")
    signed_in("alice")
    revoke_all(get_user_model()._default_manager.get(username="alice"), REASON_ADMIN)
    bob = signed_in("bob")
    assert bob.get("/account/sessions/api/sessions/ended/").json() == {"ended_sessions": []}
    assert "Recently signed out" not in bob.get("/account/sessions/").content.decode()


def test_the_admin_shows_the_history_read_only(engine: str) -> None:
    get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    make_user()
    victim = signed_in("alice")
    key = session_key_of(victim)
    revoke_all(get_user_model()._default_manager.get(username="alice"), REASON_ADMIN)
    admin = Client()
    admin.force_login(get_user_model()._default_manager.get(username="root"))
    listing = admin.get("/admin/qsessions/endedsession/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Signed out by an administrator" in page and make_public_id(key) in page
    assert key not in page
    record = ended(key)
    detail = admin.get(f"/admin/qsessions/endedsession/{record.pk}/change/")
    assert detail.status_code == 200 and key not in detail.content.decode()
    assert admin.post(f"/admin/qsessions/endedsession/{record.pk}/delete/").status_code == 403
    assert admin.get("/admin/qsessions/endedsession/add/").status_code == 403
