"""The Session model: drop-in fields and properties, the manager, and the QuerySet helpers."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from qsessions.models import Session, make_public_id
from tests.helpers import CHROME_UA, IPHONE_UA, make_user, signed_in_client

pytestmark = pytest.mark.django_db


def test_drop_in_fields_and_table() -> None:
    assert Session._meta.db_table == "qsessions_session"
    assert Session._meta.app_label == "qsessions"
    fields = {f.name: f for f in Session._meta.get_fields()}
    assert fields["user_agent"].max_length == 300  # type: ignore[union-attr]
    assert fields["ip"].get_internal_type() == "GenericIPAddressField"
    assert fields["user"].remote_field.on_delete.__name__ == "CASCADE"  # type: ignore[union-attr]


def test_device_in_django_qsessions_format() -> None:
    session = Session(session_key="k", user_agent=IPHONE_UA)
    assert session.device == "iPhone / iOS 17.1 / Mobile Safari 17.1"
    assert session.device_info is not None
    assert session.device_info.os.family == "iOS"  # type: ignore[union-attr]
    desktop = Session(session_key="k", user_agent=CHROME_UA)
    assert desktop.device == "Other / Windows 10 / Chrome 131.0.0.0"


def test_device_without_user_agent() -> None:
    session = Session(session_key="k", user_agent=None)
    assert session.device == ""
    assert session.device_info is None
    assert Session(session_key="k", user_agent="garbage").device == "Other / Other / Other"


def test_location_without_geoip_database_is_none() -> None:
    session = Session(session_key="k", ip="8.8.8.8")
    assert session.location is None
    assert session.location_info is None


def test_public_id_is_a_digest_of_the_key() -> None:
    key = "abc" * 10
    assert make_public_id(key) == make_public_id(key)
    assert make_public_id(key) != make_public_id(key + "x")
    assert len(make_public_id(key)) == 32
    assert key not in make_public_id(key)


def test_active_expired_and_for_user(engine: str) -> None:
    alice = make_user()
    signed_in_client()
    Session.objects.create(
        session_key="old" + "0" * 29, session_data="x", expire_date=timezone.now() - datetime.timedelta(days=1)
    )
    assert list(Session.objects.active().values_list("user", flat=True)) == [alice.pk]
    assert Session.objects.expired().count() == 1
    assert Session.objects.for_user(alice).count() == 1
    assert alice.session_set.count() == 1


def test_manager_save_keeps_created_at_and_follows_the_owner(engine: str) -> None:
    alice = make_user()
    expire = timezone.now() + datetime.timedelta(days=1)
    created = Session.objects.save("m" * 32, {"a": 1}, expire)
    stored = Session.objects.get(pk="m" * 32)
    assert stored.created_at is not None
    assert stored.public_id == make_public_id("m" * 32)
    Session.objects.save("m" * 32, {"a": 2, "_auth_user_id": str(alice.pk)}, expire)
    updated = Session.objects.get(pk="m" * 32)
    assert updated.created_at == stored.created_at
    assert updated.user == alice
    assert updated.get_decoded() == {"a": 2, "_auth_user_id": str(alice.pk)}
    Session.objects.save("m" * 32, {}, expire)
    assert not Session.objects.filter(pk="m" * 32).exists()
    assert created.session_key == "m" * 32
