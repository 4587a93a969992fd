"""The delivery service misbehaving with real traffic: replaying, reordering, delaying,
relabelling and moving messages between conversations, and handing a Welcome to the
wrong device.

Everything here is real traffic of honest members; the server changes only which device
gets what, when, and (where it can write them) the CPIM headers (docs/threat-model.md,
rows D1-D9; D10-D11 are in test_review.py).
"""

from __future__ import annotations

import base64
import re

import pytest

from rcs_mls.exceptions import RcsMlsError
from rcs_mls.rcs.conversation import (
    CommitApplied,
    Conversation,
    TextMessage,
)
from rcs_mls.rcs.cpim import CpimMessage
from rcs_mls.rcs.relay import Delivery
from tests.adversary.harness import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    Dev,
    Net,
    assert_rejected,
    server_cpim,
    still_in_step,
    three,
)


def _with_authenticator(cpim: bytes, authenticator: bytes) -> bytes:
    """``cpim`` with its mls.Epoch-Authenticator header replaced (the server writes it)."""
    value = base64.b64encode(authenticator)
    out, count = re.subn(rb"(mls\.Epoch-Authenticator: )[^\r]*", lambda m: m.group(1) + value, cpim)
    assert count == 1
    return out


def _held(dev: Dev) -> list[Delivery]:
    """The server takes (holds back) everything waiting for ``dev``."""
    return dev.net.relay.fetch(dev.device)


def _body(cpim: bytes) -> bytes:
    return CpimMessage.from_bytes(cpim).body


def test_replayed_application_message_is_delivered_once(net: Net) -> None:
    """Delivery service: delivers the same text message to Bob twice (and again after an
    epoch change)."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    sent = conv.send_text("pay Carol 10 EUR")
    alice.send(conv, sent)
    (first,) = _held(bob)
    event = bob_conv.receive(first.cpim)
    assert isinstance(event, TextMessage) and event.text == "pay Carol 10 EUR"
    event = assert_rejected(bob_conv.receive(first.cpim), "decrypt")
    carol.pump()
    alice.commit(conv, conv.update_keys)
    bob.pump(), carol.pump()
    event = assert_rejected(bob_conv.receive(first.cpim), "decrypt")
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_replayed_commit_is_not_merged_twice(net: Net) -> None:
    """Delivery service: delivers Alice's commit to Bob twice, hoping for a second merge
    (an epoch Alice and Carol never reach)."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    alice.commit(conv, conv.update_keys)
    (commit,) = _held(bob)
    assert isinstance(bob_conv.receive(commit.cpim), CommitApplied)
    epoch, authenticator = bob_conv.epoch, bob_conv.epoch_authenticator
    assert_rejected(bob_conv.receive(commit.cpim), f"a commit for epoch {epoch - 1}")
    assert (bob_conv.epoch, bob_conv.epoch_authenticator) == (epoch, authenticator)
    # With the current authenticator in the header instead: refused all the same.
    rewritten = _with_authenticator(commit.cpim, authenticator)
    assert_rejected(bob_conv.receive(rewritten), "Epoch-Authenticator")
    assert bob_conv.epoch == epoch
    carol.pump()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_commit_that_lost_its_epoch_delivered_late(net: Net) -> None:
    """Delivery service: Bob's commit lost the epoch to Alice's (the focus rejected it);
    the server delivers it to Carol anyway, after the winner."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    losing = bob_conv.update_keys()  # made in epoch n, held by the server
    alice.commit(conv, conv.update_keys)  # wins epoch n
    verdict = net.relay.submit(bob.device, "grp", losing)
    assert verdict is not None and not verdict.accepted
    bob_conv.commit_rejected()
    bob.pump()
    (winner,) = _held(carol)
    assert isinstance(carol_conv.receive(winner.cpim), CommitApplied)
    assert_rejected(carol_conv.receive(losing.cpim), "a commit for epoch")
    assert carol_conv.epoch == conv.epoch
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_commit_from_an_old_epoch_after_several_epochs(net: Net) -> None:
    """Delivery service: keeps a commit Alice made (and the focus accepted) in epoch n and
    delivers it to Carol again three epochs later."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    alice.commit(conv, conv.update_keys)
    (old,) = _held(carol)
    carol_conv.receive(old.cpim)
    for _ in range(3):
        alice.commit(conv, conv.update_keys)
    bob.pump(), carol.pump()
    epoch = carol_conv.epoch
    assert_rejected(carol_conv.receive(old.cpim), "a commit for epoch")
    assert carol_conv.epoch == epoch
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_commits_reordered(net: Net) -> None:
    """Delivery service: delivers Alice's two consecutive commits to Bob in reverse
    order; the later one is refused, then the right order works."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    alice.commit(conv, conv.update_keys)
    alice.commit(conv, lambda: conv.set_subject("second"))
    first, second, *rest = _held(bob)
    epoch = bob_conv.epoch
    assert_rejected(bob_conv.receive(second.cpim), f"epoch {epoch + 1}")
    assert bob_conv.epoch == epoch
    assert isinstance(bob_conv.receive(first.cpim), CommitApplied)
    assert isinstance(bob_conv.receive(second.cpim), CommitApplied)
    for delivery in rest:  # the subject key and ciphertext
        bob_conv.receive(delivery.cpim)
    assert bob_conv.subject == "second"
    carol.pump()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_message_with_the_authenticator_of_another_epoch(net: Net) -> None:
    """Delivery service: relabels messages with the mls.Epoch-Authenticator of another
    epoch (a text, a commit, a signed receipt), to make them look current or old."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    old_authenticator = conv.epoch_authenticator
    alice.commit(conv, conv.update_keys)
    bob.pump(), carol.pump()
    text = conv.send_text("epoch n+1")
    assert_rejected(
        bob_conv.receive(_with_authenticator(text.cpim, old_authenticator)), "Epoch-Authenticator"
    )
    # A never-seen authenticator, too.
    assert_rejected(
        bob_conv.receive(_with_authenticator(text.cpim, bytes(32))), "Epoch-Authenticator"
    )
    receipt = bob_conv.send_receipt(text.message_id)
    assert_rejected(
        conv.receive(_with_authenticator(receipt.cpim, old_authenticator)), "Epoch-Authenticator"
    )
    commit = carol_conv.update_keys()
    assert net.relay.submit(carol.device, "grp", commit) is not None
    carol_conv.commit_accepted()
    (held,) = [d for d in _held(bob) if d.kind == "commit"]
    assert_rejected(
        bob_conv.receive(_with_authenticator(held.cpim, old_authenticator)), "Epoch-Authenticator"
    )
    # The genuine ones go through.
    assert isinstance(bob_conv.receive(text.cpim), TextMessage)
    assert isinstance(bob_conv.receive(held.cpim), CommitApplied)
    alice.pump()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_message_moved_to_another_conversation(net: Net) -> None:
    """Delivery service: takes group A's traffic (a text, a commit) and delivers it into
    group B of the same people, with B's current headers."""
    alice, bob, carol, conv_a, bob_a, carol_a = three(net)
    conv_b = alice.start([bob, carol], group_id="group-b")
    bob_b, carol_b = bob.convs["group-b"], carol.convs["group-b"]
    assert conv_a.epoch == conv_b.epoch
    text = conv_a.send_text("for group A only")
    # As it is (A's authenticator), and rewritten with B's.
    for cpim in (text.cpim, _with_authenticator(text.cpim, conv_b.epoch_authenticator)):
        assert_rejected(bob_b.receive(cpim), "not a PrivateMessage of this group")
    alice.commit(conv_a, conv_a.update_keys)
    (commit,) = _held(bob)
    moved = server_cpim(bob_b, _body(commit.cpim))
    assert_rejected(bob_b.receive(moved), "invalid commit")
    assert isinstance(bob_a.receive(commit.cpim), CommitApplied)
    late = bob_a.receive(text.cpim)  # late, from a kept past epoch: still delivered
    assert isinstance(late, TextMessage) and late.text == "for group A only"
    carol.pump()
    still_in_step((alice, conv_a), (bob, bob_a), (carol, carol_a))
    still_in_step((alice, conv_b), (bob, bob_b), (carol, carol_b))


