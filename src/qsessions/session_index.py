"""The per-user index of the cache-only engine: one Redis sorted set per user, scored by expiry.

Members are session keys; each score is the session's expiry (a POSIX timestamp). The set lives in Redis
only and is never rendered: pages, JSON and logs name a session by its public id. Every change is one
atomic command (a Lua script or ZREM), so concurrent logins of one user never lose each other's entry, and
no read-modify-write of a list ever happens in Python.

Bounded: each write removes the members that expired, and the set itself expires with its latest session.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import caches

from qsessions.redis_connection import redis_client

INDEX_PREFIX = "qsu:"  # + the owner's primary key; through the cache's key function (KEY_PREFIX, VERSION)
# The set outlives its latest session by this margin (seconds), so that it never expires before it.
INDEX_MARGIN = 60
# Scores are expiries rounded up to this many seconds, so that a save that only pushes the expiry forward
# a little (every save does, by the seconds since the last one) need not touch the index: it does only
# when the rounded expiry grows. A member may outlive its session by this much; listings read each
# session's own expiry from its entry.
SCORE_STEP = 3600

# KEYS[1]: the owner's index; KEYS[2]: the previous owner's index (or KEYS[1] again). ARGV: member, its
# expiry, now, margin. Adds the member, drops expired members, expires the set with its latest member, and
# takes the member off the previous owner's index.
_ADD = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(last[2])) + tonumber(ARGV[4]))
end
if KEYS[2] ~= KEYS[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""
_scripts: dict[int, Any] = {}


def score(expire_date: float) -> int:
    """The index score of a session expiring at ``expire_date``: never earlier than its expiry."""
    return math.ceil(expire_date / SCORE_STEP) * SCORE_STEP


def needs_update(previous: float | None, expire_date: float) -> bool:
    """Whether a save that moves a session's expiry from ``previous`` to ``expire_date`` must re-score it."""
    return previous is None or score(expire_date) > score(previous)


def index_key(alias: str, user_id: Any) -> str:
    return str(caches[alias].make_key(f"{INDEX_PREFIX}{user_id}"))


def _add_script(client: Any) -> Any:
    # One Script object per client class is enough: redis-py runs it with EVALSHA on whatever client is
    # given, and loads it again after a server restart.
    script = _scripts.get(0)
    if script is None:
        script = _scripts[0] = client.register_script(_ADD)
    return script


def add(alias: str, user_id: Any, session_key: str, expire_date: float, previous_user_id: Any = None) -> None:
    """Index ``session_key`` under ``user_id`` until ``expire_date``; take it off ``previous_user_id``'s index."""
    client = redis_client(alias)
    own = index_key(alias, user_id)
    previous = own if previous_user_id is None or previous_user_id == user_id else index_key(alias, previous_user_id)
    args = [session_key, score(expire_date), time.time(), INDEX_MARGIN]
    _add_script(client)(keys=[own, previous], args=args, client=client)


def remove(alias: str, members: Iterable[tuple[Any, str]]) -> None:
    """Take ``(user_id, session_key)`` pairs off their owners' indexes (one round trip)."""
    by_owner: dict[str, list[str]] = {}
    for user_id, key in members:
        by_owner.setdefault(index_key(alias, user_id), []).append(key)
    if not by_owner:
        return
    pipeline = redis_client(alias).pipeline(transaction=False)
    for index, keys in by_owner.items():
        pipeline.zrem(index, *keys)
    pipeline.execute()


def members(alias: str, user_id: Any) -> list[str]:
    """The keys of ``user_id``'s sessions that have not expired, latest expiry last."""
    found = redis_client(alias).zrangebyscore(index_key(alias, user_id), f"({time.time()!r}", "+inf")
    return [m.decode() if isinstance(m, bytes) else str(m) for m in found]
