"""Groups: creation, membership commits, proposals by reference, joins, inspection."""

from __future__ import annotations

import pytest

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    CommitResult,
    GroupConfig,
    GroupStateError,
    InvalidArgumentError,
    ProposalMessage,
    ProposalType,
    StagedCommit,
)
from tests.conftest import assert_in_sync, deliver, make_client, make_group


def test_create_with_chosen_and_random_id(suite: Ciphersuite) -> None:
    alice = make_client("alice", suite)
    g = alice.create_group(group_id=b"chat-1")
    assert g.group_id == b"chat-1"
    assert g.epoch == 0
    assert g.own_leaf_index == 0
    assert g.ciphersuite == suite
    assert [m.identity for m in g.members()] == [b"alice"]
    r1, r2 = alice.create_group(), alice.create_group()
    assert len(r1.group_id) >= 16 and r1.group_id != r2.group_id
    with pytest.raises(InvalidArgumentError):
        alice.create_group(group_id=b"")


def test_two_members_talk_both_ways(suite: Ciphersuite) -> None:
    _, (a, b) = make_group(suite, 2)
    assert_in_sync([a, b])
    msg = b.process_message(a.encrypt(b"hello bob", authenticated_data=b"ad-1"))
    assert isinstance(msg, ApplicationMessage)
    assert msg.plaintext == b"hello bob"
    assert msg.authenticated_data == b"ad-1"
    assert msg.sender_leaf_index == 0
    assert msg.sender_identity == b"alice" or msg.sender_identity == b"member-0"
    assert msg.epoch == a.epoch
    back = a.process_message(b.encrypt(bytearray(b"hi alice")))
    assert isinstance(back, ApplicationMessage)
    assert back.plaintext == b"hi alice" and back.authenticated_data == b""
    assert back.sender_leaf_index == 1 and back.sender_credential == b.members()[1].credential


def test_hundred_members_in_one_commit(suite: Ciphersuite) -> None:
    _clients, groups = make_group(suite, 101)
    assert len(groups[0].members()) == 101
    assert_in_sync(groups)
    # Everyone reads a message from the last member.
    wire = groups[-1].encrypt(b"from the last one")
    for g in groups[:-1]:
        m = g.process_message(wire)
        assert isinstance(m, ApplicationMessage) and m.plaintext == b"from the last one"
    # And the exporter agrees everywhere.
    secrets = {g.export_secret("test", b"ctx", 32) for g in groups}
    assert len(secrets) == 1


def test_add_shows_in_staged_commit(suite: Ciphersuite) -> None:
    _clients, (a, b) = make_group(suite, 2)
    carol = make_client("carol", suite)
    result = a.add_members([carol.generate_key_package()])
    assert isinstance(result, CommitResult) and result.welcome is not None
    assert result.group_info is not None  # ratchet-tree extension on by default
    staged = b.process_message(result.commit)
    assert isinstance(staged, StagedCommit)
    assert [m.identity for m in staged.added] == [b"carol"]
    assert staged.removed == [] and staged.sender_leaf_index == 0
    assert staged.epoch == 2 and staged.is_pending
    assert b.epoch == 1  # not merged yet
    b.merge_staged_commit(staged)
    assert not staged.is_pending
    a.merge_pending_commit()
    c = carol.join_group(result.welcome)
    assert_in_sync([a, b, c])
    with pytest.raises(GroupStateError, match=r"already merged|left"):
        b.merge_staged_commit(staged)


def test_remove_by_index_and_by_identity(suite: Ciphersuite) -> None:
    _clients, groups = make_group(suite, 5)
    a, b, c, d, e = groups
    result = a.remove_members([1])
    a.merge_pending_commit()
    staged = deliver(result.commit, [c, d, e])
    assert staged[0].removed == [1]
    removed = b.process_message(result.commit)
    assert isinstance(removed, StagedCommit) and removed.self_removed
    b.merge_staged_commit(removed)
    assert not b.is_active
    assert [m.leaf_index for m in a.members()] == [0, 2, 3, 4]
    result = c.remove_members_by_identity([b"member-3", b"member-4"])
    c.merge_pending_commit()
    assert sorted(deliver(result.commit, [a])[0].removed) == [3, 4]
    assert [m.identity for m in a.members()] == [b"member-0", b"member-2"]
    assert_in_sync([a, c])
    with pytest.raises(InvalidArgumentError):
        a.remove_members_by_identity([b"nobody"])
    with pytest.raises(InvalidArgumentError):
        a.remove_members([9])
    with pytest.raises(InvalidArgumentError):
        a.remove_members([0])


