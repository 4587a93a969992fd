"""Leave requests (SelfRemove 0xF003, ServerRemove 0xF004) under attack: replayed from an
earlier epoch, left waiting while the leaf changes hands, signed by the wrong key, or
sent by someone who is no member of that epoch (docs/threat-model.md, rows L1-L13;
L14-L16 are in test_review.py).

A leave request names a leaf *index*; leaves are reused. The rule under test
(:meth:`~rcs_mls.rcs.membership.MembershipPolicy.check_leave`): a request is honoured only
while the leaf is held by the key that held it when the request was made, both when it
arrives and when it is committed.
"""

from __future__ import annotations

from rcs_mls import Credential, GroupConfig, SignatureKeyPair
from rcs_mls._native import rcs_create_external_proposal, rcs_create_proposal
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import (
    Conversation,
    LeaveRequest,
    MembershipChange,
    Outgoing,
)
from rcs_mls.rcs.cpim import CpimMessage
from rcs_mls.rcs.payload import decode_varint, encode_varint
from tests.adversary.harness import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    MALLORY,
    Dev,
    Net,
    assert_rejected,
    inject,
    server_cpim,
    still_in_step,
    three,
)
from tests.rcs.test_conversation import leaves


def _body(outgoing: Outgoing) -> bytes:
    return CpimMessage.from_bytes(outgoing.cpim).body


def _sender_offset(message: bytes) -> int:
    """Where a PublicMessage's sender (uint8 type, uint32 index) starts: after version,
    wire_format, group_id<V> and epoch."""
    length, offset = decode_varint(message, 4)
    return offset + length + 8


def _with_sender_index(message: bytes, index: int) -> bytes:
    at = _sender_offset(message) + 1
    return message[:at] + index.to_bytes(4, "big") + message[at + 4 :]


