"""Signal receivers, connected when the app is ready."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from qsessions import cache as session_cache
from qsessions import cache_sessions, known_devices, policies, previous
from qsessions.backends.db import SessionStore
from qsessions.conf import conf
from qsessions.models import Session
from qsessions.reauthentication import reauthentication_window, record_authentication
from qsessions.revocation import REASON_LOGOUT, revoke_sessions
from qsessions.signals import session_revoked

_KEYS_ATTRIBUTE = "_qsessions_session_keys"
_OWNER_ATTRIBUTE = "_qsessions_session_owner"


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="qsessions.remember_user_sessions")
def remember_sessions_of_deleted_user(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    """The database deletes a user's sessions by CASCADE, without telling the cache: note their keys."""
    if session_cache.sessions_are_cache_only():  # no rows: the user's index names the sessions
        setattr(instance, _OWNER_ATTRIBUTE, instance.pk)
    elif session_cache.sessions_are_cached() or conf.PREVIOUS_ENGINE is not None:
        rows = list(Session._base_manager.using(using).filter(user=instance).values_list("pk", "expire_date"))
        setattr(instance, _KEYS_ATTRIBUTE, rows)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="qsessions.evict_user_sessions")
def evict_sessions_of_deleted_user(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    owner = instance.__dict__.pop(_OWNER_ATTRIBUTE, None)
    if owner is not None:
        cache_sessions.evict_user(owner)
    rows = instance.__dict__.pop(_KEYS_ATTRIBUTE, None)
    if rows:
        latest = max(expire_date for _, expire_date in rows)
        seconds_left = (latest - timezone.now()).total_seconds()
        session_cache.evict([key for key, _ in rows], seconds_left=seconds_left)
        if conf.PREVIOUS_ENGINE is not None:  # never found again in the engine the site used before
            previous.forget([key for key, _ in rows], using)


@receiver(user_logged_in, dispatch_uid="qsessions.trust_logged_in_owner")
def trust_logged_in_owner(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The user just authenticated exists: saving the session need not check it again."""
    session = getattr(request, "session", None)
    if isinstance(session, SessionStore):
        session.trusted_owner = user.pk


@receiver(user_logged_in, dispatch_uid="qsessions.record_authentication")
def record_authentication_on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A login is an authentication: it counts for QSESSIONS_REAUTHENTICATION_WINDOW (nothing stored when off)."""
    if request is not None and getattr(request, "session", None) is not None and reauthentication_window() is not None:
        record_authentication(request)


@receiver(user_logged_in, dispatch_uid="qsessions.note_device")
def note_device_on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """With QSESSIONS_KNOWN_DEVICES: remember the browser, alert when it is new to this user."""
    if request is not None and getattr(request, "session", None) is not None and known_devices.enabled():
        known_devices.sign_in_started(request, user)


@receiver(user_logged_in, dispatch_uid="qsessions.enforce_session_limit")
def limit_sessions_on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """The limit and impersonations, once the response is done (qsessions' middleware calls
    policies.signed_in); at once for a login outside a request served by that middleware."""
    session = getattr(request, "session", None)
    if request is not None and session is not None and policies.current_session.get() is session:
        setattr(request, policies.SIGNED_IN_ATTRIBUTE, user)
    else:
        policies.enforce_session_limit(user, request)


@receiver(user_logged_out, dispatch_uid="qsessions.revoke_on_logout")
def revoke_on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Report the signed-out session as revoked (reason "logout") and record it in the history; Django's
    flush() deletes it anyway."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if not isinstance(key, str):
        return
    if session_cache.sessions_are_cache_only():  # no table, no history: the signal only
        if session_revoked.has_listeners(Session):
            cache_sessions.revoke_by_key(key, REASON_LOGOUT, request)
    elif conf.HISTORY or session_revoked.has_listeners(Session):
        revoke_sessions(Session.objects.filter(pk=key), REASON_LOGOUT, request)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="qsessions.revoke_on_password_change")
def revoke_on_password_change(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    # AbstractBaseUser.set_password() keeps the new raw password in ``_password`` until the save that
    # stores it has finished: the one sign that this save changes the password (a hash upgrade does not).
    if created or raw or getattr(instance, "_password", None) is None:
        return
    policies.revoke_after_password_change(instance)
