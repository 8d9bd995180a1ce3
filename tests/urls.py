from __future__ import annotations

from django.contrib import admin
from django.urls import path

from tests.testapp import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("session/", views.session_only),
    path("read/", views.read),
    path("write/", views.write),
    path("login/", views.login_view),
    path("logout/", views.logout_view),
    path("aread/", views.aread),
    path("awrite/", views.awrite),
    path("alogin/", views.alogin_view),
]
