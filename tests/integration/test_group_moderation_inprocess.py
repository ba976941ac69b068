"""Moderation changing hands, with the nodes of ``test_groups_inprocess`` (real libp2p on
loopback, real SQLite, access gate and stores; a scripted model and a fixed-score memory): the
moderator hands over and the new one runs the group; a member continues a group whose
moderator's node is gone; what members refuse of a peer that does not moderate; and a member
that joined by a grant to the old moderator, which follows the new one while that grant
stands in its own records."""

from __future__ import annotations

import pytest

from secondme.node.core.config import GroupSettings
from secondme.node.core.errors import InvalidRequest, PeerRefused
from secondme.node.groups.moderation import TOOK_OVER
from secondme.protocol.clock import ManualClock
from secondme.protocol.grants import GrantInfo, GrantTerms, issue_grant
from secondme.protocol.group_messages import GroupPost
from secondme.protocol.groups import Body, BodyKind, write_message
from tests.integration import test_groups_inprocess as inprocess
from tests.integration.test_groups_inprocess import (
    GROUP,
    GROUP_SCOPE,
    HOUR_MS,
    MakeNodes,
    Node,
    caught_up,
    discuss,
    form_group,
    membership,
    same_transcript,
    since_question,
    turns,
    until,
)

pytestmark = pytest.mark.timeout(90)
GONE_FAST = GroupSettings(
    turn_timeout_s=5.0, delivery_timeout_s=2.0, retry_first_s=0.2, retry_max_s=1.0
)
"""A node that is gone costs a takeover, a post and a turn little time."""
make_nodes = inprocess.make_nodes
"""The three nodes of ``test_groups_inprocess`` (a fixture)."""


def moderator_message(about: Node):
    return lambda m: m.body.kind is BodyKind.MODERATOR and m.body.about == about.peer_id


def moderator_of(node: Node, gid: str) -> str:
    return node.store.get(gid).moderator  # type: ignore[union-attr]


async def post(sender: Node, to: Node, gid: str, data: bytes) -> str:
    """``sender`` posts ``data`` to ``to`` as a moderator would; the code it is refused with."""
    with pytest.raises(PeerRefused) as refused:
        await sender.p2p.request(sender.peers.resolve(to.name), GroupPost(group=gid, message=data))
    return refused.value.remote_code or ""


def senders(node: Node, gid: str, *nodes: Node) -> list[str]:
    by_id = {n.peer_id: n.name for n in nodes}
    return [by_id[m.sender] for m in turns(since_question(node, gid))]


def takeover_body(taker: Node, roll: dict[str, str]) -> Body:
    return Body(kind=BodyKind.MODERATOR, about=taker.peer_id, reason="mine now", roll=roll)


# -- hand-over -------------------------------------------------------------------------------


