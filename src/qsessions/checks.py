"""System checks: configuration mistakes reported by ``manage.py check`` with ids qsessions.E0xx/W0xx.

Messages and hints are translated when a check runs (in the active language, LANGUAGE_CODE under
``manage.py``), with named placeholders so that translators can move them.
"""

from __future__ import annotations

import ipaddress
import re
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from qsessions.conf import conf
from qsessions.conf import seconds as conf_seconds

MIDDLEWARE_PATH = "qsessions.middleware.SessionMiddleware"


def _engine_is_qsessions(engine: str) -> bool:
    from qsessions.backends.db import SessionStore

    try:
        store_class = getattr(import_module(engine), "SessionStore", None)
    except ImportError:
        return False
    return isinstance(store_class, type) and issubclass(store_class, SessionStore)


@register(Tags.compatibility)
def check_engine_matches_middleware(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    engine = getattr(settings, "SESSION_ENGINE", "")
    if MIDDLEWARE_PATH in middleware and not _engine_is_qsessions(engine):
        return [
            Error(
                _(
                    "SESSION_ENGINE is %(engine)s, which is not a qsessions engine, but MIDDLEWARE uses "
                    "qsessions.middleware.SessionMiddleware."
                )
                % {"engine": repr(engine)},
                hint=_('Set SESSION_ENGINE = "qsessions.backends.db" or "qsessions.backends.cached_db".'),
                id="qsessions.E001",
            )
        ]
    return []


@register()
def check_geoip(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """GEOIP_PATH set, but no location will ever show: the package or the database is missing."""
    from qsessions import geo

    if not getattr(settings, "GEOIP_PATH", None):
        return []
    from django.contrib.gis import geoip2 as django_geoip2

    if not django_geoip2.HAS_GEOIP2:
        return [
            Warning(
                _("GEOIP_PATH is set but the geoip2 package is not installed: sessions will have no location."),
                hint="pip install 'qsessions[geoip2]'",
                id="qsessions.W040",
            )
        ]
    if not any(path.is_file() for path in geo.database_files()):
        return [
            Warning(
                _("GEOIP_PATH is set but holds no GeoIP database (%(files)s): sessions will have no location.")
                % {"files": ", ".join(map(str, geo.database_files()))},
                hint=_("Run 'manage.py download_geoip_db' (with MAXMIND_ACCOUNT_ID and MAXMIND_LICENSE_KEY set)."),
                id="qsessions.W041",
            )
        ]
    return []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@register(Tags.compatibility)
def check_session_policies(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """QSESSIONS_ACTIVITY_INTERVAL, QSESSIONS_MAX_SESSIONS_PER_USER and QSESSIONS_REVOKE_ON_PASSWORD_CHANGE."""
    errors = []
    interval = conf.raw("ACTIVITY_INTERVAL")
    if not _is_int(interval) or interval < 0:
        errors.append(
            Error(
                _("QSESSIONS_ACTIVITY_INTERVAL is %(value)s; it must be a whole number of seconds, 0 or more.")
                % {"value": repr(interval)},
                hint=_("The default, 60, writes a session's last activity at most once a minute."),
                id="qsessions.E020",
            )
        )
    limit = conf.raw("MAX_SESSIONS_PER_USER")
    if limit is not None and (not _is_int(limit) or limit < 1):
        errors.append(
            Error(
                _(
                    "QSESSIONS_MAX_SESSIONS_PER_USER is %(value)s; it must be None (no limit) or a whole number, "
                    "1 or more."
                )
                % {"value": repr(limit)},
                id="qsessions.E021",
            )
        )
    per_user = conf.raw("MAX_SESSIONS_FOR_USER")
    if per_user is not None:
        try:
            resolved = import_string(per_user) if isinstance(per_user, str) else per_user
        except ImportError:
            resolved = None
        if not callable(resolved):
            errors.append(
                Error(
                    _(
                        "QSESSIONS_MAX_SESSIONS_FOR_USER is %(value)s; it must be None, a callable(user) or the "
                        "dotted path of one, returning that user's limit (None: no limit)."
                    )
                    % {"value": repr(per_user)},
                    id="qsessions.E023",
                )
            )
    policy = conf.raw("SESSION_LIMIT_POLICY")
    if policy not in ("revoke-oldest", "refuse"):
        errors.append(
            Error(
                _('QSESSIONS_SESSION_LIMIT_POLICY is %(value)s; it must be "revoke-oldest" or "refuse".')
                % {"value": repr(policy)},
                id="qsessions.E024",
            )
        )
    revoke = conf.raw("REVOKE_ON_PASSWORD_CHANGE")
    if not isinstance(revoke, bool):
        errors.append(
            Error(
                _("QSESSIONS_REVOKE_ON_PASSWORD_CHANGE is %(value)s; it must be True or False.")
                % {"value": repr(revoke)},
                id="qsessions.E022",
            )
        )
    return errors


# -- client identity: qsessions.E010-E019 / W010-W019 ------------------------------------------------------


@register(Tags.security)
def check_trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from qsessions.client import parse_network

    value = conf.raw("TRUSTED_PROXIES")
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        return [
            Error(
                _("QSESSIONS_TRUSTED_PROXIES must be a list of IP addresses and networks, not %(value)s.")
                % {"value": repr(value)},
                hint=_('For example QSESSIONS_TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"].'),
                id="qsessions.E010",
            )
        ]
    messages: list[CheckMessage] = []
    for entry in value:
        network = parse_network(entry)
        if network is None:
            messages.append(
                Error(
                    _("QSESSIONS_TRUSTED_PROXIES contains %(entry)s, which is not an IP address or network.")
                    % {"entry": repr(entry)},
                    hint=_('Write an address ("10.0.0.1", "2001:db8::1") or a CIDR network ("10.0.0.0/8").'),
                    id="qsessions.E011",
                )
            )
        elif network.prefixlen == 0:
            messages.append(
                Warning(
                    _(
                        "QSESSIONS_TRUSTED_PROXIES contains %(entry)s, which trusts every address: any client can "
                        "then choose the IP recorded for its session by sending a forwarding header."
                    )
                    % {"entry": repr(entry)},
                    hint=_("List only the addresses of your own proxies or load balancers."),
                    id="qsessions.W011",
                )
            )
        elif "/" in entry and network.network_address != _address_part(entry):
            messages.append(
                Warning(
                    _(
                        "QSESSIONS_TRUSTED_PROXIES contains %(entry)s, which has host bits set; it is read as "
                        "%(network)s."
                    )
                    % {"entry": repr(entry), "network": network},
                    hint=_('Write "%(network)s" if that is meant.') % {"network": network},
                    id="qsessions.W010",
                )
            )
    return messages


def _address_part(entry: str) -> object:
    """The address before the slash, normalised as client IPs are (IPv4-mapped IPv6 becomes IPv4)."""
    from qsessions.client import parse_ip

    address = parse_ip(entry.split("/", 1)[0])
    return ipaddress.ip_address(address) if address else None


@register(Tags.security)
def check_client_ip_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from qsessions.conf import FORWARDED_HEADERS, IP_STORAGE_MODES

    messages: list[CheckMessage] = []
    ip_storage = conf.raw("IP_STORAGE")
    if ip_storage not in IP_STORAGE_MODES:
        messages.append(
            Error(
                _("QSESSIONS_IP_STORAGE is %(value)s; until this is fixed no IP address is stored.")
                % {"value": repr(ip_storage)},
                hint=_('Use "full", "truncated" (IPv4 /24, IPv6 /48) or "none".'),
                id="qsessions.E012",
            )
        )
    header = conf.raw("FORWARDED_HEADER")
    if not isinstance(header, str) or header.lower() not in {name.lower() for name in FORWARDED_HEADERS}:
        messages.append(
            Error(
                _("QSESSIONS_FORWARDED_HEADER is %(value)s.") % {"value": repr(header)},
                hint=_('Use "X-Forwarded-For" or "Forwarded" (RFC 7239): the header your proxies write.'),
                id="qsessions.E013",
            )
        )
    messages.extend(_check_client_ip_resolver())
    if conf.raw("CLIENT_HINTS") and not conf.raw("STORE_USER_AGENT"):
        messages.append(
            Warning(
                _(
                    "QSESSIONS_CLIENT_HINTS is on but QSESSIONS_STORE_USER_AGENT is off: client hints describe the "
                    "user agent, so they are neither asked for nor stored."
                ),
                hint=_("Turn one of them off, or store user agents."),
                id="qsessions.W012",
            )
        )
    return messages


def _check_client_ip_resolver() -> list[CheckMessage]:
    resolver = conf.raw("CLIENT_IP_RESOLVER")
    if resolver is None:
        return []
    if isinstance(resolver, str):
        try:
            resolver = import_string(resolver)
        except ImportError as error:
            return [
                Error(
                    _("QSESSIONS_CLIENT_IP_RESOLVER %(value)s cannot be imported: %(error)s")
                    % {"value": repr(resolver), "error": error},
                    hint=_('Give the dotted path of a function, e.g. "myproject.network.client_ip".'),
                    id="qsessions.E014",
                )
            ]
    if not callable(resolver):
        return [
            Error(
                _("QSESSIONS_CLIENT_IP_RESOLVER is %(value)s, which is not callable.") % {"value": repr(resolver)},
                hint=_("Give a function taking the request and returning an IP address string or None."),
                id="qsessions.E015",
            )
        ]
    return []


# -- switching from django.contrib.sessions (ids E030-E039 / W030-W039) -------------------------------

DJANGO_MIDDLEWARE_PATH = "django.contrib.sessions.middleware.SessionMiddleware"
DJANGO_TABLE_ENGINES = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


def _installed(app: str) -> bool:
    return app in list(getattr(settings, "INSTALLED_APPS", None) or [])


@register(Tags.compatibility)
def check_switched_from_django_sessions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A half-done switch: qsessions installed, while Django's engine or middleware still does the work."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    engine = getattr(settings, "SESSION_ENGINE", "")
    ours_engine = _engine_is_qsessions(engine)
    messages: list[CheckMessage] = []
    if not ours_engine and MIDDLEWARE_PATH not in middleware:  # with our middleware, E001 says it
        if _installed("django.contrib.sessions") and engine in DJANGO_TABLE_ENGINES:
            # The first deploy of a staged switch (install and migrate now, switch the engine in the next
            # deploy): a warning, not an error, so that `migrate` runs; it says what comes next.
            messages.append(
                Warning(
                    _(
                        "qsessions is installed next to django.contrib.sessions and SESSION_ENGINE is still "
                        "%(engine)s: sessions are written to django.contrib.sessions' table, not qsessions'. That is "
                        "expected between the two deploys of a staged switch."
                    )
                    % {"engine": repr(engine)},
                    hint=_(
                        "Next step, once `manage.py migrate` has created qsessions' table: in the next deploy set "
                        'SESSION_ENGINE = "qsessions.backends.db" (or "qsessions.backends.cached_db"), replace '
                        '"django.contrib.sessions.middleware.SessionMiddleware" with '
                        '"qsessions.middleware.SessionMiddleware" in MIDDLEWARE and remove "django.contrib.sessions" '
                        "from INSTALLED_APPS; right after that deploy run `manage.py importsessions` so nobody is "
                        "signed out (see qsessions' docs/upgrading.md)."
                    ),
                    id="qsessions.W030",
                )
            )
        else:
            messages.append(
                Warning(
                    _(
                        "qsessions is installed but SESSION_ENGINE is %(engine)s, not a qsessions engine: sessions "
                        "are not stored by qsessions."
                    )
                    % {"engine": repr(engine)},
                    hint=_('Set SESSION_ENGINE = "qsessions.backends.db" or "qsessions.backends.cached_db".'),
                    id="qsessions.W030",
                )
            )
    if DJANGO_MIDDLEWARE_PATH in middleware and MIDDLEWARE_PATH in middleware:
        messages.append(
            Error(
                _(
                    "MIDDLEWARE has both django.contrib.sessions.middleware.SessionMiddleware and "
                    "qsessions.middleware.SessionMiddleware: each loads and saves the session, the later one "
                    "replaces request.session of the first."
                ),
                hint=_("Remove 'django.contrib.sessions.middleware.SessionMiddleware' from MIDDLEWARE."),
                id="qsessions.E032",
            )
        )
    elif ours_engine and DJANGO_MIDDLEWARE_PATH in middleware:
        messages.append(
            Error(
                _(
                    "SESSION_ENGINE is a qsessions engine but MIDDLEWARE uses "
                    "django.contrib.sessions.middleware.SessionMiddleware: sessions never record their IP address "
                    "or user agent."
                ),
                hint=_(
                    "Replace 'django.contrib.sessions.middleware.SessionMiddleware' with "
                    "'qsessions.middleware.SessionMiddleware' in MIDDLEWARE."
                ),
                id="qsessions.E031",
            )
        )
    return messages


@register(Tags.caches)
def check_cached_db_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """cached_db needs a cache that every process shares, or revocation does not reach them all."""
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.filebased import FileBasedCache
    from django.core.cache.backends.locmem import LocMemCache

    engine = getattr(settings, "SESSION_ENGINE", "")
    if not _engine_is_qsessions(engine):
        return []
    from qsessions.cache import sessions_are_cached

    if not sessions_are_cached():
        return []
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    backend = (getattr(settings, "CACHES", None) or {}).get(alias, {}).get("BACKEND", "")
    try:
        backend_class = import_string(backend)
    except ImportError:
        return []  # Django's own cache checks report an unusable BACKEND
    from qsessions.cache import sessions_are_cache_only
    from qsessions.redis_connection import redis_kind_of_class

    if sessions_are_cache_only():
        if isinstance(backend_class, type) and redis_kind_of_class(backend_class) is not None:
            return []
        return [
            Error(
                _(
                    "SESSION_ENGINE is %(engine)s, which needs Redis, but cache %(alias)s is %(backend)s: the "
                    "per-user index that lists and revokes a user's sessions uses Redis sorted sets."
                )
                % {"engine": repr(engine), "alias": repr(alias), "backend": repr(backend)},
                hint=_(
                    "Use django.core.cache.backends.redis.RedisCache or django_redis.cache.RedisCache for "
                    'SESSION_CACHE_ALIAS, or SESSION_ENGINE = "qsessions.backends.cached_db".'
                ),
                id="qsessions.E070",
            )
        ]
    if issubclass(backend_class, LocMemCache):
        return [
            Warning(
                _(
                    "SESSION_ENGINE is %(engine)s and cache %(alias)s is local memory: each process has its own "
                    "copy, so a session revoked in one process stays valid in the others until its cache entry "
                    "expires."
                )
                % {"engine": repr(engine), "alias": repr(alias)},
                hint=_(
                    "Use a shared cache (Redis, Memcached) for SESSION_CACHE_ALIAS, or qsessions.backends.db. "
                    "A single-process site can silence this check."
                ),
                id="qsessions.W033",
            )
        ]
    if issubclass(backend_class, DummyCache):
        return [
            Warning(
                _(
                    "SESSION_ENGINE is %(engine)s but cache %(alias)s is a dummy cache, which keeps nothing: every "
                    "request reads the database, as with qsessions.backends.db."
                )
                % {"engine": repr(engine), "alias": repr(alias)},
                hint=_('Use a real cache for SESSION_CACHE_ALIAS, or SESSION_ENGINE = "qsessions.backends.db".'),
                id="qsessions.W034",
            )
        ]
    if issubclass(backend_class, (FileBasedCache, DatabaseCache)):
        return [
            Warning(
                _(
                    "SESSION_ENGINE is %(engine)s and cache %(alias)s is %(backend)s, whose add() is not atomic: a "
                    "request that fills the cache while its session is being revoked can overwrite the revocation, "
                    "which then holds only once that cache entry expires."
                )
                % {"engine": repr(engine), "alias": repr(alias), "backend": repr(backend)},
                hint=_(
                    "Use Redis, Memcached or local memory for SESSION_CACHE_ALIAS, or "
                    'SESSION_ENGINE = "qsessions.backends.db".'
                ),
                id="qsessions.W037",
            )
        ]
    if _is_redis_cache(backend_class) and len(_redis_servers(settings.CACHES[alias].get("LOCATION"))) > 1:
        return [
            Warning(
                _(
                    "SESSION_ENGINE is %(engine)s and cache %(alias)s lists several Redis servers: the cache writes "
                    "to the first and reads from the others, so a replica that lags behind, or has lost its link to "
                    "the primary, still serves a revoked session signed in."
                )
                % {"engine": repr(engine), "alias": repr(alias)},
                hint=_(
                    "Point SESSION_CACHE_ALIAS at a cache with the primary only (the other caches may keep their "
                    "replicas); see docs/services.md, 'Read replicas'."
                ),
                id="qsessions.W036",
            )
        ]
    return []


def _is_redis_cache(backend_class: type) -> bool:
    # Django's RedisCache and django-redis's (by name: django-redis is optional) read from replicas alike.
    from django.core.cache.backends.redis import RedisCache

    return issubclass(backend_class, RedisCache) or any(
        f"{cls.__module__}.{cls.__qualname__}" == "django_redis.cache.RedisCache" for cls in backend_class.__mro__
    )


def _redis_servers(location: Any) -> list[str]:
    """The servers a Redis cache's LOCATION names, split as Django's RedisCache and django-redis split it."""
    if isinstance(location, str):
        return [server for server in re.split("[;,]", location) if server.strip()]
    if isinstance(location, (list, tuple)):
        return [server for server in location if server]
    return []


# -- manage.py check --deploy (ids W050-W059) ----------------------------------------------------------
# Django's own session-cookie checks (security.W010-W015) look for django.contrib.sessions or its
# middleware; once a site has switched to qsessions, neither is there and they fall silent. These say the
# same for qsessions' sessions, only while Django's would not fire, so that a setting is reported once.


def _djangos_session_cookie_checks_fire() -> bool:
    return _installed("django.contrib.sessions") or DJANGO_MIDDLEWARE_PATH in list(
        getattr(settings, "MIDDLEWARE", None) or []
    )


@register(Tags.security, deploy=True)
def check_session_cookie_secure(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if getattr(settings, "SESSION_COOKIE_SECURE", False) is True or _djangos_session_cookie_checks_fire():
        return []
    return [
        Warning(
            _(
                "SESSION_COOKIE_SECURE is not True: browsers send qsessions' session cookie over plain HTTP too, "
                "where anyone on the network path can copy it and use the session."
            ),
            hint=_("Serve the site over HTTPS and set SESSION_COOKIE_SECURE = True."),
            id="qsessions.W050",
        )
    ]


@register(Tags.security, deploy=True)
def check_session_cookie_httponly(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if getattr(settings, "SESSION_COOKIE_HTTPONLY", True) is True or _djangos_session_cookie_checks_fire():
        return []
    return [
        Warning(
            _(
                "SESSION_COOKIE_HTTPONLY is not True: scripts on your pages can read qsessions' session cookie, so "
                "one cross-site scripting flaw is enough to steal sessions."
            ),
            hint=_("Set SESSION_COOKIE_HTTPONLY = True (Django's default)."),
            id="qsessions.W051",
        )
    ]


# -- re-authentication and sign-in methods: qsessions.E050-E059 ---------------------------------------------


@register(Tags.security)
def check_reauthentication(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """QSESSIONS_REAUTHENTICATION_WINDOW and QSESSIONS_REAUTHENTICATION_URL."""
    errors = []
    window = conf.raw("REAUTHENTICATION_WINDOW")
    if window is not None and (not _is_int(window) or window < 1):
        errors.append(
            Error(
                _(
                    "QSESSIONS_REAUTHENTICATION_WINDOW is %(value)s; it must be None (off) or a whole number of "
                    "seconds, 1 or more."
                )
                % {"value": repr(window)},
                hint=_("For example 600: signing sessions out needs an authentication in the last 10 minutes."),
                id="qsessions.E050",
            )
        )
    url = conf.raw("REAUTHENTICATION_URL")
    if url is not None and (not isinstance(url, str) or not url):
        errors.append(
            Error(
                _(
                    "QSESSIONS_REAUTHENTICATION_URL is %(value)s; it must be None (qsessions' own page), a URL or a "
                    "URL name."
                )
                % {"value": repr(url)},
                id="qsessions.E051",
            )
        )
    return errors


@register(Tags.compatibility)
def check_sign_in_methods(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """QSESSIONS_SIGN_IN_METHODS: a dict of dotted backend paths to human names."""
    methods = conf.raw("SIGN_IN_METHODS")
    if methods is None:
        return []
    names_ok = isinstance(methods, dict) and all(
        isinstance(path, str) and isinstance(name, (str, Promise)) for path, name in methods.items()
    )
    if names_ok:
        return []
    return [
        Error(
            _(
                "QSESSIONS_SIGN_IN_METHODS is %(value)s; it must be a dict of authentication backends' dotted "
                "paths to names."
            )
            % {"value": repr(methods)},
            hint=_('For example {"django_auth_ldap.backend.LDAPBackend": "Company account"}.'),
            id="qsessions.E052",
        )
    ]


@register(Tags.security)
def check_known_devices(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """QSESSIONS_KNOWN_DEVICES needs qsessions.known_devices.KnownDeviceMiddleware to do anything."""
    if not conf.raw("KNOWN_DEVICES"):
        return []
    if "qsessions.known_devices.KnownDeviceMiddleware" in list(getattr(settings, "MIDDLEWARE", None) or []):
        return []
    return [
        Warning(
            _(
                "QSESSIONS_KNOWN_DEVICES is on but qsessions.known_devices.KnownDeviceMiddleware is not in "
                "MIDDLEWARE: no device is recognised and no new-device sign-in is reported."
            ),
            hint=_("Add it right after qsessions.middleware.SessionMiddleware."),
            id="qsessions.W053",
        )
    ]


# -- timeouts and the history of ended sessions: qsessions.E060-E069 ------------------------------------------


def _duration_error(name: str, value: Any, *, zero: bool, check_id: str) -> Error | None:
    """``None`` when ``value`` is None or a duration (seconds or a timedelta) above 0 (or 0, with ``zero``)."""
    if value is None:
        return None
    seconds = conf_seconds(value)
    if seconds is not None and (seconds > 0 or (zero and seconds == 0)):
        return None
    if zero:
        message = _(
            "%(setting)s is %(value)s; it must be None or a duration (0 or more): seconds or a datetime.timedelta."
        )
    else:
        message = _(
            "%(setting)s is %(value)s; it must be None or a duration (more than 0): seconds or a datetime.timedelta."
        )
    return Error(message % {"setting": f"QSESSIONS_{name}", "value": repr(value)}, id=check_id)


@register(Tags.security)
def check_lifecycle(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """QSESSIONS_IDLE_TIMEOUT, QSESSIONS_ABSOLUTE_TIMEOUT and QSESSIONS_HISTORY_RETENTION."""
    found = [
        _duration_error("IDLE_TIMEOUT", conf.raw("IDLE_TIMEOUT"), zero=False, check_id="qsessions.E060"),
        _duration_error("ABSOLUTE_TIMEOUT", conf.raw("ABSOLUTE_TIMEOUT"), zero=False, check_id="qsessions.E061"),
        _duration_error("HISTORY_RETENTION", conf.raw("HISTORY_RETENTION"), zero=True, check_id="qsessions.E062"),
    ]
    errors = [error for error in found if error is not None]
    idle, interval = conf_seconds(conf.raw("IDLE_TIMEOUT")), conf.raw("ACTIVITY_INTERVAL")
    if found[0] is None and idle is not None and _is_int(interval) and idle <= interval:
        errors.append(
            Error(
                _(
                    "QSESSIONS_IDLE_TIMEOUT (%(idle)s s) is not longer than QSESSIONS_ACTIVITY_INTERVAL "
                    "(%(interval)s s): the last activity is written at most once per interval, so active sessions "
                    "would time out."
                )
                % {"idle": f"{idle:g}", "interval": interval},
                hint=_("Make the idle timeout several times the activity interval (the timeout is precise to it)."),
                id="qsessions.E063",
            )
        )
    return errors


# -- the previous engine (QSESSIONS_PREVIOUS_ENGINE): qsessions.E080-E089 / I080 ----------------------------


@register(Tags.compatibility)
def check_previous_engine(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from qsessions import previous

    value = conf.raw("PREVIOUS_ENGINE")
    if value is None:
        return []
    if not isinstance(value, str) or value not in previous.ENGINES:
        return [
            Error(
                _("QSESSIONS_PREVIOUS_ENGINE is %(value)s, which qsessions cannot read sessions from.")
                % {"value": repr(value)},
                hint=_("Use one of %(engines)s, or None.") % {"engines": ", ".join(map(repr, previous.ENGINES))},
                id="qsessions.E080",
            )
        ]
    if conf.raw("PREVIOUS_ENGINE_SHARED") and not previous.ENGINES[value].can_be_shared:
        return [
            Error(
                _(
                    "QSESSIONS_PREVIOUS_ENGINE_SHARED is on, but qsessions cannot keep %(engine)s in step with its "
                    "own sessions: processes still running it would sign users out."
                )
                % {"engine": repr(value)},
                hint=_(
                    "Switch every process at once (no rolling deploy), then leave QSESSIONS_PREVIOUS_ENGINE_SHARED off."
                ),
                id="qsessions.E081",
            )
        ]
    return []


@register(Tags.database)
def check_previous_engine_can_go(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Run by ``check --database`` and ``migrate``: one query, stopping at the first session left."""
    from django.core.checks import Info

    from qsessions import previous
    from qsessions.models import Session

    if not databases or conf.PREVIOUS_ENGINE is None or conf.PREVIOUS_ENGINE_SHARED or previous.engine() is None:
        return []
    messages: list[CheckMessage] = []
    for alias in databases:
        if previous.sessions_left(Session._meta.db_table, alias) is False:
            messages.append(
                Info(
                    _(
                        "Every live session of %(engine)s in database %(database)s is qsessions' now (moved, imported "
                        "or expired): QSESSIONS_PREVIOUS_ENGINE can be removed."
                    )
                    % {"engine": repr(conf.PREVIOUS_ENGINE), "database": repr(alias)},
                    hint=_("Remove the setting, then drop the old table (see docs/upgrading.md)."),
                    id="qsessions.I080",
                )
            )
    return messages
