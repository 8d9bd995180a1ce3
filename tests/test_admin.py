"""The sessions admin: listing, filters, search, read-only detail, revocation, and no key in any page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

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
    assert admin_client.get(f"{CHANGELIST}{session.public_id}/history/").status_code == 404
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert session_key_of(client)


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
    assert client.post(f"{CHANGELIST}{session.public_id}/change/").status_code == 405
    assert client.post(f"{CHANGELIST}{session.public_id}/delete/").status_code == 403
    assert Session.objects.filter(pk=session.pk).exists()


def test_revoke_selected_action_signs_out_and_logs_without_keys(admin_client: Client) -> None:
    make_user()
    victim = signed_in_client(ip="203.0.113.7")
    keep = signed_in_client(ip="203.0.113.8")
    target = Session.objects.get(ip="203.0.113.7")
    changelist = admin_client.get(CHANGELIST)
    assert f'value="{target.public_id}"' in changelist.content.decode()
    response = admin_client.post(
        CHANGELIST, {"action": "revoke_selected", "post": "yes", "_selected_action": [target.public_id]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked 1 session." in response.content.decode()
    assert victim.get("/read/").json()["user"] is None
    assert keep.get("/read/").json()["user"] == "alice"
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert entry.object_id == target.public_id
    assert target.pk not in entry.object_repr


def test_missing_session_is_a_404(admin_client: Client) -> None:
    assert admin_client.get(f"{CHANGELIST}{'0' * 32}/change/").status_code == 404


@pytest.mark.parametrize("object_id", ["%00" * 4, "x" * 5000, "ZZ" * 16, "0" * 31])
def test_malformed_ids_are_a_404_not_an_error(admin_client: Client, object_id: str) -> None:
    assert admin_client.get(f"{CHANGELIST}{object_id}/change/").status_code == 404


@pytest.mark.parametrize("object_id", ["%00", "x%00y", "%00" * 32, "0" * 32])
def test_view_on_site_with_a_malformed_id_is_a_404(admin_client: Client, object_id: str) -> None:
    """Django's /admin/r/<content type>/<id>/ redirect looks the id up as a session key (PostgreSQL refuses NUL)."""
    content_type = ContentType.objects.get_for_model(Session)
    assert admin_client.get(f"/admin/r/{content_type.pk}/{object_id}/").status_code == 404


def test_malformed_selected_ids_revoke_nothing(admin_client: Client) -> None:
    make_user()
    signed_in_client()
    response = admin_client.post(
        CHANGELIST, {"action": "revoke_selected", "post": "yes", "_selected_action": ["\x00", "x" * 500]}
    )
    assert response.status_code in (200, 302)
    assert Session.objects.filter(user__username="alice").exists()


# -- issue 11: no admin parameter, lookup or page reaches a session key or the session data ------------------

REAL_AND_FAKE = "real-vs-fake"


def two_answers(client: Client, make_url: Any) -> tuple[Any, Any]:
    """The admin's answers to the same question asked with a real and with a made-up key prefix."""
    key = Session.objects.get(user__username="alice").pk
    fake = "0" if key[0] != "0" else "1"
    return client.get(make_url(key[:6])), client.get(make_url(fake * 6))


# Every query-string parameter that names the key, the data or the primary key, directly or through the
# owner: refused whatever its value, before any query, with the same answer for a real and a fake prefix.
KEY_AND_DATA_LOOKUPS = [
    "session_key",
    "session_key__exact",
    "session_key__startswith",
    "session_key__istartswith",
    "session_key__contains",
    "session_key__gte",
    "session_key__lt",
    "session_key__in",
    "session_key__regex",
    "session_key__range",
    "pk",
    "pk__exact",
    "pk__startswith",
    "pk__gte",
    "pk__in",
    "session_data",
    "session_data__contains",
    "session_data__startswith",
    "user__session__session_key__startswith",
    "user__session__pk__startswith",
    "user__session__session_data__contains",
    "public_id__startswith",
    "id",
    "_changelist_filters",
    "created_at__year",
]


