"""cached_db when the cache fails: requests are served from the database, errors are logged, no session
is lost, and no cache entry ever wins over newer data in the database (see docs/services.md).

The server tests start a private cache server of the selected kind (redis-server or memcached) on a free
port, so that stopping it never disturbs anyone else; they skip under the local memory cache.
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from qsessions.backends.cached_db import SessionStore
from qsessions.cache import Found, read_entry
from qsessions.models import Session
from tests import services

needs_cache_server = pytest.mark.skipif(
    services.CACHE == "locmem",
    reason="needs a cache server: run with QSESSIONS_TEST_CACHE=redis, django-redis or memcached",
)
CACHED_DB = "qsessions.backends.cached_db"
LOGGER = "django.contrib.sessions"


def _wait_for(port: int, up: bool = True, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while services.answers(("127.0.0.1", port), timeout=0.2) != up:
        if time.monotonic() > deadline:
            raise TimeoutError(f"port {port} did not {'open' if up else 'close'}")
        time.sleep(0.02)


class CacheServer:
    """A private, non-persistent cache server of the selected kind, which a test may kill and restart."""

    def __init__(self) -> None:
        self.port = services.free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            services.cache_server_command(self.port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for(self.port)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
            _wait_for(self.port, up=False)


class Proxy:
    """A TCP relay to a server. cut() closes it and every connection through it, as a network partition
    does, while the server behind it keeps its data; restore() opens it again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = services.free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            for sock in [*self._sockets, *([self._listener] if self._listener else [])]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()
            self._listener = None
        _wait_for(self.port, up=False)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(pair), [], [])
                for sock in readable:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    pair[sock].sendall(chunk)
        except (OSError, ValueError):
            return
        finally:
            for sock in pair:
                sock.close()


@pytest.fixture
def cache_at(settings: Any) -> Iterator[Any]:
    """Point the session cache (a new alias) at host:port; returns a function that does it."""

    def point(port: int) -> Any:
        settings.CACHES = {**settings.CACHES, "sessions": services.cache_config_at("127.0.0.1", port)}
        settings.SESSION_CACHE_ALIAS = "sessions"
        settings.SESSION_ENGINE = CACHED_DB
        return caches["sessions"]

    yield point
    with contextlib.suppress(Exception):
        caches["sessions"].close()


@pytest.fixture
def server() -> Iterator[CacheServer]:
    running = CacheServer()
    running.start()
    yield running
    running.kill()


def _stored_value(client: Client) -> Any:
    return Session.objects.get(pk=client.cookies["sessionid"].value).get_decoded().get("value")


def _cached_value(client: Client) -> Any:
    entry = read_entry(caches["sessions"].get(SessionStore.cache_key_prefix + client.cookies["sessionid"].value))
    return entry.data.get("value") if isinstance(entry, Found) else None


def _read(client: Client) -> Any:
    response = client.get("/read/")
    assert response.status_code == 200
    return response.json()


def _write(client: Client, value: str) -> None:
    assert client.get("/write/", {"value": value}).status_code == 200


def _cache_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


@needs_cache_server
@pytest.mark.django_db
def test_unreachable_cache_serves_from_the_database(cache_at: Any, caplog: pytest.LogCaptureFixture) -> None:
    cache_at(services.free_port())  # nothing listens there
    get_user_model().objects.create_user("ada", password="pw")
    client = Client()

    _write(client, "a")
    assert client.get("/login/", {"username": "ada"}).status_code == 200
    _write(client, "b")

    assert _read(client) == {"user": "ada", "value": "b"}
    assert _stored_value(client) == "b"
    assert any(message.startswith("Error") for message in _cache_errors(caplog))

    assert client.get("/awrite/", {"value": "c"}).status_code == 200  # the async path
    assert client.get("/aread/").json() == {"user": "ada", "value": "c"}
    assert _stored_value(client) == "c"


