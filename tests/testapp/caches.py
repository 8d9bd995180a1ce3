"""Cache backends that fail, as a cache server that is down does."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.locmem import LocMemCache


class UnreachableCache(LocMemCache):
    """Every operation raises, like a RedisCache whose server is down."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server unreachable")

    get = set = add = delete = delete_many = get_many = set_many = has_key = touch = incr = _fail
    clear = _fail

    async def _afail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server unreachable")

    aget = aset = aadd = adelete = adelete_many = aget_many = aset_many = ahas_key = atouch = _afail
