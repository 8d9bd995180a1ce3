"""The session stores: what they record, what they keep, and Django's contract where it meets ours."""

from __future__ import annotations

import datetime
from importlib import import_module
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.contrib.sessions.serializers import JSONSerializer
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY
from qsessions.models import Session
from tests.helpers import CHROME_UA, IPHONE_UA, client_for, data_statements, make_user, session_key_of, signed_in_client

pytestmark = pytest.mark.django_db


def store_class() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def test_login_records_owner_ip_user_agent_and_creation(engine: str) -> None:
    alice = make_user()
    before = timezone.now()
    client = signed_in_client(ip="203.0.113.7", user_agent=CHROME_UA)
    session = Session.objects.get()
    assert session.user == alice
    assert session.ip == "203.0.113.7"
    assert session.user_agent == CHROME_UA
    assert session.created_at is not None and before <= session.created_at <= timezone.now()
    assert session.public_id and session_key_of(client) not in session.public_id
    assert client.get("/read/").json()["user"] == "alice"


def test_client_metadata_never_enters_the_session_data(engine: str) -> None:
    make_user()
    signed_in_client()
    data = Session.objects.get().get_decoded()
    assert IP_SESSION_KEY not in data and USER_AGENT_SESSION_KEY not in data
    assert set(data) == {"_auth_user_id", "_auth_user_backend", "_auth_user_hash"}


def test_created_at_survives_later_writes_without_a_select(engine: str) -> None:
    make_user()
    client = signed_in_client()
    created_at = Session.objects.get().created_at
    with CaptureQueriesContext(connection) as queries:
        store = store_class()(session_key_of(client))
        store["value"] = "changed"
        store.save()
    statements = data_statements(queries)
    # db reads the row once to load the data (cached_db: from the cache), then one UPDATE; no SELECT between.
    kinds = [sql.split()[0].upper() for sql in statements]
    assert kinds == (["SELECT", "UPDATE"] if engine.endswith(".db") else ["UPDATE"])
    assert "created_at" not in statements[-1]
    session = Session.objects.get()
    assert session.created_at == created_at
    assert session.get_decoded()["value"] == "changed"


def test_changed_ip_or_user_agent_updates_the_row(engine: str) -> None:
    make_user()
    client = signed_in_client(ip="203.0.113.7", user_agent=CHROME_UA)
    key = session_key_of(client)
    moved = client_for(ip="198.51.100.20", user_agent=IPHONE_UA)
    moved.cookies[settings.SESSION_COOKIE_NAME] = key
    assert moved.get("/read/").json()["user"] == "alice"
    session = Session.objects.get()
    assert (session.ip, session.user_agent) == ("198.51.100.20", IPHONE_UA)


def test_unchanged_client_does_not_rewrite_the_session(engine: str) -> None:
    make_user()
    client = signed_in_client()
    updated_at = Session.objects.get().updated_at
    client.get("/session/")
    assert Session.objects.get().updated_at == updated_at


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("x" * 10_000, "x" * 300),
        ("Mozilla/5.0 (Ünïcödé; 日本語) ☃", "Mozilla/5.0 (Ünïcödé; 日本語) ☃"),
        ("Mozilla/5.0\x00 (evil)\r\n", "Mozilla/5.0 (evil)"),
        ("", None),
    ],
    ids=["10KB", "non-ascii", "control-chars", "empty"],
)
def test_user_agent_is_cleaned_and_cut_never_an_error(engine: str, sent: str, stored: str | None) -> None:
    make_user()
    client = client_for(user_agent=sent)
    assert client.get("/login/?username=alice").status_code == 200
    assert Session.objects.get().user_agent == stored


def test_sessions_of_django_qsessions_2_load_with_legacy_keys_stripped(engine: str) -> None:
    alice = make_user()
    legacy = store_class()()
    data = {"_auth_user_id": str(alice.pk), "cart": [1, 2], IP_SESSION_KEY: "10.0.0.1", USER_AGENT_SESSION_KEY: "x"}
    Session.objects.create(
        session_key="legacy0000000000000000000000abcd",
        session_data=legacy.encode(data),
        expire_date=timezone.now() + datetime.timedelta(days=1),
        user=alice,
        ip="10.0.0.1",
    )
    store = store_class()("legacy0000000000000000000000abcd")
    assert dict(store.items()) == {"_auth_user_id": str(alice.pk), "cart": [1, 2]}
    assert Session.objects.get().get_decoded() == {"_auth_user_id": str(alice.pk), "cart": [1, 2]}


