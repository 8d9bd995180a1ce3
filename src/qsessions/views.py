"""The signed-in user's "Your sessions" pages and their JSON API.

Sessions are addressed by ``public_id`` everywhere: the session key never reaches a page, a JSON body or
a URL. A user only ever finds their own sessions; anyone else's id is answered like an unknown one.

Every view checks CSRF itself (``csrf_protect``, as Django's login and logout views do), so revocation stays
protected on a site without ``CsrfViewMiddleware``, and no answer may be cached (``never_cache``): a shared
computer's browser must not show someone's sessions, IPs and places from its cache after they sign out.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.db.models import Case, F, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.translation import get_language_bidi, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from qsessions import cache_sessions, known_devices, lifecycle
from qsessions.cache import sessions_are_cache_only
from qsessions.cache_sessions import CachedSession
from qsessions.models import EndedSession, Session, SessionQuerySet, looks_like_public_id
from qsessions.reauthentication import reauthentication_required
from qsessions.revocation import REASON_OTHER_SESSIONS, REASON_USER, revoke, revoke_all
from qsessions.sign_in import SignInMethod, session_sign_in_method

FSI, RLI, PDI = "\u2068", "\u2067", "\u2069"  # first-strong and right-to-left isolates, and their end
# "Recently signed out" lists this many of the user's ended sessions, the latest first.
RECENT_ENDS = 10

# Under this, "last active" reads "just now" rather than "0 minutes ago".
JUST_NOW = datetime.timedelta(minutes=1)
# Sessions per page of "Your sessions" and of the API's list: a page costs the same for a user with 1,000.
PAGE_SIZE = 50
MAX_PAGE_DIGITS = 6  # page 999,999 at most: anything longer is not a page number


@dataclass(frozen=True)
class SessionEntry:
    """A session as the owner sees it."""

    session: Session | CachedSession
    current: bool
    device: str

    @property
    def just_now(self) -> bool:
        last = self.session.last_activity
        return last is not None and timezone.now() - last < JUST_NOW

    @cached_property
    def sign_in(self) -> SignInMethod:
        """How the session signed in (read from its data when first asked)."""
        return session_sign_in_method(self.session)


def _own_sessions(request: HttpRequest) -> SessionQuerySet:
    # With the data: the sign-in method is read from it.
    sessions: SessionQuerySet = Session.objects.for_user(request.user).active()
    return sessions


def _entry(request: HttpRequest, session: Session | CachedSession) -> SessionEntry:
    return SessionEntry(session, session.session_key == request.session.session_key, session.device_name)


def _in_page_order(request: HttpRequest, sessions: SessionQuerySet) -> SessionQuerySet:
    # This device first, then the most recently active; the public id makes the order total, so that pages
    # neither repeat nor skip a session.
    current = request.session.session_key or ""
    ordered: SessionQuerySet = sessions.order_by(
        Case(When(session_key=current, then=Value(0)), default=Value(1)),
        F("last_activity").desc(nulls_last=True),
        F("created_at").desc(nulls_last=True),
        "public_id",
    )
    return ordered


def _cached_in_page_order(request: HttpRequest) -> list[CachedSession]:
    """The cache-only engine's sessions of the user (two Redis calls), in the pages' order."""
    current = request.session.session_key
    cached = sorted(cache_sessions.user_sessions(request.user), key=cache_sessions.most_recent_first)
    return sorted(cached, key=lambda session: session.session_key != current)  # stable: this device first


def session_entries(request: HttpRequest) -> list[SessionEntry]:
    """All the user's active sessions, this device first, then the most recently active, in one query (two
    Redis calls on the cache-only engine)."""
    if sessions_are_cache_only():
        return [_entry(request, session) for session in _cached_in_page_order(request)]
    return [_entry(request, session) for session in _in_page_order(request, _own_sessions(request))]


@dataclass(frozen=True)
class SessionPage:
    """One page of the user's active sessions: on the first, this device comes first."""

    entries: list[SessionEntry]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_number(self) -> int | None:
        return self.number + 1 if self.has_next else None

    @property
    def previous_number(self) -> int | None:
        return self.number - 1 if self.has_previous else None


def page_number(request: HttpRequest) -> int | None:
    """The ``page`` query parameter (1 when absent); ``None`` when it is not a page number."""
    raw = request.GET.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_PAGE_DIGITS or int(raw) < 1:
        return None
    return int(raw)


