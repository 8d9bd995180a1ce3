"""Small helpers shared by the tests: users, clients with a known client identity, query filtering."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client

from qsessions.models import Session

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)


def make_user(username: str = "alice", password: str = "pw", **extra: Any) -> Any:
    return get_user_model()._default_manager.create_user(
        username, password=password, email=f"{username}@example.com", **extra
    )


def client_for(ip: str = "203.0.113.7", user_agent: str = CHROME_UA) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)


def signed_in_client(username: str = "alice", **kwargs: Any) -> Client:
    client = client_for(**kwargs)
    response = client.get(f"/login/?username={username}")
    assert response.status_code == 200
    return client


def signed_in(username: str, user_agent: str = FIREFOX_WINDOWS, ip: str = "127.0.0.1", **client_kwargs: Any) -> Client:
    """A client signed in as ``username`` through a real request, so its session has a client."""
    client = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip, **client_kwargs)
    assert client.get("/login/", {"username": username}).status_code == 200
    return client


def session_key_of(client: Client | AsyncClient) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def log_out(client: Client, path: str) -> None:
    """GET /logout/ with ``client``, or /alogout/ (Django's alogout) through an AsyncClient with its cookies."""
    if path == "/alogout/":
        asynchronous = AsyncClient()
        asynchronous.cookies = client.cookies
        async_to_sync(asynchronous.get)(path)
    else:
        client.get(path)


def session_of(client: Client | AsyncClient) -> Session:
    session: Session = Session.objects.get(pk=session_key_of(client))
    return session


def data_statements(queries: Any) -> list[str]:
    """The SQL statements of a capture, without the savepoint bookkeeping of transaction.atomic()."""
    return [q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))]
