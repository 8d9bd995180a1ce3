"""Revoking sessions: removed from the database and the cache together, so they are refused at once.

Views and the admin act through these functions; they send ``session_revoked`` for every session they
remove, with the reason.
"""

from __future__ import annotations

from typing import Any, Final

from asgiref.sync import sync_to_async
from django.db import transaction
from django.http import HttpRequest

from qsessions import cache_sessions
from qsessions.cache import sessions_are_cache_only
from qsessions.cache_sessions import CachedSession
from qsessions.conf import conf
from qsessions.models import (
    END_ADMIN,
    END_LIMIT,
    END_LIMIT_REFUSED,
    END_LOGOUT,
    END_OTHER_SESSIONS,
    END_PASSWORD_CHANGE,
    END_USER,
    ENDED_COLUMNS,
    Session,
    SessionQuerySet,
    delete_sessions_by_key,
    ended_values,
    record_ends,
)
from qsessions.signals import session_revoked

REASON_USER: Final = END_USER  # the owner signed one of their sessions out
REASON_OTHER_SESSIONS: Final = END_OTHER_SESSIONS  # the owner signed out everywhere else
REASON_ADMIN: Final = END_ADMIN
REASON_PASSWORD_CHANGE: Final = END_PASSWORD_CHANGE
REASON_LIMIT: Final = END_LIMIT
REASON_LOGOUT: Final = END_LOGOUT
REASON_LIMIT_REFUSED: Final = END_LIMIT_REFUSED
REASONS: Final = (
    REASON_USER,
    REASON_OTHER_SESSIONS,
    REASON_ADMIN,
    REASON_PASSWORD_CHANGE,
    REASON_LIMIT,
    REASON_LIMIT_REFUSED,
    REASON_LOGOUT,
)


def _check_reason(reason: str) -> None:
    if reason not in REASONS:
        raise ValueError(f"unknown revocation reason {reason!r}; expected one of {REASONS}")


def revoke_sessions(sessions: SessionQuerySet, reason: str, request: HttpRequest | None = None) -> int:
    """Revoke every session in ``sessions``; return how many were removed."""
    _check_reason(reason)
    listening = session_revoked.has_listeners(Session)
    history = conf.HISTORY
    if listening or history:
        removed = list(sessions.defer("session_data")) if listening else []
        rows = [ended_values(s) for s in removed] if listening else list(sessions.values_list(*ENDED_COLUMNS))
        with transaction.atomic(using=sessions.db):
            count = delete_sessions_by_key([row[0] for row in rows], using=sessions.db)[0]
            if history and count:
                # A browser that signed itself out knows why; any other is told on its next request.
                record_ends(rows, reason, using=sessions.db, told=reason == REASON_LOGOUT)
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
