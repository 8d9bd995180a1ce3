"""Who is calling: the client's IP address, user agent and client hints, taken from a request and cleaned.

The middleware hangs a ``Client`` on each request's session store; its attributes are computed when first
read, in the form the privacy settings allow a store to keep.

Everything here reads untrusted input, so nothing here raises on a malformed value: what cannot be
understood becomes ``None``. What a store may keep of it (the privacy settings) is decided here too.
"""

from __future__ import annotations

import ipaddress
import logging
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property, lru_cache
from typing import Any, TypeAlias

from django.http import HttpRequest

from qsessions.conf import conf

logger = logging.getLogger("qsessions")

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# The longest textual IP address with a port and brackets is well under this; anything longer is junk
# and is rejected before it reaches the parser.
_MAX_IP_TEXT = 64
USER_AGENT_MAX_LENGTH = 300
# Proxy headers are read from the right and only this much of them: enough for any real chain of
# proxies, and a huge forged header costs no more than a short one.
_MAX_FORWARDED_TEXT = 4096
# Networks whose network address is stored when QSESSIONS_IP_STORAGE = "truncated".
TRUNCATED_PREFIX = {4: 24, 6: 48}

# The User-Agent Client Hints qsessions asks for and stores, by the key they are stored under.
CLIENT_HINT_HEADERS = {
    "platform": "Sec-CH-UA-Platform",
    "platform_version": "Sec-CH-UA-Platform-Version",
    "model": "Sec-CH-UA-Model",
    "mobile": "Sec-CH-UA-Mobile",
}
_MAX_HINT_TEXT = 64


def parse_ip(value: object) -> str | None:
    """Return ``value`` as a normalised IP address, or ``None`` when it is not one.

    Accepts what proxies and servers put in address fields: ``1.2.3.4:80``, ``[::1]``, ``[::1]:443``,
    ``fe80::1%eth0`` (the zone is dropped) and IPv4-mapped IPv6 (returned as IPv4).
    """
    if not isinstance(value, str) or len(value) > _MAX_IP_TEXT + 8:
        return None
    return _parse_ip_text(value)


@lru_cache(maxsize=4096)
def _parse_ip_text(value: str) -> str | None:
    # Cached: the same few addresses arrive on every request, and ipaddress is slow.
    text = value.strip()
    if not text or len(text) > _MAX_IP_TEXT:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end == -1 or (text[end + 1 :] and not _is_port(text[end + 1 :])):
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        # IPv4 with a port; a bare IPv6 address always has at least two colons.
        text, port = text.split(":", 1)
        if not _is_port(":" + port):
            return None
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def _is_port(text: str) -> bool:
    """``":80"``; RFC 7239 also allows an obfuscated port such as ``":_abc"``."""
    port = text[1:]
    return text.startswith(":") and bool(port) and (port.isascii() and (port.isdigit() or port.startswith("_")))


def clean_user_agent(value: object) -> str | None:
    """Return a user agent fit for storage: control characters removed, cut to the column's length."""
    if not isinstance(value, str):
        return None
    # Cut first so that a 10 MB header costs no more than a short one.
    return _clean_user_agent_text(value[: USER_AGENT_MAX_LENGTH * 2])


@lru_cache(maxsize=1024)
def _clean_user_agent_text(text: str) -> str | None:
    # Cached, and a printable string (nearly every real one) has no control character to look for.
    if not text.isprintable():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc")
    return text.strip()[:USER_AGENT_MAX_LENGTH] or None


# -- trusted proxies ------------------------------------------------------------------------------------


def parse_network(entry: object) -> IPNetwork | None:
    """A ``QSESSIONS_TRUSTED_PROXIES`` entry (``"10.0.0.1"``, ``"10.0.0.0/8"``, ``"2001:db8::/32"``) or None."""
    if not isinstance(entry, str) or not entry.strip() or len(entry) > _MAX_IP_TEXT:
        return None
    try:
        network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        # Addresses are compared in their normalised form, where a mapped address is plain IPv4.
        mapped = network.network_address.ipv4_mapped
        prefix = max(network.prefixlen - 96, 0)
        return ipaddress.IPv4Network(f"{mapped}/{prefix}", strict=False)
    return network


@lru_cache(maxsize=16)
def trusted_networks(entries: tuple[object, ...]) -> tuple[IPNetwork, ...]:
    """The parsed networks of a ``QSESSIONS_TRUSTED_PROXIES`` value, computed once per distinct value.

    Malformed entries are left out here (they trust nothing); checks.py reports them at startup.
    """
    return tuple(network for network in map(parse_network, entries) if network is not None)


def is_trusted(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == network.version and ip in network for network in networks)


def _rightmost(value: str) -> tuple[str, bool]:
    """The last part of a proxy header and whether its front was cut off."""
    return value[-_MAX_FORWARDED_TEXT:], len(value) > _MAX_FORWARDED_TEXT


