"""What a member's node refuses, with the nodes of ``test_groups_inprocess`` (real libp2p on
loopback, real SQLite, access gate and stores; a scripted model and a fixed-score memory): a
group/join grant checked again on every request and ended by revocation or expiry; nothing of
an unaccepted invitation's group; quotas; a bounded catch-up; relevance only when shared, and
only coarsely; and only public names in a turn's prompt."""

from __future__ import annotations

import asyncio

import pytest

from secondme.node.core.config import GroupSettings
from secondme.node.core.errors import PeerRefused
from secondme.node.groups import moderator as group_moderator
from secondme.node.groups.delivery import Delivery
from secondme.protocol.grants import GrantTerms, issue_grant
from secondme.protocol.group_messages import GroupKeyUpdate, GroupPost, GroupTurn
from secondme.protocol.groups import Body, BodyKind, GroupKey
from secondme.protocol.identity import PeerId
from tests.integration import test_groups_inprocess as inprocess
from tests.integration.test_groups_inprocess import (
    GROUP,
    GROUP_SCOPE,
    HOUR_MS,
    WAIT_S,
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

pytestmark = pytest.mark.timeout(60)
make_nodes = inprocess.make_nodes
"""The three nodes of ``test_groups_inprocess`` (a fixture)."""


def join_grant(member: Node, moderator: Node, **terms) -> tuple[bytes, str]:
    """A group/join grant ``member`` gives ``moderator``, handed to the moderator's node."""
    now = member.clock.now_ms()
    grant = GrantTerms(
        audience=moderator.identity.peer_id,
        abilities=("group/join",),
        scope=GROUP_SCOPE,
        expires_ms=terms.pop("expires_ms", now + HOUR_MS),
        **terms,
    )
    token = issue_grant(member.identity, grant, issued_ms=now)
    moderator.access.tokens[(member.peer_id, "group/join")] = token
    return token, member.gate.verifier.parse(token).grant_id


async def bob_by_grant(mod: Node, alice: Node, bob: Node, **terms) -> tuple[str, bytes, str]:
    """Group "weekend": Bob joins by a grant, Alice accepts by hand."""
    token, grant_id = join_grant(bob, mod, **terms)
    created = await mod.groups.create(GROUP, ["alice", "bob"], scope=GROUP_SCOPE)
    gid = created["group_id"]
    assert created["invitations"][bob.peer_id].startswith("accepted")
    await alice.groups.accept(GROUP, scope=GROUP_SCOPE)
    await until(mod, gid, membership(alice, "joined"))
    await caught_up(gid, mod, alice, bob)
    return gid, token, grant_id


def refusals(node: Node, peer: Node, request: str) -> list[str]:
    return [
        entry["code"]
        for entry in node.access_store.audit_log(peer_id=peer.peer_id)
        if entry["request"] == request and entry["decision"] == "refused"
    ]


async def polled(predicate) -> None:
    """Wait until ``predicate()`` holds (what the nodes do in the background); fails after
    :data:`WAIT_S`."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), WAIT_S)


# -- the grant a member joined by --------------------------------------------------------------


async def test_every_request_carries_the_join_grant_and_counts_as_its_use(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    gid, _, grant_id = await bob_by_grant(mod, alice, bob)
    await discuss(mod, gid, rounds=1)
    same_transcript(gid, mod, alice, bob)
    served = bob.access_store.audit_log(peer_id=mod.peer_id)
    assert all(entry["decision"] == "allowed" for entry in served)
    requests = {entry["request"] for entry in served}
    assert {"group.invite", "group.post", "group.turn"} <= requests
    assert bob.access_store.uses(grant_id) == len(served)  # each one checked the grant


async def test_revoking_the_join_grant_leaves_the_group_and_refuses_the_moderator(
    make_nodes: MakeNodes,
):
    mod, alice, bob = await make_nodes()
    gid, token, grant_id = await bob_by_grant(mod, alice, bob)
    epoch = mod.store.latest_key(gid).epoch

    bob.gate.revoke(grant_id, grant_id, by_peer=bob.peer_id)
    await until(mod, gid, membership(bob, "left the group"))
    assert bob.groups.find(GROUP).status == "left"
    assert mod.store.members(gid)[bob.peer_id] == "left"
    assert mod.store.latest_key(gid).epoch == epoch + 1

    await discuss(mod, gid, rounds=1)
    assert bob.peer_id not in {m.sender for m in turns(since_question(mod, gid))}
    # A moderator that ignores the leave still holds the grant: Bob refuses it.
    transcript = mod.groups.transcripts.chain(gid)
    turn = GroupTurn(group=gid, seq=transcript.next_seq, prev=transcript.head, epoch=1, reason="x")
    with pytest.raises(PeerRefused) as refused:
        await mod.p2p.request(mod.peers.resolve("bob"), turn, grant=token)
    assert refused.value.remote_code == "grant_revoked"
    assert "grant_revoked" in refusals(bob, mod, "group.turn")
    assert bob.model.calls == 0


async def test_a_request_without_the_join_grant_is_refused(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    gid, _, _ = await bob_by_grant(mod, alice, bob)
    transcript = mod.groups.transcripts.chain(gid)
    turn = GroupTurn(group=gid, seq=transcript.next_seq, prev=transcript.head, epoch=1, reason="x")
    with pytest.raises(PeerRefused) as refused:
        await mod.p2p.request(mod.peers.resolve("bob"), turn)
    assert refused.value.remote_code == "no_grant"
    other, _ = join_grant(bob, mod)  # a second grant is not the one Bob joined by
    with pytest.raises(PeerRefused) as refused:
        await mod.p2p.request(mod.peers.resolve("bob"), turn, grant=other)
    assert refused.value.remote_code == "unauthorized"
    assert bob.groups.find(GROUP).status == "active"
    assert bob.model.calls == 0


async def test_an_expired_join_grant_ends_the_membership_at_the_next_message(
    make_nodes: MakeNodes,
):
    mod, alice, bob = await make_nodes()
    expires_ms = bob.clock.now_ms() + 3000
    gid, _, _ = await bob_by_grant(mod, alice, bob, expires_ms=expires_ms)
    await polled(lambda: bob.clock.now_ms() > expires_ms)
    await mod.groups.say(GROUP, "Is everyone still here?")
    await until(mod, gid, membership(bob, "left the group"))
    assert bob.groups.find(GROUP).status == "left"
    assert refusals(bob, mod, "group.post") == ["grant_expired"]


async def test_a_used_up_join_grant_refuses_but_does_not_leave(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    gid, _, grant_id = await bob_by_grant(mod, alice, bob, max_uses=4)
    for n in range(4):
        await mod.groups.say(GROUP, f"Message {n}.")
    assert "grant_used_up" in refusals(bob, mod, "group.post")
    assert bob.groups.find(GROUP).status == "active"
    assert mod.store.members(gid)[bob.peer_id] == "active"
    assert bob.access_store.uses(grant_id) == 4


# -- an invitation the owner has not answered --------------------------------------------------


async def test_an_unanswered_invitation_takes_no_post_no_key_and_no_turn(make_nodes: MakeNodes):
    mod, alice, _ = await make_nodes()
    created = await mod.groups.create(GROUP, ["alice", "bob"], scope=GROUP_SCOPE)
    gid = created["group_id"]
    data = mod.groups.transcripts.write(
        gid, Body(kind=BodyKind.OWNER, text="x" * 10_000, reason="flood")
    )
    later = GroupKey.generate(gid, 2, [mod.identity.peer_id, alice.identity.peer_id])
    sealed = later.seal_for(
        mod.identity, PeerId.from_base58(alice.peer_id), created_ms=mod.clock.now_ms()
    )
    transcript = mod.groups.transcripts.chain(gid)
    alice_record = mod.peers.resolve("alice")
    for request in (
        GroupPost(group=gid, message=data),
        GroupKeyUpdate(group=gid, key=sealed),
        GroupTurn(group=gid, seq=transcript.next_seq, prev=transcript.head, epoch=1, reason="x"),
    ):
        with pytest.raises(PeerRefused) as refused:
            await mod.p2p.request(alice_record, request)
        assert refused.value.remote_code == "group_closed"
    assert alice.store.messages(gid) == [] and [k.epoch for k in alice.store.keys(gid)] == [1]
    described = alice.groups.describe(alice.groups.find(GROUP))
    assert described["status"] == "invited" and described["invitation_expires_ms"] > 0

    await alice.groups.accept(GROUP, scope=GROUP_SCOPE)  # accepting works as before
    await until(mod, gid, membership(alice, "joined"))
    await caught_up(gid, mod, alice)


async def test_invitations_without_a_grant_are_bounded_per_peer(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(settings=GroupSettings(invites_per_peer=2))
    outcomes = [
        (await mod.groups.create(f"group {n}", ["alice"]))["invitations"][alice.peer_id]
        for n in range(3)
    ]
    assert [o.startswith("waiting") for o in outcomes] == [True, True, False]
    assert "group_inbox_full" in outcomes[2]
    assert (await bob.groups.create("from bob", ["alice"]))["invitations"][
        alice.peer_id
    ].startswith("waiting")
    assert len(alice.groups.list()) == 3


# -- quotas and catch-up -----------------------------------------------------------------------


async def test_a_group_past_its_quota_is_refused_and_the_others_go_on(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(settings=GroupSettings(max_group_messages=6))
    gid = await form_group(mod, alice, bob)  # two "joined" messages
    for n in range(6):
        await mod.groups.say(GROUP, f"Message {n}.")
    assert len(alice.store.messages(gid)) == 6 and len(mod.store.messages(gid)) == 8
    assert "group_quota" in refusals(alice, mod, "group.post")
    assert len(bob.store.messages(gid)) == 6  # the same bound on every member


async def test_catching_up_fetches_a_bounded_number_of_pages(
    make_nodes: MakeNodes, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(group_moderator, "SYNC_PAGE", 2)
    fetched: list[int] = []
    catch_up = Delivery.catch_up

    async def counted(self: Delivery, group) -> int:
        fetched.append(await catch_up(self, group))
        return fetched[-1]

    monkeypatch.setattr(Delivery, "catch_up", counted)
    settings = GroupSettings(
        catch_up_pages=1, delivery_timeout_s=2.0, retry_first_s=0.2, retry_max_s=0.5
    )
    mod, alice, bob = await make_nodes(settings=settings)
    gid = await form_group(mod, alice, bob)
    await bob.p2p.close()
    for n in range(5):
        await mod.groups.say(GROUP, f"While Bob is away, {n}.")
    fetched.clear()
    await bob.restart()
    mod.meet(bob)
    # His catch-up at start fetches one page of two; each post the outbox sends him then
    # fills one more page, and he answers with how far he got, until he holds it all.
    await caught_up(gid, mod, bob)
    same_transcript(gid, mod, alice, bob)
    assert max(fetched) == 2 and len(fetched) >= 2, fetched  # never more than a page at once


# -- relevance and names -------------------------------------------------------------------


async def test_relevance_is_not_shared_unless_the_owner_turns_it_on(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes(settings=GroupSettings())
    gid = await form_group(mod, alice, bob)
    await discuss(mod, gid, rounds=1)
    spoken = turns(since_question(mod, gid))
    assert spoken and all(m.body.relevance is None for m in spoken)
    assert all(m.body.reason.startswith("unknown relevance") for m in spoken)
    assert set(mod.groups.floor.relevance[gid].values()) <= {None, 0}

    alice.groups.share_relevance(GROUP, True)
    await mod.groups.say(GROUP, "Any favourite trail?")
    assert mod.groups.floor.relevance[gid][alice.peer_id] == 750  # 0.9, in steps of 250
    assert mod.groups.floor.relevance[gid].get(bob.peer_id) is None


async def test_a_turns_prompt_names_no_one_by_a_private_name(make_nodes: MakeNodes):
    mod, alice, bob = await make_nodes()
    alice.owner.update({"name": "Alice Privatename"})  # not public
    prompts: list[str] = []
    complete = alice.model.complete

    async def recording(messages, **kwargs):
        prompts.append("\n".join(m["content"] for m in messages))
        return await complete(messages, **kwargs)

    alice.model.complete = recording  # type: ignore[method-assign]
    gid = await form_group(mod, alice, bob)
    await discuss(mod, gid, rounds=1)
    assert prompts
    for prompt in prompts:
        assert "Privatename" not in prompt
        assert "You are a member of this group." in prompt
        assert "mod" not in prompt.split("\n", 1)[0]  # nor the name Alice gave the moderator

    alice.owner.update({"name": "Alice Publicname"}, public={"name": True})
    await mod.groups.say(GROUP, "And you, Alice?")  # not a turn: nothing drawn
    await discuss(mod, gid, rounds=1)
    assert "You are Alice Publicname." in prompts[-1]