@pytest.mark.parametrize("lookup", KEY_AND_DATA_LOOKUPS)
def test_url_lookups_on_the_key_or_the_data_are_refused_alike(admin_client: Client, lookup: str) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")
    real, fake = two_answers(admin_client, lambda value: f"{CHANGELIST}?{lookup}={value}")
    assert real.status_code == fake.status_code == 400
    assert real.content == fake.content
    assert "203.0.113.7" not in real.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        "?q={value}",
        "?q=_auth_user_id",  # the session data's keys
        "?o=0&q={value}",
    ],
)
def test_search_reaches_neither_key_nor_data(admin_client: Client, params: str) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")
    real, fake = two_answers(admin_client, lambda value: CHANGELIST + params.format(value=value))
    assert real.status_code == fake.status_code == 200
    assert "203.0.113.7" not in real.content.decode()
    assert "0 sessions" in real.content.decode()


@pytest.mark.parametrize("params", ["?_popup=1", "?_popup=1&_to_field=public_id"])
def test_popups_hand_the_public_id_to_the_opener(admin_client: Client, params: str) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")
    response = admin_client.get(CHANGELIST + params)
    assert response.status_code == 200
    session = Session.objects.get(user__username="alice")
    assert f'data-popup-opener="{session.public_id}"' in response.content.decode()
    assert_no_key_in(response)


@pytest.mark.parametrize("to_field", ["session_key", "pk", "session_data", "user", "ip", "expire_date", "nope"])
@pytest.mark.parametrize("popup", ["_popup=1&", ""])
def test_to_field_other_than_the_public_id_is_refused(admin_client: Client, popup: str, to_field: str) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")
    response = admin_client.get(f"{CHANGELIST}?{popup}_to_field={to_field}")
    assert response.status_code == 400
    assert_no_key_in(response)


def test_related_widgets_and_autocomplete_cannot_point_at_the_key() -> None:
    """A foreign key to sessions would reach them through to_field_allowed (raw id popups, autocomplete)."""
    from django.contrib.admin import site
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    model_admin = site.get_model_admin(Session)
    assert not model_admin.to_field_allowed(request, "session_key")
    assert not model_admin.to_field_allowed(request, "session_data")
    assert model_admin.to_field_allowed(request, "public_id")


@pytest.mark.parametrize("field_name", ["session_key", "session_data", "public_id", "ip"])
def test_autocomplete_never_lists_sessions(admin_client: Client, field_name: str) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")
    response = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "qsessions", "model_name": "session", "field_name": field_name, "term": ""},
    )
    assert response.status_code == 403
    assert_no_key_in(response)


@pytest.mark.parametrize("order", ["1", "-1", "2", "4", "5", "6", "7", "8", "-8", "0.1.2.3.4.5.6.7.8"])
def test_rows_with_equal_sort_values_are_not_ordered_by_key(admin_client: Client, order: str) -> None:
    """Django breaks ties by primary key: the order of equal rows would compare session keys."""
    now = "2030-01-01T00:00:00Z"
    keys = [f"{letter}{'k' * 31}" for letter in "abcdefgh"]
    for key in keys:
        Session.objects.create(
            session_key=key, session_data="x", expire_date=now, created_at=now, last_activity=now, ip="10.0.0.1"
        )
    equal = Session.objects.filter(pk__in=keys)  # not the admin's own session
    equal.update(updated_at=now)  # auto_now: set apart from the other times
    by_public_id = sorted(equal.values_list("public_id", flat=True))
    by_key = list(equal.order_by("pk").values_list("public_id", flat=True))
    assert by_public_id != by_key and by_public_id != by_key[::-1]
    body = admin_client.get(CHANGELIST, {"o": order}).content.decode()
    shown = [public_id for public_id in by_public_id if f'value="{public_id}"' in body]
    shown.sort(key=body.index)
    assert shown in (by_public_id, by_public_id[::-1])


def test_allowed_filters_still_answer(admin_client: Client) -> None:
    alice = make_user()
    make_user("bob")
    signed_in_client(ip="203.0.113.7")
    signed_in_client("bob", ip="198.51.100.1")
    Session.objects.create(session_key="a" * 32, session_data="x", expire_date="2000-01-01T00:00:00Z", ip="10.9.9.9")
    one_user = admin_client.get(CHANGELIST, {"user__id__exact": alice.pk}).content.decode()
    assert "203.0.113.7" in one_user and "198.51.100.1" not in one_user
    anonymous = admin_client.get(CHANGELIST, {"user__isnull": "True"}).content.decode()
    assert "10.9.9.9" in anonymous and "203.0.113.7" not in anonymous
    assert admin_client.get(CHANGELIST, {"user__id__exact": "x"})["Location"] == f"{CHANGELIST}?e=1"


