"""Session policies: how many sessions a user may keep, impersonations, and signing out everywhere else when
the password changes. The receivers in receivers.py and the middleware call these; sites may call them too.

A sign-in's limit is enforced when the response is done (``signed_in``, called by qsessions' middleware):
by then the new session has its key even when ``login()`` flushed the session rather than cycling its key
(another user was signed in), and django-hijack has marked its impersonation in the session.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import router
from django.db.models import F
from django.http import HttpRequest

from qsessions import cache_sessions
from qsessions.cache import sessions_are_cache_only
from qsessions.conf import conf
from qsessions.models import END_LIMIT_REFUSED, HIJACK_SESSION_KEY, Session, owner_exists
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


# django-impersonate never calls login(): its impersonations stay the staff member's own session (the
# target id under "_impersonate"), never the target's, and need nothing here. django-hijack does: see
# HIJACK_SESSION_KEY.
# Set on a request at login (receivers.py), read by the middleware when the response is done.
SIGNED_IN_ATTRIBUTE = "_qsessions_signed_in"


def session_limit_for(user: Any) -> int | None:
    """How many sessions ``user`` may have: QSESSIONS_MAX_SESSIONS_FOR_USER(user) if set, else the site's limit."""
    per_user = conf.MAX_SESSIONS_FOR_USER
    if per_user is not None:
        limit = per_user(user)
        return None if limit is None else int(limit)
    return conf.MAX_SESSIONS_PER_USER


def impersonator_id(session: SessionBase) -> Any:
    """The primary key of whoever impersonates the owner in ``session`` (django-hijack), or ``None``."""
    history = session.get(HIJACK_SESSION_KEY)
    if not isinstance(history, list) or not history:
        return None
    try:
        return Session._meta.get_field("impersonator").target_field.to_python(history[-1])
    except (ValidationError, TypeError, ValueError):
        return None


def signed_in(request: HttpRequest, user: Any) -> int:
    """After a response that signed ``user`` in: record an impersonation, or enforce the session limit.

    An impersonation is never counted toward the user's limit and never evicts their sessions. Returns
    how many sessions were revoked (the refused sign-in included).
    """
    session = request.session
    key = session.session_key
    if key is None:
        return 0
    impersonator = impersonator_id(session)
    if impersonator is not None:
        if owner_exists(impersonator, router.db_for_write(Session)):
            Session.objects.filter(pk=key).update(impersonator=impersonator)
        return 0
    return enforce_session_limit(user, request)


def enforce_session_limit(user: Any, request: HttpRequest | None = None) -> int:
    """Hold ``user`` to their session limit (QSESSIONS_MAX_SESSIONS_PER_USER, QSESSIONS_MAX_SESSIONS_FOR_USER).

    The session of ``request`` (the one signing in) counts, with or without a key yet. By default
    (QSESSIONS_SESSION_LIMIT_POLICY = "revoke-oldest") it stays and the least recently active others are
    revoked; with "refuse", it is the one revoked when there is no room. Impersonations do not count.
    Returns how many sessions were revoked.
    """
    limit = session_limit_for(user)
    if limit is None:
        return 0
    keep = _current_key(request)
    if sessions_are_cache_only():  # no impersonations nor history there: the oldest beyond the limit go
        return cache_sessions.revoke_beyond(user, limit - 1 if keep is not None else limit, keep, REASON_LIMIT, request)
    others = Session.objects.for_user(user).active().filter(impersonator__isnull=True)
    if keep is not None:
        others = others.exclude(pk=keep)
    if request is not None and getattr(request, "session", None) is not None:
        limit -= 1  # the session signing in, saved or not yet (login() flushed it: no key until the response)
        if conf.SESSION_LIMIT_POLICY == "refuse":
            if keep is None or others[: max(limit, 0) + 1].count() <= max(limit, 0):
                return 0
            return revoke_sessions(Session.objects.filter(pk=keep), END_LIMIT_REFUSED, request)
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
