"""The sessions of the cache-only engine (``qsessions.backends.cache``), read and revoked without a database.

``CachedSession`` is the read model: the attributes of ``qsessions.models.Session`` that pages, the JSON API
and signal receivers use, built from a cache entry. ``user_sessions`` lists a user's sessions from the
per-user index (``qsessions.session_index``) in two Redis calls whatever their number (the index, then one
``MGET`` of the entries and their revocation marks). Revocation writes tombstones and revocation marks
(``qsessions.cache.evict``), so a request racing it cannot bring the session back.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from qsessions import cache as entries
from qsessions import session_index
from qsessions.cache import Found, moment, read_entry
from qsessions.conf import conf
from qsessions.described import DeviceAndPlace
from qsessions.models import Session, make_public_id
from qsessions.signals import session_revoked

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(eq=False)
class CachedSession(DeviceAndPlace):
    """A session of the cache-only engine, as pages and the API see it. ``session_key`` is never rendered."""

    session_key: str = field(repr=False)
    user_id: Any
    ip: str | None
    user_agent: str | None
    client_hints: dict[str, Any] | None
    created_at: datetime.datetime | None
    last_activity: datetime.datetime | None
    expire_date: datetime.datetime
    data: dict[str, Any] = field(repr=False)
    # The cache-only engine keeps no record of impersonations (see the README's list of what it lacks).
    impersonator_id: Any = field(default=None, repr=False)

    @classmethod
    def from_entry(cls, session_key: str, found: Found) -> CachedSession:
        row = found.row
        return cls(
            session_key,
            row.user_id,
            row.ip,
            row.user_agent,
            row.client_hints,
            moment(row.created_at),
            moment(row.last_activity),
            moment(row.expire_date) or timezone.now(),
            found.data,
        )

    @cached_property
    def public_id(self) -> str:
        return make_public_id(self.session_key)

    @property
    def pk(self) -> str:
        """The public id: the session key is not for code that renders what it is given."""
        return self.public_id

    def __str__(self) -> str:
        return self.public_id

    @cached_property
    def user(self) -> Any:
        from django.contrib.auth import get_user_model

        return get_user_model()._default_manager.filter(pk=self.user_id).first()

    def get_decoded(self) -> dict[str, Any]:
        return self.data

    @property
    def is_active(self) -> bool:
        return self.expire_date > timezone.now()


def _read(keys: list[str]) -> dict[str, Found | str]:
    """What the cache holds for these sessions (one ``get_many`` of the entries and their marks)."""
    if not keys:
        return {}
    cache = entries.session_cache()
    wanted = [name for key in keys for name in (entries.entry_key(key), entries.mark_key(key))]
    values = cache.get_many(wanted)
    found: dict[str, Found | str] = {}
    for key in keys:
        if values.get(entries.mark_key(key)) is not None:
            found[key] = entries.REVOKED_SESSION
        else:
            found[key] = read_entry(values.get(entries.entry_key(key)))
    return found


def user_sessions(user: Any) -> list[CachedSession]:
    """``user``'s live sessions, in no particular order."""
    user_id = user.pk
    alias = conf.session_cache_alias
    now = time.time()
    sessions: list[CachedSession] = []
    stale: list[tuple[Any, str]] = []
    for key, found in _read(session_index.members(alias, user_id)).items():
        if type(found) is Found and found.row.user_id == user_id:
            if found.row.expire_date is not None and found.row.expire_date > now:
                sessions.append(CachedSession.from_entry(key, found))
        elif found is entries.REVOKED_SESSION or (type(found) is Found and found.row.user_id is not None):
            # Revoked (a racing save put it back in the index) or another user's now: not this user's.
            # A member without an entry, or whose entry has no owner yet, may be a login being saved this
            # instant (the index is written before the entry): left alone, it expires with its score.
            stale.append((user_id, key))
    if stale:
        session_index.remove(alias, stale)
    return sessions


def _revoke(
    user_id: Any, targets: list[tuple[str, CachedSession | None]], reason: str, request: Any, *, send: bool = True
) -> int:
    """Mark these sessions revoked, take them off ``user_id``'s index, and report the live ones."""
    keys = [key for key, _ in targets]
    if not keys:
        return 0
    seconds_left = max(
        ((s.expire_date - timezone.now()).total_seconds() for _, s in targets if s is not None), default=None
    )
    entries.evict(keys, seconds_left=seconds_left, always=True, marks=True)
    session_index.remove(conf.session_cache_alias, [(user_id, key) for key in keys])
    live = [session for _, session in targets if session is not None]
    if send and session_revoked.has_listeners(Session):
        for session in live:
            session_revoked.send(sender=Session, session=session, reason=reason, request=request)
    return len(live)


def revoke(session: CachedSession, reason: str, request: HttpRequest | None = None) -> bool:
    """Revoke one session; ``False`` when it was already gone."""
    found = _read([session.session_key])[session.session_key]
    live = CachedSession.from_entry(session.session_key, found) if type(found) is Found else None
    return _revoke(session.user_id, [(session.session_key, live)], reason, request) > 0


def revoke_by_key(session_key: str, reason: str, request: HttpRequest | None = None) -> bool:
    """Revoke the session under this key, whoever owns it; ``False`` when it was already gone."""
    found = _read([session_key])[session_key]
    if type(found) is not Found:
        return False
    return revoke(CachedSession.from_entry(session_key, found), reason, request)


def most_recent_first(session: CachedSession) -> tuple[bool, float, bool, float]:
    """Sort key: the most recently active first, then the most recently created (as the database engines)."""
    last, created = session.last_activity, session.created_at
    return (
        last is None,
        -last.timestamp() if last is not None else 0.0,
        created is None,
        -created.timestamp() if created is not None else 0.0,
    )


def revoke_beyond(user: Any, limit: int, keep: str | None, reason: str, request: HttpRequest | None = None) -> int:
    """Revoke ``user``'s least recently active sessions beyond ``limit``, never the one whose key is ``keep``."""
    others = sorted((s for s in user_sessions(user) if s.session_key != keep), key=most_recent_first)
    stale = others[max(limit, 0) :]
    return _revoke(user.pk, [(s.session_key, s) for s in stale], reason, request)


def _targets(user_id: Any, keep: str | None) -> list[tuple[str, CachedSession | None]]:
    """Every session in ``user_id``'s index but ``keep``, for revoking (see revoke_all())."""
    targets: list[tuple[str, CachedSession | None]] = []
    for key, found in _read(session_index.members(conf.session_cache_alias, user_id)).items():
        if key == keep:
            continue
        if type(found) is Found and found.row.user_id == user_id:
            targets.append((key, CachedSession.from_entry(key, found)))
        elif (type(found) is Found and found.row.user_id is None) or found in (entries.MISSING, entries.UNTRUSTED):
            targets.append((key, None))  # a login of this user being saved: its entry is written after this
    return targets


def revoke_all(user: Any, reason: str, keep: str | None = None, request: HttpRequest | None = None) -> int:
    """Revoke every session of ``user`` except the one whose key is ``keep``; return how many were live.

    Every member of the index is revoked, also one whose entry is not there yet or has no owner yet: a
    login being saved at this instant indexes its session before writing it, so the mark written here
    refuses it all the same. A member whose entry belongs to another user now is left alone.
    """
    return _revoke(user.pk, _targets(user.pk, None if keep is None else keep), reason, request)


def evict_user(user_id: Any) -> None:
    """Make the cache refuse every session of a user being deleted (no signal, as on the database engines)."""
    _revoke(user_id, _targets(user_id, None), "", None, send=False)
