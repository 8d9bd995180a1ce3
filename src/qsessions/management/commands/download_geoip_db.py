"""``manage.py download_geoip_db``: fetch MaxMind's GeoIP databases, verify them, replace the old ones atomically.

See docs/geoip.md for what is checked. A failed or damaged download leaves the database on disk untouched;
the license key is never printed and never sent to the host MaxMind redirects to.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import io
import ipaddress
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

import qsessions
from qsessions import geo

try:
    import maxminddb
except ImportError:  # pragma: no cover - the geoip2 extra is not installed: the file is not checked
    maxminddb = None  # type: ignore[assignment]

DEFAULT_BASE_URL = "https://download.maxmind.com"
BASE_URL_ENV = "QSESSIONS_MAXMIND_BASE_URL"
DEFAULT_EDITIONS = ("GeoLite2-City", "GeoLite2-Country")
EDITION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
SHA256_PATTERN = re.compile(r"[0-9a-fA-F]{64}")
CHUNK_SIZE = 64 * 1024
MAX_TARBALL_BYTES = 1 << 30  # GeoLite2-City is well under 100 MB; anything near this is not a database
MAX_CHECKSUM_BYTES = 4096
# What a tarball may expand to and how many entries it may have (MaxMind's have four), read from its headers.
MAX_EXTRACTED_BYTES = 1 << 30
MAX_ENTRIES = 100
PROGRESS_STEP_BYTES = 8 << 20


class DownloadError(Exception):
    """A failure to report to the operator. Its message never contains a credential."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal  # the same failure would repeat for every edition (bad credentials, rate limit)


