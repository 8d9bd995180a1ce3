"""Counting the cache calls a session engine makes (get, set, delete, delete_many, ...).

The benchmark site uses Django's plain cache backends, so that timings carry no instrumentation;
``counting()`` turns the configured caches into counting ones for the operation being counted.
Only the outermost call is counted: BaseCache implements some methods (delete_many, get_many) by calling
others, and the benchmark reports what the engine asked for, not how the backend carried it out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

COUNTING_CLASSES: dict[type, type] = {LocMemCache: CountingLocMemCache, RedisCache: CountingRedisCache}


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Count the calls made to the configured caches inside the block (COUNTS starts empty)."""
    from django.core.cache import caches

    swapped = []
    for cache in caches.all():
        plain = type(cache)
        if plain in COUNTING_CLASSES:
            cache.__class__ = COUNTING_CLASSES[plain]
            swapped.append((cache, plain))
    restore_redis = _count_raw_redis_commands()
    COUNTS.clear()
    try:
        yield COUNTS
    finally:
        restore_redis()
        for cache, plain in swapped:
            cache.__class__ = plain


def _count_raw_redis_commands() -> Callable[[], None]:
    """Also count the Redis commands sent outside the cache API, as ``redis <COMMAND>``; returns the undo.

    The cache-only engine (qsessions.backends.cache) keeps its per-user index with commands of its own
    (EVALSHA, ZRANGEBYSCORE, a pipeline of ZREMs); commands sent by a cache call are that call, counted above.
    """
    try:
        from redis.client import Pipeline, Redis
    except ImportError:
        return lambda: None
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

    def restore() -> None:
        Redis.execute_command = plain  # type: ignore[method-assign]
        Pipeline.execute = pipelined  # type: ignore[method-assign]

    return restore
