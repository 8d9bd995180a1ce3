"""IP address -> location, through Django's GeoIP2 wrapper, with one reader per process.

The reader is opened on first use and reopened when the database file changes on disk (for example
after ``download_geoip_db``). Only valid, globally routable IP addresses are looked up, so a
hostname-like string can never cause a DNS query and a private address costs nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger("qsessions.geo")

_lock = threading.Lock()
_reader: Any = None
_reader_stamp: tuple[object, ...] | None = None
_warned = False


def _database_stamp() -> tuple[object, ...] | None:
    """What identifies the configured database files right now (paths and modification times)."""
    path = getattr(settings, "GEOIP_PATH", None)
    if not path:
        return None
    base = Path(path)
    if base.is_file():
        files = [base]
    else:
        files = [
            base / getattr(settings, "GEOIP_CITY", "GeoLite2-City.mmdb"),
            base / getattr(settings, "GEOIP_COUNTRY", "GeoLite2-Country.mmdb"),
        ]
    stamp: list[object] = [str(path)]
    for file in files:
        try:
            info = file.stat()
        except OSError:
            stamp.append(None)
        else:
            stamp.append((file.name, info.st_mtime_ns, info.st_size, info.st_ino))
    return tuple(stamp)


def _warn_once(message: str, *args: object) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning(message, *args)


def get_reader() -> Any:
    """The process-wide GeoIP2 reader, or ``None`` when no database can be opened."""
    global _reader, _reader_stamp
    stamp = _database_stamp()
    if stamp is None:
        _warn_once("GEOIP_PATH is not set: sessions will have no location.")
        return None
    if _reader is not None and stamp == _reader_stamp:
        return _reader
    with _lock:
        if _reader is not None and stamp == _reader_stamp:
            return _reader
        try:
            from django.contrib.gis.geoip2 import GeoIP2, GeoIP2Exception
        except ImportError:
            _warn_once("geoip2 is not installed (pip install 'qsessions[geoip2]'): sessions will have no location.")
            return None
        old = _reader
        try:
            reader = GeoIP2()
        except (GeoIP2Exception, OSError, ValueError) as exc:
            _warn_once("Cannot open the GeoIP database (%s): sessions will have no location.", exc)
            reader = None
        _reader, _reader_stamp = reader, stamp
        if old is not None:
            old.__del__()  # close the replaced files now, not whenever the collector runs
        return reader


def reset_reader() -> None:
    """Forget the cached reader (tests, and code that swaps GEOIP_PATH at run time)."""
    global _reader, _reader_stamp, _warned
    with _lock:
        _reader, _reader_stamp, _warned = None, None, False


def _lookup_address(ip: str | None) -> str | None:
    """``ip`` as a string worth looking up: a valid, globally routable address, else ``None``."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return str(address) if address.is_global else None


def location_info(ip: str | None) -> dict[str, Any] | None:
    """City (or at least country) data for ``ip``, or ``None`` when it has no known location."""
    address = _lookup_address(ip)
    if address is None:
        return None
    reader = get_reader()
    if reader is None:
        return None
    try:
        if reader.is_city:
            return dict(reader.city(address))
        return dict(reader.country(address))
    except Exception:  # geoip2's AddressNotFoundError and friends: no location, never an error
        return None


def format_location(info: dict[str, Any] | None) -> str | None:
    """``"City, Country"``, ``"Country"`` or ``None``."""
    if not info:
        return None
    parts = [info.get("city"), info.get("country_name")]
    text = ", ".join(part for part in parts if part)
    return text or None


def location(ip: str | None) -> str | None:
    return format_location(location_info(ip))