class NoCredentialsOnRedirect(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, without the credentials however they were added, and never from HTTPS to HTTP."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if req.type == "https" and urllib.parse.urlsplit(newurl).scheme != "https":
            raise DownloadError("MaxMind redirected the download to a non-HTTPS address; refusing to follow it.")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.headers = {k: v for k, v in new.headers.items() if k.lower() not in ("authorization", "cookie")}
            new.unredirected_hdrs.clear()
        return new


@dataclass(frozen=True)
class Credentials:
    account_id: str | None
    license_key: str = field(repr=False)

    def redact(self, text: str) -> str:
        """``text`` with the license key (raw or URL-quoted) replaced, for any message built from outside data."""
        for secret in (self.license_key, urllib.parse.quote(self.license_key, safe="")):
            text = text.replace(secret, "***")
        return text


class Command(BaseCommand):
    help = (
        "Download MaxMind's GeoLite2/GeoIP2 databases into GEOIP_PATH (or --path), verified and replaced atomically. "
        "Needs a MaxMind account id and license key (options or MAXMIND_ACCOUNT_ID / MAXMIND_LICENSE_KEY)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account-id", help="MaxMind account id (default: $MAXMIND_ACCOUNT_ID, else key-only URL)."
        )
        parser.add_argument(
            "--license-key",
            help="MaxMind license key (default: $MAXMIND_LICENSE_KEY). Prefer the environment variable: "
            "a command-line argument is visible to other users of the machine.",
        )
        parser.add_argument(
            "--edition",
            dest="editions",
            action="append",
            metavar="EDITION",
            help=f"Edition id to download; repeat for several (default: {' and '.join(DEFAULT_EDITIONS)}).",
        )
        parser.add_argument("--path", help="Directory to write the databases to (default: GEOIP_PATH).")
        parser.add_argument("--base-url", help=f"Download server (default: ${BASE_URL_ENV} or {DEFAULT_BASE_URL}).")
        parser.add_argument("--timeout", type=float, default=60.0, help="Network timeout in seconds (default 60).")

    def handle(self, **options: Any) -> None:
        self.verbosity: int = options["verbosity"]
        self.timeout: float = options["timeout"]
        self.opener = urllib.request.build_opener(NoCredentialsOnRedirect())
        credentials = self._credentials(options)
        destination = self._destination(options["path"])
        base_url = self._base_url(options["base_url"])
        failures: list[str] = []
        for edition in self._editions(options["editions"]):
            try:
                target = self._download_edition(base_url, credentials, edition, destination)
            except DownloadError as exc:
                failures.append(credentials.redact(f"{edition}: {exc} The database on disk, if any, is unchanged."))
                if exc.fatal:
                    break
            else:
                self._say(f"{edition}: installed {target}", style=self.style.SUCCESS)
        if failures:
            raise CommandError("\n".join(failures))

    def _credentials(self, options: dict[str, Any]) -> Credentials:
        license_key = options["license_key"] or os.environ.get("MAXMIND_LICENSE_KEY", "")
        account_id = options["account_id"] or os.environ.get("MAXMIND_ACCOUNT_ID") or None
        if not license_key:
            raise CommandError(
                "No MaxMind license key: set MAXMIND_LICENSE_KEY (and MAXMIND_ACCOUNT_ID) or pass --license-key "
                "and --account-id. A free key comes with a GeoLite account at https://www.maxmind.com/."
            )
        if account_id is not None and not account_id.isdigit():
            raise CommandError("The MaxMind account id is a number (see 'My Account' on maxmind.com).")
        return Credentials(account_id, license_key)

    def _destination(self, path: str | None) -> Path:
        configured = path or getattr(settings, "GEOIP_PATH", None)
        if not configured:
            raise CommandError("Nowhere to write the databases: set GEOIP_PATH or pass --path DIRECTORY.")
        destination = Path(configured)
        if destination.is_file() or destination.suffix == ".mmdb":
            raise CommandError(f"{destination} names a file; pass --path with the directory to write databases to.")
        try:
            destination.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"Cannot create {destination}: {exc.strerror}.") from None
        return destination

    def _base_url(self, option: str | None) -> str:
        base_url = (option or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        parts = urllib.parse.urlsplit(base_url)
        if parts.hostname and (parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))):
            return base_url
        raise CommandError(f"The base URL must be https:// (plain http only to this machine): {base_url!r}.")

    def _editions(self, editions: list[str] | None) -> list[str]:
        chosen = editions or list(DEFAULT_EDITIONS)
        for edition in chosen:
            if not EDITION_PATTERN.fullmatch(edition):
                raise CommandError(f"Not a MaxMind edition id: {edition!r} (letters, digits and dashes).")
        return list(dict.fromkeys(chosen))

    def _download_edition(self, base_url: str, credentials: Credentials, edition: str, destination: Path) -> Path:
        target = destination / database_filename(edition)
        self._say(f"{edition}: downloading to {target}")
        checksum = io.BytesIO()
        request = download_request(base_url, credentials, edition, "tar.gz.sha256")
        self._fetch(request, checksum, MAX_CHECKSUM_BYTES, "a database download's checksum file")
        expected = parse_checksum(checksum.getvalue())
        with tempfile.TemporaryDirectory(dir=destination, prefix=".download-") as scratch:
            tarball = Path(scratch) / f"{edition}.tar.gz"
            with tarball.open("wb") as out:
                request = download_request(base_url, credentials, edition, "tar.gz")
                actual = self._fetch(request, out, MAX_TARBALL_BYTES, "a database download", edition)
            if not hmac.compare_digest(actual, expected):
                raise DownloadError(
                    f"Checksum mismatch: the tarball's SHA-256 is {actual}, MaxMind's .sha256 says "
                    f"{expected}. The download is damaged or incomplete."
                )
            install_database(tarball, edition, target)
        return target

    def _fetch(self, request: urllib.request.Request, out: IO[bytes], limit: int, what: str, label: str = "") -> str:
        """GET ``request``, its body written to ``out`` (refused past ``limit`` bytes); its SHA-256 in hex."""
        digest = hashlib.sha256()
        try:
            with contextlib.closing(self.opener.open(request, timeout=self.timeout)) as response:
                total = response.length  # what Content-Length announced, None without one
                if total is not None and total > limit:
                    raise DownloadError(f"The server announced {total} bytes, more than {what} can be.")
                received = 0
                while chunk := response.read(CHUNK_SIZE):
                    received += len(chunk)
                    if received > limit:
                        raise DownloadError(f"The server sent more data than {what} can be.")
                    out.write(chunk)
                    digest.update(chunk)
                    if label and received % PROGRESS_STEP_BYTES < len(chunk):  # crossed a step
                        self._progress(label, received, total)
                if response.length:  # http.client counts down what Content-Length announced
                    raise DownloadError("Truncated download: the connection closed early.")
                if label:
                    self._progress(label, received, total, done=True)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise http_error(exc.code, exc.headers) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:  # refused, reset, timeout (URLError too)
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise DownloadError(f"Network error: {reason or type(exc).__name__}.") from None
        return digest.hexdigest()

    def _say(self, message: str, style: Callable[[str], str] | None = None) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message, style)

    def _progress(self, label: str, received: int, total: int | None, *, done: bool = False) -> None:
        amount = f"{received / 1e6:.1f} MB"
        if total:
            amount += f" of {total / 1e6:.1f} MB ({received * 100 // total}%)"
        self._say(f"{label}: {'downloaded' if done else 'downloading'} {amount}")


def _is_loopback(host: str) -> bool:
    with contextlib.suppress(ValueError):
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    return False