def test_welcome_for_someone_else(net: Net) -> None:
    """Delivery service: hands Dave the Welcome that was made for Carol."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    dave = net.dev("dave", DAVE)
    conv = alice.start([bob], group_id="grp")
    alice.commit(conv, lambda: conv.add_participants([carol.kp()]))
    (welcome,) = [d for d in _held(carol) if d.kind == "welcome"]
    dave.kp()  # Dave has key packages of his own
    with pytest.raises(RcsMlsError):
        Conversation.join(dave.client, welcome.cpim, trust_anchors=net.anchors)
    assert dave.client.list_groups() == []
    # Carol still joins from it.
    carol_conv = Conversation.join(carol.client, welcome.cpim, trust_anchors=net.anchors)
    bob.pump()
    still_in_step((alice, conv), (bob, bob.convs["grp"]), (carol, carol_conv))


def test_welcome_replayed_to_a_member_that_joined(net: Net) -> None:
    """Delivery service: replays Carol's Welcome (made for her last-resort key package,
    which stays usable) after she joined and the group moved on, to roll her state back
    to the epoch of the Welcome."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    conv = alice.start([bob], group_id="grp")
    key_package = carol.client.generate_key_package(last_resort=True)
    alice.commit(conv, lambda: conv.add_participants([key_package]))
    (welcome,) = [d for d in _held(carol) if d.kind == "welcome"]
    carol_conv = Conversation.join(carol.client, welcome.cpim, trust_anchors=net.anchors)
    bob.pump()
    alice.commit(conv, conv.update_keys)
    bob.pump()
    (commit,) = _held(carol)
    assert isinstance(carol_conv.receive(commit.cpim), CommitApplied)
    with pytest.raises(RcsMlsError):
        Conversation.join(carol.client, welcome.cpim, trust_anchors=net.anchors)
    assert carol.client.list_groups() == [b"grp"]
    assert carol.client.load_group(b"grp").epoch == conv.epoch
    still_in_step((alice, conv), (bob, bob.convs["grp"]), (carol, carol_conv))
