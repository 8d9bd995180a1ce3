"""The session cache's entries: any session data round-trips, entries that cannot be trusted are checked
against the database once and never raise, and a malformed session key never reaches a query."""

from __future__ import annotations

import datetime
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qsessions.backends.cached_db import SessionStore
from qsessions.cache import (
    KEY_PREFIX,
    REVOKED,
    Found,
    SessionRow,
    entry_key,
    lookup,
    make_entry,
    read_entry,
    session_cache,
)
from qsessions.models import Session
from tests.helpers import CHROME_UA, data_statements, make_user, session_key_of, signed_in_client

pytestmark = pytest.mark.django_db


def test_session_data_using_the_old_reserved_keys_round_trips(cached_engine: str) -> None:
    data = {"_qsessions_user_id": "mine", "_qsessions_created_at": [1, 2], "_qsessions_last_activity": None}
    store = SessionStore()
    store.update(data)
    store.save()
    assert SessionStore(store.session_key).load() == data  # from the cache
    caches["default"].clear()
    assert SessionStore(store.session_key).load() == data  # from the database


@pytest.mark.parametrize(
    "legacy",
    [
        # django-qsessions 2.x: the data with the client under two reserved keys, no owner, no expiry.
        {"_auth_user_id": "1", "_qsessions_ip": "203.0.113.7", "_qsessions_user_agent": CHROME_UA},
        # qsessions before 3.0: the data with seven reserved keys.
        {
            "_auth_user_id": "1",
            "_qsessions_ip": "203.0.113.7",
            "_qsessions_user_agent": CHROME_UA,
            "_qsessions_created_at": None,
            "_qsessions_client_hints": None,
            "_qsessions_last_activity": None,
            "_qsessions_expire_date": None,
            "_qsessions_user_id": 1,
        },
    ],
    ids=["2.x", "3.0.dev"],
)
def test_an_entry_whose_row_was_deleted_behind_the_cache_signs_nobody_in(cached_engine: str, legacy: Any) -> None:
    """Raw SQL, or bulk deletes made under django-qsessions 2.x (which never cleared the cache)."""
    alice = make_user()
    client = signed_in_client()
    key = session_key_of(client)
    legacy = {**legacy, "_auth_user_id": str(alice.pk), "_auth_user_backend": settings.AUTHENTICATION_BACKENDS[0]}
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Session._meta.db_table}")
    caches["default"].set(KEY_PREFIX + key, legacy)
    assert client.get("/read/").json()["user"] is None
    # Checked once: the entry is now a tombstone, which the next request reads without a query.
    assert caches["default"].get(KEY_PREFIX + key) == REVOKED


def test_an_entry_of_a_live_session_written_by_2x_is_replaced_once(
    cached_engine: str, django_assert_num_queries: Any
) -> None:
    make_user()
    client = signed_in_client()
    key = session_key_of(client)
    row = Session.objects.get(pk=key)
    caches["default"].set(KEY_PREFIX + key, {**row.get_decoded(), "_qsessions_ip": "203.0.113.7"})
    assert client.get("/session/").status_code == 200
    found = read_entry(caches["default"].get(KEY_PREFIX + key))
    assert isinstance(found, Found) and found.row.user_id == row.user_id
    with django_assert_num_queries(0):
        assert client.get("/session/").status_code == 200


@pytest.mark.parametrize(
    "crafted",
    [
        (3, {"_auth_user_id": "1"}, ([1, 2], None, None, None, None, None, None)),  # an unhashable owner
        (3, {"_auth_user_id": "1"}, (None, 5, None, None, None, None, None)),  # an IP that is no string
        (3, {"_auth_user_id": "1"}, (None, None, None, None, None, float("nan"), None)),
        (3, ["not", "a", "dict"], (None,) * 7),
        (3, {}, (None,) * 6),
        (99, {}, (None,) * 7),
        "a string",
        12,
        {1: 2},
    ],
)
def test_crafted_entries_are_never_an_error(cached_engine: str, crafted: Any) -> None:
    alice = make_user()
    client = signed_in_client()
    key = session_key_of(client)
    caches["default"].set(KEY_PREFIX + key, crafted)
    response = client.get("/read/")
    assert response.status_code == 200
    assert response.json()["user"] == alice.get_username()  # the row decides


