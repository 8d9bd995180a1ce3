"""Queries per request, pinned: what a qsessions site pays on every request."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.helpers import client_for, data_statements, make_user, signed_in_client

pytestmark = pytest.mark.django_db


def test_db_read_only_request_is_one_query(settings: Any, django_assert_num_queries: Any) -> None:
    settings.SESSION_ENGINE = "qsessions.backends.db"
    make_user()
    client = signed_in_client()
    with django_assert_num_queries(1):
        client.get("/session/")


def test_anonymous_request_without_a_session_makes_no_query(engine: str, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        client_for().get("/session/")


def test_db_write_request_is_a_select_then_an_update(settings: Any) -> None:
    settings.SESSION_ENGINE = "qsessions.backends.db"
    make_user()
    client = signed_in_client()
    with CaptureQueriesContext(connection) as captured:
        client.get("/write/?value=2")
    assert [sql.split()[0] for sql in data_statements(captured)] == ["SELECT", "UPDATE"]


@pytest.mark.parametrize(
    ("engine_name", "expected"),
    [
        # db: the view fetches the user; the anonymous session is loaded; it moves to a new key (INSERT,
        # DELETE of the old); auth updates last_login; the data, now with its owner, is written once.
        ("qsessions.backends.db", ["SELECT", "SELECT", "INSERT", "DELETE", "UPDATE", "UPDATE"]),
        # cached_db: the same, with the session loaded from the cache.
        ("qsessions.backends.cached_db", ["SELECT", "INSERT", "DELETE", "UPDATE", "UPDATE"]),
    ],
    ids=["db", "cached_db"],
)
def test_login_of_an_anonymous_session(settings: Any, engine_name: str, expected: list[str]) -> None:
    settings.SESSION_ENGINE = engine_name
    make_user()
    client = client_for()
    client.get("/write/?value=cart")
    with CaptureQueriesContext(connection) as captured:
        client.get("/login/?username=alice")
    assert [sql.split()[0] for sql in data_statements(captured)] == expected
