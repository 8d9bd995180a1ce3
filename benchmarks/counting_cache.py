"""Counting the cache calls a session engine makes (get, set, delete, delete_many, ...).

The benchmark site uses Django's plain cache backends, so that timings carry no instrumentation;
``counting()`` turns the configured caches into counting ones for the operation being counted.
Only the outermost call is counted: BaseCache implements some methods (delete_many, get_many) by calling
others, and the benchmark reports what the engine asked for, not how the backend carried it out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
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
    COUNTS.clear()
    try:
        yield COUNTS
    finally:
        for cache, plain in swapped:
            cache.__class__ = plain