def _forwarded_for_hops(value: str) -> list[str | None]:
    """``X-Forwarded-For: client, proxy1, proxy2`` -> hops, left to right (None for a cut-off hop)."""
    text, cut = _rightmost(value)
    hops: list[str | None] = [hop.strip() for hop in text.split(",")]
    if cut:
        hops[0] = None
    return hops


def _split_quoted(text: str, separator: str) -> Iterator[str]:
    """Split on ``separator`` outside RFC 7230 quoted strings (which may hold commas and semicolons)."""
    start = 0
    quoted = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            yield text[start:index]
            start = index + 1
    yield text[start:]


def _unquote(value: str) -> str | None:
    """An RFC 7230 token or quoted-string value; ``None`` when it is malformed."""
    if not value.startswith('"'):
        return value if '"' not in value and "\\" not in value else None
    if len(value) < 2 or not value.endswith('"'):
        return None
    chars: list[str] = []
    escaped = False
    for char in value[1:-1]:
        if escaped:
            chars.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return None
        else:
            chars.append(char)
    return None if escaped else "".join(chars)


def _forwarded_element_for(element: str) -> str | None:
    """The ``for=`` node of one RFC 7239 ``Forwarded`` element, or None when it has none or is malformed."""
    node: str | None = None
    for pair in _split_quoted(element, ";"):
        name, equals, raw = pair.strip().partition("=")
        if not equals:
            return None
        if name.strip().lower() == "for":
            if node is not None:  # a parameter may appear once per element
                return None
            node = _unquote(raw.strip())
            if node is None:
                return None
    return node


def _forwarded_hops(value: str) -> list[str | None]:
    """``Forwarded: for=client;proto=https, for="[2001:db8::1]:443"`` -> ``for`` nodes, left to right."""
    text, cut = _rightmost(value)
    hops = [_forwarded_element_for(element) for element in _split_quoted(text, ",")]
    if cut:
        hops[0] = None
    return hops


def client_ip_from_proxies(peer: str | None, hops: Iterable[str | None], networks: tuple[IPNetwork, ...]) -> str | None:
    """Walk the proxy chain from the right, starting at the peer, to the first address that is not trusted.

    A hop that cannot be read (garbage, ``unknown``, an obfuscated ``_node``) ends the walk: nothing to
    its left can be verified, so the last address that could be read is the client.
    """
    if peer is None or not is_trusted(peer, networks):
        return peer
    client = peer
    for hop in reversed(list(hops)):
        address = parse_ip(hop)
        if address is None:
            break
        client = address
        if not is_trusted(address, networks):
            break
    return client


def _resolve_with_proxies(request: HttpRequest) -> str | None:
    peer = parse_ip(request.META.get("REMOTE_ADDR"))
    networks = trusted_networks(tuple(conf.TRUSTED_PROXIES))
    if not networks:
        return peer
    header = conf.FORWARDED_HEADER.lower()
    if header == "forwarded":
        value = request.META.get("HTTP_FORWARDED")
        hops = _forwarded_hops(value) if isinstance(value, str) else []
    else:
        value = request.META.get("HTTP_X_FORWARDED_FOR")
        hops = _forwarded_for_hops(value) if isinstance(value, str) else []
    return client_ip_from_proxies(peer, hops, networks)


def resolve_client_ip(request: HttpRequest) -> str | None:
    """The IP address of the client that sent ``request``, or ``None`` when it is unknown.

    ``REMOTE_ADDR``, unless the peer is one of ``QSESSIONS_TRUSTED_PROXIES`` (then the proxy header is
    walked) or ``QSESSIONS_CLIENT_IP_RESOLVER`` names a callable (then its answer, validated, is used).
    """
    resolver = conf.CLIENT_IP_RESOLVER
    if resolver is None:
        return _resolve_with_proxies(request)
    try:
        return parse_ip(resolver(request))
    except Exception:
        # The site's resolver may choke on a header it did not expect: that must not become a 500.
        logger.exception("QSESSIONS_CLIENT_IP_RESOLVER raised; the client IP is unknown for this request")
        return None


def resolve_user_agent(request: HttpRequest) -> str | None:
    """The cleaned ``User-Agent`` header of ``request``."""
    return clean_user_agent(request.META.get("HTTP_USER_AGENT"))


# -- client hints -----------------------------------------------------------------------------------------


