"""Cache backends that count the calls a session engine makes (get, set, delete, delete_many, ...).

Only the outermost call is counted: BaseCache implements some methods (delete_many, get_many) by calling
others, and the benchmark reports what the engine asked for, not how the backend carried it out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

COUNTS: Counter[str] = Counter()
_depth = 0

COUNTED = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "has_key", "touch", "incr")


def _counting(name: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _depth
        if _depth == 0:
            COUNTS[name] += 1
        _depth += 1
        try:
            return getattr(super(self.__class__, self), name)(*args, **kwargs)
        finally:
            _depth -= 1

    method.__name__ = name
    return method


def _counting_class(base: type) -> type:
    return type(f"Counting{base.__name__}", (base,), {name: _counting(name) for name in COUNTED})


CountingLocMemCache = _counting_class(LocMemCache)
CountingRedisCache = _counting_class(RedisCache)


def count_raw_redis_commands() -> None:
    """Also count the Redis commands an engine sends outside the cache API (``redis <COMMAND>``).

    The cache-only engine (qsessions.backends.cache) keeps its per-user index with commands of its own
    (EVALSHA, ZRANGEBYSCORE, a pipeline of ZREMs); commands sent by a cache call are that call, counted above.
    """
    from redis.client import Pipeline, Redis

    plain, pipelined = Redis.execute_command, Pipeline.execute

    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        if _depth == 0:
            COUNTS[f"redis {str(args[0]).upper()}"] += 1
        return plain(self, *args, **options)

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _depth == 0:
            COUNTS["redis pipeline"] += 1
        return pipelined(self, *args, **kwargs)

    Redis.execute_command = execute_command  # type: ignore[method-assign]
    Pipeline.execute = execute  # type: ignore[method-assign]
