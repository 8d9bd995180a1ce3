"""qsessions' settings: ``conf``, each ``QSESSIONS_*`` setting read from Django's settings when accessed.

Every default is written once, in ``DEFAULTS``. ``conf.X`` is the value in the form the code uses;
``conf.raw("X")`` is what the site wrote (or the default), which checks.py validates. Reads are
remembered until Django reports a settings change (the ``setting_changed`` signal that override_settings
sends): every request consults several of them, and looking up a setting a site does not define costs an
exception each time.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, Literal

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

IPStorage = Literal["full", "truncated", "none"]
IP_STORAGE_MODES: tuple[IPStorage, ...] = ("full", "truncated", "none")
FORWARDED_HEADERS = ("X-Forwarded-For", "Forwarded")
PREFIX = "QSESSIONS_"

# Each setting's default, by its name without the prefix.
DEFAULTS: dict[str, Any] = {
    # IP addresses and CIDR networks of the reverse proxies in front of the site (IPv4 and IPv6). Only
    # when the direct peer is one of them is the forwarded header read.
    "TRUSTED_PROXIES": (),
    # The header those proxies write: "X-Forwarded-For" or "Forwarded" (RFC 7239). Only one is read: a
    # proxy that writes one passes the other through from the client untouched.
    "FORWARDED_HEADER": "X-Forwarded-For",
    # A callable(request) -> str | None, or its dotted path, that replaces the built-in IP resolution.
    "CLIENT_IP_RESOLVER": None,
    # "full", "truncated" (IPv4 /24, IPv6 /48) or "none".
    "IP_STORAGE": "full",
    # Whether the user agent is stored at all.
    "STORE_USER_AGENT": True,
    # Whether to ask browsers for User-Agent Client Hints (Accept-CH) and store them.
    "CLIENT_HINTS": False,
    # Seconds between two writes of a session's last activity.
    "ACTIVITY_INTERVAL": 60,
    # At most this many sessions per user; a new login revokes the least recently active. None: no limit.
    "MAX_SESSIONS_PER_USER": None,
    # A callable(user) -> int | None, or its dotted path: that user's limit instead of MAX_SESSIONS_PER_USER
    # (None: no limit for that user, e.g. service accounts).
    "MAX_SESSIONS_FOR_USER": None,
    # What a sign-in beyond the limit does: "revoke-oldest" (the least recently active sessions are signed
    # out) or "refuse" (the new sign-in is signed out again, and its browser told why).
    "SESSION_LIMIT_POLICY": "revoke-oldest",
    # Sign out a user's other sessions when their password changes.
    "REVOKE_ON_PASSWORD_CHANGE": True,
    # End a signed-in session that has not been used for this long (seconds or a timedelta). None: never.
    # Precise to QSESSIONS_ACTIVITY_INTERVAL, which must be shorter (checks.py).
    "IDLE_TIMEOUT": None,
    # End a signed-in session this long after it was created (seconds or a timedelta). None: never.
    "ABSOLUTE_TIMEOUT": None,
    # How long the history of ended sessions is kept (seconds or a timedelta); clearsessions deletes older
    # records. None: kept until the user is deleted; 0: no history is recorded.
    "HISTORY_RETENTION": datetime.timedelta(days=30),
    # Seconds an authentication counts as recent for signing sessions out; None: no re-authentication asked.
    "REAUTHENTICATION_WINDOW": None,
    # Where users re-authenticate (a URL or URL name); None: qsessions' own page.
    "REAUTHENTICATION_URL": None,
    # Names of sign-in methods by authentication backend (dotted path -> label), added to the built-in ones.
    "SIGN_IN_METHODS": {},
    # Recognise browsers across sessions with a device cookie, and report sign-ins from new ones.
    "KNOWN_DEVICES": False,
    # With KNOWN_DEVICES: e-mail the user about a sign-in from a new browser.
    "NEW_DEVICE_EMAIL": False,
    # Where a "this wasn't me" link leads after signing that session out; None: "password_change".
    "PASSWORD_CHANGE_URL": None,
    # The engine the site used before qsessions (a key of qsessions.previous.ENGINES), or None. A cookie
    # whose session qsessions does not have is looked up there, and moved into qsessions when found.
    "PREVIOUS_ENGINE": None,
    # True while processes running the previous engine still serve requests (a rolling deploy): sessions
    # found there are copied rather than moved, and every session qsessions writes or deletes is written
    # or deleted there too, so that those processes see it.
    "PREVIOUS_ENGINE_SHARED": False,
}

_MISSING = object()


def seconds(value: Any) -> float | None:
    """A duration setting in seconds: a number or a timedelta; ``None`` for anything else (checks.py reports it)."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