def test_self_update_changes_the_leaf_key(suite: Ciphersuite) -> None:
    _, (a, b, c) = make_group(suite, 3)
    before = a.members()[1].encryption_key
    result = b.self_update()
    assert result.welcome is None
    b.merge_pending_commit()
    staged = deliver(result.commit, [a, c])
    assert staged[0].updated == [1] and staged[0].has_path
    assert a.members()[1].encryption_key != before
    assert_in_sync([a, b, c])


def test_proposals_by_reference_then_commit(suite: Ciphersuite) -> None:
    _clients, (a, b, c) = make_group(suite, 3)
    dave = make_client("dave", suite)
    # b proposes adding dave, c proposes removing nobody but updating itself.
    p_add = b.propose_add(dave.generate_key_package())
    p_upd = c.propose_self_update()
    p_rem = b.propose_remove(2)
    for g, proposals in ((a, [p_add, p_upd, p_rem]), (b, [p_upd]), (c, [p_add, p_rem])):
        for p in proposals:
            pm = g.process_message(p)
            assert isinstance(pm, ProposalMessage)
    assert len(a.pending_proposals) == 3
    result = a.commit_pending_proposals()
    assert result.welcome is not None
    a.merge_pending_commit()
    staged = b.process_message(result.commit)
    assert isinstance(staged, StagedCommit)
    assert [m.identity for m in staged.added] == [b"dave"]
    assert staged.removed == [2]
    b.merge_staged_commit(staged)
    d = dave.join_group(result.welcome)
    assert_in_sync([a, b, d])
    assert a.pending_proposals == []


def test_proposal_message_fields(suite: Ciphersuite) -> None:
    _, (a, b, _c) = make_group(suite, 3)
    pm = a.process_message(b.propose_remove(2))
    assert isinstance(pm, ProposalMessage)
    assert pm.proposal_type == ProposalType.REMOVE
    assert pm.removed_leaf_index == 2
    assert pm.sender_leaf_index == 1 and pm.sender_identity == b"member-1"
    assert len(pm.proposal_ref) == 32
    assert a.pending_proposals == [pm.proposal_ref]
    a.clear_pending_proposals()
    assert a.pending_proposals == []


def test_psk_proposal_and_commit(suite: Ciphersuite) -> None:
    clients, (a, b) = make_group(suite, 2)
    for client in clients:
        client.store_psk(b"psk-1", b"\x11" * 32)
    proposal = b.propose_external_psk(b"psk-1")
    assert isinstance(a.process_message(proposal), ProposalMessage)
    result = a.commit_pending_proposals()
    a.merge_pending_commit()
    staged = deliver(result.commit, [b])
    assert staged[0].psk_ids == [b"psk-1"]
    assert_in_sync([a, b])
    # A PSK committed directly.
    result = a.commit(psk_ids=[b"psk-1"])
    a.merge_pending_commit()
    deliver(result.commit, [b])
    assert_in_sync([a, b])


def test_psk_unknown_to_a_member_fails_validation(suite: Ciphersuite) -> None:
    clients, (a, b) = make_group(suite, 2)
    clients[0].store_psk(b"only-alice", b"\x22" * 32)
    result = a.commit(psk_ids=[b"only-alice"])
    with pytest.raises(Exception) as info:
        b.process_message(result.commit)
    from rcs_mls import RcsMlsError

    assert isinstance(info.value, RcsMlsError)
    assert b.epoch == 1  # state untouched


