"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)


def make_user(username: str = "alice", **extra: Any) -> Any:
    return get_user_model().objects.create_user(username, password="pw", email=f"{username}@example.com", **extra)


def client_for(ip: str = "203.0.113.7", user_agent: str = CHROME_UA) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)


def signed_in_client(username: str = "alice", **kwargs: Any) -> Client:
    client = client_for(**kwargs)
    response = client.get(f"/login/?username={username}")
    assert response.status_code == 200
    return client


def session_key_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def data_statements(queries: Any) -> list[str]:
    """The SQL statements of a capture, without the savepoint bookkeeping of transaction.atomic()."""
    return [q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))]
