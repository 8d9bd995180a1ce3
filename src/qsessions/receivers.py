"""Signal receivers, connected when the app is ready."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from qsessions.backends.db import SessionStore
from qsessions.models import Session

_KEYS_ATTRIBUTE = "_qsessions_session_keys"


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="qsessions.remember_user_sessions")
def remember_sessions_of_deleted_user(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    """The database deletes a user's sessions by CASCADE, without telling the cache: note their keys."""
    if Session.get_session_store_class().caches_sessions:
        keys = list(Session._base_manager.using(using).filter(user=instance).values_list("pk", flat=True))
        setattr(instance, _KEYS_ATTRIBUTE, keys)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="qsessions.evict_user_sessions")
def evict_sessions_of_deleted_user(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    keys = instance.__dict__.pop(_KEYS_ATTRIBUTE, None)
    if keys:
        Session.get_session_store_class().evict_cached(keys, using=using)


@receiver(user_logged_in, dispatch_uid="qsessions.trust_logged_in_owner")
def trust_logged_in_owner(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The user just authenticated exists: saving the session need not check it again."""
    session = getattr(request, "session", None)
    if isinstance(session, SessionStore):
        session.trust_owner(user.pk)
