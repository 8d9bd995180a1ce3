"""download_geoip_db against a local stand-in for MaxMind's download server (127.0.0.1, a thread)."""

from __future__ import annotations

import base64
import functools
import gzip
import io
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from qsessions import geo
from tests.geo_fixtures import LONDON_IP, PLACES, build_mmdb, build_tarball, sha256_line, write_mmdb

ACCOUNT_ID = "123456"
LICENSE_KEY = "Zq7s3cr3tLicenseKey_abc"
EDITIONS = ("GeoLite2-City", "GeoLite2-Country")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    send_only: int | None = None  # announce the whole body, send this many bytes, hang up
    announce_length: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class FakeMaxMind:
    """Serves ``routes`` (path with query -> Reply) and records every request with its headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[Seen] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                reply = fake.routes.get(self.path, Reply(404, b"not found"))
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.announce_length:
                    self.send_header("Content-Length", str(len(reply.body)))
                if reply.send_only is not None or not reply.announce_length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(reply.body if reply.send_only is None else reply.body[: reply.send_only])

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeMaxMind:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def publish(
        self,
        edition: str,
        tarball: bytes,
        *,
        checksum: bytes | None = None,
        tarball_reply: Reply | None = None,
        redirect: bool = True,
    ) -> None:
        """Make ``edition`` downloadable on both the current API and the legacy URL, like MaxMind does."""
        checksum = sha256_line(tarball, f"{edition}_20260101.tar.gz") if checksum is None else checksum
        for suffix, body in (("tar.gz", tarball), ("tar.gz.sha256", checksum)):
            final = tarball_reply if (suffix == "tar.gz" and tarball_reply) else Reply(body=body)
            storage = f"/r2/{edition}.{suffix}?X-Amz-Signature=deadbeef"
            self.routes[storage] = final
            first = Reply(302, headers={"Location": self.url + storage}) if redirect else final
            self.routes[f"/geoip/databases/{edition}/download?suffix={suffix}"] = first
            self.routes[f"/app/geoip_download?edition_id={edition}&license_key={LICENSE_KEY}&suffix={suffix}"] = first

    def publish_all(self, **kwargs: Any) -> None:
        for edition in EDITIONS:
            self.publish(edition, good_tarball(edition), **kwargs)

    def fail(self, status: int, headers: dict[str, str] | None = None) -> None:
        for edition in EDITIONS:
            for suffix in ("tar.gz", "tar.gz.sha256"):
                self.routes[f"/geoip/databases/{edition}/download?suffix={suffix}"] = Reply(
                    status, b"error", headers or {}
                )


@functools.cache
def database(kind: str) -> bytes:
    """One database per kind for the whole module (a database's bytes include the second it was built)."""
    return build_mmdb(kind)


@functools.cache
def good_tarball(edition: str) -> bytes:
    return build_tarball(edition, database(edition.split("-")[1]))


@pytest.fixture
def maxmind() -> Iterator[FakeMaxMind]:
    with FakeMaxMind() as server:
        yield server


@pytest.fixture
def old_databases(tmp_path: Path) -> dict[str, bytes]:
    """A GEOIP_PATH that already holds (older) databases: London was in Manchester back then."""
    old = {**PLACES, "81.2.69.0/24": {**PLACES["81.2.69.0/24"], "city": "Manchester"}}
    write_mmdb(tmp_path / "GeoLite2-City.mmdb", "City", places=old)
    write_mmdb(tmp_path / "GeoLite2-Country.mmdb", "Country", places=old)
    return {name: (tmp_path / name).read_bytes() for name in ("GeoLite2-City.mmdb", "GeoLite2-Country.mmdb")}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(geo, "RECHECK_SECONDS", 0.0)  # so that a replaced database is seen at once
    proxies = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    for name in ("MAXMIND_ACCOUNT_ID", "MAXMIND_LICENSE_KEY", "QSESSIONS_MAXMIND_BASE_URL", *proxies):
        monkeypatch.delenv(name, raising=False)
    geo.reset_reader()
    yield
    geo.reset_reader()


def run(maxmind: FakeMaxMind, path: Path, *args: str, account: bool = True) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    credentials = ["--account-id", ACCOUNT_ID] if account else []
    call_command(
        "download_geoip_db",
        *credentials,
        "--license-key",
        LICENSE_KEY,
        "--base-url",
        maxmind.url,
        "--path",
        str(path),
        *args,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


def basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{ACCOUNT_ID}:{LICENSE_KEY}".encode()).decode()


# -- the happy path ----------------------------------------------------------------------------------------------


def test_downloads_verifies_and_installs_both_editions(
    maxmind: FakeMaxMind, tmp_path: Path, old_databases: dict[str, bytes], settings: Any
) -> None:
    maxmind.publish_all()
    settings.GEOIP_PATH = str(tmp_path)
    assert geo.location(LONDON_IP) == "Manchester, United Kingdom"  # the old database, opened

    out, err = run(maxmind, tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["GeoLite2-City.mmdb", "GeoLite2-Country.mmdb"]
    assert (tmp_path / "GeoLite2-City.mmdb").read_bytes() == database("City")
    assert (tmp_path / "GeoLite2-Country.mmdb").read_bytes() == database("Country")
    assert geo.location(LONDON_IP) == "London, United Kingdom"  # the running reader picked up the new file
    assert "GeoLite2-City: downloaded" in out
    assert "MB" in out
    assert "GeoLite2-Country: installed" in out
    assert err == ""
    assert LICENSE_KEY not in out + err


def test_credentials_go_to_maxmind_and_never_to_the_redirect_host(maxmind: FakeMaxMind, tmp_path: Path) -> None:
    maxmind.publish_all()
    run(maxmind, tmp_path)

    first = [r for r in maxmind.requests if r.path.startswith("/geoip/databases/")]
    redirected = [r for r in maxmind.requests if r.path.startswith("/r2/")]
    assert len(first) == 4  # two editions, tarball and checksum each
    assert len(redirected) == 4
    for request in first:
        assert request.headers["authorization"] == basic_auth()
        assert LICENSE_KEY not in request.path
    for request in redirected:
        assert "authorization" not in request.headers
        assert LICENSE_KEY not in request.path
        assert all(LICENSE_KEY not in value for value in request.headers.values())


def test_without_account_id_uses_the_key_only_url(maxmind: FakeMaxMind, tmp_path: Path) -> None:
    maxmind.publish_all()
    out, err = run(maxmind, tmp_path, account=False)

    legacy = [r for r in maxmind.requests if r.path.startswith("/app/geoip_download?")]
    assert len(legacy) == 4
    assert all("authorization" not in r.headers for r in maxmind.requests)
    assert all("authorization" not in r.headers for r in maxmind.requests if r.path.startswith("/r2/"))
    assert (tmp_path / "GeoLite2-City.mmdb").read_bytes() == database("City")
    assert LICENSE_KEY not in out + err  # the key is in the URL: it must not be in the output


def test_environment_variables_and_geoip_path(
    maxmind: FakeMaxMind, tmp_path: Path, settings: Any, monkeypatch: Any
) -> None:
    maxmind.publish("GeoLite2-Country", good_tarball("GeoLite2-Country"), redirect=False)
    monkeypatch.setenv("MAXMIND_ACCOUNT_ID", ACCOUNT_ID)
    monkeypatch.setenv("MAXMIND_LICENSE_KEY", LICENSE_KEY)
    monkeypatch.setenv("QSESSIONS_MAXMIND_BASE_URL", maxmind.url)
    settings.GEOIP_PATH = str(tmp_path / "new-dir")
    settings.GEOIP_COUNTRY = "countries.mmdb"

    call_command("download_geoip_db", "--edition", "GeoLite2-Country", stdout=io.StringIO())

    assert (tmp_path / "new-dir" / "countries.mmdb").read_bytes() == database("Country")
    assert maxmind.requests[0].headers["authorization"] == basic_auth()
    assert geo.location(LONDON_IP) == "United Kingdom"


def test_verbosity_zero_prints_nothing(maxmind: FakeMaxMind, tmp_path: Path) -> None:
    maxmind.publish_all()
    out, err = run(maxmind, tmp_path, "--verbosity", "0")
    assert (out, err) == ("", "")
    assert (tmp_path / "GeoLite2-City.mmdb").exists()


def test_other_editions_keep_their_own_name(maxmind: FakeMaxMind, tmp_path: Path) -> None:
    maxmind.publish("GeoLite2-ASN", build_tarball("GeoLite2-ASN", build_mmdb("Country", database_type="GeoLite2-ASN")))
    run(maxmind, tmp_path, "--edition", "GeoLite2-ASN")
    assert [p.name for p in tmp_path.iterdir()] == ["GeoLite2-ASN.mmdb"]


# -- every failure keeps the old database -----------------------------------------------------------------------


def truncated_tarball(edition: str) -> bytes:
    whole = good_tarball(edition)
    return whole[: len(whole) // 2]


def tarball_with(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in entries:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def escaping_tarball(edition: str) -> bytes:
    return tarball_with([(tarfile.TarInfo(f"../../{edition}.mmdb"), build_mmdb("City"))])


def symlink_tarball(edition: str) -> bytes:
    link = tarfile.TarInfo(f"{edition}_20260101/{edition}.mmdb")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    return tarball_with([(link, b"")])


def directory_entry(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def no_database_tarball(edition: str) -> bytes:
    return tarball_with([(tarfile.TarInfo(f"{edition}_20260101/README.txt"), b"hello")])


def not_a_database_tarball(edition: str) -> bytes:
    return build_tarball(edition, b"<html>Sorry, try again later</html>" * 100)


def serve_endless_checksum(maxmind: FakeMaxMind) -> None:
    """A .sha256 that announces no length and does not stop where a checksum file would."""
    for edition in EDITIONS:
        endless = Reply(body=b"0" * 5000, announce_length=False)
        maxmind.routes[f"/geoip/databases/{edition}/download?suffix=tar.gz.sha256"] = endless


FAILURES: dict[str, tuple[Any, str]] = {
    # name: (how the server misbehaves, what the operator reads)
    "401": (lambda m: m.fail(401), "HTTP 401"),
    "429": (lambda m: m.fail(429, {"Retry-After": "3600"}), "HTTP 429"),
    "403": (lambda m: m.fail(403), "HTTP 403"),
    "500": (lambda m: m.fail(500), "HTTP 500"),
    "bad checksum": (
        lambda m: m.publish_all(checksum=sha256_line(b"something else", "x.tar.gz")),
        "Checksum mismatch",
    ),
    "malformed checksum": (lambda m: m.publish_all(checksum=b"<html>oops</html>"), "does not hold a SHA-256"),
    "truncated tarball": (
        lambda m: [m.publish(e, truncated_tarball(e)) for e in EDITIONS],  # its checksum matches the cut file
        "truncated or corrupt",
    ),
    "connection closed early": (
        lambda m: [
            m.publish(e, good_tarball(e), tarball_reply=Reply(body=good_tarball(e), send_only=500)) for e in EDITIONS
        ],
        "Truncated download|Network error",  # our byte count, or http.client's IncompleteRead
    ),
    "path traversal": (lambda m: [m.publish(e, escaping_tarball(e)) for e in EDITIONS], "unsafe entry"),
    "symlink": (lambda m: [m.publish(e, symlink_tarball(e)) for e in EDITIONS], "unsafe entry"),
    "no mmdb": (lambda m: [m.publish(e, no_database_tarball(e)) for e in EDITIONS], "no .mmdb"),
    "not a database": (lambda m: [m.publish(e, not_a_database_tarball(e)) for e in EDITIONS], "not a valid MaxMind"),
    "404": (lambda m: None, "HTTP 404"),
    "huge checksum file": (lambda m: m.publish_all(checksum=b"0" * 5000), "announced 5000 bytes"),
    "endless checksum file": (serve_endless_checksum, "more data than a database download"),
    "directory named like a database": (
        lambda m: [m.publish(e, tarball_with([(directory_entry(f"{e}.mmdb"), b"")])) for e in EDITIONS],
        "not a regular file",
    ),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_download_keeps_the_old_database(
    failure: str, maxmind: FakeMaxMind, tmp_path: Path, old_databases: dict[str, bytes], settings: Any
) -> None:
    arrange, expected = FAILURES[failure]
    arrange(maxmind)
    settings.GEOIP_PATH = str(tmp_path)

    with pytest.raises(CommandError) as raised:
        run(maxmind, tmp_path)

    message = str(raised.value)
    assert re.search(expected, message)
    assert "The database on disk, if any, is unchanged." in message
    assert LICENSE_KEY not in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old_databases  # untouched, no leftovers
    assert geo.location(LONDON_IP) == "Manchester, United Kingdom"
    assert not (tmp_path.parent / "GeoLite2-City.mmdb").exists()  # nothing escaped the directory


def test_a_failed_write_keeps_the_old_database(
    maxmind: FakeMaxMind, tmp_path: Path, old_databases: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    maxmind.publish_all()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CommandError, match="No space left on device"):
        run(maxmind, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old_databases


def test_progress_is_shown_while_downloading(maxmind: FakeMaxMind, tmp_path: Path, monkeypatch: Any) -> None:
    from qsessions.management.commands import download_geoip_db

    monkeypatch.setattr(download_geoip_db, "CHUNK_SIZE", 100)
    monkeypatch.setattr(download_geoip_db, "PROGRESS_STEP_BYTES", 400)
    tarball = good_tarball("GeoLite2-City")
    maxmind.publish("GeoLite2-City", tarball)
    out, _ = run(maxmind, tmp_path, "--edition", "GeoLite2-City")
    assert f"GeoLite2-City: downloading 0.0 MB of 0.0 MB ({400 * 100 // len(tarball)}%)" in out
    assert "GeoLite2-City: downloaded 0.0 MB of 0.0 MB (100%)" in out
    assert out.count("GeoLite2-City: downloading 0.0 MB of") == len(tarball) // 400


def test_download_without_content_length(maxmind: FakeMaxMind, tmp_path: Path) -> None:
    tarball = good_tarball("GeoLite2-City")
    maxmind.publish("GeoLite2-City", tarball, tarball_reply=Reply(body=tarball, announce_length=False))
    out, _ = run(maxmind, tmp_path, "--edition", "GeoLite2-City")
    assert "GeoLite2-City: downloaded 0.0 MB\n" in out
    assert (tmp_path / "GeoLite2-City.mmdb").read_bytes() == database("City")


def test_localhost_base_url(maxmind: FakeMaxMind, tmp_path: Path) -> None:
    maxmind.publish("GeoLite2-City", good_tarball("GeoLite2-City"), redirect=False)
    call_command(
        "download_geoip_db",
        f"--license-key={LICENSE_KEY}",
        f"--account-id={ACCOUNT_ID}",
        f"--base-url={maxmind.url.replace('127.0.0.1', 'localhost')}/",
        f"--path={tmp_path}",
        "--edition=GeoLite2-City",
        stdout=io.StringIO(),
    )
    assert (tmp_path / "GeoLite2-City.mmdb").exists()


def test_destination_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(CommandError, match="Cannot create"):
        call_command("download_geoip_db", "--license-key", LICENSE_KEY, "--path", str(tmp_path / "a-file" / "geoip"))


def test_bad_credentials_stop_after_the_first_edition(maxmind: FakeMaxMind, tmp_path: Path) -> None:
    maxmind.fail(401)
    with pytest.raises(CommandError, match="HTTP 401"):
        run(maxmind, tmp_path)
    assert len(maxmind.requests) == 1  # no point asking again with the same key


def test_one_failed_edition_does_not_stop_the_others(
    maxmind: FakeMaxMind, tmp_path: Path, old_databases: dict[str, bytes]
) -> None:
    maxmind.publish("GeoLite2-City", good_tarball("GeoLite2-City"), checksum=sha256_line(b"x", "x"))
    maxmind.publish("GeoLite2-Country", good_tarball("GeoLite2-Country"))
    out = io.StringIO()
    with pytest.raises(CommandError, match="GeoLite2-City: Checksum mismatch"):
        call_command(
            "download_geoip_db",
            f"--account-id={ACCOUNT_ID}",
            f"--license-key={LICENSE_KEY}",
            f"--base-url={maxmind.url}",
            f"--path={tmp_path}",
            stdout=out,
            stderr=io.StringIO(),
        )
    assert (tmp_path / "GeoLite2-City.mmdb").read_bytes() == old_databases["GeoLite2-City.mmdb"]
    assert (tmp_path / "GeoLite2-Country.mmdb").read_bytes() == database("Country")


def test_network_error(tmp_path: Path, old_databases: dict[str, bytes]) -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CommandError, match="Network error") as raised:
        call_command(
            "download_geoip_db",
            "--account-id",
            ACCOUNT_ID,
            "--license-key",
            LICENSE_KEY,
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--path",
            str(tmp_path),
            stdout=io.StringIO(),
        )
    assert LICENSE_KEY not in str(raised.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old_databases


def test_redirect_from_https_to_http_is_refused() -> None:
    import urllib.request
    from email.message import Message

    from qsessions.management.commands.download_geoip_db import DownloadError, NoCredentialsOnRedirect

    request = urllib.request.Request("https://download.maxmind.com/geoip/databases/GeoLite2-City/download")
    with pytest.raises(DownloadError, match="non-HTTPS"):
        NoCredentialsOnRedirect().redirect_request(request, io.BytesIO(), 302, "Found", Message(), "http://evil.test/x")


def test_redirect_drops_authorization_however_it_was_added() -> None:
    import urllib.request
    from email.message import Message

    from qsessions.management.commands.download_geoip_db import NoCredentialsOnRedirect

    request = urllib.request.Request(
        "https://download.maxmind.com/x", headers={"Authorization": "Basic abc", "Cookie": "a=b", "User-Agent": "t"}
    )
    new = NoCredentialsOnRedirect().redirect_request(
        request,
        io.BytesIO(),
        302,
        "Found",
        Message(),
        "https://storage.example/x?sig=1",
    )
    assert new is not None
    assert {name.lower() for name, _ in new.header_items()} == {"user-agent"}


# -- configuration mistakes ----------------------------------------------------------------------------------------


def test_exit_status_and_message_from_the_shell(maxmind: FakeMaxMind, tmp_path: Path) -> None:
    maxmind.fail(401)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")]),
        "MAXMIND_ACCOUNT_ID": ACCOUNT_ID,
        "MAXMIND_LICENSE_KEY": LICENSE_KEY,
        "QSESSIONS_MAXMIND_BASE_URL": maxmind.url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "download_geoip_db", "--path", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr
    assert LICENSE_KEY not in result.stdout + result.stderr


def test_no_license_key(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="MAXMIND_LICENSE_KEY"):
        call_command("download_geoip_db", "--path", str(tmp_path))


def test_account_id_must_be_a_number(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="account id is a number") as raised:
        call_command("download_geoip_db", "--path", str(tmp_path), "--account-id", "me@x", "--license-key", LICENSE_KEY)
    assert LICENSE_KEY not in str(raised.value)


def test_no_destination(settings: Any) -> None:
    if hasattr(settings, "GEOIP_PATH"):
        del settings.GEOIP_PATH
    with pytest.raises(CommandError, match="GEOIP_PATH"):
        call_command("download_geoip_db", "--license-key", LICENSE_KEY)


def test_destination_that_is_a_database_file(tmp_path: Path, settings: Any) -> None:
    settings.GEOIP_PATH = str(write_mmdb(tmp_path / "GeoLite2-City.mmdb", "City"))
    with pytest.raises(CommandError, match="names a file"):
        call_command("download_geoip_db", "--license-key", LICENSE_KEY)


@pytest.mark.parametrize("edition", ["../etc", "GeoLite2 City", "", "a/b", "x" * 80, "GeoLite2-City&license_key=x"])
def test_edition_ids_are_checked(edition: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Not a MaxMind edition id"):
        call_command("download_geoip_db", "--path", str(tmp_path), "--license-key", LICENSE_KEY, "--edition", edition)


@pytest.mark.parametrize(
    "base_url", ["http://download.maxmind.com", "ftp://127.0.0.1", "file:///etc", "download.maxmind.com"]
)
def test_credentials_are_sent_over_https_only(base_url: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="must be https"):
        call_command("download_geoip_db", "--path", str(tmp_path), "--license-key", LICENSE_KEY, "--base-url", base_url)


def test_redirect_that_urllib_would_not_follow(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request
    from email.message import Message

    from qsessions.management.commands.download_geoip_db import NoCredentialsOnRedirect

    monkeypatch.setattr(urllib.request.HTTPRedirectHandler, "redirect_request", lambda *args: None)
    request = urllib.request.Request("https://download.maxmind.com/x", headers={"Authorization": "Basic abc"})
    assert (
        NoCredentialsOnRedirect().redirect_request(request, io.BytesIO(), 302, "Found", Message(), "https://s/x")
        is None
    )


# -- hostile archives: confined to the scratch folder, capped in size -------------------------------------------


@pytest.fixture
def machine_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another database somewhere on the machine, outside GEOIP_PATH: in it, London is in Paris."""
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "Other-City.mmdb"
    moved = {**PLACES, "81.2.69.0/24": {**PLACES["81.2.69.0/24"], "city": "Paris"}}
    return write_mmdb(elsewhere, "City", places=moved)


def regular(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


HOSTILE_ENTRIES: dict[str, Any] = {
    # name: entries of the archive, given the other database's absolute path and the edition
    "absolute name": lambda other, e: [(regular(str(other)), database("City"))],
    "absolute name of the edition": lambda other, e: [(regular(f"/{e}_20260101/{e}.mmdb"), database("City"))],
    "'..' in the name": lambda other, e: [(regular(f"{e}_20260101/../../{e}.mmdb"), database("City"))],
    "symlink to the other database": lambda other, e: [(link(f"{e}.mmdb", str(other), tarfile.SYMTYPE), b"")],
    "relative symlink": lambda other, e: [
        (regular(f"{e}_20260101/COPYRIGHT.txt"), b"x"),
        (link(f"{e}_20260101/{e}.mmdb", "COPYRIGHT.txt", tarfile.SYMTYPE), b""),
    ],
    "hardlink to the other database": lambda other, e: [(link(f"{e}.mmdb", str(other), tarfile.LNKTYPE), b"")],
    "hardlink to another entry": lambda other, e: [
        (regular(f"{e}_20260101/data.bin"), database("City")),
        (link(f"{e}_20260101/{e}.mmdb", f"{e}_20260101/data.bin", tarfile.LNKTYPE), b""),
    ],
    "good database and a hostile one": lambda other, e: [
        (regular(f"{e}_20260101/{e}.mmdb"), database("City")),
        (regular(str(other)), database("City")),
    ],
}


@pytest.mark.parametrize("hostile", list(HOSTILE_ENTRIES))
def test_hostile_entries_never_install_another_file(
    hostile: str,
    maxmind: FakeMaxMind,
    tmp_path: Path,
    old_databases: dict[str, bytes],
    machine_database: Path,
    settings: Any,
) -> None:
    other_bytes = machine_database.read_bytes()
    for edition in EDITIONS:
        maxmind.publish(edition, tarball_with(HOSTILE_ENTRIES[hostile](machine_database, edition)))
    settings.GEOIP_PATH = str(tmp_path)

    with pytest.raises(CommandError) as raised:
        run(maxmind, tmp_path)

    assert "unsafe entry" in str(raised.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old_databases
    assert machine_database.read_bytes() == other_bytes
    assert geo.location(LONDON_IP) == "Manchester, United Kingdom"


GIB = 1 << 30
ZEROS_BLOCK = 16 << 20


@functools.cache
def gzipped_zeros() -> bytes:
    return gzip.compress(bytes(ZEROS_BLOCK), compresslevel=9)


def bomb_tarball(edition: str, *, huge: str, size: int = 3 * GIB // 2, cut_after: int | None = None) -> bytes:
    """A tar.gz of about 1.5 MB whose entry ``huge`` expands to ``size`` bytes of zeros.

    gzip members may be concatenated, so the zeros are one compressed block repeated: cheap to build.
    With ``cut_after``, the archive stops after that many blocks (only the header tells the size).
    """
    info = regular(huge)
    info.size = size
    parts = [gzip.compress(info.tobuf(tarfile.GNU_FORMAT))]
    blocks = size // ZEROS_BLOCK
    parts += [gzipped_zeros()] * (blocks if cut_after is None else cut_after)
    if cut_after is None:
        tail = io.BytesIO()
        if not huge.endswith(".mmdb"):
            data = database("City")
            mmdb = regular(f"{edition}_20260101/{edition}.mmdb")
            mmdb.size = len(data)
            tail.write(mmdb.tobuf(tarfile.GNU_FORMAT) + data + bytes(-len(data) % tarfile.BLOCKSIZE))
        tail.write(bytes(2 * tarfile.BLOCKSIZE))
        parts.append(gzip.compress(tail.getvalue()))
    return b"".join(parts)


BOMBS: dict[str, Any] = {
    "the database": lambda e: bomb_tarball(e, huge=f"{e}_20260101/{e}.mmdb"),
    "an entry before the database": lambda e: bomb_tarball(e, huge=f"{e}_20260101/COPYRIGHT.txt"),
    # Only 16 MiB of the 1.5 GiB are there: stopping at the header is the only way to report the size.
    "the database, cut short": lambda e: bomb_tarball(e, huge=f"{e}_20260101/{e}.mmdb", cut_after=1),
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_an_archive_that_expands_too_far_stops_at_once(
    bomb: str, maxmind: FakeMaxMind, tmp_path: Path, old_databases: dict[str, bytes], settings: Any
) -> None:
    tarball = BOMBS[bomb]("GeoLite2-City")
    assert len(tarball) < 2 << 20
    maxmind.publish("GeoLite2-City", tarball)
    settings.GEOIP_PATH = str(tmp_path)

    with pytest.raises(CommandError) as raised:
        run(maxmind, tmp_path, "--edition", "GeoLite2-City")

    message = str(raised.value)
    assert "expands to more than 1024 MiB" in message
    assert "The database on disk, if any, is unchanged." in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old_databases
    assert geo.location(LONDON_IP) == "Manchester, United Kingdom"


def test_an_archive_with_too_many_entries_is_refused(
    maxmind: FakeMaxMind, tmp_path: Path, old_databases: dict[str, bytes]
) -> None:
    entries = [(regular(f"GeoLite2-City_20260101/note-{n}.txt"), b"") for n in range(5000)]
    maxmind.publish("GeoLite2-City", tarball_with([*entries, (regular("GeoLite2-City.mmdb"), database("City"))]))
    with pytest.raises(CommandError, match="more than 100 entries"):
        run(maxmind, tmp_path, "--edition", "GeoLite2-City")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old_databases
