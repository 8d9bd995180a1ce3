"""'Your sessions' and the API's list come in pages: this device first, the same queries for 1 session as
for 1,000, every session on exactly one page, and no page number that is not one reaches the database."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from qsessions.models import Session, make_public_id
from qsessions.views import PAGE_SIZE
from tests.helpers import CHROME_ANDROID, FIREFOX_WINDOWS, SAFARI_MAC, make_user, session_of, signed_in

pytestmark = pytest.mark.django_db

LIST_URL = "/account/sessions/"
API = "/account/sessions/api/sessions/"


def _other_sessions(user: Any, count: int) -> list[str]:
    """``count`` more sessions of ``user``, each more recently active than the browser's own."""
    now = timezone.now()
    keys = [f"other{number:027d}" for number in range(count)]
    Session.objects.bulk_create(
        Session(
            session_key=key,
            public_id=make_public_id(key),
            session_data="",
            expire_date=now + datetime.timedelta(days=1),
            user=user,
            user_agent=(FIREFOX_WINDOWS, SAFARI_MAC)[number % 2],
            ip="192.0.2.1",
            created_at=now,
            # Some sessions share a time: pages must neither repeat nor skip them.
            last_activity=now - datetime.timedelta(seconds=number // 3),
        )
        for number, key in enumerate(keys)
    )
    return [make_public_id(key) for key in keys]


def _signed_in_behind(count: int) -> tuple[Client, str, list[str]]:
    """A browser signed in as alice, whose session is the least recently active of ``count + 1``."""
    user = make_user()
    client = signed_in("alice", CHROME_ANDROID)
    own = session_of(client)
    Session.objects.filter(pk=own.pk).update(last_activity=timezone.now() - datetime.timedelta(days=1))
    return client, str(own.public_id), _other_sessions(user, count)


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr(?: class="qsessions-current" aria-current="true")?>\s*<th scope="row">', html)


def test_the_api_pages_through_every_session_once_this_device_first(engine: str) -> None:
    client, own, others = _signed_in_behind(2 * PAGE_SIZE + 9)
    seen: list[str] = []
    url: str | None = API
    pages = []
    while url is not None:
        body = client.get(url).json()
        pages.append(body)
        seen += [session["id"] for session in body["sessions"]]
        url = body["next"]
    assert [len(page["sessions"]) for page in pages] == [PAGE_SIZE, PAGE_SIZE, 10]
    assert [(page["page"], page["page_size"], page["previous"]) for page in pages] == [
        (1, PAGE_SIZE, None),
        (2, PAGE_SIZE, f"{API}?page=1"),
        (3, PAGE_SIZE, f"{API}?page=2"),
    ]
    assert pages[0]["next"] == f"{API}?page=2"
    assert pages[0]["sessions"][0] == {**pages[0]["sessions"][0], "id": own, "current": True}
    assert sorted(seen) == sorted([own, *others])  # each once
    assert not any(session["current"] for page in pages for session in page["sessions"][1:])
    past_the_end = client.get(API, {"page": 4}).json()
    assert (past_the_end["sessions"], past_the_end["next"], past_the_end["previous"]) == ([], None, f"{API}?page=3")


def test_the_page_shows_this_device_first_and_links_the_next_pages(engine: str) -> None:
    client, _, _ = _signed_in_behind(PAGE_SIZE + 4)
    first = client.get(LIST_URL).content.decode()
    assert len(_rows(first)) == PAGE_SIZE
    assert _rows(first)[0].startswith('<tr class="qsessions-current"')
    assert 'href="?page=2"' in first and 'rel="prev"' not in first
    assert "Sign out all other sessions" in first

    second = client.get(LIST_URL, {"page": 2}).content.decode()
    assert len(_rows(second)) == 5
    assert "This device</strong>" not in second
    assert 'href="?page=1"' in second and 'rel="next"' not in second
    assert client.get(LIST_URL, {"page": 3}).status_code == 404

    confirm = client.get(f"{LIST_URL}others/revoke/").content.decode()
    assert str(PAGE_SIZE + 4) in confirm  # every other session is counted, not only the first page's


def test_one_session_has_no_page_links(engine: str) -> None:
    make_user()
    client = signed_in("alice")
    html = client.get(LIST_URL).content.decode()
    assert len(_rows(html)) == 1
    assert "qsessions-pagination" not in html
    assert "Sign out all other sessions" not in html
    assert client.get(API).json()["next"] is None


@pytest.mark.parametrize("count", [1, 1000])
def test_a_page_costs_the_same_queries_for_1_session_as_for_1000(
    engine: str, count: int, django_assert_num_queries: Any
) -> None:
    client, _, _ = _signed_in_behind(count - 1)
    client.get("/read/")  # warm the session cache (cached_db)
    api = 2 if engine.endswith("cached_db") else 3  # (the session,) the user, one page of sessions
    page = api + 1  # and the recently ended sessions the page shows
    second = page if count > PAGE_SIZE else api  # no second page: a 404 before the ended sessions are read
    for url, expected in ((LIST_URL, page), (API, api), (f"{LIST_URL}?page=2", second), (f"{API}?page=20", api)):
        with django_assert_num_queries(expected):
            assert client.get(url).status_code in (200, 404)


@pytest.mark.parametrize(
    "page",
    [
        "0",
        "-1",
        "abc",
        "1.5",
        "1e3",
        "\u0661",  # an Arabic-Indic one: a digit to str.isdigit(), no page number
        "9" * 7,
        "\x00",
        "",
    ],
)
def test_a_page_that_is_no_page_number_is_refused_before_any_session_query(
    engine: str, page: str, django_assert_max_num_queries: Any
) -> None:
    make_user()
    client = signed_in("alice")
    client.get("/read/")
    with django_assert_max_num_queries(2):  # (the session,) the user: never the list
        html = client.get(LIST_URL, {"page": page})
    with django_assert_max_num_queries(2):
        api = client.get(API, {"page": page})
    assert html.status_code == 404
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "invalid_page"


@pytest.mark.parametrize("api", ["/drf/sessions/", "/ninja/sessions/"])
def test_the_framework_apis_page_alike(engine: str, api: str) -> None:
    client, own, others = _signed_in_behind(PAGE_SIZE + 2)
    first = client.get(api).json()
    assert (len(first["sessions"]), first["sessions"][0]["id"], first["next"]) == (PAGE_SIZE, own, f"{api}?page=2")
    second = client.get(first["next"]).json()
    assert sorted(s["id"] for s in first["sessions"] + second["sessions"]) == sorted([own, *others])
    assert (second["next"], second["previous"]) == (None, f"{api}?page=1")
    refused = client.get(api, {"page": "0"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_page")