def _server_keys_group(net: Net) -> tuple[SignatureKeyPair, Dev, Dev, Dev, Conversation]:
    """Group chat ``grp`` whose GroupContext lists one external sender, the server (as
    tests/rcs/test_conversation.py::test_server_remove builds it); Alice, Bob, Carol in it."""
    server_keys = SignatureKeyPair.generate(profile.SUITE)
    entry = encode_varint(len(server_keys.public_key)) + server_keys.public_key
    entry += Credential.basic(b"rcs-server").to_bytes()
    external_senders = (0x0005, encode_varint(len(entry)) + entry)
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    base = Conversation.group_config()
    config = GroupConfig(
        public_handshake=True,
        max_past_epochs=base.max_past_epochs,
        required_extensions=base.required_extensions,
        group_context_extensions=[*base.group_context_extensions, external_senders],
    )
    conv = Conversation(
        alice.client, alice.client.create_group(config, group_id=b"grp"), trust_anchors=net.anchors
    )
    alice.convs["grp"] = conv
    alice.commit(conv, lambda: conv.add_participants([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    return server_keys, alice, bob, carol, conv


def _server_remove(keys: SignatureKeyPair, conv: Conversation, leaf: int, sender: int = 0) -> bytes:
    return rcs_create_external_proposal(
        keys,
        conv.group.group_id,
        conv.epoch,
        sender,
        profile.PROPOSAL_SERVER_REMOVE,
        leaf.to_bytes(4, "big"),
    )


# --- SelfRemove replayed ---------------------------------------------------------------


def test_replayed_self_remove_does_not_remove_the_new_holder_of_the_leaf(net: Net) -> None:
    """Delivery service: replays Carol's SelfRemove, captured epochs ago, after Carol left
    and Dave took her leaf index, to have Dave removed."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    dave = net.dev("dave", DAVE)
    carol_leaf = conv.participants[CAROL][0]
    captured = carol_conv.leave()
    carol.send(carol_conv, captured)
    for device in (alice, bob):
        (event,) = device.pump()
        assert isinstance(event, LeaveRequest) and event.leaf_index == carol_leaf
    alice.commit(conv, lambda: leaves(conv))
    carol.pump(), bob.pump()
    alice.commit(conv, lambda: conv.add_participants([dave.kp()]))
    dave.pump(), bob.pump()
    dave_conv = dave.convs["grp"]
    assert conv.participants[DAVE] == [carol_leaf]  # Dave holds Carol's old leaf index
    assert captured.epoch in conv._authenticators  # the capture's epoch is still kept

    event = assert_rejected(conv.receive(captured.cpim), "stale")
    assert conv.commit_leaves() is None
    assert conv.participants[DAVE] == [carol_leaf]
    assert_rejected(bob_conv.receive(captured.cpim), "stale")
    assert bob_conv.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob_conv), (dave, dave_conv))


def test_pending_self_remove_dropped_when_the_leaf_is_refilled(net: Net) -> None:
    """Delivery service / malicious timing: Carol's SelfRemove reaches Alice, then Bob
    removes Carol and adds Dave into her leaf before Alice commits the request; Alice's
    commit_leaves() must not remove Dave."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    dave = net.dev("dave", DAVE)
    carol_leaf = conv.participants[CAROL][0]
    carol.send(carol_conv, carol_conv.leave())
    (event,) = alice.pump()
    assert isinstance(event, LeaveRequest) and event.sender == CAROL
    net.relay.fetch(bob.device)  # Bob never sees it
    bob.commit(bob_conv, lambda: bob_conv.remove_participant(CAROL))
    bob.commit(bob_conv, lambda: bob_conv.add_participants([dave.kp()]))
    dave.pump(), carol.pump()
    events = alice.pump()
    assert [type(e) for e in events] == [MembershipChange, MembershipChange]
    assert conv.participants[DAVE] == [carol_leaf]

    assert conv.commit_leaves() is None
    assert conv.participants[DAVE] == [carol_leaf]
    still_in_step((alice, conv), (bob, bob_conv), (dave, dave.convs["grp"]))


def test_pending_self_remove_lapses_when_the_leaver_updates_its_leaf(net: Net) -> None:
    """Positive control for the rule "the leaf still holds the leaf node the request
    names": Carol asks to leave, then commits a key update (a new leaf node); the old
    request no longer applies [safe choice], and a new one removes Carol and nobody else."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    carol.send(carol_conv, carol_conv.leave())
    (event,) = alice.pump()
    assert isinstance(event, LeaveRequest)
    bob.pump()
    carol.commit(carol_conv, carol_conv.update_keys)
    alice.pump(), bob.pump()
    assert conv.epoch == carol_conv.epoch
    assert conv.commit_leaves() is None
    carol.send(carol_conv, carol_conv.leave())
    alice.pump(), bob.pump()
    alice.commit(conv, lambda: leaves(conv))
    (event,) = bob.pump()
    assert isinstance(event, MembershipChange) and event.removed == (CAROL,)
    assert set(conv.participants) == {ALICE, BOB}
    still_in_step((alice, conv), (bob, bob_conv))


# --- ServerRemove ----------------------------------------------------------------------


def test_server_remove_replayed_in_a_later_epoch(net: Net) -> None:
    """Delivery service: replays its own ServerRemove of Carol's leaf, signed in epoch n,
    after Carol was removed and Dave took the leaf, to remove Dave without a new
    signature."""
    server_keys, alice, bob, _carol, conv = _server_keys_group(net)
    dave = net.dev("dave", DAVE)
    bob_conv = bob.convs["grp"]
    carol_leaf = conv.participants[CAROL][0]
    proposal = _server_remove(server_keys, conv, carol_leaf)
    captured = server_cpim(conv, proposal)
    for c in (conv, bob_conv):  # the server sends it to every member
        event = c.receive(captured)
        assert isinstance(event, LeaveRequest) and event.leaf_index == carol_leaf
    alice.commit(conv, lambda: leaves(conv))
    bob.pump()
    alice.commit(conv, lambda: conv.add_participants([dave.kp()]))
    dave.pump(), bob.pump()
    assert conv.participants[DAVE] == [carol_leaf]

    event = assert_rejected(conv.receive(captured), "WrongEpoch")
    assert conv.commit_leaves() is None
    assert conv.participants[DAVE] == [carol_leaf]
    still_in_step((alice, conv), (bob, bob_conv), (dave, dave.convs["grp"]))


def test_server_remove_delayed_one_epoch(net: Net) -> None:
    """Delivery service: signs a ServerRemove in epoch n and delivers it in epoch n+1
    (external proposals are verified in the current epoch only)."""
    server_keys, alice, bob, carol, conv = _server_keys_group(net)
    bob_conv = bob.convs["grp"]
    proposal = _server_remove(server_keys, conv, conv.participants[CAROL][0])
    old_authenticator = conv.epoch_authenticator
    bob.commit(bob_conv, bob_conv.update_keys)
    alice.pump(), carol.pump()
    # With the authenticator of the proposal's epoch: verified, and refused as too old.
    event = conv.receive(server_cpim(conv, proposal, authenticator=old_authenticator))
    assert_rejected(event, "WrongEpoch")
    # With the current one: the header does not match the proposal's epoch.
    event = conv.receive(server_cpim(conv, proposal))
    assert_rejected(event, "Epoch-Authenticator")
    assert conv.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol.convs["grp"]))


def test_server_remove_signed_by_a_key_not_in_external_senders(net: Net) -> None:
    """Delivery service (or anyone): a ServerRemove for the current epoch signed by a key
    of its own, claiming external sender 0, or an external sender index not listed."""
    server_keys, alice, bob, carol, conv = _server_keys_group(net)
    carol_leaf = conv.participants[CAROL][0]
    forger = SignatureKeyPair.generate(profile.SUITE)
    assert_rejected(inject(conv, _server_remove(forger, conv, carol_leaf)), "InvalidSignature")
    # The real server key, but as external sender 1 (there is only one).
    event = inject(conv, _server_remove(server_keys, conv, carol_leaf, sender=1))
    assert_rejected(event, "ValidationError")  # no external sender 1
    assert conv.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob.convs["grp"]), (carol, carol.convs["grp"]))


def test_server_remove_in_a_group_without_external_senders(net: Net) -> None:
    """Delivery service: a ServerRemove in a conversation that lists no external sender
    at all (the default RCS group)."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    keys = SignatureKeyPair.generate(profile.SUITE)
    event = inject(conv, _server_remove(keys, conv, conv.participants[CAROL][0]))
    assert_rejected(event, "ValidationError")  # the group has no external senders
    assert conv.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- SelfRemove from a non-member ------------------------------------------------------


def test_self_remove_with_a_sender_leaf_that_is_empty(net: Net) -> None:
    """Delivery service: rewrites the sender leaf index of a real SelfRemove to a leaf
    nobody holds in that epoch."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    real = _body(carol_conv.leave())
    for index in (3, 7, 0xFFFF_FFFF):
        event = inject(conv, _with_sender_index(real, index))
        assert_rejected(event, "ValidationError")  # no member at that leaf
    assert conv.commit_leaves() is None
    assert set(conv.participants) == {ALICE, BOB, CAROL}
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_self_remove_with_the_sender_leaf_of_another_member(net: Net) -> None:
    """Delivery service: rewrites Carol's SelfRemove to name Bob's leaf, to have Bob
    removed (the membership tag and signature are Carol's)."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    real = _body(carol_conv.leave())
    bob_leaf = conv.participants[BOB][0]
    assert_rejected(inject(conv, _with_sender_index(real, bob_leaf)), "InvalidSignature")
    assert conv.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_self_remove_from_another_group(net: Net) -> None:
    """Malicious member of another group: Carol's SelfRemove from group ``other`` (same
    members, same epoch) delivered into ``grp``."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    alice.start([bob, carol], group_id="other")
    other_carol = carol.convs["other"]
    assert other_carol.epoch == carol_conv.epoch
    event = inject(conv, _body(other_carol.leave()))
    assert_rejected(event, "ValidationError")  # for another group
    assert conv.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_self_remove_from_a_look_alike_group(net: Net) -> None:
    """Attacker outside the group (Mallory, with a valid certificate of its own): builds
    a group with the same group id, epoch and era, sits at Bob's leaf index in it, and
    sends a SelfRemove from there to have Bob removed."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    bob_leaf = conv.participants[BOB][0]
    mallory, accomplice = net.dev("mallory", MALLORY), net.dev("m2", MALLORY)
    fake = Conversation(
        accomplice.client,
        accomplice.client.create_group(Conversation.group_config(), group_id=b"grp"),
        trust_anchors=net.anchors,
    )
    # Fill the look-alike tree so that Mallory lands on Bob's index, in our epoch.
    for i in range(bob_leaf - 1):
        fake.group.add_members([net.dev(f"filler{i}", MALLORY).kp()])
        fake.group.merge_pending_commit()
    while fake.epoch < conv.epoch - 1:
        fake.group.commit(force_path=True)
        fake.group.merge_pending_commit()
    result = fake.group.add_members([mallory.kp()])
    fake.group.merge_pending_commit()
    assert result.welcome is not None and fake.epoch == conv.epoch
    group = mallory.client.join_group(result.welcome, config=Conversation.group_config())
    assert group.own_leaf_index == bob_leaf and group.group_id == b"grp"
    forged = rcs_create_proposal(group, profile.PROPOSAL_SELF_REMOVE)
    assert_rejected(inject(conv, forged), "InvalidSignature")  # membership tag
    assert conv.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_self_remove_from_a_removed_member(net: Net) -> None:
    """Removed member: Carol signs a SelfRemove just before Alice removes her (her device
    signs nothing once removed) and has it delivered after Dave took her old leaf."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    dave = net.dev("dave", DAVE)
    carol_leaf = conv.participants[CAROL][0]
    pre_removal = rcs_create_proposal(carol_conv.group, profile.PROPOSAL_SELF_REMOVE)
    then = carol_conv.epoch_authenticator
    alice.commit(conv, lambda: conv.remove_participant(CAROL))
    carol.pump(), bob.pump()
    alice.commit(conv, lambda: conv.add_participants([dave.kp()]))
    dave.pump(), bob.pump()
    assert conv.participants[DAVE] == [carol_leaf]
    # The server delivers it with the authenticator of its epoch, as it saw it then.
    assert_rejected(conv.receive(server_cpim(conv, pre_removal, authenticator=then)), "stale")
    assert conv.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob_conv), (dave, dave.convs["grp"]))


def test_replayed_self_remove_after_the_leaver_was_re_added(net: Net) -> None:
    """Delivery service: Carol left and was re-invited (same device, same signature key,
    same leaf index); it replays her old SelfRemove from a kept past epoch to have her
    removed again against her will."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    carol_leaf = conv.participants[CAROL][0]
    captured = carol_conv.leave()
    carol.send(carol_conv, captured)
    alice.pump(), bob.pump()
    alice.commit(conv, lambda: leaves(conv))
    carol.pump(), bob.pump()
    # Carol's device forgets the old group and is invited back.
    carol.client.delete_group(b"grp")
    del carol.convs["grp"]
    alice.commit(conv, lambda: conv.add_participants([carol.kp()]))
    carol.pump(), bob.pump()
    carol_conv = carol.convs["grp"]
    assert conv.participants[CAROL] == [carol_leaf]
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))
    assert captured.epoch in conv._authenticators

    assert_rejected(conv.receive(captured.cpim), "stale")
    assert conv.commit_leaves() is None
    assert conv.participants[CAROL] == [carol_leaf]
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_removed_member_keeps_sending_in_its_last_epoch(net: Net) -> None:
    """Removed member: Carol ignores the commit removing her and keeps encrypting in her
    last epoch; Alice, epochs later, still reads her messages as Carol's."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    alice.commit(conv, lambda: conv.remove_participant(CAROL))
    bob.pump()
    net.relay.fetch(carol.device)  # Carol never processes her removal
    alice.commit(conv, conv.update_keys)
    alice.commit(conv, conv.update_keys)
    bob.pump()
    assert carol_conv.active and carol_conv.epoch == conv.epoch - 3
    after_removal = carol_conv.send_text("I am still here")
    assert_rejected(conv.receive(after_removal.cpim), "no longer in the conversation")
    still_in_step((alice, conv), (bob, bob_conv))
