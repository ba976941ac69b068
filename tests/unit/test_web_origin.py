"""The Host and Origin rules that keep foreign sites and rebound names away from the owner API."""

from __future__ import annotations

import pytest

from secondme.node.http.origin import host_allowed, host_name, same_origin


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8080", "127.0.0.1"),
        ("localhost", "localhost"),
        ("LocalHost.:80", "localhost"),
        ("[::1]:9000", "::1"),
        ("[::1]", "::1"),
        ("evil.example:8080", "evil.example"),
        ("", ""),
    ],
)
def test_host_name(header, name):
    assert host_name(header) == name


@pytest.mark.parametrize(
    "header", ["127.0.0.1:8080", "127.5.6.7", "localhost:1", "[::1]:80", "LOCALHOST"]
)
def test_loopback_hosts_are_allowed(header):
    assert host_allowed(header)


@pytest.mark.parametrize(
    "header",
    [
        "evil.example:8080",  # a rebound name resolving to 127.0.0.1
        "localhost.evil.example",
        "127.0.0.1.nip.io:8080",
        "10.0.0.5:8080",
        "",
        "[::1",
    ],
)
def test_foreign_hosts_are_refused(header):
    assert not host_allowed(header)


def test_a_configured_non_loopback_host_is_allowed_by_address_only():
    assert host_allowed("10.0.0.5:8080", bound_host="10.0.0.5")
    assert not host_allowed("node.example:8080", bound_host="10.0.0.5")


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
        ("http://LOCALHOST:8080", "localhost:8080", True),
        ("http://127.0.0.1:8081", "127.0.0.1:8080", False),  # another local server's page
        ("https://127.0.0.1:8080", "127.0.0.1:8080", False),
        ("http://evil.example", "127.0.0.1:8080", False),
        ("null", "127.0.0.1:8080", False),  # sandboxed frames and file:// pages
        ("http://127.0.0.1:8080/x", "127.0.0.1:8080", False),
    ],
)
def test_same_origin(origin, host, same):
    assert same_origin(origin, host) is same