@needs_cache_server
@pytest.mark.django_db
def test_cache_stopped_mid_session_then_back(
    cache_at: Any, server: CacheServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache_at(server.port)
    client = Client()
    _write(client, "before")
    assert _cached_value(client) == "before"

    server.kill()
    _write(client, "during")
    assert _read(client)["value"] == "during"
    assert _stored_value(client) == "during"
    assert _cache_errors(caplog)

    server.start()  # empty, as a restarted Redis without persistence or memcached is
    assert _read(client)["value"] == "during"
    assert _cached_value(client) == "during"  # filled again from the database
    _write(client, "after")
    assert _read(client)["value"] == "after"
    assert _cached_value(client) == "after"


@needs_cache_server
@pytest.mark.django_db
def test_partition_then_next_save_makes_the_cache_current(
    cache_at: Any, server: CacheServer, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = Proxy(server.port)
    proxy.restore()
    cache_at(proxy.port)
    client, other = Client(), Client()
    _write(client, "before")
    _write(other, "untouched")

    proxy.cut()
    _write(client, "during")
    assert _read(client)["value"] == "during"
    assert _read(other)["value"] == "untouched"
    assert _cache_errors(caplog)

    proxy.restore()
    _write(client, "after")
    assert _cached_value(client) == "after"
    assert _read(client)["value"] == "after"
    assert _read(other)["value"] == "untouched"
    proxy.cut()


def _refuse_writes(server: CacheServer) -> str:
    """Make the server refuse the next write while it keeps serving its entries; return a value to write."""
    if services.CACHE == "memcached":
        return "x" * 2_000_000  # over memcached's 1 MB item limit
    import redis

    redis.Redis(port=server.port).config_set("maxmemory", 1)  # every write now fails: OOM
    return "refused"


@needs_cache_server
@pytest.mark.django_db
def test_a_refused_cache_write_never_leaves_the_older_entry(
    cache_at: Any, server: CacheServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache_at(server.port)
    client = Client()
    _write(client, "old")
    assert _cached_value(client) == "old"

    value = _refuse_writes(server)
    _write(client, value)
    assert _cache_errors(caplog)

    assert _cached_value(client) is None
    assert _read(client)["value"] == value
    assert _stored_value(client) == value


# -- races between a read-through fill and a save (any cache) --------------------------------------------


@pytest.fixture
def cached_session(cached_engine: str) -> str:
    store = SessionStore()
    store["value"] = "old"
    store.create()
    assert store.session_key is not None
    caches["default"].delete(store.cache_key)  # the next load reads the database
    return store.session_key


def _saved_meanwhile(store: SessionStore, read: Any) -> Any:
    """Wrap a database read so that another request saves newer data right after it."""

    def racing(*args: Any) -> Any:
        row = read(*args)
        newer = SessionStore(store.session_key)
        newer["value"] = "new"
        newer.save()
        return row

    return racing


@pytest.mark.django_db
def test_read_through_never_overwrites_a_newer_save(cached_session: str) -> None:
    store = SessionStore(cached_session)
    with mock.patch.object(store, "_fetch_row", _saved_meanwhile(store, store._fetch_row)):
        assert store.load()["value"] == "old"  # what the database held when this request read it

    assert SessionStore(cached_session).load()["value"] == "new"


@pytest.mark.django_db
def test_async_read_through_never_overwrites_a_newer_save(cached_session: str) -> None:
    store = SessionStore(cached_session)
    racing = _saved_meanwhile(store, store._fetch_row)

    async def aread() -> Any:
        from asgiref.sync import sync_to_async

        return await sync_to_async(racing)()

    with mock.patch.object(store, "_afetch_row", aread):
        assert async_to_sync(store.aload)()["value"] == "old"

    assert SessionStore(cached_session).load()["value"] == "new"


@pytest.mark.django_db
def test_a_failed_cache_write_drops_the_older_entry(cached_engine: str, caplog: pytest.LogCaptureFixture) -> None:
    store = SessionStore()
    store["value"] = "old"
    store.create()
    cache = caches["default"]
    with mock.patch.object(type(cache), "set", side_effect=OSError("refused")):
        store["value"] = "new"
        store.save()
    assert cache.get(store.cache_key) is None
    assert SessionStore(store.session_key).load()["value"] == "new"
    assert "Error saving to cache" in _cache_errors(caplog)[0]


@pytest.mark.django_db
def test_async_failed_cache_write_drops_the_older_entry(cached_engine: str, caplog: pytest.LogCaptureFixture) -> None:
    store = SessionStore()
    store["value"] = "old"
    store.create()
    cache = caches["default"]
    refused = OSError("refused")
    # Whichever form it uses: the write runs in the thread of the row's transaction (qsessions.cache).
    with (
        mock.patch.object(type(cache), "aset", side_effect=refused),
        mock.patch.object(type(cache), "set", side_effect=refused),
    ):
        store["value"] = "new"
        async_to_sync(store.asave)()
    assert cache.get(store.cache_key) is None
    assert SessionStore(store.session_key).load()["value"] == "new"
    assert "Error saving to cache" in _cache_errors(caplog)[0]
