"""The benchmark site's views: each does one thing to the session, and nothing else."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

_users: dict[str, object] = {}


def anonymous(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def read(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session.get("cart")))


def write(request: HttpRequest) -> HttpResponse:
    request.session["counter"] = request.session.get("counter", 0) + 1
    return HttpResponse("ok")


def sign_in(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("user", "bench")
    user = _users.get(name)
    if user is None:
        user = _users[name] = get_user_model()._default_manager.get(username=name)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["cart"] = {"items": [1, 2, 3], "currency": "EUR"}
    return HttpResponse("ok")


urlpatterns = [
    path("anon/", anonymous),
    path("read/", read),
    path("write/", write),
    path("login/", sign_in),
    path("admin/", admin.site.urls),
]

try:  # qsessions 3's "Your sessions" pages (django-qsessions 2.x, the same module name, has none)
    import qsessions.urls  # noqa: F401
except ImportError:
    pass
else:
    urlpatterns.append(path("account/sessions/", include("qsessions.urls")))
