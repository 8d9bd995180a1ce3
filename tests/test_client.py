"""Client IP resolution: REMOTE_ADDR, trusted proxies, X-Forwarded-For, RFC 7239 Forwarded, the override."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from qsessions import client
from qsessions.client import (
    clean_client_hints,
    parse_ip,
    parse_network,
    resolve_client_hints,
    resolve_client_ip,
    trusted_networks,
)

PROXIES = ["10.0.0.0/8", "192.0.2.1", "2001:db8:1::/48"]


def request_from(remote_addr: str | None = "198.51.100.7", **headers: str) -> HttpRequest:
    request = RequestFactory().get("/", headers=headers)
    if remote_addr is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote_addr
    return request


@pytest.fixture
def proxies(settings: Any) -> Any:
    settings.QSESSIONS_TRUSTED_PROXIES = PROXIES
    return settings


# -- parse_ip -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
        ("203.0.113.9:8080", "203.0.113.9"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]:80", "fe80::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("[::ffff:cb00:7109]:1", "203.0.113.9"),
        ("[2001:db8::1]:_hidden", "2001:db8::1"),  # RFC 7239 obfuscated port
        ("unknown", None),
        ("_hidden", None),
        ("203.0.113.9:", None),
        ("203.0.113.9:port", None),
        ("[2001:db8::1", None),
        ("[2001:db8::1]junk", None),
        ("999.1.1.1", None),
        ("localhost", None),
        ("", None),
        ("1" * 100, None),
        (None, None),
        (b"203.0.113.9", None),
    ],
)
def test_parse_ip(value: object, expected: str | None) -> None:
    assert parse_ip(value) == expected


def test_trusted_proxy_entries_are_parsed_as_networks() -> None:
    assert parse_network("10.0.0.1") == ipaddress.ip_network("10.0.0.1/32")
    assert parse_network(" 10.1.2.3/8 ") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_network("2001:db8::/32") == ipaddress.ip_network("2001:db8::/32")
    # Client addresses are compared after IPv4-mapped IPv6 becomes IPv4, so trusted entries are too.
    assert parse_network("::ffff:10.0.0.0/104") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_network("10.0.0.0/33") is None
    assert parse_network("proxy.internal") is None
    assert parse_network(10) is None


# -- REMOTE_ADDR and the spoofing rule ------------------------------------------------------------------


def test_remote_addr_by_default() -> None:
    request = request_from("198.51.100.7", x_forwarded_for="203.0.113.9")
    assert resolve_client_ip(request) == "198.51.100.7"


def test_missing_or_bad_remote_addr_is_unknown() -> None:
    assert resolve_client_ip(request_from(None)) is None
    assert resolve_client_ip(request_from("not an ip")) is None


@pytest.mark.usefixtures("proxies")
def test_header_from_an_untrusted_peer_is_ignored() -> None:
    """A client talking to the site directly cannot choose its recorded IP with a forged header."""
    forged = request_from("198.51.100.7", x_forwarded_for="1.2.3.4", forwarded="for=1.2.3.4")
    assert resolve_client_ip(forged) == "198.51.100.7"


@pytest.mark.usefixtures("proxies")
def test_trusted_peer_without_a_header_is_the_client() -> None:
    assert resolve_client_ip(request_from("10.0.0.5")) == "10.0.0.5"


# -- X-Forwarded-For ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("proxies")
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        # Walked from the right: the address the trusted proxy saw wins over what the client claimed.
        ("1.2.3.4, 203.0.113.9", "203.0.113.9"),
        # Trusted hops are skipped.
        ("1.2.3.4, 203.0.113.9, 10.1.1.1, 192.0.2.1", "203.0.113.9"),
        ("203.0.113.9,10.1.1.1", "203.0.113.9"),
        ("203.0.113.9:51234, 10.1.1.1", "203.0.113.9"),
        ("[2001:db8:9::1]:443, 2001:db8:1::7", "2001:db8:9::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        # Every hop trusted: the leftmost is as far as can be seen.
        ("10.9.9.9, 10.1.1.1", "10.9.9.9"),
        # An unreadable hop stops the walk; the last address read wins.
        ("203.0.113.9, garbage, 10.1.1.1", "10.1.1.1"),
        ("203.0.113.9, unknown", "10.0.0.5"),
        ("203.0.113.9, , 10.1.1.1", "10.1.1.1"),
        ("", "10.0.0.5"),
        ("   ", "10.0.0.5"),
    ],
)
def test_x_forwarded_for(header: str, expected: str) -> None:
    assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for=header)) == expected


@pytest.mark.usefixtures("proxies")
def test_ipv6_and_mapped_peers_are_matched_against_trusted_networks() -> None:
    assert resolve_client_ip(request_from("2001:db8:1::2", x_forwarded_for="203.0.113.9")) == "203.0.113.9"
    assert resolve_client_ip(request_from("::ffff:10.0.0.5", x_forwarded_for="203.0.113.9")) == "203.0.113.9"
    assert resolve_client_ip(request_from("2001:db8:2::2", x_forwarded_for="203.0.113.9")) == "2001:db8:2::2"


@pytest.mark.usefixtures("proxies")
def test_a_huge_header_is_read_from_the_right_only() -> None:
    chain = ", ".join(["10.1.1.1"] * 50_000)
    # All trusted, but the front was cut off: the walk stops at the cut, on a trusted hop.
    assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for=chain)) == "10.1.1.1"
    padded = "11.2.3.4" + "9" * 10_000 + ", 203.0.113.9"
    assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for=padded)) == "203.0.113.9"
    # A hop cut in half is never read as an address ("111.2.3.4" cut to "1.2.3.4").
    cut = "111.2.3.4, " + ", ".join(["10.1.1.1"] * 800)
    assert len(cut) > 4096
    assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for=cut)) == "10.1.1.1"


def test_forwarded_header_is_not_read_when_x_forwarded_for_is_configured(proxies: Any) -> None:
    request = request_from("10.0.0.5", forwarded="for=203.0.113.9")
    assert resolve_client_ip(request) == "10.0.0.5"


# -- RFC 7239 Forwarded -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("for=203.0.113.9", "203.0.113.9"),
        ("For=203.0.113.9;proto=https;by=10.0.0.5", "203.0.113.9"),
        ('for="203.0.113.9:4711"', "203.0.113.9"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ('for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
        ("for=1.2.3.4, for=203.0.113.9;proto=http, for=10.1.1.1", "203.0.113.9"),
        ("for=1.2.3.4,for=203.0.113.9", "203.0.113.9"),
        # A quoted value may hold separators.
        ('for=203.0.113.9;host="a,b;c", for=10.1.1.1', "203.0.113.9"),
        ('for="\\203.0.113.9"', "203.0.113.9"),
        # Hidden or unknown nodes, and malformed elements, stop the walk.
        ("for=203.0.113.9, for=unknown, for=10.1.1.1", "10.1.1.1"),
        ("for=203.0.113.9, for=_gazonk", "10.0.0.5"),
        ("for=203.0.113.9, proto=https", "10.0.0.5"),
        ("for=203.0.113.9, for", "10.0.0.5"),
        ('for=203.0.113.9, for="10.1.1.1', "10.0.0.5"),
        ('for=203.0.113.9, for=10."1.1.1', "10.0.0.5"),
        ('for=203.0.113.9, for="10.1.1.1"x"', "10.0.0.5"),
        ('for=203.0.113.9, for="10.1.1.1\\"', "10.0.0.5"),
        ("for=203.0.113.9, for=10.1.1.1;for=10.1.1.2", "10.0.0.5"),
        ("", "10.0.0.5"),
    ],
)
def test_forwarded(proxies: Any, header: str, expected: str) -> None:
    proxies.QSESSIONS_FORWARDED_HEADER = "Forwarded"
    assert resolve_client_ip(request_from("10.0.0.5", forwarded=header, x_forwarded_for="6.6.6.6")) == expected


# -- the override --------------------------------------------------------------------------------------------


def cloudflare_style(request: HttpRequest) -> str | None:
    return request.headers.get("CF-Connecting-IP")


def test_resolver_callable_overrides_everything(proxies: Any) -> None:
    proxies.QSESSIONS_CLIENT_IP_RESOLVER = cloudflare_style
    request = request_from("10.0.0.5", x_forwarded_for="1.2.3.4", cf_connecting_ip="[2001:db8::9]:1")
    assert resolve_client_ip(request) == "2001:db8::9"


def test_resolver_as_dotted_path(settings: Any) -> None:
    settings.QSESSIONS_CLIENT_IP_RESOLVER = "tests.test_client.cloudflare_style"
    assert resolve_client_ip(request_from(cf_connecting_ip="203.0.113.9")) == "203.0.113.9"


def test_resolver_answer_is_validated(settings: Any) -> None:
    settings.QSESSIONS_CLIENT_IP_RESOLVER = cloudflare_style
    assert resolve_client_ip(request_from(cf_connecting_ip="evil.example")) is None
    assert resolve_client_ip(request_from()) is None
    settings.QSESSIONS_CLIENT_IP_RESOLVER = lambda request: 1234
    assert resolve_client_ip(request_from()) is None


def test_resolver_that_raises_gives_an_unknown_ip_and_a_log(settings: Any, caplog: Any) -> None:
    def broken(request: HttpRequest) -> str:
        raise KeyError("HTTP_X_REAL_IP")

    settings.QSESSIONS_CLIENT_IP_RESOLVER = broken
    with caplog.at_level(logging.ERROR, logger="qsessions"):
        assert resolve_client_ip(request_from()) is None
    assert "QSESSIONS_CLIENT_IP_RESOLVER raised" in caplog.text


# -- trusted networks are parsed once per settings value --------------------------------------------------------


def test_trusted_networks_are_parsed_once_per_settings_value(settings: Any, monkeypatch: Any) -> None:
    calls: list[object] = []
    original = client.parse_network

    def counting(entry: object) -> Any:
        calls.append(entry)
        return original(entry)

    monkeypatch.setattr(client, "parse_network", counting)
    trusted_networks.cache_clear()
    settings.QSESSIONS_TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
    for _ in range(5):
        assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for="203.0.113.9")) == "203.0.113.9"
    assert calls == ["10.0.0.0/8", "2001:db8::/32"]
    settings.QSESSIONS_TRUSTED_PROXIES = ["192.0.2.0/24"]
    assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for="203.0.113.9")) == "10.0.0.5"
    assert calls[2:] == ["192.0.2.0/24"]


def test_malformed_trusted_entries_trust_nothing(settings: Any) -> None:
    settings.QSESSIONS_TRUSTED_PROXIES = ["10.0.0.0/99", "proxy"]
    assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for="203.0.113.9")) == "10.0.0.5"


# -- client hints --------------------------------------------------------------------------------------------------


def test_client_hints_are_read_only_when_enabled(settings: Any) -> None:
    request = request_from(
        sec_ch_ua_platform='"Windows"',
        sec_ch_ua_platform_version='"15.0.0"',
        sec_ch_ua_model='""',
        sec_ch_ua_mobile="?0",
    )
    assert resolve_client_hints(request) is None
    settings.QSESSIONS_CLIENT_HINTS = True
    assert resolve_client_hints(request) == {
        "platform": "Windows",
        "platform_version": "15.0.0",
        "model": "",
        "mobile": False,
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"sec_ch_ua_platform": "Windows"}, None),  # not an sf-string
        ({"sec_ch_ua_platform": '"Win"dows"'}, None),
        ({"sec_ch_ua_platform": '"' + "x" * 500 + '"'}, None),
        ({"sec_ch_ua_mobile": "?2"}, None),
        ({"sec_ch_ua_mobile": "?1", "sec_ch_ua_model": '"Pixel 7"'}, {"mobile": True, "model": "Pixel 7"}),
        ({"sec_ch_ua_model": '"Pixel \\"7\\""'}, {"model": 'Pixel "7"'}),
    ],
)
def test_malformed_client_hints_are_dropped(settings: Any, headers: dict[str, str], expected: object) -> None:
    settings.QSESSIONS_CLIENT_HINTS = True
    assert resolve_client_hints(request_from(**headers)) == expected


def test_clean_client_hints_keeps_known_keys_of_the_right_type() -> None:
    assert clean_client_hints({"platform": "Android", "mobile": "yes", "other": "x", "model": 7}) == {
        "platform": "Android"
    }
    assert clean_client_hints({"platform": "\x00"}) is None
    assert clean_client_hints(["platform"]) is None


# -- property-based: no header value, however malformed, raises ------------------------------------------------------

_address_text = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]:{443}"),
    st.ip_addresses(v=4).map(lambda address: f"{address}:8080"),
    st.sampled_from(["unknown", "_hidden", "", " ", "[", "]", ":", "%", '"', "\\", ";", "=", "for=", ","]),
    st.text(max_size=20),
)
_header_text = st.one_of(
    st.text(max_size=300),
    st.lists(_address_text, max_size=12).map(", ".join),
    st.lists(_address_text.map(lambda node: f'for="{node}";proto=https'), max_size=8).map(", ".join),
    st.lists(_address_text.map(lambda node: f"for={node}"), max_size=8).map(",".join),
)


def _is_ip_or_none(value: str | None) -> bool:
    if value is None:
        return True
    ipaddress.ip_address(value)
    return True


@pytest.mark.parametrize("header_name", ["X-Forwarded-For", "Forwarded"])
@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(remote_addr=st.one_of(_address_text, st.sampled_from(["10.0.0.5", "2001:db8:1::1"])), header=_header_text)
def test_no_header_value_raises(settings: Any, header_name: str, remote_addr: str, header: str) -> None:
    settings.QSESSIONS_TRUSTED_PROXIES = PROXIES
    settings.QSESSIONS_FORWARDED_HEADER = header_name
    request = request_from("10.0.0.5")
    request.META["REMOTE_ADDR"] = remote_addr
    request.META["HTTP_X_FORWARDED_FOR"] = header
    request.META["HTTP_FORWARDED"] = header
    result = resolve_client_ip(request)
    assert _is_ip_or_none(result)
    if result is not None:
        assert result == parse_ip(result)  # already normalised


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parse_ip_never_raises(value: str) -> None:
    assert _is_ip_or_none(parse_ip(value))


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(list(client.CLIENT_HINT_HEADERS.values())), st.text(max_size=100)))
def test_no_client_hint_value_raises(settings: Any, headers: dict[str, str]) -> None:
    settings.QSESSIONS_CLIENT_HINTS = True
    request = request_from()
    for name, value in headers.items():
        request.META["HTTP_" + name.upper().replace("-", "_")] = value
    hints = resolve_client_hints(request)
    assert hints is None or clean_client_hints(hints) == hints


def test_very_long_headers_are_cheap(proxies: Any) -> None:
    """A 1 MB header is answered like a short one (and without raising)."""
    junk = "a" * 1_000_000
    proxies.QSESSIONS_FORWARDED_HEADER = "Forwarded"
    assert resolve_client_ip(request_from("10.0.0.5", forwarded=junk + ", for=203.0.113.9")) == "203.0.113.9"
    assert resolve_client_ip(request_from("10.0.0.5", forwarded='"' * 1_000_000)) == "10.0.0.5"


# -- end to end: behind a proxy the session records the client --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("engine", "proxies")
def test_the_session_row_holds_the_client_behind_a_trusted_proxy(client: Any) -> None:
    from django.conf import settings as django_settings

    from qsessions.models import Session

    client.get("/write/", REMOTE_ADDR="10.0.0.5", headers={"x-forwarded-for": "6.6.6.6, 203.0.113.9"})
    row = Session.objects.get(pk=client.cookies[django_settings.SESSION_COOKIE_NAME].value)
    assert row.ip == "203.0.113.9"


# -- system checks --------------------------------------------------------------------------------------------------


def check_ids(settings: Any, **values: Any) -> list[str]:
    from qsessions import checks

    for name, value in values.items():
        setattr(settings, name, value)
    messages = [*checks.check_trusted_proxies(), *checks.check_client_ip_settings()]
    for message in messages:
        assert message.hint  # every message says how to fix it
    return [message.id or "" for message in messages]


def test_default_settings_pass_the_checks(settings: Any) -> None:
    assert check_ids(settings) == []


def test_good_settings_pass_the_checks(settings: Any) -> None:
    assert (
        check_ids(
            settings,
            QSESSIONS_TRUSTED_PROXIES=["10.0.0.1", "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104"],
            QSESSIONS_IP_STORAGE="truncated",
            QSESSIONS_FORWARDED_HEADER="forwarded",
            QSESSIONS_CLIENT_IP_RESOLVER="tests.test_client.cloudflare_style",
            QSESSIONS_CLIENT_HINTS=True,
        )
        == []
    )


@pytest.mark.parametrize(
    ("values", "ids"),
    [
        ({"QSESSIONS_TRUSTED_PROXIES": "10.0.0.0/8"}, ["qsessions.E010"]),
        ({"QSESSIONS_TRUSTED_PROXIES": None}, ["qsessions.E010"]),
        ({"QSESSIONS_TRUSTED_PROXIES": ["10.0.0.0/8", "10.0.0.0/33", "proxy.local", 3]}, ["qsessions.E011"] * 3),
        ({"QSESSIONS_TRUSTED_PROXIES": ["10.0.0.1/8"]}, ["qsessions.W010"]),
        ({"QSESSIONS_TRUSTED_PROXIES": ["0.0.0.0/0", "::/0"]}, ["qsessions.W011", "qsessions.W011"]),
        ({"QSESSIONS_IP_STORAGE": "partial"}, ["qsessions.E012"]),
        ({"QSESSIONS_IP_STORAGE": None}, ["qsessions.E012"]),
        ({"QSESSIONS_FORWARDED_HEADER": "X-Real-IP"}, ["qsessions.E013"]),
        ({"QSESSIONS_CLIENT_IP_RESOLVER": "tests.test_client.no_such_function"}, ["qsessions.E014"]),
        ({"QSESSIONS_CLIENT_IP_RESOLVER": "no_such_module.resolve"}, ["qsessions.E014"]),
        ({"QSESSIONS_CLIENT_IP_RESOLVER": "tests.test_client.PROXIES"}, ["qsessions.E015"]),
        ({"QSESSIONS_CLIENT_IP_RESOLVER": 42}, ["qsessions.E015"]),
        ({"QSESSIONS_CLIENT_HINTS": True, "QSESSIONS_STORE_USER_AGENT": False}, ["qsessions.W012"]),
    ],
)
def test_bad_settings_are_reported(settings: Any, values: dict[str, Any], ids: list[str]) -> None:
    assert check_ids(settings, **values) == ids


def test_checks_are_registered() -> None:
    from django.core.checks import run_checks
    from django.test import override_settings

    with override_settings(QSESSIONS_TRUSTED_PROXIES=["10.0.0.0/33"]):
        assert "qsessions.E011" in [message.id for message in run_checks()]


@pytest.mark.parametrize("value", ["10.0.0.0/8", ("10.0.0.0/8", ["nested"], None)])
def test_odd_trusted_proxies_values_do_not_break_requests(settings: Any, value: Any) -> None:
    settings.QSESSIONS_TRUSTED_PROXIES = value
    assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for="203.0.113.9")) == "203.0.113.9"


@pytest.mark.parametrize("value", [None, 42])
def test_unusable_trusted_proxies_values_trust_nothing(settings: Any, value: Any) -> None:
    settings.QSESSIONS_TRUSTED_PROXIES = value
    assert resolve_client_ip(request_from("10.0.0.5", x_forwarded_for="203.0.113.9")) == "10.0.0.5"
