"""How sessions end: idle and absolute timeouts, and telling a signed-out browser why.

The store (backends/db.py) asks ``timed_out()`` about the row it has just read (from the cache or the
database: no query of its own), and hands a session that timed out to ``end()``. A cookie whose session
is gone is noted by the store and handed to ``tell_stale()``, which finds the session's record in the
history (``EndedSession``) and tells the browser why, once. Both run only on such requests: a request
with a live session, or with timeouts off, costs nothing more.
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any, Final

from django.apps import apps
from django.db import router, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qsessions.cache import SessionRow
from qsessions.conf import conf
from qsessions.models import (
    END_ADMIN,
    END_EXPIRED,
    END_IDLE,
    END_LIFETIME,
    END_LIMIT,
    END_LIMIT_REFUSED,
    END_LOGOUT,
    END_OTHER_SESSIONS,
    END_PASSWORD_CHANGE,
    END_USER,
    EndedSession,
    Session,
    delete_sessions_by_key,
    ended_values,
    make_public_id,
    record_ends,
)
from qsessions.signals import session_end_reported, session_revoked

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

# What a browser is told when it finds itself signed out, by reason, in the user's words.
MESSAGES: Final[dict[str, _StrPromise]] = {
    END_USER: _("You were signed out: this session was signed out from another of your devices."),
    END_OTHER_SESSIONS: _("You were signed out: all your other sessions were signed out from another device."),
    END_ADMIN: _("You were signed out by an administrator."),
    END_PASSWORD_CHANGE: _("You were signed out because your password was changed."),
    END_LIMIT: _("You were signed out because your account signed in on more devices than it may use at once."),
    END_LIMIT_REFUSED: _(
        "You could not stay signed in: your account is signed in on as many devices as it may use at once. "
        "Sign out on one of them first."
    ),
    END_LOGOUT: _("You signed out."),
    END_IDLE: _("You were signed out after a period of inactivity. Please sign in again."),
    END_LIFETIME: _("Your session reached its maximum length. Please sign in again."),
    END_EXPIRED: _("Your session expired. Please sign in again."),
}

SIGNED_OUT: Final = _("You were signed out.")  # a reason of the site's own

# How pages and the admin name each reason (EndedSession.reason).
REASON_LABELS: Final[dict[str, _StrPromise]] = {
    END_USER: _("Signed out from another device"),
    END_OTHER_SESSIONS: _("Signed out with all other sessions"),
    END_ADMIN: _("Signed out by an administrator"),
    END_PASSWORD_CHANGE: _("Password changed"),
    END_LIMIT: _("Too many sessions"),
    END_LIMIT_REFUSED: _("Sign-in refused: too many sessions"),
    END_LOGOUT: _("Signed out"),
    END_IDLE: _("Inactive for too long"),
    END_LIFETIME: _("Maximum session length reached"),
    END_EXPIRED: _("Expired"),
}


def reason_label(reason: str) -> str:
    return str(REASON_LABELS.get(reason, reason))


def timed_out(row: SessionRow, limits: tuple[float | None, float | None]) -> str | None:
    """Why the signed-in session of ``row`` must end now (``END_IDLE``, ``END_LIFETIME``), or ``None``.

    Sessions without an owner never time out: they hold nothing to protect, and their end is their expiry.
    The last activity is written at most once per QSESSIONS_ACTIVITY_INTERVAL, so the idle timeout is
    precise to that interval: a session may end up to one interval early.
    """
    if row.user_id is None:
        return None
    idle, absolute = limits
    now = time.time()
    if absolute is not None and row.created_at is not None and now - row.created_at >= absolute:
        return END_LIFETIME
    last = row.last_activity if row.last_activity is not None else row.created_at
    if idle is not None and last is not None and now - last >= idle:
        return END_IDLE
    return None


def carried_start(created_at: datetime.datetime | None) -> datetime.datetime | None:
    """The creation time a new key carries over (``cycle_key``, at sign-in), unless the absolute lifetime
    has already run out for it: a sign-in in an old anonymous session starts the lifetime afresh."""
    absolute = conf.ABSOLUTE_TIMEOUT
    if created_at is None or absolute is None:
        return created_at
    return created_at if (timezone.now() - created_at).total_seconds() < absolute else None


def end(key: str, row: SessionRow, reason: str, request: HttpRequest | None, *, own_cache: bool) -> bool:
    """End the session ``key`` (whose row is ``row``) during its own request: delete it, record it, tell.

    Returns whether it was still there to end.
    """
    session = Session.from_row(key, row)
    using = router.db_for_write(Session)
    seconds_left = None if row.expire_date is None else row.expire_date - time.time()
    with transaction.atomic(using=using):
        deleted = delete_sessions_by_key([key], using=using, seconds_left=seconds_left, own_cache=own_cache)[0]
        if deleted:
            record_ends([ended_values(session)], reason, using=using, told=request is not None)
    if not deleted:
        return False
    if session_revoked.has_listeners(Session):
        session_revoked.send(sender=Session, session=session, reason=reason, request=request)
    if request is not None:
        tell(request, reason, make_public_id(key))
    return True


def tell(request: HttpRequest, reason: str, public_id: str) -> None:
    """Tell the browser of ``request`` why its session ended: a message, and ``session_end_reported``."""
    message = MESSAGES.get(reason, SIGNED_OUT)
    if apps.is_installed("django.contrib.messages") and hasattr(request, "_messages"):
        from django.contrib import messages

        messages.warning(request, message, fail_silently=True)
    session_end_reported.send(
        sender=EndedSession, request=request, reason=reason, message=str(message), public_id=public_id
    )


def tell_stale(key: str, request: HttpRequest) -> bool:
    """A request carried the cookie of a session that is gone: tell it why, if the history knows, once.

    Runs only on such requests (one UPDATE; one SELECT more when there is something to tell). Returns
    whether the browser was told.
    """
    public_id = make_public_id(key)
    records = EndedSession._base_manager.filter(public_id=public_id)
    if not records.filter(told=False).update(told=True):
        return False
    reason = records.order_by("-ended_at").values_list("reason", flat=True).first()
    if reason is None:  # deleted between the two statements (retention, the user deleted)
        return False
    tell(request, reason, public_id)
    return True


def request_of(client: Any) -> HttpRequest | None:
    """The request of a store's client (``None`` for a store used by code, which nobody is to be told)."""
    request = getattr(client, "request", None)
    return request if isinstance(request, HttpRequest) else None