def session_page(request: HttpRequest, number: int) -> SessionPage:
    """Page ``number`` of the user's active sessions, ``PAGE_SIZE`` at most, in one query."""
    start = (number - 1) * PAGE_SIZE
    sessions: list[Any]
    if sessions_are_cache_only():
        sessions = _cached_in_page_order(request)[start : start + PAGE_SIZE + 1]
    else:
        sessions = list(_in_page_order(request, _own_sessions(request))[start : start + PAGE_SIZE + 1])
    entries = [_entry(request, session) for session in sessions[:PAGE_SIZE]]
    return SessionPage(entries, number, has_next=len(sessions) > PAGE_SIZE)


def recent_ends(request: HttpRequest, limit: int = RECENT_ENDS) -> list[EndedSession]:
    """The user's most recently ended sessions (the history), the latest first, in one query.

    The cache-only engine keeps no history (and touches no database): none.
    """
    if sessions_are_cache_only():
        return []
    return list(EndedSession.objects.for_user(request.user).order_by("-ended_at", "-pk")[:limit])


def own_session(request: HttpRequest, public_id: str) -> SessionEntry | None:
    # Anything but an id's shape is unknown without asking the database (PostgreSQL refuses NUL bytes).
    if not looks_like_public_id(public_id):
        return None
    if sessions_are_cache_only():
        found = [s for s in cache_sessions.user_sessions(request.user) if s.public_id == public_id]
        return _entry(request, found[0]) if found else None
    session = _own_sessions(request).filter(public_id=public_id).first()
    return _entry(request, session) if session is not None else None


def revoke_own(request: HttpRequest, entry: SessionEntry) -> bool:
    """Revoke one of the user's sessions; revoking the current one signs the user out. True if it was."""
    revoke(entry.session, REASON_USER, request)
    if entry.current:
        logout(request)
    return entry.current


def revoke_others(request: HttpRequest) -> int:
    return revoke_all(request.user, REASON_OTHER_SESSIONS, keep=request.session.session_key, request=request)


# -- pages -------------------------------------------------------------------------------------------------


@never_cache
@login_required
@require_GET
@csrf_protect
def session_list(request: HttpRequest) -> HttpResponse:
    number = page_number(request)
    if number is None:
        raise Http404(_("No such page."))
    page = session_page(request, number)
    if not page.entries and number > 1:
        raise Http404(_("No such page."))
    context = {
        "entries": page.entries,
        "page": page,
        "has_others": page.has_next or any(not entry.current for entry in page.entries),
        "known_devices": known_devices.enabled(),
        "ended": [(ended, lifecycle.reason_label(ended.reason)) for ended in recent_ends(request)],
    }
    return render(request, "qsessions/session_list.html", context)