def test_a_trusted_entry_is_used_as_it_is(cached_engine: str) -> None:
    store = SessionStore()
    store["value"] = "row"
    store.save()
    key = str(store.session_key)
    row = SessionRow(None, "203.0.113.9", CHROME_UA, None, None, None, None)
    caches["default"].set(entry_key(key), make_entry({"value": "cached"}, row))
    assert SessionStore(key).load() == {"value": "cached"}
    assert lookup(session_cache(), key) == Found({"value": "cached"}, row)


@pytest.mark.parametrize(
    "cookie",
    [
        'sessionid="abcdefgh\\000ijklmnopqrstuvwxyz012345"',  # a NUL byte, decoded by Django's cookie parser
        "sessionid=" + "a" * 10_000,
        "sessionid=abc-def_ghijklmnopqrstuvwxyz0123",
        "sessionid=%00%00%00%00%00%00%00%00",
    ],
    ids=["nul", "10k", "punctuation", "percent"],
)
def test_a_malformed_session_key_is_no_session_and_no_query(
    engine: str, cookie: str, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/session/", HTTP_COOKIE=cookie, HTTP_USER_AGENT=CHROME_UA)
    assert response.status_code == 200
    assert response.json() == {"value": None}
    with CaptureQueriesContext(connection) as captured:  # a new session, under a fresh key
        response = Client().get("/write/", HTTP_COOKIE=cookie, HTTP_USER_AGENT=CHROME_UA)
    assert [sql.split()[0] for sql in data_statements(captured)] == ["INSERT"]
    assert response.status_code == 200
    new_key = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key.isalnum() and len(new_key) == 32


def test_str_and_repr_never_show_the_key(engine: str) -> None:
    store = SessionStore()
    store.save()
    session = Session.objects.get(pk=store.session_key)
    assert str(session) == session.public_id
    assert str(store.session_key) not in str(session) + repr(session)
    unsaved = Session(session_key="k" * 32)
    assert "k" * 32 not in str(unsaved) + repr(unsaved)


def test_the_managers_save_leaves_an_entry_that_no_older_fill_replaces(cached_engine: str) -> None:
    """``Session.objects.save()`` (Django's manager API) changes the row behind the store: a request that
    read the old row before that write committed, and fills the cache after it, must not bring it back."""
    make_user()
    client = signed_in_client()
    key = session_key_of(client)
    old_entry = caches["default"].get(KEY_PREFIX + key)
    assert isinstance(read_entry(old_entry), Found)
    Session.objects.save(key, {"marker": "new"}, timezone.now() + datetime.timedelta(days=1))
    assert caches["default"].add(KEY_PREFIX + key, old_entry) is False  # the older request's fill
    assert client.get("/read/").json()["user"] is None  # the new data has no user in it
    found = read_entry(caches["default"].get(KEY_PREFIX + key))
    assert isinstance(found, Found) and found.data == {"marker": "new"}


def test_a_save_with_no_time_left_leaves_no_entry_an_older_fill_can_replace(cached_engine: str) -> None:
    make_user()
    client = signed_in_client()
    key = session_key_of(client)
    old_entry = caches["default"].get(KEY_PREFIX + key)
    store = SessionStore(key)
    store.load()
    store.set_expiry(-5)
    store.save()
    assert caches["default"].add(KEY_PREFIX + key, old_entry) is False  # a fill that read the row before
    assert client.get("/read/").json()["user"] is None


def test_an_activity_write_keeps_what_another_request_saved_meanwhile(cached_engine: str) -> None:
    make_user()
    client = signed_in_client()
    key = session_key_of(client)
    reading = SessionStore(key)
    reading.load()  # one request reads the session ...
    saving = SessionStore(key)
    saving["marker"] = "saved meanwhile"
    saving.save()  # ... another saves it ...
    later = timezone.now() + datetime.timedelta(minutes=5)
    with (
        mock.patch("django.utils.timezone.now", return_value=later),
        mock.patch("time.time", return_value=later.timestamp()),
    ):
        assert reading.touch()  # ... and the first records its activity: only the time changes
    found = read_entry(caches["default"].get(KEY_PREFIX + key))
    assert isinstance(found, Found)
    assert found.data["marker"] == "saved meanwhile"
    assert found.row.last_activity == later.timestamp()
    assert SessionStore(key).load()["marker"] == "saved meanwhile"
