"""The migrations match the models and apply, forwards and backwards, on the database under test.

Run under every QSESSIONS_TEST_DB (sqlite, postgresql, mysql), these are the proof that a database
created by django-qsessions 2.x upgrades in place on each of them.
"""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from qsessions.models import Session, make_public_id

UPSTREAM_LAST = ("qsessions", "0002_session_created_at")


def _latest() -> tuple[str, str]:
    executor = MigrationExecutor(connection)
    (leaf,) = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "qsessions"]
    return (str(leaf[0]), str(leaf[1]))


def _migrate(target: tuple[str, str | None]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([target])


def _columns() -> set[str]:
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, "qsessions_session")}


@pytest.mark.django_db
def test_models_and_migrations_agree() -> None:
    out = StringIO()
    # --check exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrations_apply_backwards_and_forwards() -> None:
    latest = _latest()
    try:
        _migrate(("qsessions", None))
        assert "qsessions_session" not in connection.introspection.table_names()
        _migrate(latest)
    finally:
        _migrate(latest)
    model_columns = {field.column for field in Session._meta.concrete_fields}
    assert _columns() == model_columns


@pytest.mark.django_db(transaction=True)
def test_a_django_qsessions_2_database_upgrades_in_place() -> None:
    latest = _latest()
    now = timezone.now()
    try:
        _migrate(UPSTREAM_LAST)
        assert "public_id" not in _columns()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO qsessions_session (session_key, session_data, expire_date, user_agent, updated_at, ip,"
                " user_id, created_at) VALUES (%s, %s, %s, %s, %s, %s, NULL, %s)",
                ["k" * 32, "e30:legacy", now + datetime.timedelta(days=1), "Firefox", now, "192.0.2.1", now],
            )
        _migrate(latest)
        row = Session.objects.get(pk="k" * 32)
        assert row.public_id == make_public_id("k" * 32)
        assert (row.ip, row.user_agent, row.created_at) == ("192.0.2.1", "Firefox", now)
    finally:
        Session.objects.all().delete()
        _migrate(latest)


def _indexes() -> set[tuple[tuple[str, ...], bool]]:
    """The table's indexes but the primary key's: (columns, unique)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "qsessions_session")
    return {
        (tuple(info["columns"]), bool(info["unique"]))
        for info in constraints.values()
        if (info["index"] or info["unique"]) and not info["primary_key"]
    }


# Each index and the queries it serves (docs/architecture.md, "The table and its indexes").
LEAN_INDEXES = {
    (("expire_date",), False),  # clearsessions: expire_date < now
    (("public_id",), True),  # pages, API and admin: public_id = ...
    (("user_id", "expire_date"), False),  # a user's (active) sessions, revoke_all, limits, the owner's cascade
    (("impersonator_id",), False),  # SET NULL when an impersonating user is deleted
}


@pytest.mark.django_db(transaction=True)
def test_the_table_keeps_only_the_indexes_a_query_uses() -> None:
    expected = set(LEAN_INDEXES)
    if connection.vendor == "mysql":
        expected.add((("user_id",), False))  # InnoDB's own index for the foreign key, made with the table
    assert _indexes() == expected
    try:
        _migrate(("qsessions", "0006_endedsession_session_impersonator"))
        before = _indexes()
    finally:
        _migrate(_latest())
    assert (("user_id",), False) in before  # what 0007 drops, and brings back when migrated backwards
    if connection.vendor == "postgresql":
        # Django's "_like" pattern indexes beside the primary key's and public_id's.
        assert {(("session_key",), False), (("public_id",), False)} <= before
    assert _indexes() == expected