def download_request(base_url: str, credentials: Credentials, edition: str, suffix: str) -> urllib.request.Request:
    """The request for one file of ``edition``: basic auth on the current API, the key in the URL on the old one."""
    headers = {"User-Agent": f"qsessions/{qsessions.__version__} download_geoip_db"}
    if credentials.account_id:
        url = f"{base_url}/geoip/databases/{edition}/download?" + urllib.parse.urlencode({"suffix": suffix})
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - _base_url allows https only
        token = base64.b64encode(f"{credentials.account_id}:{credentials.license_key}".encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
        return request
    query = urllib.parse.urlencode({"edition_id": edition, "license_key": credentials.license_key, "suffix": suffix})
    return urllib.request.Request(f"{base_url}/app/geoip_download?{query}", headers=headers)  # noqa: S310


HTTP_ERRORS = {
    401: "MaxMind refused the credentials (HTTP 401): check the account id and license key "
    "(MAXMIND_ACCOUNT_ID, MAXMIND_LICENSE_KEY).",
    403: "MaxMind denied access to this edition (HTTP 403): is it part of your subscription?",
    404: "MaxMind has no such edition (HTTP 404).",
    429: "MaxMind is rate limiting this account (HTTP 429): try again later{when}. "
    "GeoLite databases are updated twice a week; a daily or weekly cron job is plenty.",
}


def http_error(status: int, headers: Message | None) -> DownloadError:
    retry_after = headers.get("Retry-After") if headers is not None else None
    when = f" (Retry-After: {retry_after})" if retry_after and retry_after.isdigit() else ""
    message = HTTP_ERRORS.get(status, f"The download failed with HTTP {status}.")
    # 401 and 429 would answer every edition alike: stop there.
    return DownloadError(message.format(when=when), fatal=status in (401, 429))


def parse_checksum(body: bytes) -> str:
    """The SHA-256 in MaxMind's ``.sha256`` file (``<hex digest>  <file name>``)."""
    words = body.decode("ascii", errors="replace").split()
    if not words or not SHA256_PATTERN.fullmatch(words[0]):
        raise DownloadError("MaxMind's .sha256 file does not hold a SHA-256 digest.")
    return words[0].lower()


def database_filename(edition: str) -> str:
    """The file name Django's GeoIP2 looks for: GEOIP_CITY / GEOIP_COUNTRY for those editions."""
    if "City" in edition:
        return str(getattr(settings, "GEOIP_CITY", geo.DEFAULT_CITY))
    if "Country" in edition:
        return str(getattr(settings, "GEOIP_COUNTRY", geo.DEFAULT_COUNTRY))
    return f"{edition}.mmdb"


def _unsafe(member: tarfile.TarInfo) -> str | None:
    """Why an entry named like a database must not be used, or None."""
    name = PurePosixPath(member.name)
    if name.is_absolute():
        return "an absolute path"
    if ".." in name.parts:
        return "a '..' in its path"
    if member.issym() or member.islnk():
        return "a link"
    return None


def _database_member(tar: tarfile.TarFile, edition: str) -> tarfile.TarInfo:
    """The ``.mmdb`` entry, from the headers alone: a small archive of zeros can claim gigabytes."""
    databases: list[tarfile.TarInfo] = []
    total = 0
    for count, member in enumerate(tar, start=1):
        total += member.size
        if count > MAX_ENTRIES:
            raise DownloadError(f"The tarball holds more than {MAX_ENTRIES} entries; a MaxMind tarball has a few.")
        if total > MAX_EXTRACTED_BYTES:
            raise DownloadError(
                f"The tarball expands to more than {MAX_EXTRACTED_BYTES >> 20} MiB; no database is that large."
            )
        if member.name.endswith(".mmdb"):
            if reason := _unsafe(member):
                raise DownloadError(f"The tarball holds an unsafe entry ({reason}); nothing was extracted.")
            databases.append(member)
    if not databases:
        raise DownloadError("The tarball holds no .mmdb database.")
    preferred = [member for member in databases if PurePosixPath(member.name).name == f"{edition}.mmdb"]
    member = (preferred or databases)[0]
    if not member.isreg():
        raise DownloadError("The tarball's .mmdb entry is not a regular file.")
    return member


def install_database(tarball: Path, edition: str, target: Path) -> None:
    """Copy the content of ``tarball``'s ``.mmdb`` entry to a file of our own next to it (nothing in the archive,
    no name, link or mode, decides where a file is written), check it opens as a MaxMind database, flush it to
    disk and rename it over ``target``, on the same file system: a reader of the old file keeps reading it."""
    extracted = tarball.with_name(f"{edition}.mmdb")
    try:
        with tarfile.open(tarball, mode="r:gz") as tar:
            data = tar.extractfile(_database_member(tar, edition))
            assert data is not None  # a regular file's entry always has data
            with data, extracted.open("wb") as out:
                shutil.copyfileobj(data, out, CHUNK_SIZE)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # gzip's BadGzipFile is an OSError
        raise DownloadError(f"The tarball is truncated or corrupt ({type(exc).__name__}).") from None
    if maxminddb is not None:  # the geoip2 extra depends on it
        try:
            maxminddb.open_database(str(extracted), maxminddb.MODE_FILE).close()
        except (maxminddb.InvalidDatabaseError, OSError, ValueError) as exc:
            raise DownloadError(f"The extracted file is not a valid MaxMind database ({type(exc).__name__}).") from None
    try:
        with extracted.open("rb+") as written:
            os.fsync(written.fileno())
        extracted.chmod(0o644)
        os.replace(extracted, target)
    except OSError as exc:
        raise DownloadError(f"Cannot write {target}: {exc.strerror or exc}.") from None
    with contextlib.suppress(OSError):  # make the rename itself durable where the platform allows
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
