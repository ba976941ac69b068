"""Owner-API paths built from what a person or a program typed: one value, one path segment."""

from __future__ import annotations

import httpx
import pytest

from secondme.node.cli.client import api_path, peer_path
from secondme.node.core.errors import InvalidRequest
from secondme.node.people.naming import check_name, check_peer_ref

PEER_ID = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
ESCAPES = [
    "../stop?",
    "..",
    ".",
    "",
    "a/../../stop",
    "%2e%2e/stop",
    "..%2fstop",
    "x?y",
    "x#y",
    "a\\b",
    "bob\n",
    " bob",
    "tab\there",
    "x" * 129,
    "é" * 65,
]


@pytest.mark.parametrize("ref", ["bob", "laptop-2", "A.b_c", PEER_ID, "x" * 64])
def test_peer_ids_and_names_are_peer_refs(ref):
    assert check_peer_ref(ref) == ref
    assert peer_path(ref, "ask") == f"/api/peers/{ref}/ask"


@pytest.mark.parametrize(
    ("ref", "quoted"),
    [
        ("Maria Sousa", "Maria%20Sousa"),
        ("José", "Jos%C3%A9"),
        ("-bob", "-bob"),
        ("x" * 128, "x" * 128),
    ],
)
def test_display_names_are_peer_refs_quoted_in_the_path(ref, quoted):
    assert check_peer_ref(ref) == ref
    assert peer_path(ref, "ask") == f"/api/peers/{quoted}/ask"


@pytest.mark.parametrize("ref", ESCAPES)
def test_anything_else_is_refused_before_a_path_is_made(ref):
    with pytest.raises(InvalidRequest, match="is not a peer ID or a peer name"):
        peer_path(ref, "ask")


def test_a_trailing_newline_is_no_name():
    with pytest.raises(InvalidRequest):
        check_name("role", "writer\n")


@pytest.mark.parametrize(
    ("segment", "quoted"),
    [
        ("weekend plan", "weekend%20plan"),
        ("../stop?", "..%2Fstop%3F"),
        ("%2e%2e", "%252e%252e"),
        ("a#b", "a%23b"),
        ("a..b", "a..b"),
    ],
)
def test_every_segment_is_quoted_whole(segment, quoted):
    path = api_path("groups", segment, "say")
    assert path == f"/api/groups/{quoted}/say"
    url = httpx.URL("http://127.0.0.1:1").join(path)  # what the client sends, as it sends it
    assert url.raw_path == path.encode() and url.query == b"" and not url.fragment
    assert url.path == f"/api/groups/{segment}/say"


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_dot_segments_are_refused(segment):
    with pytest.raises(InvalidRequest, match="cannot name anything"):
        api_path("networks", segment, "leave")
