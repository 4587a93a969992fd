"""The previous era under attack (docs/threat-model.md, rows A1-A5).

After an era advance the old MLS group is kept in an archive so that late messages of
its members are still read (:mod:`rcs_mls.rcs.eras`). That group is exactly what a
participant the advance left out, a device removed in the old era, and a replaying
delivery service still hold keys or copies for. The rule under test
(:meth:`~rcs_mls.rcs.conversation.Conversation._require_in_both_eras` and
``_receive_previous_era``): only application messages, from a device at its leaf in the
old group's last epoch whose participant is in the new era, once, within the window.
"""

from __future__ import annotations

from rcs_mls.rcs.conversation import Conversation, TextMessage
from rcs_mls.rcs.cpim import CpimHeader, CpimMessage
from tests.adversary.harness import (
    ALICE,
    BOB,
    CAROL,
    Dev,
    Net,
    assert_rejected,
    still_in_step,
)


def _three(net: Net) -> tuple[Dev, Dev, Dev, Conversation, Conversation, Conversation]:
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    conv = alice.start([bob, carol], group_id="grp")
    return alice, bob, carol, conv, bob.convs["grp"], carol.convs["grp"]


def _with_era(cpim: bytes, era: int) -> bytes:
    message = CpimMessage.from_bytes(cpim)
    headers = tuple(
        CpimHeader(h.name, str(era)) if h.name == "mls.Era-ID" else h
        for h in message.message_headers
    )
    return CpimMessage(headers, message.content_headers, message.body).to_bytes()


def test_participant_left_out_of_the_new_era_keeps_sending_in_the_old_one(net: Net) -> None:
    """A1: Alice advances to era 2 without Carol. Carol still holds era 1's keys and
    sends there; Bob would read it as Carol's in a conversation she is no longer in."""
    alice, bob, _carol, conv, bob_conv, carol_conv = _three(net)
    alice.commit(conv, lambda: conv.advance_era([bob.kp()]))
    bob.pump()
    assert CAROL not in bob_conv.participants and bob_conv.previous_era == 1
    sneaked = carol_conv.send_text("I am still here")  # era 1, Carol's last epoch
    for c in (bob_conv, conv):
        assert_rejected(c.receive(sneaked.cpim), "participant not in this era")
    still_in_step((alice, conv), (bob, bob_conv))


def test_device_removed_in_the_old_era_sends_there_after_the_advance(net: Net) -> None:
    """A2: Carol was removed in era 1 and ignored it; after the advance she sends in her
    last era-1 epoch, which Bob's archive keeps as a past epoch."""
    alice, bob, _carol, conv, bob_conv, carol_conv = _three(net)
    alice.commit(conv, lambda: conv.remove_participant(CAROL))
    bob.pump()
    alice.commit(conv, lambda: conv.advance_era([bob.kp()]))
    bob.pump()
    sneaked = carol_conv.send_text("from my last epoch")
    assert_rejected(bob_conv.receive(sneaked.cpim), "not in its last epoch")
    still_in_step((alice, conv), (bob, bob_conv))


def test_late_message_replayed_and_relabelled(net: Net) -> None:
    """A3-A4: the delivery service replays a late era-1 text, relabels it as era 2, and
    relabels an era-2 text as era 1 (to have it read in the archived group)."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    late = carol_conv.send_text("late")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    assert_rejected(bob_conv.receive(_with_era(late.cpim, 2)), "decrypt")
    event = bob_conv.receive(late.cpim)  # the real one is still read once
    assert isinstance(event, TextMessage) and event.text == "late"
    assert_rejected(bob_conv.receive(late.cpim), "decrypt")
    current = carol_conv.send_text("era 2")
    assert_rejected(bob_conv.receive(_with_era(current.cpim, 1)), "decrypt")
    event = bob_conv.receive(current.cpim)  # and the relabelled copy used nothing up
    assert isinstance(event, TextMessage) and event.text == "era 2"
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_old_era_commit_cannot_change_the_archived_group(net: Net) -> None:
    """A5: a commit of era 1 (Carol removing Bob there) delivered after the advance: the
    archive reads no handshake, so the old era's roster, which decides who a late
    message is from, cannot be changed from outside."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    removal = carol_conv.remove_participant(ALICE)
    carol_conv.commit_rejected()
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    assert_rejected(bob_conv.receive(removal.cpim), "only application messages")
    late = conv.send_text("new era")
    event = bob_conv.receive(late.cpim)
    assert isinstance(event, TextMessage) and event.sender == ALICE
