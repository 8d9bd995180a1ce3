"""qsessions' settings, each read from Django's settings when accessed (so override_settings works).

Reads are remembered until Django reports a settings change (the ``setting_changed`` signal that
override_settings sends): every request consults several of them, and looking up a setting a site does
not define costs an exception each time.

Every setting is optional and prefixed ``QSESSIONS_``; checks.py reports bad values at startup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

IPStorage = Literal["full", "truncated", "none"]
IP_STORAGE_MODES: tuple[IPStorage, ...] = ("full", "truncated", "none")
FORWARDED_HEADERS = ("X-Forwarded-For", "Forwarded")


_MISSING = object()
_values: dict[str, Any] = {}


def _setting(name: str, default: Any) -> Any:
    value = _values.get(name, _MISSING)
    if value is _MISSING:
        value = _values[name] = getattr(django_settings, name, default)
    return value


def _forget_settings(**kwargs: Any) -> None:
    _values.clear()


setting_changed.connect(_forget_settings, dispatch_uid="qsessions.conf.forget_settings")


class Settings:
    @property
    def TRUSTED_PROXIES(self) -> Sequence[str]:
        """IP addresses and CIDR networks of the reverse proxies in front of the site (IPv4 and IPv6).

        Only when the direct peer is one of them are X-Forwarded-For / Forwarded read.
        """
        value = _setting("QSESSIONS_TRUSTED_PROXIES", ())
        if isinstance(value, str):  # a lone string (checks.py reports it) is read as one entry, not as characters
            return (value,)
        if not isinstance(value, (list, tuple, set, frozenset)):
            return ()
        return tuple(entry for entry in value if isinstance(entry, str))

    @property
    def FORWARDED_HEADER(self) -> str:
        """The header the trusted proxies write: ``"X-Forwarded-For"`` (default) or ``"Forwarded"`` (RFC 7239).

        Only one is read: a proxy that writes one passes the other through from the client untouched.
        """
        return str(_setting("QSESSIONS_FORWARDED_HEADER", "X-Forwarded-For"))

    @property
    def CLIENT_IP_RESOLVER(self) -> Callable[[Any], str | None] | None:
        """A callable(request) -> str | None (or its dotted path) that replaces the built-in resolution."""
        value = _setting("QSESSIONS_CLIENT_IP_RESOLVER", None)
        if isinstance(value, str):
            resolved: Callable[[Any], str | None] = import_string(value)
            return resolved
        return value  # type: ignore[no-any-return]

    @property
    def IP_STORAGE(self) -> IPStorage:
        """``"full"`` (default), ``"truncated"`` (IPv4 /24, IPv6 /48) or ``"none"``."""
        return _setting("QSESSIONS_IP_STORAGE", "full")  # type: ignore[no-any-return]

    @property
    def STORE_USER_AGENT(self) -> bool:
        """Whether the user agent is stored at all (default True)."""
        return bool(_setting("QSESSIONS_STORE_USER_AGENT", True))

    @property
    def CLIENT_HINTS(self) -> bool:
        """Whether to ask browsers for User-Agent Client Hints (Accept-CH) and store them (default False)."""
        return bool(_setting("QSESSIONS_CLIENT_HINTS", False))

    @property
    def ACTIVITY_INTERVAL(self) -> int:
        """Seconds between two writes of a session's last activity (default 60)."""
        return int(_setting("QSESSIONS_ACTIVITY_INTERVAL", 60))

    @property
    def MAX_SESSIONS_PER_USER(self) -> int | None:
        """At most this many sessions per user; a new login revokes the least recently active (default None)."""
        value = _setting("QSESSIONS_MAX_SESSIONS_PER_USER", None)
        return None if value is None else int(value)

    @property
    def REVOKE_ON_PASSWORD_CHANGE(self) -> bool:
        """Sign out a user's other sessions when their password changes (default True)."""
        return bool(_setting("QSESSIONS_REVOKE_ON_PASSWORD_CHANGE", True))


settings = Settings()
