"""The sessions admin: listing, filters, search, read-only detail, revocation, and no key in any page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from qsessions.admin import SessionAdmin
from qsessions.models import Session
from tests.helpers import IPHONE_UA, make_user, session_key_of, signed_in_client

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/qsessions/session/"


@pytest.fixture
def admin_client(engine: str) -> Client:
    make_user("root", is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR="192.0.2.10")
    client.login(username="root", password="pw")
    return client


def all_keys() -> list[str]:
    return list(Session.objects.values_list("pk", flat=True))


def assert_no_key_in(response: Any) -> None:
    body = response.content.decode()
    for key in all_keys():
        assert key not in body
        assert key not in response.get("Location", "")


def test_changelist_shows_sessions_without_their_keys(admin_client: Client) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7", user_agent=IPHONE_UA)
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "203.0.113.7" in body
    assert "alice" in body
    assert "iPhone" in body  # the device column
    assert_no_key_in(response)


def test_filters_active_and_owner(admin_client: Client) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")
    Session.objects.create(session_key="e" * 32, session_data="x", expire_date="2000-01-01T00:00:00Z", ip="10.9.9.9")
    active = admin_client.get(CHANGELIST + "?active=1").content.decode()
    expired = admin_client.get(CHANGELIST + "?active=0").content.decode()
    mine = admin_client.get(CHANGELIST + "?owner=my").content.decode()
    assert "203.0.113.7" in active and "10.9.9.9" not in active
    assert "10.9.9.9" in expired and "203.0.113.7" not in expired
    assert "192.0.2.10" in mine and "203.0.113.7" not in mine


@pytest.mark.parametrize("query", ["203.0.113", "alice", "alice@example.com", "iPhone"])
def test_search_by_ip_username_email_and_user_agent(admin_client: Client, query: str) -> None:
    make_user()
    make_user("bob")
    signed_in_client(ip="203.0.113.7", user_agent=IPHONE_UA)
    signed_in_client("bob", ip="198.51.100.1")
    body = admin_client.get(CHANGELIST, {"q": query}).content.decode()
    assert "203.0.113.7" in body
    assert "198.51.100.1" not in body


def test_search_fields_for_a_user_model_without_email(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoEmailUser:
        USERNAME_FIELD = "handle"

        @classmethod
        def get_email_field_name(cls) -> str:
            return "email"

        class _meta:
            @staticmethod
            def get_field(name: str) -> Any:
                if name != "handle":
                    raise LookupError(name)

    monkeypatch.setattr("qsessions.admin.get_user_model", lambda: NoEmailUser)
    from django.contrib.admin import site

    fields = SessionAdmin(Session, site).get_search_fields(None)  # type: ignore[arg-type]
    assert fields == ["ip", "user_agent", "user__handle"]


def test_detail_is_read_only_and_addressed_by_public_id(admin_client: Client) -> None:
    make_user()
    client = signed_in_client(ip="203.0.113.7")
    session = Session.objects.get(user__username="alice")
    response = admin_client.get(f"{CHANGELIST}{session.public_id}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "203.0.113.7" in body
    assert "_auth_user_id" in body  # superusers see the decoded data
    assert_no_key_in(response)
    assert admin_client.get(f"{CHANGELIST}{session_key_of(client)}/change/").status_code == 404
    assert admin_client.get(f"{CHANGELIST}{session.public_id}/history/").status_code == 404
    assert admin_client.get(f"{CHANGELIST}{session.public_id}/delete/").status_code in (403, 404)
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_decoded_data_is_for_superusers_only(engine: str) -> None:
    make_user()
    signed_in_client()
    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_session"))
    client = Client()
    client.login(username="staff", password="pw")
    session = Session.objects.get(user__username="alice")
    body = client.get(f"{CHANGELIST}{session.public_id}/change/").content.decode()
    assert "203.0.113.7" in body
    assert "_auth_user_id" not in body
    assert "Revoke this session" not in body  # no delete permission, no revocation
    assert client.post(f"{CHANGELIST}{session.public_id}/change/").status_code == 404
    assert Session.objects.filter(pk=session.pk).exists()


def test_revoke_selected_action_signs_out_and_logs_without_keys(admin_client: Client) -> None:
    make_user()
    victim = signed_in_client(ip="203.0.113.7")
    keep = signed_in_client(ip="203.0.113.8")
    target = Session.objects.get(ip="203.0.113.7")
    changelist = admin_client.get(CHANGELIST)
    assert f'value="{target.public_id}"' in changelist.content.decode()
    response = admin_client.post(
        CHANGELIST, {"action": "revoke_selected", "_selected_action": [target.public_id]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked 1 session." in response.content.decode()
    assert victim.get("/read/").json()["user"] is None
    assert keep.get("/read/").json()["user"] == "alice"
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert entry.object_id == target.public_id
    assert target.pk not in entry.object_repr


def test_revoke_from_the_detail_page(admin_client: Client) -> None:
    make_user()
    victim = signed_in_client(ip="203.0.113.7")
    session = Session.objects.get(ip="203.0.113.7")
    page = admin_client.get(f"{CHANGELIST}{session.public_id}/change/").content.decode()
    assert "Revoke this session" in page
    response = admin_client.post(f"{CHANGELIST}{session.public_id}/change/")
    assert response.status_code == 302
    assert_no_key_in(response)
    assert victim.get("/read/").json()["user"] is None


def test_missing_session_is_a_404(admin_client: Client) -> None:
    assert admin_client.get(f"{CHANGELIST}{'0' * 32}/change/").status_code == 404


@pytest.mark.parametrize("object_id", ["%00" * 4, "x" * 5000, "ZZ" * 16, "0" * 31])
def test_malformed_ids_are_a_404_not_an_error(admin_client: Client, object_id: str) -> None:
    assert admin_client.get(f"{CHANGELIST}{object_id}/change/").status_code == 404


def test_malformed_selected_ids_revoke_nothing(admin_client: Client) -> None:
    make_user()
    signed_in_client()
    response = admin_client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": ["\x00", "x" * 500]})
    assert response.status_code in (200, 302)
    assert Session.objects.filter(user__username="alice").exists()
