"""Mount with ``path("account/sessions/", include("qsessions.urls"))``."""

from __future__ import annotations

from django.urls import path

from qsessions import known_devices, reauthentication, views

app_name = "qsessions"

urlpatterns = [
    path("", views.session_list, name="list"),
    path("reauthenticate/", reauthentication.reauthenticate, name="reauthenticate"),
    path("devices/", known_devices.device_list, name="known_devices"),
    path("devices/<int:device_id>/forget/", known_devices.forget_device, name="forget_device"),
    path("not-me/<str:token>/", known_devices.not_me, name="not_me"),
    path("others/revoke/", views.revoke_other_sessions, name="revoke_others"),
    path("<str:public_id>/revoke/", views.revoke_session, name="revoke"),
    path("api/sessions/", views.api_session_list, name="api_list"),
    path("api/sessions/ended/", views.api_ended_session_list, name="api_ended"),
    path("api/sessions/revoke-others/", views.api_revoke_other_sessions, name="api_revoke_others"),
    path("api/sessions/<str:public_id>/", views.api_session_detail, name="api_detail"),
]
