from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from ninja import NinjaAPI
from rest_framework.routers import SimpleRouter

from qsessions.contrib import ninja as qsessions_ninja
from qsessions.contrib.rest_framework import SessionViewSet
from tests.testapp import views

# The same sessions API through Django REST framework and Django Ninja (tests/test_api_frameworks.py).
drf_router = SimpleRouter()
drf_router.register("sessions", SessionViewSet, basename="qsessions-session")
ninja_api = NinjaAPI(urls_namespace="ninja-test")
ninja_api.add_router("/", qsessions_ninja.router)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("session/", views.session_only),
    path("account/sessions/", include("qsessions.urls")),
    path("drf/", include(drf_router.urls)),
    path("ninja/", ninja_api.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/reauthenticate/", views.own_reauthentication_view),
    path("hijack/", views.hijack_view),
    path("async-sudo/", views.async_sudo_view),
    path("async-sudo-api/", views.async_sudo_api),
    path("async-record/", views.async_record_view),
    path("read/", views.read),
    path("whoami/", views.whoami),
    path("awhoami/", views.awhoami),
    path("write/", views.write),
    path("login/", views.login_view),
    path("logout/", views.logout_view),
    path("aread/", views.aread),
    path("awrite/", views.awrite),
    path("alogin/", views.alogin_view),
    path("alogout/", views.alogout_view),
    path("password/", views.change_password_view),
    path("apassword/", views.achange_password_view),
]