async def test_a_handed_over_group_is_run_by_its_new_moderator(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    gid = await form_group(mod, alice, bob)

    with pytest.raises(InvalidRequest, match="only the moderator"):
        await bob.groups.moderate(GROUP, to="alice")

    answer = await mod.groups.moderate(GROUP, to="alice")
    assert answer["role"] == "member" and answer["moderator"] == alice.peer_id
    for node in (alice, bob):
        await until(node, gid, moderator_message(alice))
    message = mod.messages(gid)[-1]
    assert message.sender == mod.peer_id
    assert message.body.reason == "handed over by the moderator"  # its owner's name is private
    assert dict(message.body.roll or {}) == {n.peer_id: "active" for n in (mod, alice, bob)}
    assert {moderator_of(n, gid) for n in (mod, alice, bob)} == {alice.peer_id}
    assert alice.store.members(gid) == {n.peer_id: "active" for n in (mod, alice, bob)}
    assert alice.groups.describe(alice.groups.find(GROUP))["role"] == "moderator"

    # The old moderator is a member: it cannot run the group, and members refuse its posts.
    with pytest.raises(InvalidRequest, match="only the group's moderator"):
        mod.groups.discuss(GROUP, "Shall we?")
    data = mod.groups.transcripts.write(
        gid, Body(kind=BodyKind.SKIP, about=bob.peer_id, reason="old habit")
    )
    before = bob.head(gid)
    assert await post(mod, bob, gid, data) == "not_moderator"
    assert bob.head(gid) == before

    reason = await discuss(alice, gid, rounds=1)
    assert reason == "round limit reached (1 round)"
    await caught_up(gid, alice, mod, bob)
    same_transcript(gid, mod, alice, bob)
    assert sorted(senders(alice, gid, mod, alice, bob)) == ["alice", "bob", "mod"]


# -- takeover --------------------------------------------------------------------------------


async def test_a_member_that_missed_the_hand_over_gets_it_from_the_new_moderator(
    make_nodes: MakeNodes,
):
    mod, alice, bob = await make_nodes(settings=GONE_FAST)
    gid = await form_group(mod, alice, bob)

    await bob.p2p.close()
    await mod.groups.moderate(GROUP, to="alice")  # Bob's node is down: he misses it
    await alice.groups.say(GROUP, "Alice here, moderating now.")
    assert moderator_of(bob, gid) == mod.peer_id
    await mod.groups.close()  # the old moderator's node goes away for good

    bob.p2p, bob.groups = bob._services()
    await bob.p2p.start()  # back on a new port, asking nothing of his own
    alice.meet(bob)
    await caught_up(gid, alice, bob)  # Alice's outbox: first the hand-over, then the rest
    assert moderator_of(bob, gid) == alice.peer_id
    same_transcript(gid, alice, bob)
    assert bob.messages(gid)[-1].body.text == "Alice here, moderating now."


async def test_a_member_continues_a_group_whose_moderators_node_is_gone(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(settings=GONE_FAST)
    gid = await form_group(mod, alice, bob)
    with pytest.raises(InvalidRequest, match="is not gone"):  # it answers: no takeover
        await alice.groups.moderate(GROUP, take=True)
    assert moderator_of(alice, gid) == mod.peer_id

    await mod.close()  # gone for good
    answer = await alice.groups.moderate(GROUP, take=True)
    assert answer["role"] == "moderator"
    taken = await until(bob, gid, moderator_message(alice))
    assert taken.sender == alice.peer_id and taken.body.reason == TOOK_OVER
    assert dict(taken.body.roll or {}) == {n.peer_id: "active" for n in (mod, alice, bob)}
    assert moderator_of(bob, gid) == alice.peer_id

    reason = await discuss(alice, gid, rounds=1)
    assert reason == "round limit reached (1 round)"
    await caught_up(gid, alice, bob)
    same_transcript(gid, alice, bob)
    assert "bob" in senders(alice, gid, alice, bob, mod)
    skipped = [m.body.about for m in since_question(alice, gid) if m.body.kind is BodyKind.SKIP]
    assert skipped == [mod.peer_id]  # the old moderator is a member that does not answer


async def test_a_forged_or_late_takeover_is_refused_and_changes_nothing(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    gid = await form_group(mod, alice, bob)
    everyone = {n.peer_id: "active" for n in (mod, alice, bob)}
    before = alice.head(gid)

    # Bob names someone else (the moderator's place is not his to give).
    naming_mod = Body(kind=BodyKind.MODERATOR, about=mod.peer_id, reason="x", roll=everyone)
    assert (
        await post(bob, alice, gid, bob.groups.transcripts.write(gid, naming_mod))
        == "not_moderator"
    )
    # Bob names himself, but not as the next message of Alice's transcript.
    transcript = bob.groups.transcripts.chain(gid)
    skipping = write_message(
        bob.identity,
        bob.store.latest_key(gid),
        seq=transcript.next_seq + 1,
        prev=transcript.head,
        body=takeover_body(bob, everyone).encode(),
        ts=bob.clock.now_ms(),
    )
    assert await post(bob, alice, gid, skipping) == "group_out_of_order"
    # Bob writes a takeover, but the moderator speaks first: Alice holds a message Bob's
    # takeover does not follow, and no fork is merged.
    late = bob.groups.transcripts.write(gid, takeover_body(bob, everyone))
    await mod.groups.say(GROUP, "Still here.")
    await caught_up(gid, mod, alice)
    before = alice.head(gid)
    assert await post(bob, alice, gid, late) == "group_out_of_order"
    # Anything but a moderator message from a peer that does not moderate.
    turn = bob.groups.transcripts.write(gid, Body(kind=BodyKind.OWNER, text="psst", reason="aside"))
    assert await post(bob, alice, gid, turn) == "not_moderator"

    assert alice.head(gid) == before and moderator_of(alice, gid) == mod.peer_id
    assert not [m for m in alice.messages(gid) if m.body.kind is BodyKind.MODERATOR]


# -- a member that joined by a grant -------------------------------------------------------------


def grant_on_record(member: Node, moderator: Node) -> tuple[str, GrantInfo]:
    """A group/join grant ``member`` gives ``moderator``, kept in the member's records as its
    owner's ``grant`` command keeps it, and handed to the moderator's node."""
    now = member.clock.now_ms()
    token, grant_id = inprocess_grant(member, moderator, now)
    info = member.gate.verifier.parse(token)
    member.access_store.add_issued(
        info,
        token,
        grant_id=grant_id,
        holder=moderator.peer_id,
        scope=GROUP_SCOPE,
        abilities=("group/join",),
        expires_ms=now + HOUR_MS,
        created_ms=now,
    )
    return grant_id, info


def inprocess_grant(member: Node, moderator: Node, now: int) -> tuple[bytes, str]:
    terms = GrantTerms(
        audience=moderator.identity.peer_id,
        abilities=("group/join",),
        scope=GROUP_SCOPE,
        expires_ms=now + HOUR_MS,
    )
    token = issue_grant(member.identity, terms, issued_ms=now)
    moderator.access.tokens[(member.peer_id, "group/join")] = token
    return token, member.gate.verifier.parse(token).grant_id


async def group_with_bob_by_grant(mod: Node, alice: Node, bob: Node) -> tuple[str, str]:
    grant_id, _ = grant_on_record(bob, mod)
    created = await mod.groups.create(GROUP, ["alice", "bob"], scope=GROUP_SCOPE)
    gid = created["group_id"]
    assert created["invitations"][bob.peer_id].startswith("accepted")
    await alice.groups.accept(GROUP, scope=GROUP_SCOPE)
    await until(mod, gid, membership(alice, "joined"))
    await caught_up(gid, mod, alice, bob)
    await mod.groups.moderate(GROUP, to="alice")
    await until(bob, gid, moderator_message(alice))
    return gid, grant_id


async def test_a_member_by_grant_follows_the_new_moderator_until_it_revokes_the_grant(
    make_nodes: MakeNodes,
):
    mod, alice, bob = await make_nodes()
    gid, grant_id = await group_with_bob_by_grant(mod, alice, bob)

    await discuss(alice, gid, rounds=1)  # Alice cannot show Bob's grant: his record stands
    assert "bob" in senders(alice, gid, mod, alice, bob)
    assert bob.groups.find(GROUP).scope == GROUP_SCOPE  # the same scope as before

    bob.gate.revoke(grant_id, grant_id, by_peer=bob.peer_id)
    await until(alice, gid, membership(bob, "left the group"))
    assert bob.groups.find(GROUP).status == "left"
    data = alice.groups.transcripts.write(
        gid, Body(kind=BodyKind.SKIP, about=mod.peer_id, reason="x")
    )
    assert await post(alice, bob, gid, data) == "grant_revoked"  # checked in its records


async def test_a_member_by_grant_leaves_when_its_grant_expires_under_the_new_moderator(
    make_nodes: MakeNodes,
):
    mod, alice, bob = await make_nodes()
    gid, _ = await group_with_bob_by_grant(mod, alice, bob)
    before = bob.head(gid)

    bob.groups.context.clock = ManualClock(bob.clock.now_ms() + 2 * HOUR_MS)  # past the grant's end
    await alice.groups.say(GROUP, "Still with us, Bob?")
    await until(alice, gid, membership(bob, "left the group"))
    assert bob.groups.find(GROUP).status == "left" and bob.head(gid) == before
    refused = [
        entry["code"]
        for entry in bob.access_store.audit_log(peer_id=alice.peer_id)
        if entry["decision"] == "refused"
    ]
    assert "grant_expired" in refused
