"""Every way of deleting a session removes it from the database and the cache: refused at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import caches
from django.db import transaction

from qsessions.backends.cached_db import KEY_PREFIX
from qsessions.cache import Found, SessionRow, lookup, make_entry, session_cache
from qsessions.models import Session
from qsessions.revocation import REASON_ADMIN, REASON_USER, revoke, revoke_all
from qsessions.signals import session_revoked
from tests.helpers import make_user, session_key_of, signed_in_client

pytestmark = pytest.mark.django_db


def _delete_one(user: Any) -> None:
    Session.objects.get(user=user).delete()


def _delete_filtered(user: Any) -> None:
    Session.objects.filter(user=user).delete()


def _delete_reverse(user: Any) -> None:
    user.session_set.all().delete()


def _delete_user(user: Any) -> None:
    user.delete()


def _adelete_one(user: Any) -> None:
    async_to_sync(Session.objects.get(user=user).adelete)()


def _adelete_filtered(user: Any) -> None:
    async_to_sync(Session.objects.filter(user=user).adelete)()


def _adelete_user(user: Any) -> None:
    async_to_sync(user.adelete)()


def _revoke_all(user: Any) -> None:
    revoke_all(user, REASON_ADMIN)


DELETIONS: list[Callable[[Any], None]] = [
    _delete_one,
    _delete_filtered,
    _delete_reverse,
    _delete_user,
    _adelete_one,
    _adelete_filtered,
    _adelete_user,
    _revoke_all,
]


@pytest.mark.parametrize("delete", DELETIONS, ids=lambda f: f.__name__.strip("_"))
def test_deleted_session_is_refused_on_the_next_request(engine: str, delete: Callable[[Any], None]) -> None:
    alice = make_user()
    client = signed_in_client()
    key = session_key_of(client)
    assert client.get("/read/").json()["user"] == "alice"
    delete(alice)
    assert not isinstance(lookup(session_cache(), key), Found)
    assert client.get("/read/").json()["user"] is None
    assert not Session.objects.filter(pk=key).exists()


def test_revoke_all_of_many_is_one_delete_and_one_cache_call(
    cached_engine: str, django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = make_user()
    for _ in range(30):
        signed_in_client()
    calls: list[int] = []
    cache = caches["default"]
    original = cache.set_many

    def set_many(marks: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(marks))
        return original(marks, *args, **kwargs)

    monkeypatch.setattr(cache, "set_many", set_many)
    with django_assert_num_queries(2) as captured:  # SELECT of the keys, then one DELETE
        alice.session_set.all().delete()
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["SELECT", "DELETE"]
    assert calls == [30]  # one call: a tombstone in the entry of each of the 30 sessions


def test_deleting_inside_a_transaction_is_refused_even_if_refilled(cached_engine: str) -> None:
    make_user()
    client = signed_in_client()
    key = session_key_of(client)
    row = Session.objects.get(pk=key)
    entry = make_entry(row.get_decoded(), SessionRow(row.user_id, row.ip, row.user_agent, None, None, None, None))
    with transaction.atomic():
        Session.objects.filter(pk=key).delete()
        # A concurrent request that read the still-visible row fills the cache here. (Fills only add; saves
        # and activity writes cannot write here: they wait for the row's lock, see test_revocation_races.)
        caches["default"].add(KEY_PREFIX + key, entry)
    assert client.get("/read/").json()["user"] is None


def test_revoke_sends_one_signal_per_session_with_the_reason(engine: str) -> None:
    alice = make_user()
    signed_in_client()
    signed_in_client()
    received: list[tuple[str | None, str]] = []

    def receiver(sender: Any, session: Session, reason: str, **kwargs: Any) -> None:
        received.append((session.public_id, reason))

    session_revoked.connect(receiver)
    try:
        first = Session.objects.order_by("created_at").first()
        assert first is not None
        assert revoke(first, REASON_USER) is True
        assert revoke(first, REASON_USER) is False
        assert revoke_all(alice, REASON_ADMIN) == 1
    finally:
        session_revoked.disconnect(receiver)
    assert [reason for _, reason in received] == [REASON_USER, REASON_ADMIN]
    assert received[0][0] == first.public_id


def test_revoke_all_can_keep_the_current_session(engine: str) -> None:
    alice = make_user()
    keep = signed_in_client()
    other = signed_in_client()
    assert revoke_all(alice, REASON_USER, keep=session_key_of(keep)) == 1
    assert keep.get("/read/").json()["user"] == "alice"
    assert other.get("/read/").json()["user"] is None


def test_unknown_reason_is_refused(engine: str) -> None:
    alice = make_user()
    with pytest.raises(ValueError, match="unknown revocation reason"):
        revoke_all(alice, "because")