def test_site_wide_actions_are_not_offered_on_sessions(admin_client: Client) -> None:
    from django.contrib.admin import site

    def export_rows(modeladmin: Any, request: Any, queryset: Any) -> Any:
        from django.http import HttpResponse

        return HttpResponse("\n".join(f"{s.pk},{s.session_data}" for s in queryset))

    make_user()
    signed_in_client(ip="203.0.113.7")
    session = Session.objects.get(user__username="alice")
    site.add_action(export_rows, "export_rows")
    try:
        assert "export_rows" not in admin_client.get(CHANGELIST).content.decode()
        response = admin_client.post(
            CHANGELIST, {"action": "export_rows", "index": "0", "_selected_action": [session.public_id]}
        )
        assert_no_key_in(response)
        assert session.session_data not in response.content.decode()
    finally:
        site.disable_action("export_rows")
        del site._global_actions["export_rows"]
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()


# -- issue 10 item 7: django-qsessions 2.x links by session key ----------------------------------------------


def test_change_url_built_with_the_session_key_opens_the_session(admin_client: Client) -> None:
    from django.urls import reverse

    make_user()
    client = signed_in_client(ip="203.0.113.7")
    client.get("/write/?value=FOO")
    key = session_key_of(client)
    response = admin_client.get(reverse("admin:qsessions_session_change", args=[key]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "203.0.113.7" in body
    assert "FOO" in body  # decoded data, for a superuser
    assert key not in body  # the page itself (its links and forms) uses the public id
    # A URL written by hand with the key still opens the page, which then leaks no referrer.
    by_hand = admin_client.get(f"/admin/qsessions/session/{key}/change/")
    assert by_hand.status_code == 200 and by_hand["Referrer-Policy"] == "no-referrer"


def test_unknown_key_answers_like_an_unknown_public_id(admin_client: Client) -> None:
    make_user()
    client = signed_in_client(ip="203.0.113.7")
    key = session_key_of(client)
    unknown_key = admin_client.get(f"{CHANGELIST}{'z' * 32}/change/")
    unknown_id = admin_client.get(f"{CHANGELIST}{'0' * 32}/change/")
    prefix = admin_client.get(f"{CHANGELIST}{key[:31]}/change/")
    longer = admin_client.get(f"{CHANGELIST}{key}0/change/")
    assert unknown_key.status_code == unknown_id.status_code == prefix.status_code == longer.status_code == 404
    assert unknown_key.content == unknown_id.content == prefix.content == longer.content


def test_session_key_link_needs_view_permission(engine: str) -> None:
    make_user()
    client = signed_in_client(ip="203.0.113.7")
    client.get("/write/?value=FOO")
    key = session_key_of(client)
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_session"))
    make_user("stranger", is_staff=True)
    as_viewer, as_stranger = Client(), Client()
    as_viewer.login(username="viewer", password="pw")
    as_stranger.login(username="stranger", password="pw")
    page = as_viewer.get(f"{CHANGELIST}{key}/change/")
    assert page.status_code == 200
    assert "203.0.113.7" in page.content.decode()
    assert "FOO" not in page.content.decode()  # decoded data: superusers only
    assert as_stranger.get(f"{CHANGELIST}{key}/change/").status_code in (403, 404)
    assert (
        as_stranger.get(f"{CHANGELIST}{key}/change/").content
        == as_stranger.get(f"{CHANGELIST}{'z' * 32}/change/").content
    )


# -- the admin as an operator expects -----------------------------------------------------------------------


def test_list_names_devices_as_the_user_pages_do(admin_client: Client) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")  # Chrome 131 on Windows
    body = admin_client.get(CHANGELIST).content.decode()
    assert "Chrome 131 on Windows" in body
    assert ">Other / Windows 10 / Chrome 131.0.0.0<" not in body


def test_current_session_is_marked(admin_client: Client) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")
    body = admin_client.get(CHANGELIST).content.decode()
    assert body.count("This session") == 1
    row = next(line for line in body.split("<tr") if "This session" in line)
    assert "root" in row and "alice" not in row  # the admin's own session, not alice's


def test_times_show_their_time_zone(admin_client: Client, settings: Any) -> None:
    settings.TIME_ZONE = "Asia/Kolkata"
    make_user()
    signed_in_client(ip="203.0.113.7")
    session = Session.objects.get(user__username="alice")
    listing = admin_client.get(CHANGELIST).content.decode()
    detail = admin_client.get(f"{CHANGELIST}{session.public_id}/change/").content.decode()
    for body in (listing, detail):
        assert "IST" in body
        assert "+05:30" in body  # machine-readable <time datetime>


RLO = "\u202e"
# ua-parser reads the device model "\u202ePixel 8" from it: the override reaches django-qsessions 2.x's device text.
RTL_UA = (
    f"Mozilla/5.0 (Linux; Android 14; {RLO}Pixel 8 Build/UQ1A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


def _outside_isolation(html: str) -> str:
    """The text of ``html`` outside <bdi> elements and FSI…PDI runs."""
    import re

    html = re.sub(r"<bdi\b[^>]*>.*?</bdi>", "", html, flags=re.S)
    return re.sub("\u2068.*?\u2069", "", html, flags=re.S)


def test_right_to_left_override_in_a_user_agent_is_isolated(admin_client: Client) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7", user_agent=RTL_UA)
    session = Session.objects.get(user__username="alice")
    pages = [
        admin_client.get(CHANGELIST).content.decode(),
        admin_client.get(CHANGELIST, {"q": "Pixel"}).content.decode(),
        admin_client.get(f"{CHANGELIST}{session.public_id}/change/").content.decode(),
        admin_client.get(f"{CHANGELIST}{session.public_id}/delete/").content.decode(),
        admin_client.post(
            CHANGELIST, {"action": "revoke_selected", "index": "0", "_selected_action": [session.public_id]}
        ).content.decode(),
    ]
    assert RLO in pages[2]  # shown (the user agent as sent), but isolated
    for page in pages:
        assert RLO not in _outside_isolation(page)
    # Revoked: the admin log's "Recent actions" prints the entry as plain text.
    admin_client.post(f"{CHANGELIST}{session.public_id}/delete/")
    assert RLO not in _outside_isolation(admin_client.get("/admin/").content.decode())


def test_revoke_action_asks_for_confirmation_and_keeps_the_filters(admin_client: Client) -> None:
    make_user()
    victim = signed_in_client(ip="203.0.113.7")
    target = Session.objects.get(ip="203.0.113.7")
    url = CHANGELIST + "?active=1&q=alice"
    selected = {"_selected_action": [target.public_id]}
    confirm = admin_client.post(url, {"action": "revoke_selected", "index": "0", **selected})
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "Are you sure" in body
    assert "delete-confirmation" in body  # Django's dangerous style: red button
    assert "Chrome 131 on Windows" in body
    assert f'value="{target.public_id}"' in body
    assert_no_key_in(confirm)
    assert victim.get("/read/").json()["user"] == "alice"  # nothing revoked yet
    done = admin_client.post(url, {"action": "revoke_selected", "post": "yes", "_selected_action": [target.public_id]})
    assert done.status_code == 302
    assert done["Location"] == url
    assert victim.get("/read/").json()["user"] is None


def test_revoke_all_matching_asks_for_confirmation(admin_client: Client) -> None:
    make_user()
    make_user("bob")
    alice_one = signed_in_client(ip="203.0.113.7")
    alice_two = signed_in_client(ip="203.0.113.8")
    bob = signed_in_client("bob", ip="198.51.100.1")
    url = CHANGELIST + "?q=alice"
    selected = Session.objects.get(ip="203.0.113.7").public_id
    confirm = admin_client.post(
        url, {"action": "revoke_selected", "index": "0", "select_across": "1", "_selected_action": [selected]}
    )
    assert "2 sessions" in confirm.content.decode()
    assert alice_two.get("/read/").json()["user"] == "alice"
    admin_client.post(
        url, {"action": "revoke_selected", "post": "yes", "select_across": "1", "_selected_action": [selected]}
    )
    assert alice_one.get("/read/").json()["user"] is None
    assert alice_two.get("/read/").json()["user"] is None
    assert bob.get("/read/").json()["user"] == "bob"


def test_revoke_from_the_detail_page_goes_through_a_confirmation(admin_client: Client) -> None:
    make_user()
    victim = signed_in_client(ip="203.0.113.7")
    session = Session.objects.get(ip="203.0.113.7")
    filters = "?_changelist_filters=active%3D1"
    detail_url = f"{CHANGELIST}{session.public_id}/change/{filters}"
    detail = admin_client.get(detail_url).content.decode()
    revoke_url = f"{CHANGELIST}{session.public_id}/delete/{filters}"
    assert f'href="{revoke_url}" class="deletelink"' in detail.replace("&amp;", "&")
    assert admin_client.post(detail_url).status_code == 405  # no one-click revocation
    assert victim.get("/read/").json()["user"] == "alice"
    confirm = admin_client.get(revoke_url)
    assert confirm.status_code == 200
    assert "delete-confirmation" in confirm.content.decode()
    assert_no_key_in(confirm)
    done = admin_client.post(revoke_url)
    assert done.status_code == 302
    assert done["Location"] == f"{CHANGELIST}?active=1"
    assert victim.get("/read/").json()["user"] is None
    assert admin_client.get(revoke_url).status_code == 404


def test_revoke_page_needs_revoke_permission(engine: str) -> None:
    make_user()
    signed_in_client(ip="203.0.113.7")
    session = Session.objects.get(ip="203.0.113.7")
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_session"))
    client = Client()
    client.login(username="viewer", password="pw")
    assert client.get(f"{CHANGELIST}{session.public_id}/delete/").status_code == 403
    assert client.post(f"{CHANGELIST}{session.public_id}/delete/").status_code == 403
    assert client.get(f"{CHANGELIST}{'0' * 32}/delete/").status_code == 403
    assert Session.objects.filter(pk=session.pk).exists()


def test_revoking_own_session_warns_first(admin_client: Client) -> None:
    admin_client.get(CHANGELIST)
    own = Session.objects.get(ip="192.0.2.10")
    body = admin_client.get(f"{CHANGELIST}{own.public_id}/delete/").content.decode()
    assert "This is the session you are using now" in body


def test_django_qsessions_2x_admin_smoke_test_still_passes(admin_client: Client) -> None:
    """django-qsessions 2.x's own admin test, as it is written there: list by filters, then the key's page."""
    admin_client.get("/write/?value=FOO", HTTP_USER_AGENT="Chrome/70.0.3538.102", REMOTE_ADDR="89.160.20.112")
    response = admin_client.get(f"{CHANGELIST}?active=1&owner=my")
    assert response.status_code == 200
    assert "Chrome 70.0.3538" in response.content.decode()  # 2.x's device text, kept as the tooltip
    response = admin_client.get(f"{CHANGELIST}{session_key_of(admin_client)}/change/")
    assert "FOO" in response.content.decode()


# -- deleting a user who has sessions ------------------------------------------------------------------------


def test_reversing_the_change_url_with_a_key_never_puts_the_key_in_the_url(engine: str) -> None:
    make_user()
    key = session_key_of(signed_in_client())
    url = reverse("admin:qsessions_session_change", args=[key])
    assert key not in url
    assert url == reverse("admin:qsessions_session_change", args=[Session.objects.get().public_id])


def test_a_superuser_can_delete_a_user_who_has_sessions(admin_client: Client) -> None:
    """Django's confirmation page lists the user's sessions: by public id, with links by public id."""
    alice = make_user()
    victim = signed_in_client()
    key = session_key_of(victim)
    public_id = Session.objects.get(pk=key).public_id
    page = admin_client.get(reverse("admin:auth_user_delete", args=[alice.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "permission" not in body.lower()  # no "your account doesn't have permission to delete" refusal
    assert key not in body
    assert public_id in body
    response = admin_client.post(reverse("admin:auth_user_delete", args=[alice.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Session.objects.filter(pk=key).exists()
    assert victim.get("/read/").json()["user"] is None


def test_staff_without_the_session_permission_cannot_delete_a_user_who_has_sessions(engine: str) -> None:
    alice = make_user()
    signed_in_client()
    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["delete_user", "view_user", "change_user"]))
    client = Client()
    client.login(username="staff", password="pw")
    page = client.get(reverse("admin:auth_user_delete", args=[alice.pk]))
    assert page.status_code == 200
    assert "session" in page.content.decode().lower()  # Django names what may not be deleted
    client.post(reverse("admin:auth_user_delete", args=[alice.pk]), {"post": "yes"})
    assert Session.objects.filter(user=alice).exists()


def test_the_cache_only_engines_pages_are_not_served_on_the_database_engines(admin_client: Client) -> None:
    alice = make_user()
    assert "Revoke selected sessions" in admin_client.get(CHANGELIST).content.decode()
    assert admin_client.get(f"{CHANGELIST}user/{alice.pk}/").status_code == 404
    assert admin_client.get(f"{CHANGELIST}user/{alice.pk}/revoke/").status_code == 404
    assert admin_client.post(f"{CHANGELIST}user/{alice.pk}/revoke/").status_code == 404
