"""Group discussions between four real daemons on loopback, each with its own memory.

Dana moderates; Alice joins by a ``group/join`` grant she gave Dana, Bob and Carol accept by
hand. Each has a planted fact the group may see (tag ``group``) and a canary it may not (tag
``private``); every frame each node writes is captured before Noise encrypts it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from secondme.node.core.keystore import load_identity
from secondme.node.core.testing_hooks import HookFolder
from secondme.protocol.clock import SystemClock
from secondme.protocol.envelope import Kind, decode_envelope
from secondme.protocol.group_messages import (
    NODE_MESSAGES,
    GroupInvite,
    GroupPost,
    GroupRaise,
    GroupSync,
    GroupTurn,
)
from secondme.protocol.groups import (
    GENESIS,
    MAX_POSITIONS,
    MAX_TEXT,
    Body,
    BodyKind,
    GroupKey,
    GroupMessageError,
    read_message,
    write_message,
)
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.transport.host import SmpHost
from tests.e2e import harness
from tests.e2e.wire_capture import read_capture

pytestmark = pytest.mark.slow

PEOPLE = {
    "dana": (
        "Dana",
        "For a Saturday hike I suggest the Brambleton Falls loop; the waterfall at the end is my "
        "favourite picnic spot.",
        "CANARY-DANA-4417",
    ),
    "alice": (
        "Alice",
        "For a Saturday hike I suggest the Zephyr Ridge trail above Lake Orvan, twelve "
        "kilometres with wide views.",
        "CANARY-ALICE-7731",
    ),
    "bob": (
        "Bob",
        "For a Saturday hike I suggest the flat Millbrook canal towpath, because my knee hurts "
        "on steep descents.",
        "CANARY-BOB-2290",
    ),
    "carol": (
        "Carol",
        "For a Saturday hike I suggest the Quarry Hollow trailhead; I can drive everyone there "
        "in my seven-seat minivan.",
        "CANARY-CAROL-6658",
    ),
}
MARKERS = {
    "dana": ("Brambleton",),
    "alice": ("Zephyr", "Orvan"),
    "bob": ("Millbrook",),
    "carol": ("Quarry",),
}
CANARIES = [canary for _, _, canary in PEOPLE.values()]
QUESTION = "Where should we hike on Saturday?"
GROUP_SETTINGS = {"turn_timeout_s": 60.0, "max_turn_tokens": 60, "temperature": 0.0}


def _configure(data_dir: Path, name: str) -> None:
    """Groups draw on L0 here: L1 would only add minutes of background model work."""
    harness.run_cli(data_dir, "init", "--name", name, "--public", "name")
    harness.edit_config(data_dir, groups=GROUP_SETTINGS, memory={"l1_enabled": False})


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("groups")
    files = root / "files"
    files.mkdir()
    started: dict[str, harness.NodeProcess] = {}
    try:
        for key, (name, _, _) in PEOPLE.items():
            data_dir = root / key
            _configure(data_dir, name)
            capture = root / f"{key}.frames"
            launcher = (sys.executable, str(Path(__file__).with_name("wire_capture.py")),
                        str(capture))  # fmt: skip
            hooks = HookFolder(root / f"{key}.hooks")  # records the prompts its model is given
            node = harness.start_node(data_dir, launcher=launcher, wait=False, env=hooks.env)
            node.extra["capture"] = capture
            node.extra["hooks"] = hooks
            started[key] = node
        for key, (_, fact, canary) in PEOPLE.items():  # started together, ready in turn
            node = harness.wait_until_ready(started[key])
            (files / f"{key}-hike.md").write_text(f"# Hiking\n{fact}\n")
            (files / f"{key}-secret.md").write_text(
                f"# Secret\nMy hiking stash code is {canary}; it opens the locker with my gear "
                "for Saturday hikes.\n"
            )
            node.cli("ingest", str(files / f"{key}-hike.md"), "--tag", "group")
            node.cli("ingest", str(files / f"{key}-secret.md"), "--tag", "private")
        for node in started.values():
            for key, other in started.items():
                if other is not node:
                    addr = json.loads((other.data_dir / "daemon.json").read_text())["p2p"][0]
                    node.cli("peers", "add", addr, "--name", key)
        yield started
    finally:
        for node in started.values():
            if node.process.poll() is None:
                node.terminate()


def transcript(node: harness.NodeProcess, group: str) -> dict:
    return node.cli_json("group", "transcript", group)


def turns_of(messages: list[dict], peer_id: str) -> list[str]:
    return [m["text"] for m in messages if m["kind"] in ("turn", "owner") and m["from"] == peer_id]


def turn_prompts(node: harness.NodeProcess, group_id: str) -> list[str]:
    """What this node's model was given for its turns in the group: persona, memories and
    question, as one text."""
    return [
        "\n".join(m["content"] for m in prompt["messages"])
        for prompt in node.extra["hooks"].records("model.prompt")
        if prompt["requester"] == f"group:{group_id[:8]}"
    ]


def keys_on(node: harness.NodeProcess, group_id: str) -> dict[int, GroupKey]:
    with sqlite3.connect(f"file:{node.data_dir / 'node.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT epoch, key, members FROM group_keys WHERE group_id = ?", (group_id,)
        ).fetchall()
    return {
        epoch: GroupKey(
            group_id, epoch, key, frozenset(PeerId.from_base58(m) for m in json.loads(members))
        )
        for epoch, key, members in rows
    }


def encoded_messages(node: harness.NodeProcess, group_id: str) -> list[tuple[int, bytes]]:
    with sqlite3.connect(f"file:{node.data_dir / 'node.db'}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT seq, encoded FROM group_messages WHERE group_id = ? ORDER BY seq", (group_id,)
        ).fetchall()


@pytest.fixture(scope="module")
def weekend(nodes):
    """The group "weekend plan" with all four, and one finished discussion."""
    dana, alice, bob, carol = (nodes[k] for k in ("dana", "alice", "bob", "carol"))
    alice.cli("grant", "dana", "--ability", "group/join", "--tags", "group", "--expires", "1h")
    created = dana.cli_json(
        "group", "create", "weekend plan", "--members", "alice,bob,carol",
        "--topic", "a hike this Saturday", "--tags", "group",
    )  # fmt: skip
    outcomes = created["invitations"]
    assert outcomes[alice.peer_id].startswith("accepted")
    assert outcomes[bob.peer_id].startswith("waiting")
    [invited] = bob.cli_json("group", "list")
    assert invited["status"] == "invited" and invited["moderator"] == dana.peer_id
    for member in (bob, carol):
        member.cli("group", "accept", "weekend plan", "--tags", "group")
    [joined] = alice.cli_json("group", "list")
    assert joined["status"] == "active" and joined["scope"]["tags"] == ["group"]
    printed = dana.cli("group", "discuss", "weekend plan", QUESTION, "--rounds", "1")
    assert "ended:" in printed.stdout and "why " in printed.stdout
    return created["group_id"]


def test_each_member_speaks_from_its_own_memory_and_no_canary_leaves(nodes, weekend):
    dana = nodes["dana"]
    messages = transcript(dana, weekend)["messages"]
    kinds = [m["kind"] for m in messages]
    assert kinds[-2:] == ["summary", "end"] and "question" in kinds
    for key, node in nodes.items():
        spoken = turns_of(messages, node.peer_id)
        assert len(spoken) == 1, (key, kinds)
    first_turn = {
        key: next(m["seq"] for m in messages if m["kind"] == "turn" and m["from"] == node.peer_id)
        for key, node in nodes.items()
    }
    # What each member's model was given (what the node controls; the small model's words are
    # its own): its own planted fact from the group's scope, nobody else's, no private memory.
    for key, node in nodes.items():
        [prompt] = turn_prompts(node, weekend)
        assert "My memory:" in prompt and all(m in prompt for m in MARKERS[key]), (key, prompt)
        others = [m for other in MARKERS if other != key for m in MARKERS[other]]
        assert not any(marker in prompt for marker in others), (key, prompt)
        assert not any(canary in prompt for canary in CANARIES), (key, prompt)
    for key, node in nodes.items():
        markers = MARKERS[key]
        # Another member can only know it from the transcript: never before its owner said it.
        for m in messages:
            if m["kind"] == "turn" and m["from"] != node.peer_id and m["seq"] < first_turn[key]:
                assert not any(marker in m["text"] for marker in markers), (key, m)
    for m in messages:
        if m["kind"] == "turn":
            assert "relevance" in m["reason"] and "spoke" in m["reason"], m
    wire = b"".join(b"".join(read_capture(n.extra["capture"])) for n in nodes.values())
    for node in nodes.values():
        text = json.dumps(transcript(node, weekend))
        for canary in CANARIES:
            assert canary not in text
    for canary in CANARIES:
        assert canary.encode() not in wire
    summary = dana.cli_json("group", "summary", "weekend plan")
    assert {p["peer_id"] for p in summary["positions"]} == {n.peer_id for n in nodes.values()}
    assert summary["ended"].startswith("round limit")


def test_transcripts_are_identical_on_every_member(nodes, weekend):
    copies = [transcript(node, weekend) for node in nodes.values()]
    heads = {copy["head"] for copy in copies}
    assert len(heads) == 1 and copies[0]["messages"]
    hashes = [[m["hash"] for m in copy["messages"]] for copy in copies]
    assert all(h == hashes[0] for h in hashes)
    watched = nodes["carol"].cli("group", "watch", "weekend plan")
    assert "summary:" in watched.stdout and "ended:" in watched.stdout


def _raw_requests(
    sender: harness.NodeProcess | Identity | None,
    to: harness.NodeProcess,
    messages,
    *,
    grant: bytes | None = None,
) -> list[str]:
    """Send ``messages`` (each with ``grant`` in its envelope) from a bare SMP host holding
    ``sender``'s identity (a node's, a given one, or a stranger's when ``sender`` is None) to
    ``to``; what each answer was: its type, or the error code."""

    async def run() -> list[str]:
        clock = SystemClock()
        if isinstance(sender, harness.NodeProcess):
            identity = load_identity(sender.data_dir / "identity.key", None)
        else:
            identity = sender or Identity.generate()
        endpoint = SmpEndpoint(identity, clock, ReplayWindow(clock), registry=NODE_MESSAGES)

        async def serves_nothing(peer: PeerId, payload: bytes) -> bytes:
            raise RuntimeError("this test host serves nothing")

        answers = []
        async with SmpHost(identity.seed, ["/ip4/127.0.0.1/tcp/0"], serves_nothing) as host:
            await host.connect(json.loads((to.data_dir / "daemon.json").read_text())["p2p"][0])
            for message in messages:
                outgoing = endpoint.request(message, grant=grant)
                answer = decode_envelope(
                    await host.request(PeerId.from_base58(to.peer_id), outgoing.payload)
                )
                answers.append(
                    answer.body["code"] if answer.kind is Kind.ERROR else answer.message_type
                )
        return answers

    return asyncio.run(run())


def test_non_members_wrong_senders_and_floods_are_refused_and_recorded(nodes, weekend):
    dana, alice, bob = nodes["dana"], nodes["alice"], nodes["bob"]
    [(_, first), *_] = encoded_messages(bob, weekend)
    # Bob is a member, not the moderator: Alice refuses a post or a turn request from him.
    before = len(alice.cli_json("audit", "--peer", bob.peer_id, "--limit", "500"))
    assert _raw_requests(bob, alice, [GroupPost(group=weekend, message=first)]) == ["not_moderator"]
    entries = alice.cli_json("audit", "--peer", bob.peer_id, "--limit", "500")
    assert len(entries) == before + 1 and entries[0]["code"] == "not_moderator"
    # A stranger learns nothing of the group: no sync, no raised hand.
    stranger = _raw_requests(
        None, dana, [GroupSync(group=weekend, after=0), GroupRaise(group=weekend)]
    )
    assert stranger == ["unknown_group", "unknown_group"]
    # Bob floods the moderator with requests to speak while a discussion runs: three a minute
    # are taken (each gets a turn, in person), the rest refused; the discussion goes on.
    started = dana.cli_json(
        "group", "discuss", "weekend plan", "And what should we bring?", "--rounds", "1",
        "--detach",
    )  # fmt: skip
    said = [f"I bring item {n}." for n in range(4)]
    results = [
        bob.cli("group", "say", "weekend plan", text, "--json", check=False) for text in said
    ]
    assert [r.returncode for r in results] == [0, 0, 0, 1]
    error = json.loads(results[3].stdout)["error"]
    assert error["remote_code"] == "rate_limited"
    codes = [e["code"] for e in dana.cli_json("audit", "--peer", bob.peer_id, "--limit", "20")]
    assert "rate_limited" in codes
    watched = _watch_until(
        dana,
        weekend,
        started["after"],
        lambda seen: sum(m["kind"] == "owner" for m in seen) == 3
        and any(m["kind"] == "end" for m in seen),
    )  # fmt: skip
    in_person = [m["text"] for m in watched if m["kind"] == "owner"]
    assert in_person == said[:3]
    assert sum(m["kind"] == "turn" for m in watched) >= 3  # the others still spoke


def test_removal_rotates_the_key(nodes, weekend):
    dana, carol = nodes["dana"], nodes["carol"]
    epoch_before = dana.cli_json("group", "list")[0]["epoch"]
    removed = dana.cli_json("group", "remove", "weekend plan", "carol")
    assert removed["epoch"] == epoch_before + 1
    assert {m["peer_id"]: m["status"] for m in removed["members"]}[carol.peer_id] == "removed"
    [gone] = carol.cli_json("group", "list")
    assert gone["status"] == "removed"
    dana.cli("group", "say", "weekend plan", "Carol cannot come, so we go without the van.")
    later = [(seq, data) for seq, data in encoded_messages(dana, weekend)]
    held = keys_on(carol, weekend)
    assert epoch_before in held and epoch_before + 1 not in held
    after_removal = [
        data
        for seq, data in later
        if read_message(data, keys_on(dana, weekend)).epoch > epoch_before
    ]
    assert len(after_removal) >= 2  # the membership note and Dana's words
    for data in after_removal:
        with pytest.raises(GroupMessageError) as refused:
            read_message(data, held)
        assert refused.value.code == "group_unknown_epoch"
    carol_seqs = [seq for seq, _ in encoded_messages(carol, weekend)]
    assert max(carol_seqs) < min(seq for seq, d in later if d in after_removal)
    # The others read it all, and still hold one transcript.
    heads = {transcript(nodes[k], weekend)["head"] for k in ("dana", "alice", "bob")}
    assert len(heads) == 1


def _watch_until(node: harness.NodeProcess, group_id: str, after: int, stop_at):
    """Read the group's live stream on ``node`` until ``stop_at(messages read)`` is true;
    returns the messages read."""
    seen = []
    with (
        node.http() as http,
        http.stream(
            "POST", f"/api/groups/{group_id}/watch", json={"after": after, "follow": True}
        ) as stream,
    ):
        for line in stream.iter_lines():
            if line.startswith("data:") and '"kind"' in line:
                seen.append(json.loads(line[5:]))
                if stop_at(seen):
                    return seen
    raise AssertionError(f"the stream ended first: {seen}")


def test_a_member_killed_mid_discussion_is_skipped(nodes):
    dana, alice, bob = nodes["dana"], nodes["alice"], nodes["bob"]
    created = dana.cli_json(
        "group", "create", "quick chat", "--members", "alice,bob", "--tags", "group"
    )  # fmt: skip
    bob.cli("group", "accept", "quick chat", "--tags", "group")
    gid = created["group_id"]
    started = dana.cli_json("group", "discuss", "quick chat", QUESTION, "--rounds", "2", "--detach")
    _watch_until(dana, gid, started["after"], lambda seen: seen[-1]["kind"] == "turn")
    bob.kill()
    _watch_until(dana, gid, started["after"], lambda seen: seen[-1]["kind"] == "end")
    messages = transcript(dana, gid)["messages"]
    skips = [m for m in messages if m["kind"] == "skip"]
    assert [m["about"] for m in skips] == [bob.peer_id]
    assert skips[0]["reason"].startswith("skipped: ")
    assert messages[-1]["kind"] == "end" and "round limit" in messages[-1]["reason"]
    assert transcript(alice, gid)["head"] == transcript(dana, gid)["head"]
    assert [m["kind"] for m in messages[-2:]] == ["summary", "end"]


def test_a_crashed_moderator_resumes_from_the_transcript(nodes):
    dana, alice = nodes["dana"], nodes["alice"]
    started = dana.cli_json(
        "group", "discuss", "quick chat", "What should we eat after?", "--rounds", "2", "--detach"
    )  # fmt: skip
    gid = started["group_id"]
    _watch_until(dana, gid, started["after"], lambda seen: seen[-1]["kind"] == "turn")
    dana.kill()
    dana = nodes["dana"] = harness.start_node(dana.data_dir)
    [quick] = [g for g in dana.cli_json("group", "list") if g["group_id"] == gid]
    assert quick["state"] == "interrupted"
    printed = dana.cli("group", "discuss", "quick chat", "--resume")
    assert "ended: round limit reached" in printed.stdout
    messages = transcript(dana, gid)["messages"]
    since = [m for m in messages if m["seq"] > started["after"]]
    assert [m["kind"] for m in since].count("question") == 1
    assert sum(m["kind"] == "turn" for m in since) == 2 * 2  # two rounds of Dana and Alice
    assert transcript(alice, gid)["head"] == transcript(dana, gid)["head"]


# -- attacks on a member's node ---------------------------------------------------------------

FLOOD_POSTS = 160
"""Valid posts of about 150 KiB each (the largest body a message may hold): 24 MiB in all."""
MiB = 1024 * 1024


def _db_file_bytes(node: harness.NodeProcess) -> int:
    files = [node.data_dir / name for name in ("node.db", "node.db-wal")]
    return sum(path.stat().st_size for path in files if path.exists())


def _rss_bytes(node: harness.NodeProcess) -> int:
    status = Path(f"/proc/{node.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def _kept_for(node: harness.NodeProcess, moderator: str) -> dict[str, int]:
    """What ``node`` stores of the groups ``moderator`` moderates there, and its audit rows
    about that peer."""
    with sqlite3.connect(f"file:{node.data_dir / 'node.db'}?mode=ro", uri=True) as db:
        groups = "SELECT group_id FROM groups WHERE moderator = ?"
        messages, message_bytes = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(length(encoded) + length(body)), 0)"
            f" FROM group_messages WHERE group_id IN ({groups})",
            (moderator,),
        ).fetchone()
        (key_bytes,) = db.execute(
            "SELECT COALESCE(SUM(length(key) + length(members)), 0) FROM group_keys"
            f" WHERE group_id IN ({groups})",
            (moderator,),
        ).fetchone()
        (audit_rows,) = db.execute(
            "SELECT COUNT(*) FROM audit WHERE peer_id = ?", (moderator,)
        ).fetchone()
    return {"messages": messages, "bytes": message_bytes + key_bytes, "audit_rows": audit_rows}


def _flood(stranger: Identity, victim: PeerId) -> list:
    """An invitation to a group the stranger moderates, then valid posts to it, each the next
    message of the chain, signed and sealed as a real moderator would."""
    clock = SystemClock()
    group_id = os.urandom(16).hex()
    key = GroupKey.generate(group_id, 1, [stranger.peer_id, victim])
    invite = GroupInvite(
        group=group_id,
        name="free gift",
        topic="",
        members=(str(stranger.peer_id), str(victim)),
        key=key.seal_for(stranger, victim, created_ms=clock.now_ms()),
    )
    filler = {str(Identity.generate().peer_id): "x" * 2048 for _ in range(MAX_POSITIONS)}
    body = Body(kind=BodyKind.SUMMARY, text="y" * MAX_TEXT, positions=filler).encode()
    posts, prev = [], GENESIS
    for seq in range(1, FLOOD_POSTS + 1):
        data = write_message(stranger, key, seq=seq, prev=prev, body=body, ts=clock.now_ms())
        posts.append(GroupPost(group=group_id, message=data))
        prev = hashlib.sha256(data).digest()
    return [invite, *posts]


def test_a_strangers_invitation_and_post_flood_is_refused_and_kept_small(nodes, weekend):
    """A fresh identity invites Alice (no grant: the invitation waits for her owner) and posts
    24 MiB of valid messages to that group. Alice keeps the invitation and nothing else of it:
    under 16 KiB stored, the refusals in a few audit rows, her database files and her memory
    grown by less than 4 and 16 MiB (each grew by about 50 MB when every post was kept), and her
    other peers are served meanwhile."""
    alice, dana = nodes["alice"], nodes["dana"]
    stranger = Identity.generate()
    flood = _flood(stranger, PeerId.from_base58(alice.peer_id))
    files_before, rss_before = _db_file_bytes(alice), _rss_bytes(alice)
    with ThreadPoolExecutor(1) as pool:
        flooding = pool.submit(_raw_requests, stranger, alice, flood)
        pinged = dana.cli_json("ping", "alice", "--count", "3")
        answers = flooding.result(timeout=600)
    assert len(pinged["rtt_ms"]) == 3
    assert answers[0] == "group.invited"
    refusals = answers[1:]  # a stranger's budget may refuse some before they are read
    assert set(refusals) <= {"group_closed", "rate_limited", "busy"}, set(refusals)
    assert refusals.count("group_closed") >= 20, refusals
    kept = _kept_for(alice, str(stranger.peer_id))
    assert kept["messages"] == 0 and kept["bytes"] < 16 * 1024, kept
    assert kept["audit_rows"] <= 3, kept
    files_grew, rss_grew = _db_file_bytes(alice) - files_before, _rss_bytes(alice) - rss_before
    assert files_grew < 4 * MiB and rss_grew < 16 * MiB, (files_grew, rss_grew)
    listed = alice.cli_json("group", "list")
    [waiting] = [g for g in listed if g["moderator"] == str(stranger.peer_id)]
    assert waiting["status"] == "invited" and waiting["messages"] == 0
    assert waiting["invitation_expires_ms"] > 0
    assert dana.cli_json("ping", "alice", "--count", "1")["rtt_ms"]


def _status_on(node: harness.NodeProcess, group_id: str) -> str:
    return next(g["status"] for g in node.cli_json("group", "list") if g["group_id"] == group_id)


def _roll(node: harness.NodeProcess, group_id: str) -> dict[str, str]:
    [group] = [g for g in node.cli_json("group", "list") if g["group_id"] == group_id]
    return {m["peer_id"]: m["status"] for m in group["members"]}


def _join_grant(member: harness.NodeProcess, moderator: harness.NodeProcess) -> dict:
    given = member.cli_json("grants")["given"]
    return next(
        g
        for g in given
        if "group/join" in g["abilities"]
        and g["peer_id"] == moderator.peer_id
        and g["state"] == "active"
    )


def _refusals(node: harness.NodeProcess, peer: harness.NodeProcess) -> list[tuple[str, str]]:
    entries = node.cli_json("audit", "--peer", peer.peer_id, "--limit", "50")
    return [(e["request"], e["code"]) for e in entries if e["decision"] == "refused"]


def test_a_revoked_join_grant_ends_the_membership(nodes, weekend):
    """Alice revokes the group/join grant Dana joined her by: her node leaves every group it
    joined by it, Dana's discussion draws no turn from her, a turn asked anyway is refused, and
    her audit shows the refusal. (Expiry and used-up grants: test_group_defences_inprocess.)"""
    dana, alice = nodes["dana"], nodes["alice"]
    created = dana.cli_json(
        "group", "create", "after the grant", "--members", "alice", "--tags", "group"
    )  # fmt: skip
    assert created["invitations"][alice.peer_id].startswith("accepted"), created["invitations"]
    gid, epoch = created["group_id"], created["epoch"]

    alice.cli("revoke", _join_grant(alice, dana)["id"])
    for group_id in (gid, weekend):  # both joined by that grant
        harness.wait_for(lambda g=group_id: _status_on(alice, g) == "left", timeout=30)
    harness.wait_for(lambda: _roll(dana, gid)[alice.peer_id] == "left", timeout=30)
    [moderated] = [g for g in dana.cli_json("group", "list") if g["group_id"] == gid]
    assert moderated["epoch"] > epoch  # the key rotated without her

    dana.cli("group", "discuss", "after the grant", QUESTION, "--rounds", "1")
    messages = transcript(dana, gid)["messages"]
    assert turns_of(messages, dana.peer_id) and turns_of(messages, alice.peer_id) == []

    # A moderator that ignores the leave and asks Alice for a turn with the revoked grant.
    with sqlite3.connect(f"file:{dana.data_dir / 'node.db'}?mode=ro", uri=True) as db:
        (token,) = db.execute(
            "SELECT token FROM grants_received WHERE issuer = ? AND abilities LIKE ?",
            (alice.peer_id, "%group/join%"),
        ).fetchone()
    turn = GroupTurn(group=gid, seq=len(messages) + 1, prev=bytes(32), epoch=1, reason="now")
    assert _raw_requests(dana, alice, [turn], grant=token) == ["grant_revoked"]
    assert ("group.turn", "grant_revoked") in _refusals(alice, dana)


def test_moderation_is_handed_over_and_the_new_moderator_runs_the_group(nodes):
    """Dana hands a group to Carol with the CLI: every node shows the same head, Carol runs
    the group (her owner's words, and Alice's, whose hand now goes to Carol), Dana is a
    member."""
    dana, alice, carol = nodes["dana"], nodes["alice"], nodes["carol"]
    gid = dana.cli_json(
        "group", "create", "passing on", "--members", "alice,carol", "--tags", "group"
    )["group_id"]  # fmt: skip
    for member in (alice, carol):
        member.cli("group", "accept", "passing on", "--tags", "group")
    harness.wait_for(lambda: set(_roll(dana, gid).values()) == {"active"}, timeout=30)

    printed = dana.cli("group", "moderate", "passing on", "--to", "carol")
    assert "moderates passing on now" in printed.stdout
    everyone = (dana, alice, carol)

    def one_head(count: int) -> str | None:
        seen = [transcript(node, gid) for node in everyone]
        heads = {t["head"] for t in seen}
        return heads.pop() if len(heads) == 1 and len(seen[0]["messages"]) >= count else None

    handed = transcript(dana, gid)["messages"]
    assert handed[-1]["kind"] == "moderator" and handed[-1]["about"] == carol.peer_id
    harness.wait_for(lambda: one_head(len(handed)), timeout=60)
    roles = {
        node.peer_id: next(g for g in node.cli_json("group", "list") if g["group_id"] == gid)
        for node in everyone
    }
    assert {g["moderator"] for g in roles.values()} == {carol.peer_id}
    assert roles[carol.peer_id]["role"] == "moderator" and roles[dana.peer_id]["role"] == "member"

    carol.cli("group", "say", "passing on", "Carol here, moderating now.")
    alice.cli("group", "say", "passing on", "Alice: fine by me.")
    head = harness.wait_for(lambda: one_head(len(handed) + 2), timeout=120)
    messages = transcript(alice, gid)["messages"]
    assert turns_of(messages, carol.peer_id) == ["Carol here, moderating now."]
    assert turns_of(messages, alice.peer_id) == ["Alice: fine by me."]
    for node in everyone:
        shown = node.cli("group", "transcript", "passing on").stdout
        assert f"head {head}" in shown and "carol moderates from here on" in shown.lower()