@never_cache
@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
@csrf_protect
def revoke_session(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET asks for confirmation; POST signs the session out."""
    entry = own_session(request, public_id)
    if entry is None:
        raise Http404(_("No such session."))
    if request.method == "GET":
        return render(request, "qsessions/revoke_confirm.html", {"entry": entry})
    if revoke_own(request, entry):
        return redirect(resolve_url(settings.LOGIN_URL))
    messages.success(
        request, _("The session on %(device)s was signed out.") % {"device": _device_label(entry)}, fail_silently=True
    )
    return redirect("qsessions:list")


@never_cache
@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
@csrf_protect
def revoke_other_sessions(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST signs out every session of the user but this one."""
    if request.method == "GET":
        if sessions_are_cache_only():
            others = sum(not entry.current for entry in session_entries(request))
        else:
            others = _own_sessions(request).exclude(session_key=request.session.session_key or "").count()
        return render(request, "qsessions/revoke_others_confirm.html", {"count": others})
    count = revoke_others(request)
    message = ngettext("%(count)d other session was signed out.", "%(count)d other sessions were signed out.", count)
    messages.success(request, message % {"count": count}, fail_silently=True)
    return redirect("qsessions:list")


def _device_label(entry: SessionEntry) -> str:
    # A message is plain text, where <bdi> cannot isolate the name: Unicode's isolate marks (FSI or RLI ... PDI)
    # do, so that a right-to-left override in a user agent cannot run on into the rest of the sentence. In a
    # right-to-left language the name is a phrase of that language ("Firefox 121 روی Windows"): isolated
    # right to left (RLI), not in the direction of its first letter.
    if not entry.device:
        return _("an unknown device")
    return f"{RLI if get_language_bidi() else FSI}{entry.device}{PDI}"


# -- JSON API ----------------------------------------------------------------------------------------------


def api_error(code: str, allow: list[str] | None = None) -> JsonResponse:
    """The API's answer for an error ``code`` (docs/user-sessions.md); ``allow``: the methods a 405 lists."""
    status, body = api_error_body(code)
    response = JsonResponse(body, status=status)
    if allow is not None:
        response["Allow"] = ", ".join(allow)
    return response


def api_error_body(code: str) -> tuple[int, dict[str, Any]]:
    """The status and the JSON body of an error ``code``: ``contrib.rest_framework`` answers with them too."""
    status, detail = {
        "method_not_allowed": (405, _("Method not allowed.")),
        "not_authenticated": (401, _("Sign in to manage your sessions.")),
        "csrf_failed": (
            403,
            _("CSRF verification failed: send the token of the csrftoken cookie in the X-CSRFToken header."),
        ),
        "not_found": (404, _("No such session.")),
        "invalid_page": (400, _("page must be a whole number from 1.")),
    }[code]
    return status, {"error": {"code": code, "detail": detail}}


def api_endpoint(methods: list[str]) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Method check (405), session authentication (401) and CSRF (403), all answered in JSON; never cached.

    The CSRF check is Django's own ``csrf_protect`` around the view. When the view is not reached, the
    check failed: Django has logged why (``django.security.csrf``) and its failure page is replaced by the
    API's JSON error.
    """

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @never_cache
        @csrf_exempt  # the site's middleware leaves these views to the check below, which answers in JSON
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                return api_error("method_not_allowed", allow=methods)
            if not request.user.is_authenticated:
                return api_error("not_authenticated")
            reached = False

            @csrf_protect
            def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                nonlocal reached
                reached = True
                return view(request, *args, **kwargs)

            answer = checked(request, *args, **kwargs)
            return answer if reached else api_error("csrf_failed")

        return wrapper

    return decorator


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def session_json(entry: SessionEntry) -> dict[str, Any]:
    """One session in the API's schema (docs/user-sessions.md)."""
    session = entry.session
    return {
        "id": session.public_id,
        "current": entry.current,
        "device": entry.device or None,
        "user_agent": session.user_agent,
        "ip": session.ip,
        "location": session.location,
        "created_at": _iso(session.created_at),
        "last_activity": _iso(session.last_activity),
        "expires_at": _iso(session.expire_date),
        "sign_in_method": entry.sign_in.label or None,
        "second_factor": entry.sign_in.second_factor,
        "impersonated": session.impersonator_id is not None,
    }


def ended_session_json(ended: EndedSession) -> dict[str, Any]:
    """One ended session in the API's schema (docs/user-sessions.md)."""
    description = ended.device_description
    return {
        "id": ended.public_id,
        "reason": ended.reason,
        "reason_label": lifecycle.reason_label(ended.reason),
        "device": description.name if description is not None and description.name else None,
        "user_agent": ended.user_agent,
        "ip": ended.ip,
        "location": ended.location,
        "created_at": _iso(ended.created_at),
        "last_activity": _iso(ended.last_activity),
        "ended_at": _iso(ended.ended_at),
    }


@api_endpoint(["GET"])
def api_session_list(request: HttpRequest) -> HttpResponseBase:
    number = page_number(request)
    if number is None:
        return api_error("invalid_page")
    return JsonResponse(session_list_json(request, session_page(request, number)))


def session_list_json(request: HttpRequest, page: SessionPage) -> dict[str, Any]:
    """A page of the user's sessions in the API's schema (docs/user-sessions.md): ``contrib`` answers it too."""

    def link(number: int | None) -> str | None:
        return None if number is None else f"{request.path}?page={number}"

    return {
        "sessions": [session_json(entry) for entry in page.entries],
        "page": page.number,
        "page_size": PAGE_SIZE,
        "next": link(page.next_number),
        "previous": link(page.previous_number),
    }


@api_endpoint(["GET", "DELETE"])
@reauthentication_required(json=True, methods=["DELETE"])
def api_session_detail(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """GET one session; DELETE revokes it."""
    entry = own_session(request, public_id)
    if entry is None:
        return api_error("not_found")
    if request.method == "GET":
        return JsonResponse(session_json(entry))
    return JsonResponse({"revoked": 1, "signed_out": revoke_own(request, entry)})


@api_endpoint(["POST"])
@reauthentication_required(json=True)
def api_revoke_other_sessions(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse({"revoked": revoke_others(request), "signed_out": False})


@api_endpoint(["GET"])
def api_ended_session_list(request: HttpRequest) -> HttpResponseBase:
    """The user's recently ended sessions (at most 50), the latest first."""
    return JsonResponse({"ended_sessions": [ended_session_json(e) for e in recent_ends(request, limit=50)]})