def test_group_context_extensions(suite: Ciphersuite) -> None:
    config = GroupConfig(
        required_extensions=[0xF001], group_context_extensions=[(0xF001, b"\x00\x00\x00\x01")]
    )
    clients = [make_client(f"m{i}", suite, extension_types=[0xF001]) for i in range(3)]
    a = clients[0].create_group(config)
    assert (0xF001, b"\x00\x00\x00\x01") in a.extensions
    result = a.add_members([c.generate_key_package() for c in clients[1:]])
    a.merge_pending_commit()
    assert result.welcome is not None
    b, c = (cl.join_group(result.welcome, config=config) for cl in clients[1:])
    assert (0xF001, b"\x00\x00\x00\x01") in b.extensions
    # Update by commit.
    new = [e for e in a.extensions if e[0] != 0xF001] + [(0xF001, b"\x00\x00\x00\x02")]
    result = b.update_group_context_extensions(new)
    b.merge_pending_commit()
    pending = a.process_message(result.commit)
    assert isinstance(pending, StagedCommit)
    assert (0xF001, b"\x00\x00\x00\x02") in pending.group_context_extensions
    assert (0xF001, b"\x00\x00\x00\x01") in a.extensions  # not merged yet
    a.merge_staged_commit(pending)
    staged = deliver(result.commit, [c])
    assert staged[0].group_context_extensions_changed
    assert (0xF001, b"\x00\x00\x00\x02") in a.extensions
    # And by proposal, committed by another member.
    newer = [e for e in a.extensions if e[0] != 0xF001] + [(0xF001, b"\x00\x00\x00\x03")]
    p = c.propose_group_context_extensions(newer)
    a.process_message(p)
    b.process_message(p)
    result = a.commit_pending_proposals()
    a.merge_pending_commit()
    deliver(result.commit, [b, c])
    assert (0xF001, b"\x00\x00\x00\x03") in c.extensions
    assert_in_sync([a, b, c])


def test_member_lacking_a_required_extension_cannot_be_added(suite: Ciphersuite) -> None:
    from rcs_mls import RcsMlsError

    config = GroupConfig(required_extensions=[0xF001])
    alice = make_client("alice", suite, extension_types=[0xF001])
    group = alice.create_group(config)
    bob = make_client("bob", suite)  # does not support 0xF001
    with pytest.raises(RcsMlsError) as info:
        group.add_members([bob.generate_key_package()])
    assert not isinstance(info.value, GroupStateError)
    assert group.epoch == 0 and not group.has_pending_commit


def test_join_without_ratchet_tree_extension(suite: Ciphersuite) -> None:
    config = GroupConfig(use_ratchet_tree_extension=False)
    clients, groups = make_group(suite, 4, config)
    assert_in_sync(groups)
    # Without the tree the Welcome cannot be used.
    _alice, eve = clients[0], make_client("eve", suite)
    result = groups[0].add_members([eve.generate_key_package()])
    groups[0].merge_pending_commit()
    assert result.welcome is not None
    from rcs_mls import RcsMlsError

    with pytest.raises(RcsMlsError):
        eve.join_group(result.welcome)
    e = eve.join_group(result.welcome, ratchet_tree=groups[0].export_ratchet_tree())
    assert e.epoch_authenticator == groups[0].epoch_authenticator


def test_discard_pending_commit(suite: Ciphersuite) -> None:
    _, (a, b) = make_group(suite, 2)
    carol = make_client("carol", suite)
    a.add_members([carol.generate_key_package()])
    assert a.has_pending_commit
    with pytest.raises(GroupStateError):
        a.self_update()
    with pytest.raises(GroupStateError):
        a.encrypt(b"not now")
    a.clear_pending_commit()
    assert not a.has_pending_commit and a.epoch == 1
    with pytest.raises(GroupStateError):
        a.merge_pending_commit()
    m = b.process_message(a.encrypt(b"still epoch 1"))
    assert isinstance(m, ApplicationMessage)


def test_external_join(suite: Ciphersuite) -> None:
    _clients, (a, b) = make_group(suite, 2)
    carol = make_client("carol", suite)
    group_info = a.export_group_info()
    c, result = carol.join_by_external_commit(group_info, authenticated_data=b"hello")
    assert result.welcome is None
    assert not c.has_pending_commit  # already applied on the joiner's side
    staged = deliver(result.commit, [a, b])
    assert [m.identity for m in staged[0].added] == [] or staged[0].sender_leaf_index is None
    assert staged[0].authenticated_data == b"hello"
    assert_in_sync([a, b, c])
    assert [m.identity for m in c.members()] == [b"member-0", b"member-1", b"carol"]
    m = a.process_message(c.encrypt(b"I'm in"))
    assert isinstance(m, ApplicationMessage) and m.sender_identity == b"carol"


def test_external_join_with_out_of_band_tree(suite: Ciphersuite) -> None:
    _, (a, b) = make_group(suite, 2)
    carol = make_client("carol", suite)
    gi = a.export_group_info(with_ratchet_tree=False)
    from rcs_mls import RcsMlsError

    with pytest.raises(RcsMlsError):
        carol.join_by_external_commit(gi)
    c, result = carol.join_by_external_commit(gi, ratchet_tree=a.export_ratchet_tree())
    deliver(result.commit, [a, b])
    assert_in_sync([a, b, c])


