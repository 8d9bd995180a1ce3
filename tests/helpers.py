"""Users and signed-in clients for the tests of the sessions pages, API, signals and policies."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from qsessions.models import Session

CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)


def make_user(username: str = "alice", password: str = "pw-alice") -> Any:
    return get_user_model()._default_manager.create_user(username=username, password=password)


def signed_in(username: str, user_agent: str = FIREFOX_WINDOWS, ip: str = "127.0.0.1", **client_kwargs: Any) -> Client:
    """A client signed in as ``username`` through a real request, so its session has a client."""
    client = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip, **client_kwargs)
    assert client.get("/login/", {"username": username}).status_code == 200
    return client


def session_of(client: Client) -> Session:
    return Session.objects.get(pk=client.cookies["sessionid"].value)