def test_cycle_key_keeps_created_at_and_owner(engine: str) -> None:
    alice = make_user()
    client = signed_in_client()
    old_key = session_key_of(client)
    created_at = Session.objects.get().created_at
    store = store_class()(old_key)
    store.cycle_key()
    store.save()
    session = Session.objects.get()
    assert session.session_key not in (old_key, None)
    assert session.created_at == created_at
    assert session.user == alice


def test_cycle_key_async_keeps_created_at(engine: str) -> None:
    make_user()
    client = signed_in_client()
    created_at = Session.objects.get().created_at

    async def cycle() -> str:
        store = store_class()(session_key_of(client))
        await store.acycle_key()
        await store.asave()
        return str(store.session_key)

    new_key = async_to_sync(cycle)()
    session = Session.objects.get()
    assert session.session_key == new_key and session.created_at == created_at


def test_login_of_an_anonymous_session_keeps_its_creation_and_moves_the_key(engine: str) -> None:
    make_user()
    client = client_for()
    client.get("/write/?value=cart")
    anonymous = Session.objects.get()
    client.get("/login/?username=alice")
    signed_in = Session.objects.get()
    assert signed_in.session_key != anonymous.session_key
    assert signed_in.created_at == anonymous.created_at
    assert client.get("/read/").json() == {"user": "alice", "value": "cart"}


def test_logout_removes_the_session_and_a_new_one_starts_fresh(engine: str) -> None:
    make_user()
    client = signed_in_client()
    first = Session.objects.get()
    client.get("/logout/")
    assert not Session.objects.exists()
    client.get("/write/?value=again")
    second = Session.objects.get()
    assert second.session_key != first.session_key
    assert second.created_at is not None and first.created_at is not None
    assert second.created_at >= first.created_at


def test_async_save_records_exactly_what_save_records(engine: str) -> None:
    alice = make_user()
    sync_store = store_class()(ip="198.51.100.1", user_agent=CHROME_UA)
    sync_store["_auth_user_id"] = str(alice.pk)
    sync_store["value"] = 1
    sync_store.save()

    async def save_async() -> str:
        store = store_class()(ip="198.51.100.1", user_agent=CHROME_UA)
        await store.aset("_auth_user_id", str(alice.pk))
        await store.aset("value", 1)
        await store.asave()
        return str(store.session_key)

    async_key = async_to_sync(save_async)()
    sync_row = Session.objects.get(pk=sync_store.session_key)
    async_row = Session.objects.get(pk=async_key)
    fields = ("user_id", "ip", "user_agent", "expire_date")
    assert [getattr(sync_row, f) for f in fields[:3]] == [getattr(async_row, f) for f in fields[:3]]
    assert sync_row.get_decoded() == async_row.get_decoded()
    assert sync_row.created_at is not None and async_row.created_at is not None


def test_async_load_sees_client_changes(engine: str) -> None:
    make_user()
    client = signed_in_client(ip="203.0.113.7")

    async def load() -> bool:
        store = store_class()(session_key_of(client), ip="198.51.100.9")
        await store.aload()
        return bool(store.modified)

    assert async_to_sync(load)() is True


def test_empty_session_is_stored_and_loads_empty(engine: str) -> None:
    # Django 6.1 makes an empty store falsy; nothing of ours may depend on bool(store).
    store = store_class()(ip="203.0.113.7")
    store.save()
    assert Session.objects.get(pk=store.session_key).get_decoded() == {}
    reloaded = store_class()(store.session_key)
    assert reloaded.is_empty() is False or reloaded.load() == {}
    assert reloaded.exists(store.session_key)


def test_saving_a_session_deleted_meanwhile_raises_update_error(engine: str) -> None:
    store = store_class()()
    store["a"] = 1
    store.save()
    Session.objects.filter(pk=store.session_key).delete()
    store["a"] = 2
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.exists()


