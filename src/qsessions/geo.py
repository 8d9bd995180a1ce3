"""IP address -> location, through Django's GeoIP2 wrapper, with one reader per process.

The databases are the ones Django's ``GeoIP2`` uses: ``GEOIP_PATH`` (a directory, or one ``.mmdb`` file),
``GEOIP_CITY`` and ``GEOIP_COUNTRY``. The reader is opened on first use and reopened when a database
file changes on disk (``download_geoip_db`` replaces it by an atomic rename, which gives it a new inode).

Only valid, globally routable addresses are looked up, and they reach the reader as ``ipaddress``
objects: Django's wrapper resolves any *string* that is not an IP address with a DNS query, so no
string from a request ever gets there. Private, loopback and reserved addresses cost nothing.

Without a database, or without the ``geoip2`` package, every location is ``None`` and one warning is
logged on the ``qsessions.geo`` logger; a lookup never raises.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger("qsessions.geo")

DEFAULT_CITY = "GeoLite2-City.mmdb"
DEFAULT_COUNTRY = "GeoLite2-Country.mmdb"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Seconds between two checks of the database files on disk: a page listing 100 sessions costs one stat()
# round, and a replaced database is in use within this long.
RECHECK_SECONDS = 1.0

SettingsKey = tuple[object, object, object]
# What identifies the database files right now: per file, its name and (inode, size, mtime), or None.
Stamp = tuple[object, ...]


class _ReaderState:
    """One opened (or failed) reader and what it was opened from: swapped as a whole, never half-updated."""

    __slots__ = ("checked_at", "key", "reader", "stamp")

    def __init__(self, key: SettingsKey | None, stamp: Stamp | None, reader: Any, checked_at: float) -> None:
        self.key = key
        self.stamp = stamp
        self.reader = reader
        self.checked_at = checked_at


_lock = threading.Lock()
_state = _ReaderState(key=None, stamp=None, reader=None, checked_at=0.0)  # no key matches: first use opens
_warned: set[str] = set()


def _settings_key() -> SettingsKey:
    return (
        getattr(settings, "GEOIP_PATH", None),
        getattr(settings, "GEOIP_CITY", DEFAULT_CITY),
        getattr(settings, "GEOIP_COUNTRY", DEFAULT_COUNTRY),
    )


def database_files() -> list[Path]:
    """The database files Django's GeoIP2 would consider, in the order it tries them."""
    path, city, country = _settings_key()
    if not path:
        return []
    base = Path(str(path))
    if base.is_file():
        return [base]
    return [base / str(city), base / str(country)]


def _database_stamp() -> Stamp:
    stamp: list[object] = []
    for file in database_files():
        try:
            info = file.stat()
        except OSError:
            stamp.append((file.name, None))
        else:
            stamp.append((file.name, info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(stamp)


def _warn_once(kind: str, message: str, *args: object) -> None:
    if kind not in _warned:
        _warned.add(kind)
        logger.warning(message, *args)


def _open_reader(path: object) -> Any:
    if not path:
        _warn_once("path", "GEOIP_PATH is not set: sessions have no location. See qsessions' GeoIP documentation.")
        return None
    # Django's module imports without geoip2 and still defines GeoIP2 (which then fails with a NameError):
    # its HAS_GEOIP2 flag is what says whether the package is there.
    from django.contrib.gis import geoip2 as django_geoip2

    if not django_geoip2.HAS_GEOIP2:
        _warn_once(
            "package",
            "The geoip2 package is not installed (pip install 'qsessions[geoip2]'): sessions have no location.",
        )
        return None
    try:
        reader = django_geoip2.GeoIP2()
    # maxminddb reports a file that is not a database with InvalidDatabaseError, a RuntimeError.
    except (django_geoip2.GeoIP2Exception, OSError, ValueError, RuntimeError) as exc:
        _warn_once("database", "Cannot open the GeoIP database in GEOIP_PATH (%s): sessions have no location.", exc)
        return None
    _warned.clear()  # a database that goes missing later deserves a new warning
    return reader


def get_reader() -> Any:
    """The process-wide ``GeoIP2`` reader, or ``None`` when no database can be opened.

    The settings are compared at every call, the files on disk at most every ``RECHECK_SECONDS``; a
    replaced database is opened by the first lookup after that. The previous reader is not closed
    explicitly: a thread may still be reading from it, and it closes its file with its last reference.
    """
    global _state
    key = _settings_key()
    now = time.monotonic()
    state = _state
    if state.key == key and now - state.checked_at < RECHECK_SECONDS:
        return state.reader
    stamp = _database_stamp()
    if state.key == key and state.stamp == stamp:
        state.checked_at = now
        return state.reader
    with _lock:
        if _state.key != key or _state.stamp != stamp:
            _state = _ReaderState(key, stamp, _open_reader(key[0]), now)
        return _state.reader


def reset_reader() -> None:
    """Forget the reader and the warnings already given (for tests, and code that swaps databases by hand)."""
    global _state
    with _lock:
        _state = _ReaderState(key=None, stamp=None, reader=None, checked_at=0.0)
        _warned.clear()


def address_to_look_up(ip: object) -> IPAddress | None:
    """``ip`` as an address worth looking up: a valid, globally routable IP address, else ``None``.

    Never resolves anything: a string that is not an IP address gives ``None``.
    """
    if not isinstance(ip, str) or not ip or len(ip) > 64:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.scope_id is not None:
            address = ipaddress.IPv6Address(address.packed)  # the zone names a local interface: no place
    return address if address.is_global and not address.is_multicast else None


def location_info(ip: str | None) -> dict[str, Any] | None:
    """What the database knows about ``ip`` (Django's ``GeoIP2.city()`` or ``.country()`` dict), or ``None``."""
    address = address_to_look_up(ip)
    if address is None:
        return None
    reader = get_reader()
    if reader is None:
        return None
    from geoip2.errors import AddressNotFoundError  # importable: there is a reader

    try:
        found = reader.city(address) if reader.is_city else reader.country(address)
    except Exception as exc:
        # An address the database does not cover is the everyday case; anything else means a damaged
        # database, worth one warning but never an error on a page.
        if not isinstance(exc, AddressNotFoundError):
            _warn_once("lookup", "GeoIP lookup failed (%s: %s): sessions have no location.", type(exc).__name__, exc)
        return None
    return dict(found)


def format_location(info: dict[str, Any] | None) -> str | None:
    """``"City, Country"``, ``"Country"`` or ``None``."""
    if not info:
        return None
    parts = [info.get("city"), info.get("country_name")]
    text = ", ".join(part for part in parts if part)
    return text or None


def location(ip: str | None) -> str | None:
    """``"City, Country"``, ``"Country"`` or ``None`` for ``ip``."""
    return format_location(location_info(ip))