_values: dict[str, Any] = {}


def _forget_settings(**kwargs: Any) -> None:
    _values.clear()
    conf.__dict__.clear()  # the cached properties


setting_changed.connect(_forget_settings, dispatch_uid="qsessions.conf.forget_settings")


class QSessionsConf:
    """The ``QSESSIONS_*`` settings. Named ``conf`` so that it never shadows ``django.conf.settings``.

    Each is computed on first access and kept as a plain attribute until the next settings change
    (several are read on every request).
    """

    def raw(self, name: str) -> Any:
        """``QSESSIONS_<name>`` as the site wrote it, or its default."""
        value = _values.get(name, _MISSING)
        if value is _MISSING:
            value = _values[name] = getattr(django_settings, PREFIX + name, DEFAULTS[name])
        return value

    def remembered(self, name: str, compute: Callable[[], Any]) -> Any:
        """A value derived from the settings by ``compute()``, computed again after a settings change."""
        key = "derived:" + name
        value = _values.get(key, _MISSING)
        if value is _MISSING:
            value = _values[key] = compute()
        return value

    def is_set(self, name: str) -> bool:
        """Whether the site defines ``QSESSIONS_<name>`` itself."""
        return hasattr(django_settings, PREFIX + name)

    @cached_property
    def headers_are_stored_as_sent(self) -> bool:
        """Whether a request's REMOTE_ADDR and User-Agent, when equal to what a session has stored, need no
        resolving or cleaning: full IPs, user agents kept, no client hints, no proxies, no resolver."""
        return (
            self.IP_STORAGE == "full"
            and self.STORE_USER_AGENT
            and not self.CLIENT_HINTS
            and not self.TRUSTED_PROXIES
            and self.CLIENT_IP_RESOLVER is None
        )

    @cached_property
    def TRUSTED_PROXIES(self) -> Sequence[str]:
        value = self.raw("TRUSTED_PROXIES")
        if isinstance(value, str):  # a lone string (checks.py reports it) is read as one entry, not as characters
            return (value,)
        if not isinstance(value, (list, tuple, set, frozenset)):
            return ()
        return tuple(entry for entry in value if isinstance(entry, str))

    @cached_property
    def FORWARDED_HEADER(self) -> str:
        return str(self.raw("FORWARDED_HEADER"))

    @cached_property
    def CLIENT_IP_RESOLVER(self) -> Callable[[Any], str | None] | None:
        value = self.raw("CLIENT_IP_RESOLVER")
        if isinstance(value, str):
            resolved: Callable[[Any], str | None] = import_string(value)
            return resolved
        return value  # type: ignore[no-any-return]

    @cached_property
    def IP_STORAGE(self) -> IPStorage:
        return self.raw("IP_STORAGE")  # type: ignore[no-any-return]

    @cached_property
    def STORE_USER_AGENT(self) -> bool:
        return bool(self.raw("STORE_USER_AGENT"))

    @cached_property
    def CLIENT_HINTS(self) -> bool:
        return bool(self.raw("CLIENT_HINTS"))

    @cached_property
    def ACTIVITY_INTERVAL(self) -> int:
        return int(self.raw("ACTIVITY_INTERVAL"))

    @cached_property
    def MAX_SESSIONS_PER_USER(self) -> int | None:
        value = self.raw("MAX_SESSIONS_PER_USER")
        return None if value is None else int(value)

    @cached_property
    def MAX_SESSIONS_FOR_USER(self) -> Callable[[Any], int | None] | None:
        value = self.raw("MAX_SESSIONS_FOR_USER")
        if isinstance(value, str):
            resolved: Callable[[Any], int | None] = import_string(value)
            return resolved
        return value if callable(value) else None

    @cached_property
    def SESSION_LIMIT_POLICY(self) -> str:
        return str(self.raw("SESSION_LIMIT_POLICY"))

    @cached_property
    def REVOKE_ON_PASSWORD_CHANGE(self) -> bool:
        return bool(self.raw("REVOKE_ON_PASSWORD_CHANGE"))

    @cached_property
    def IDLE_TIMEOUT(self) -> float | None:
        return seconds(self.raw("IDLE_TIMEOUT"))

    @cached_property
    def ABSOLUTE_TIMEOUT(self) -> float | None:
        return seconds(self.raw("ABSOLUTE_TIMEOUT"))

    @cached_property
    def HISTORY_RETENTION(self) -> float | None:
        return seconds(self.raw("HISTORY_RETENTION"))

    @cached_property
    def TIMEOUTS(self) -> tuple[float | None, float | None] | None:
        """(IDLE_TIMEOUT, ABSOLUTE_TIMEOUT), or ``None`` when both are off: what a session load reads."""
        idle, absolute = self.IDLE_TIMEOUT, self.ABSOLUTE_TIMEOUT
        return None if idle is None and absolute is None else (idle, absolute)

    @cached_property
    def HISTORY(self) -> bool:
        """Whether ended sessions are recorded (QSESSIONS_HISTORY_RETENTION is not 0)."""
        retention = self.HISTORY_RETENTION
        return retention is None or retention > 0

    @cached_property
    def REAUTHENTICATION_WINDOW(self) -> int | None:
        value = self.raw("REAUTHENTICATION_WINDOW")
        return None if value is None else int(value)

    # -- Django's session settings that every request reads, remembered the same way ----------------------
    # (LazySettings costs a Python call per read; these are read by every request's middleware and store.)

    @cached_property
    def session_cookie_name(self) -> str:
        """Django's ``SESSION_COOKIE_NAME``."""
        return str(django_settings.SESSION_COOKIE_NAME)

    @cached_property
    def session_save_every_request(self) -> bool:
        """Django's ``SESSION_SAVE_EVERY_REQUEST``."""
        return bool(django_settings.SESSION_SAVE_EVERY_REQUEST)

    @cached_property
    def session_serializer(self) -> type[Any]:
        """The class Django's ``SESSION_SERIALIZER`` names."""
        serializer: type[Any] = import_string(django_settings.SESSION_SERIALIZER)
        return serializer

    @cached_property
    def session_cache_alias(self) -> str:
        """Django's ``SESSION_CACHE_ALIAS``."""
        return str(django_settings.SESSION_CACHE_ALIAS)

    @cached_property
    def REAUTHENTICATION_URL(self) -> str | None:
        return self.raw("REAUTHENTICATION_URL") or None

    @cached_property
    def SIGN_IN_METHODS(self) -> dict[str, Any]:
        value = self.raw("SIGN_IN_METHODS")
        return value if isinstance(value, dict) else {}

    @cached_property
    def KNOWN_DEVICES(self) -> bool:
        return bool(self.raw("KNOWN_DEVICES"))

    @cached_property
    def NEW_DEVICE_EMAIL(self) -> bool:
        return bool(self.raw("NEW_DEVICE_EMAIL"))

    @cached_property
    def PASSWORD_CHANGE_URL(self) -> str | None:
        return self.raw("PASSWORD_CHANGE_URL") or None

    @cached_property
    def PREVIOUS_ENGINE(self) -> str | None:
        value = self.raw("PREVIOUS_ENGINE")
        return value if isinstance(value, str) and value else None

    @cached_property
    def PREVIOUS_ENGINE_SHARED(self) -> bool:
        return self.PREVIOUS_ENGINE is not None and bool(self.raw("PREVIOUS_ENGINE_SHARED"))


conf = QSessionsConf()
