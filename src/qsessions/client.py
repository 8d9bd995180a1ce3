"""Who is calling: the client's IP address and user agent, taken from a request and cleaned.

Everything here reads untrusted input, so nothing here raises on a malformed value: what cannot be
understood becomes ``None``.
"""

from __future__ import annotations

import ipaddress
import unicodedata

from django.http import HttpRequest

# The longest textual IP address with a port and brackets is well under this; anything longer is junk
# and is rejected before it reaches the parser.
_MAX_IP_TEXT = 64
USER_AGENT_MAX_LENGTH = 300


def parse_ip(value: object) -> str | None:
    """Return ``value`` as a normalised IP address, or ``None`` when it is not one.

    Accepts what proxies and servers put in address fields: ``1.2.3.4:80``, ``[::1]``, ``[::1]:443``,
    ``fe80::1%eth0`` (the zone is dropped) and IPv4-mapped IPv6 (returned as IPv4).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_IP_TEXT:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        # IPv4 with a port; a bare IPv6 address always has at least two colons.
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def clean_user_agent(value: object) -> str | None:
    """Return a user agent fit for storage: control characters removed, cut to the column's length."""
    if not isinstance(value, str):
        return None
    # Cut first so that a 10 MB header costs no more than a short one.
    text = value[: USER_AGENT_MAX_LENGTH * 2]
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc").strip()
    return text[:USER_AGENT_MAX_LENGTH] or None


def resolve_client_ip(request: HttpRequest) -> str | None:
    """The IP address of the client that sent ``request``, or ``None`` when it is unknown."""
    return parse_ip(request.META.get("REMOTE_ADDR"))


def resolve_user_agent(request: HttpRequest) -> str | None:
    """The cleaned ``User-Agent`` header of ``request``."""
    return clean_user_agent(request.META.get("HTTP_USER_AGENT"))
