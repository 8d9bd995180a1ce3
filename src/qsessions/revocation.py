"""Revoking sessions: removed from the database and the cache together, so they are refused at once.

Views and the admin act through these functions; they send ``session_revoked`` for every session they
remove, with the reason.
"""

from __future__ import annotations

from typing import Any, Final

from asgiref.sync import sync_to_async
from django.http import HttpRequest

from qsessions import cache_sessions
from qsessions.cache import sessions_are_cache_only
from qsessions.cache_sessions import CachedSession
from qsessions.models import Session, SessionQuerySet, delete_sessions_by_key
from qsessions.signals import session_revoked

REASON_USER: Final = "user"  # the owner signed one of their sessions out
REASON_OTHER_SESSIONS: Final = "other-sessions"  # the owner signed out everywhere else
REASON_ADMIN: Final = "admin"
REASON_PASSWORD_CHANGE: Final = "password-change"  # noqa: S105
REASON_LIMIT: Final = "limit"
REASON_LOGOUT: Final = "logout"
REASONS: Final = (REASON_USER, REASON_OTHER_SESSIONS, REASON_ADMIN, REASON_PASSWORD_CHANGE, REASON_LIMIT, REASON_LOGOUT)


def _check_reason(reason: str) -> None:
    if reason not in REASONS:
        raise ValueError(f"unknown revocation reason {reason!r}; expected one of {REASONS}")


def revoke_sessions(sessions: SessionQuerySet, reason: str, request: HttpRequest | None = None) -> int:
    """Revoke every session in ``sessions``; return how many were removed."""
    _check_reason(reason)
    listening = session_revoked.has_listeners(Session)
    removed = list(sessions.defer("session_data")) if listening else None
    if removed is not None:
        count = delete_sessions_by_key([s.pk for s in removed], using=sessions.db)[0]
        for session in removed:
            session_revoked.send(sender=Session, session=session, reason=reason, request=request)
        return count
    total: int = sessions.delete()[0]
    return total


def revoke(session: Session | CachedSession, reason: str, request: HttpRequest | None = None) -> bool:
    """Revoke one session; ``False`` when it was already gone."""
    if isinstance(session, CachedSession):
        _check_reason(reason)
        return cache_sessions.revoke(session, reason, request)
    return revoke_sessions(Session.objects.filter(pk=session.pk), reason, request) > 0


def revoke_all(user: Any, reason: str, keep: str | None = None, request: HttpRequest | None = None) -> int:
    """Revoke every session of ``user`` except the one whose key is ``keep``."""
    if sessions_are_cache_only():
        _check_reason(reason)
        return cache_sessions.revoke_all(user, reason, keep, request)
    sessions = Session.objects.filter(user=user)
    if keep is not None:
        sessions = sessions.exclude(pk=keep)
    return revoke_sessions(sessions, reason, request)


arevoke_sessions = sync_to_async(revoke_sessions)
arevoke = sync_to_async(revoke)
arevoke_all = sync_to_async(revoke_all)
