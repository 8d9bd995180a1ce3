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
