"""Many requests at once on PostgreSQL and MariaDB: on separate sessions and on one shared session, sync
and async views, both engines. Nothing escapes as an error, no session is lost, ``created_at`` never
changes, and the owner column always matches the user id in the session data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client

from qsessions.models import Session
from tests import services

pytestmark = pytest.mark.skipif(
    services.DB == "sqlite", reason="needs a database server: run with QSESSIONS_TEST_DB=postgresql or mysql"
)

SEPARATE_THREADS = 3
SHARED_THREADS = 3
ROUNDS = 60  # each round is two requests


def _row(client: Client) -> Session:
    session: Session = Session.objects.get(pk=client.cookies["sessionid"].value)
    return session


def _check_owner(row: Session) -> None:
    auth_id = row.get_decoded().get("_auth_user_id")
    assert row.user_id == (None if auth_id is None else int(auth_id)), row.public_id


def _run_all(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Run the workers in threads started together; return what they raised."""
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            start.wait()
            work()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _request(client: Client, path: str, **params: Any) -> Any:
    response = client.get(path, params)
    assert response.status_code == 200, (path, response.status_code)
    return response


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_on_separate_and_shared_sessions(engine: str) -> None:
    users = [get_user_model().objects.create_user(f"user{n}", password="pw") for n in range(SEPARATE_THREADS + 1)]

    shared = Client()
    _request(shared, "/login/", username=users[-1].username)
    shared_key = shared.cookies["sessionid"].value
    shared_created_at = _row(shared).created_at
    shared_values = {f"shared-{n}-{i}" for n in range(SHARED_THREADS) for i in range(ROUNDS)}

    separate = [Client() for _ in range(SEPARATE_THREADS)]
    created_at = {}
    for client in separate:
        _request(client, "/write/", value="anonymous")
        created_at[id(client)] = _row(client).created_at

    def own_session(n: int) -> Callable[[], None]:
        def work() -> None:
            client = separate[n]
            _request(client, "/login/", username=users[n].username)  # a new key, same created_at
            for i in range(ROUNDS):
                write, read = ("/awrite/", "/aread/") if i % 2 else ("/write/", "/read/")
                _request(client, write, value=f"{n}-{i}")
                assert _request(client, read).json() == {"user": users[n].username, "value": f"{n}-{i}"}

        return work

    def shared_session(n: int) -> Callable[[], None]:
        def work() -> None:
            client = Client()
            client.cookies["sessionid"] = shared_key
            for i in range(ROUNDS):
                write, read = ("/awrite/", "/aread/") if i % 2 else ("/write/", "/read/")
                _request(client, write, value=f"shared-{n}-{i}")
                seen = _request(client, read).json()
                assert seen["user"] == users[-1].username
                assert seen["value"] in shared_values
                assert client.cookies["sessionid"].value == shared_key

        return work

    workers = [own_session(n) for n in range(SEPARATE_THREADS)] + [shared_session(n) for n in range(SHARED_THREADS)]
    assert _run_all(workers) == []

    assert Session.objects.count() == SEPARATE_THREADS + 1  # the anonymous keys were replaced, none lost
    for n, client in enumerate(separate):
        row = _row(client)
        assert row.created_at == created_at[id(client)]
        assert row.user_id == users[n].pk
        assert row.get_decoded()["value"] == f"{n}-{ROUNDS - 1}"
    row = Session.objects.get(pk=shared_key)
    assert row.created_at == shared_created_at
    assert row.user_id == users[-1].pk
    assert row.get_decoded()["value"] in shared_values
    for row in Session.objects.all():
        _check_owner(row)


@pytest.mark.django_db(transaction=True)
def test_concurrent_logins_and_logouts_keep_owner_and_data_in_step(engine: str) -> None:
    users = [get_user_model().objects.create_user(f"user{n}", password="pw") for n in range(2)]

    def switcher(n: int) -> Callable[[], None]:
        def work() -> None:
            client = Client()
            for i in range(ROUNDS):
                user = users[(n + i) % 2]
                _request(client, "/login/", username=user.username)
                assert _request(client, "/read/").json()["user"] == user.username
                _check_owner(_row(client))
                if i % 3 == 0:
                    _request(client, "/logout/")
                    assert _request(client, "/read/").json()["user"] is None

        return work

    assert _run_all([switcher(n) for n in range(SEPARATE_THREADS + SHARED_THREADS)]) == []
    for row in Session.objects.all():
        _check_owner(row)
