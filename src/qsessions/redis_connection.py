"""The Redis client behind a Django cache, for the commands Django's cache API does not offer.

The cache-only engine (``qsessions.backends.cache``) keeps a per-user index in Redis sorted sets, which need
ZADD, ZREM and ZRANGEBYSCORE. Two cache backends are supported, each reached its own way:

- Django's ``django.core.cache.backends.redis.RedisCache``: ``cache._cache.get_client(key, write=True)``
  (private, but the same in Django 5.2, 6.0 and 6.1; ``tests/test_redis_connection.py`` pins it);
- django-redis (``django_redis.cache.RedisCache``): its public ``django_redis.get_redis_connection``.

Always the client for *writes*: with read replicas, both backends send writes to the primary, and an index
read from a lagging replica could miss a session that a revocation must reach.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import BaseCache, caches


class UnsupportedCache(TypeError):
    """The cache is not one of the Redis backends the cache-only engine supports."""


def _django_redis_class() -> type | None:
    try:
        from django_redis.cache import RedisCache
    except ImportError:
        return None
    backend: type = RedisCache
    return backend


def redis_kind_of_class(backend: type) -> str | None:
    """``"django"`` (Django's RedisCache or a subclass), ``"django-redis"``, or ``None`` for another backend."""
    from django.core.cache.backends.redis import RedisCache

    if issubclass(backend, RedisCache):
        return "django"
    django_redis_class = _django_redis_class()
    if django_redis_class is not None and issubclass(backend, django_redis_class):
        return "django-redis"
    return None


def redis_kind(cache: BaseCache) -> str | None:
    """The kind of Redis cache ``cache`` is (see ``redis_kind_of_class``)."""
    return redis_kind_of_class(type(cache))


def redis_client(alias: str) -> Any:
    """The redis-py client (the primary) of the cache ``alias``; ``UnsupportedCache`` for another backend."""
    cache = caches[alias]
    kind = redis_kind(cache)
    if kind == "django":
        return cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]
    if kind == "django-redis":
        from django_redis import get_redis_connection

        return get_redis_connection(alias, write=True)
    raise UnsupportedCache(f"cache {alias!r} is {type(cache).__module__}.{type(cache).__qualname__}, not Redis")
