"""Small GeoLite2-shaped City and Country databases, written at test time with mmdb-writer.

No binary database is committed: each test builds the files it needs in a temporary directory.
The records follow the layout of MaxMind's GeoLite2 databases, so geoip2 and Django's GeoIP2 read them
exactly as they read the real ones.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

# Public networks (globally routable, so qsessions looks them up) with the place the test data puts them.
PLACES: dict[str, dict[str, Any]] = {
    "81.2.69.0/24": {
        "city": "London",
        "country": ("GB", "United Kingdom"),
        "continent": ("EU", "Europe"),
        "location": (51.5142, -0.0931, "Europe/London"),
    },
    "89.160.20.0/24": {
        "city": "Linköping",
        "country": ("SE", "Sweden"),
        "continent": ("EU", "Europe"),
        "location": (58.4167, 15.6167, "Europe/Stockholm"),
    },
    "2a02:8400::/32": {
        "city": "Berlin",
        "country": ("DE", "Germany"),
        "continent": ("EU", "Europe"),
        "location": (52.52, 13.405, "Europe/Berlin"),
    },
    "175.16.199.0/24": {
        "city": None,  # known country, unknown city
        "country": ("CN", "China"),
        "continent": ("AS", "Asia"),
        "location": (34.7732, 113.722, "Asia/Shanghai"),
    },
}

LONDON_IP = "81.2.69.142"
LINKOPING_IP = "89.160.20.112"
BERLIN_IPV6 = "2a02:8400:1234::1"
CHINA_IP = "175.16.199.5"
UNKNOWN_IP = "8.8.8.8"  # public, but not in the test databases


def _names(name: str) -> dict[str, str]:
    return {"en": name}


def _country_record(place: dict[str, Any]) -> dict[str, Any]:
    country_code, country_name = place["country"]
    continent_code, continent_name = place["continent"]
    return {
        "continent": {"code": continent_code, "names": _names(continent_name)},
        "country": {"iso_code": country_code, "names": _names(country_name), "is_in_european_union": False},
        "registered_country": {"iso_code": country_code, "names": _names(country_name)},
    }


def _city_record(place: dict[str, Any]) -> dict[str, Any]:
    record = _country_record(place)
    latitude, longitude, time_zone = place["location"]
    record["location"] = {
        "latitude": latitude,
        "longitude": longitude,
        "time_zone": time_zone,
        "accuracy_radius": 50,
    }
    if place["city"]:
        record["city"] = {"names": _names(place["city"])}
    return record


def build_mmdb(
    kind: str, *, places: dict[str, dict[str, Any]] | None = None, database_type: str | None = None
) -> bytes:
    """A GeoLite2 ``kind`` ("City" or "Country") database as bytes."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type or f"GeoLite2-{kind}",
        languages=["en"],
        description=f"qsessions test {kind} database",
    )
    make_record = _city_record if kind == "City" else _country_record
    for network, place in (places if places is not None else PLACES).items():
        writer.insert_network(IPSet([network]), make_record(place))
    with tempfile.TemporaryDirectory() as directory:  # mmdb-writer writes to a path only
        target = Path(directory) / "db.mmdb"
        writer.to_db_file(str(target))
        return target.read_bytes()


def write_mmdb(path: Path, kind: str, **kwargs: Any) -> Path:
    """Write a ``kind`` database to ``path`` atomically (as download_geoip_db does) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_bytes(build_mmdb(kind, **kwargs))
    os.replace(scratch, path)
    return path


def build_tarball(edition: str, mmdb: bytes, *, release: str = "20260101") -> bytes:
    """A ``.tar.gz`` shaped like MaxMind's: ``<edition>_<date>/`` with the database and text files."""
    folder = f"{edition}_{release}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (
            (f"{folder}/COPYRIGHT.txt", b"test data\n"),
            (f"{folder}/LICENSE.txt", b"test licence\n"),
            (f"{folder}/{edition}.mmdb", mmdb),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sha256_line(data: bytes, filename: str) -> bytes:
    """The body of MaxMind's ``.sha256`` file: the digest, two spaces, the tarball's name."""
    return f"{hashlib.sha256(data).hexdigest()}  {filename}\n".encode()