def test_two_requests_racing_on_one_session_keep_it(engine: str) -> None:
    make_user()
    client = signed_in_client()
    key = session_key_of(client)
    created_at = Session.objects.get().created_at
    first, second = store_class()(key), store_class()(key)
    first.load(), second.load()
    first["a"] = 1
    second["b"] = 2
    first.save()
    second.save()  # last write wins, as with Django's engines; no error, no lost session
    session = Session.objects.get()
    assert session.created_at == created_at
    assert session.get_decoded()["b"] == 2
    assert client.get("/read/").json()["user"] == "alice"


def test_revocation_during_a_request_is_not_undone_by_its_save(engine: str) -> None:
    make_user()
    client = signed_in_client()
    Session.objects.all().delete()
    response = client.get("/write/?value=late")
    assert response.status_code == 200  # the session was gone before the request: a fresh anonymous one
    session = Session.objects.get()
    assert session.user is None


def test_owner_that_no_longer_exists_is_stored_as_no_owner(engine: str) -> None:
    store = store_class()()
    store["_auth_user_id"] = "987654"
    store.save()
    assert Session.objects.get(pk=store.session_key).user_id is None


@pytest.mark.parametrize("auth_id", ["not-a-number", "", "1.5"])
def test_garbage_auth_id_is_stored_as_no_owner(engine: str, auth_id: str) -> None:
    store = store_class()()
    store["_auth_user_id"] = auth_id
    store.save()
    assert Session.objects.get(pk=store.session_key).user_id is None


def test_store_outside_a_request_keeps_the_stored_client(engine: str) -> None:
    make_user()
    client = signed_in_client(ip="203.0.113.7", user_agent=CHROME_UA)
    store = store_class()(session_key_of(client))  # e.g. a management command: no client known
    store["value"] = "from code"
    store.save()
    session = Session.objects.get()
    assert (session.ip, session.user_agent) == ("203.0.113.7", CHROME_UA)


def test_store_constructor_matches_django_qsessions(engine: str) -> None:
    store = store_class()(session_key=None, user_agent="UA", ip="[::1]:80")
    assert (store.user_agent, store.ip) == ("UA", "::1")
    assert store_class()().session_key is None


def test_clear_expired_deletes_in_batches(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from qsessions import models

    monkeypatch.setattr(models, "CLEAR_EXPIRED_BATCH_SIZE", 3)
    past = timezone.now() - datetime.timedelta(seconds=1)
    for i in range(7):
        Session.objects.create(session_key=f"expired{i:025d}", session_data="x", expire_date=past)
    Session.objects.create(
        session_key="alive" + "0" * 27, session_data="x", expire_date=past + datetime.timedelta(days=1)
    )
    assert store_class().delete_expired() == 7
    assert list(Session.objects.values_list("pk", flat=True)) == ["alive" + "0" * 27]
    assert async_to_sync(store_class().adelete_expired)() == 0


def test_session_naming_a_missing_owner_keeps_working_on_later_writes(engine: str) -> None:
    store = store_class()()
    store["_auth_user_id"] = "987654"
    store.save()
    client = client_for()
    client.cookies[settings.SESSION_COOKIE_NAME] = str(store.session_key)
    assert client.get("/session/").status_code == 200  # cached_db: fills the cache with the row's owner
    assert client.get("/write/?value=1").status_code == 200
    assert client.get("/write/?value=2").status_code == 200
    assert Session.objects.get(pk=store.session_key).user_id is None


class OtherSerializer(JSONSerializer):
    """A SESSION_SERIALIZER of the site's own (the same JSON)."""


def test_a_new_store_sets_what_djangos_construction_sets(engine: str, settings: Any) -> None:
    """Our stores build themselves without SessionBase.__init__ (its import_string of the serializer, run
    for every request): whatever the Django version sets there, ours sets too, to the same values."""
    djangos, ours = vars(SessionBase("abcdefghijkl")), vars(store_class()("abcdefghijkl"))
    assert djangos
    for name, value in djangos.items():
        assert ours.get(name, ...) == value, name
    # The serializer is looked up per setting value: a site (or a test) that changes it gets the new one.
    settings.SESSION_SERIALIZER = f"{__name__}.OtherSerializer"
    assert store_class()("abcdefghijkl").serializer is OtherSerializer
