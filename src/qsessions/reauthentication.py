"""Re-authentication ("sudo mode"): some actions need the user to have authenticated recently.

With ``QSESSIONS_REAUTHENTICATION_WINDOW`` set (seconds), a view decorated with
:func:`reauthentication_required` runs only when the session authenticated within that window; otherwise a
page sends the user to re-authenticate (and back), an API view answers 403 with the code
``reauthentication_required``. The time of the last authentication is kept in the session's own data
under :data:`AUTHENTICATED_AT_SESSION_KEY`: set at every login (``user_logged_in``) and by
:func:`record_authentication`, which the re-authentication page here calls, and which a site that
re-authenticates through its own views (allauth, django-otp, two-factor) calls as well.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from functools import wraps
from typing import Any, Final, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction
from django import forms
from django.contrib.auth import REDIRECT_FIELD_NAME, authenticate, get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from qsessions.conf import conf

# In the session's data: when this session last proved who its user is (a POSIX timestamp, float).
AUTHENTICATED_AT_SESSION_KEY: Final = "_qsessions_authenticated_at"
# The code of the API's 403 answer (docs/user-sessions.md).
ERROR_CODE: Final = "reauthentication_required"

# A view, sync or async (``async def`` views are decorated too).
_View = TypeVar("_View", bound=Callable[..., HttpResponseBase | Awaitable[HttpResponseBase]])


def reauthentication_window() -> int | None:
    """``QSESSIONS_REAUTHENTICATION_WINDOW``: seconds an authentication counts as recent; ``None``: off."""
    return conf.REAUTHENTICATION_WINDOW


def reauthentication_url() -> str:
    """Where users re-authenticate: ``QSESSIONS_REAUTHENTICATION_URL`` (a URL or URL name), else ours."""
    configured = conf.REAUTHENTICATION_URL
    return resolve_url(configured) if configured else reverse("qsessions:reauthenticate")


def record_authentication(request: HttpRequest) -> None:
    """Note in the request's session that its user has just proved who they are.

    Called at every login; call it from any other view that authenticates the signed-in user again
    (a password or second-factor prompt of your own, allauth's re-authentication, ...).
    """
    request.session[AUTHENTICATED_AT_SESSION_KEY] = time.time()


async def arecord_authentication(request: HttpRequest) -> None:
    """The async twin of :func:`record_authentication`."""
    await request.session.aset(AUTHENTICATED_AT_SESSION_KEY, time.time())


def _elapsed(value: Any) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return time.time() - value


def _recent(elapsed: float | None) -> bool:
    window = reauthentication_window()
    # A time in the future is not trusted (a changed clock): only 0..window seconds ago counts.
    return window is None or (elapsed is not None and 0 <= elapsed <= window)


def seconds_since_authentication(request: HttpRequest) -> float | None:
    """How long ago the request's session last authenticated; ``None`` if it never recorded it."""
    return _elapsed(request.session.get(AUTHENTICATED_AT_SESSION_KEY))


async def aseconds_since_authentication(request: HttpRequest) -> float | None:
    return _elapsed(await request.session.aget(AUTHENTICATED_AT_SESSION_KEY))


def recently_authenticated(request: HttpRequest) -> bool:
    """Whether the session authenticated within the window (always, when re-authentication is off)."""
    return reauthentication_window() is None or _recent(seconds_since_authentication(request))


async def arecently_authenticated(request: HttpRequest) -> bool:
    return reauthentication_window() is None or _recent(await aseconds_since_authentication(request))


def reauthentication_response(request: HttpRequest, *, json: bool = False) -> HttpResponse:
    """What a request that needs a recent authentication gets without one."""
    if json:
        return JsonResponse(reauthentication_error(), status=403)
    return redirect_to_login(request.get_full_path(), reauthentication_url(), REDIRECT_FIELD_NAME)


def reauthentication_error() -> dict[str, Any]:
    """The body of an API's 403 answer when a recent authentication is needed."""
    detail = _("Confirm your password to continue.")
    return {"error": {"code": ERROR_CODE, "detail": detail, "reauthenticate_url": reauthentication_url()}}


@overload
def reauthentication_required(view: _View, /) -> _View: ...
@overload
def reauthentication_required(
    *, json: bool = False, methods: Collection[str] | None = None
) -> Callable[[_View], _View]: ...
def reauthentication_required(
    view: _View | None = None, /, *, json: bool = False, methods: Collection[str] | None = None
) -> _View | Callable[[_View], _View]:
    """Let the view run only for a session that authenticated within ``QSESSIONS_REAUTHENTICATION_WINDOW``.

    Put it under ``login_required`` (or an API's own authentication). Without a recent authentication, a
    page redirects to the re-authentication page with ``?next=`` the current URL; with ``json=True`` the
    answer is a 403 ``{"error": {"code": "reauthentication_required", ...}}``. ``methods`` limits the
    check to these HTTP methods (e.g. ``["DELETE"]``); by default every request is checked. Works on sync
    and async views.
    """

    def decorator(function: _View) -> _View:
        checked = {method.upper() for method in methods} if methods is not None else None

        def needs_check(request: HttpRequest) -> bool:
            return checked is None or (request.method or "").upper() in checked

        if iscoroutinefunction(function):

            @wraps(function)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                if needs_check(request) and not await arecently_authenticated(request):
                    return reauthentication_response(request, json=json)
                response: HttpResponseBase = await function(request, *args, **kwargs)
                return response

            return async_wrapper  # type: ignore[return-value]

        @wraps(function)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if needs_check(request) and not recently_authenticated(request):
                return reauthentication_response(request, json=json)
            return cast(HttpResponseBase, function(request, *args, **kwargs))  # a sync view

        return wrapper  # type: ignore[return-value]

    return decorator(view) if view is not None else decorator


# -- the re-authentication page ---------------------------------------------------------------------------


class ReauthenticationForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        user = self.request.user
        credentials = {get_user_model().USERNAME_FIELD: user.get_username(), "password": password}
        # Through the configured backends, as at login, so that a site's backend (LDAP, ...) answers too.
        authenticated = authenticate(self.request, **credentials)
        if authenticated is None or authenticated.pk != user.pk:
            raise forms.ValidationError(_("That is not your password."), code="invalid_password")
        return password


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if candidate and allowed else reverse("qsessions:list")


@sensitive_post_parameters("password")
@never_cache
@csrf_protect
@login_required
@require_http_methods(["GET", "POST"])
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Ask for the password again; on success, record the authentication and go back to ``next``."""
    next_url = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME)
    form = ReauthenticationForm(request, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        record_authentication(request)
        return HttpResponseRedirect(_safe_next(request, next_url))
    safe_next = _safe_next(request, next_url)
    context = {"form": form, "next": safe_next, "redirect_field_name": REDIRECT_FIELD_NAME}
    return render(request, "qsessions/reauthenticate.html", context)