def _parse_hint(key: str, value: object) -> str | bool | None:
    """A structured-field value (RFC 8941) of one hint: sf-string for text hints, sf-boolean for mobile."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if key == "mobile":
        return {"?1": True, "?0": False}.get(text)
    if len(text) > _MAX_HINT_TEXT + 2 or len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    inner = _unquote(text)
    if inner is None or not inner.isprintable():
        return None
    return inner.strip()


def clean_client_hints(hints: object) -> dict[str, str | bool] | None:
    """Hints as stored: only the known keys, each a short string (or a bool for ``mobile``); None if empty."""
    if not isinstance(hints, Mapping):
        return None
    cleaned: dict[str, str | bool] = {}
    for key in CLIENT_HINT_HEADERS:
        value = hints.get(key)
        if key == "mobile":
            if isinstance(value, bool):
                cleaned[key] = value
        elif isinstance(value, str) and len(value) <= _MAX_HINT_TEXT and value.isprintable():
            cleaned[key] = value
    return cleaned or None


def resolve_client_hints(request: HttpRequest) -> dict[str, str | bool] | None:
    """The User-Agent Client Hints sent with ``request`` (when ``QSESSIONS_CLIENT_HINTS`` is on), or None."""
    if not conf.CLIENT_HINTS:
        return None
    hints: dict[str, Any] = {}
    for key, header in CLIENT_HINT_HEADERS.items():
        value = _parse_hint(key, request.headers.get(header))
        if value is not None:
            hints[key] = value
    return clean_client_hints(hints)


# -- privacy: what a store may keep -------------------------------------------------------------------------


def client_ip_for_storage(ip: object) -> str | None:
    """``ip`` as ``QSESSIONS_IP_STORAGE`` allows it to be stored: whole, truncated to its network, or not at all.

    ``"truncated"`` keeps the network address of the IPv4 /24 or IPv6 /48 the client is in.
    """
    address = parse_ip(ip)
    mode = conf.IP_STORAGE
    if address is None:
        return None
    if mode == "full":
        return address
    if mode == "truncated":
        return _network_address(address)
    # "none", and any value checks.py reports as invalid: storing nothing is the safe reading of a typo.
    return None


@lru_cache(maxsize=4096)
def _network_address(address: str) -> str:
    prefix = TRUNCATED_PREFIX[ipaddress.ip_address(address).version]
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def user_agent_for_storage(user_agent: object) -> str | None:
    """``user_agent`` cleaned, or ``None`` when ``QSESSIONS_STORE_USER_AGENT`` is off."""
    return clean_user_agent(user_agent) if conf.STORE_USER_AGENT else None


def client_hints_for_storage(hints: object) -> dict[str, str | bool] | None:
    """``hints`` cleaned, or ``None`` when ``QSESSIONS_CLIENT_HINTS`` or ``QSESSIONS_STORE_USER_AGENT`` is off."""
    if not (conf.CLIENT_HINTS and conf.STORE_USER_AGENT):
        return None
    return clean_client_hints(hints)


def merge_client_hints(stored: dict[str, str | bool] | None, sent: dict[str, str | bool] | None) -> Any:
    """What a session should hold after a request that ``sent`` these hints.

    Browsers send the low-entropy hints (platform, mobile) on every request but the others only once they
    know the site asks, so a request with fewer hints adds to what is stored rather than erasing it;
    a different platform is a different client, and replaces it.
    """
    if sent is None or stored is None:
        return sent if stored is None else stored
    if sent.get("platform", stored.get("platform")) != stored.get("platform"):
        return sent
    return {**stored, **sent}


# -- the request's client ---------------------------------------------------------------------------------


class Client:
    """The client of one request: ``ip``, ``user_agent`` and ``client_hints`` as a store may keep them.

    Each is resolved from the request when first read (behind trusted proxies, cleaned, under the privacy
    settings); ``None`` when unknown. Built by the middleware for every request: a request that never
    reads nor writes its session pays for none of it.
    """

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    @cached_property
    def ip(self) -> str | None:
        return client_ip_for_storage(resolve_client_ip(self.request))

    @cached_property
    def user_agent(self) -> str | None:
        return user_agent_for_storage(self.request.META.get("HTTP_USER_AGENT"))

    @cached_property
    def client_hints(self) -> dict[str, str | bool] | None:
        return client_hints_for_storage(resolve_client_hints(self.request))

    def sends(self, ip: str | None, user_agent: str | None) -> bool:
        """Whether the request sends exactly this stored IP and user agent, decided without parsing anything.

        ``False`` means "not known to be the same": compare ``ip`` and ``user_agent`` then.
        """
        meta = self.request.META
        return (
            ip is not None
            and user_agent is not None
            and meta.get("REMOTE_ADDR") == ip
            and meta.get("HTTP_USER_AGENT") == user_agent
            and conf.headers_are_stored_as_sent
        )


class GivenClient:
    """A client given by code (``SessionStore(session_key, user_agent, ip)``), kept as the privacy settings allow."""

    def __init__(self, user_agent: object = None, ip: object = None, client_hints: object = None) -> None:
        self.ip = None if ip is None else client_ip_for_storage(ip)
        self.user_agent = None if user_agent is None else user_agent_for_storage(user_agent)
        self.client_hints = None if client_hints is None else client_hints_for_storage(client_hints)

    def sends(self, ip: str | None, user_agent: str | None) -> bool:
        return False


AnyClient: TypeAlias = Client | GivenClient
