"""Signal receivers, connected when the app is ready."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

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