def test_exporter_equal_across_members(suite: Ciphersuite) -> None:
    _, groups = make_group(suite, 4)
    values = {g.export_secret("label", b"context", 48) for g in groups}
    assert len(values) == 1 and len(next(iter(values))) == 48
    assert groups[0].export_secret("other", b"context", 48) not in values
    assert groups[0].export_secret("label", b"context2", 48) not in values
    with pytest.raises(InvalidArgumentError):
        groups[0].export_secret("label", b"", 0)


def test_members_and_inspection(suite: Ciphersuite) -> None:
    clients, groups = make_group(suite, 3)
    members = groups[2].members()
    assert [m.leaf_index for m in members] == [0, 1, 2]
    assert members[1].signature_key == clients[1].signature_public_key
    assert members[1].credential == clients[1].credential
    member = groups[0].member(2)
    assert member is not None and member.identity == b"member-2"
    assert groups[0].member(7) is None
    assert groups[2].own_leaf_index == 2
    assert len(groups[0].epoch_authenticator) == 32
    assert groups[0].export_ratchet_tree() == groups[1].export_ratchet_tree()
    assert "epoch=1" in repr(groups[0])


def test_load_group_from_the_client_store(suite: Ciphersuite) -> None:
    clients, (_a, b) = make_group(suite, 2)
    again = clients[1].load_group(b.group_id)
    assert again.epoch_authenticator == b.epoch_authenticator
    with pytest.raises(InvalidArgumentError):
        clients[1].load_group(b"no-such-group")


def test_rcs_profile_sends_handshake_as_public_message(suite: Ciphersuite) -> None:
    config = GroupConfig.rcs()
    assert config.public_handshake and config.max_past_epochs == 5
    _, (a, b) = make_group(suite, 2, config)
    result = a.self_update()
    # MLSMessage header: version 0x0001, wire format 0x0001 = public_message.
    assert result.commit[:4] == b"\x00\x01\x00\x01"
    a.merge_pending_commit()
    deliver(result.commit, [b])
    wire = a.encrypt(b"private")
    assert wire[:4] == b"\x00\x01\x00\x02"  # application data stays a PrivateMessage
    assert b"private" not in wire


def test_default_policy_sends_handshake_as_private_message(suite: Ciphersuite) -> None:
    _, (a, _b) = make_group(suite, 2)
    result = a.self_update()
    assert result.commit[:4] == b"\x00\x01\x00\x02"


def test_leave_by_remove_proposal(suite: Ciphersuite) -> None:
    _, (a, b, c) = make_group(suite, 3)
    proposal = c.leave()
    a.process_message(proposal)
    b.process_message(proposal)
    result = a.commit_pending_proposals()
    a.merge_pending_commit()
    deliver(result.commit, [b])
    staged = c.process_message(result.commit)
    assert isinstance(staged, StagedCommit) and staged.self_removed
    c.merge_staged_commit(staged)
    assert not c.is_active
    assert [m.leaf_index for m in a.members()] == [0, 1]


def test_leave_via_self_remove_needs_public_handshake(suite: Ciphersuite) -> None:
    from rcs_mls import RcsMlsError

    _, (_a, b) = make_group(suite, 2)
    with pytest.raises(RcsMlsError):
        b.leave_via_self_remove()
    config = GroupConfig.rcs()
    clients = [
        make_client(f"m{i}", suite, proposal_types=[ProposalType.SELF_REMOVE]) for i in range(3)
    ]
    g0 = clients[0].create_group(config)
    result = g0.add_members([c.generate_key_package() for c in clients[1:]])
    g0.merge_pending_commit()
    assert result.welcome is not None
    g1, g2 = (c.join_group(result.welcome, config=config) for c in clients[1:])
    proposal = g2.leave_via_self_remove()
    pm = g0.process_message(proposal)
    assert isinstance(pm, ProposalMessage) and pm.proposal_type == ProposalType.SELF_REMOVE
    g1.process_message(proposal)
    result = g0.commit_pending_proposals()
    g0.merge_pending_commit()
    deliver(result.commit, [g1])
    assert [m.leaf_index for m in g1.members()] == [0, 1]
    assert_in_sync([g0, g1])
