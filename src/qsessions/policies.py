"""Session policies: how many sessions a user may keep, and signing out everywhere else when the password
changes. The receivers in receivers.py call these; sites may call them too."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db.models import F
from django.http import HttpRequest

from qsessions import cache_sessions
from qsessions.cache import sessions_are_cache_only
from qsessions.conf import conf
from qsessions.models import Session
from qsessions.revocation import REASON_LIMIT, REASON_PASSWORD_CHANGE, revoke_all, revoke_sessions

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

# The session of the request being served, set by qsessions' middleware. A password change is a model
# save with no request in reach; this is how it knows which session made it, so as to keep that one.
current_session: ContextVar[SessionBase | None] = ContextVar("qsessions_current_session", default=None)


def _current_key(request: HttpRequest | None) -> str | None:
    session = getattr(request, "session", None) if request is not None else current_session.get()
    key = getattr(session, "session_key", None)
    return key if isinstance(key, str) else None


def enforce_session_limit(user: Any, request: HttpRequest | None = None) -> int:
    """Revoke ``user``'s least recently active sessions beyond QSESSIONS_MAX_SESSIONS_PER_USER.

    The session of ``request`` (the one signing in) always stays. Returns how many were revoked.
    """
    limit = conf.MAX_SESSIONS_PER_USER
    if limit is None:
        return 0
    keep = _current_key(request)
    if sessions_are_cache_only():
        return cache_sessions.revoke_beyond(user, limit - 1 if keep is not None else limit, keep, REASON_LIMIT, request)
    others = Session.objects.for_user(user).active()
    if keep is not None:
        others = others.exclude(pk=keep)
        limit -= 1
    newest_first = others.order_by(F("last_activity").desc(nulls_last=True), F("created_at").desc(nulls_last=True))
    stale = list(newest_first.values_list("pk", flat=True)[max(limit, 0) :])
    if not stale:
        return 0
    return revoke_sessions(Session.objects.filter(pk__in=stale), REASON_LIMIT, request)


def revoke_after_password_change(user: Any, request: HttpRequest | None = None) -> int:
    """Revoke every session of ``user`` but the current request's (when QSESSIONS_REVOKE_ON_PASSWORD_CHANGE).

    The current session is kept so that ``update_session_auth_hash`` can keep its user signed in; without
    that call, Django signs it out on its next request, as always.
    """
    if not conf.REVOKE_ON_PASSWORD_CHANGE:
        return 0
    return revoke_all(user, REASON_PASSWORD_CHANGE, keep=_current_key(request), request=request)
