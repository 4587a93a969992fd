"""The previous era under attack (docs/threat-model.md, rows A1-A11).

After an era advance the old MLS group is kept in an archive so that late messages of
its members are still read (:mod:`rcs_mls.rcs.eras`). That group is exactly what a
participant the advance left out, a device removed in the old era, and a replaying
delivery service still hold keys or copies for. The rule under test
(:meth:`~rcs_mls.rcs.conversation.Conversation._require_in_both_eras` and
``_receive_previous_era``): only application messages, from a device at its leaf in the
old group's last epoch whose participant is in the new era, once, within the window.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from rcs_mls import GroupConfig, _native
from rcs_mls.exceptions import GroupStateError, StorageError
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import Conversation, EraAdvanced, Rejected, TextMessage
from rcs_mls.rcs.cpim import CpimHeader, CpimMessage
from tests.adversary.harness import (
    ALICE,
    BOB,
    CAROL,
    Dev,
    Net,
    assert_rejected,
    forge_cpim,
    still_in_step,
    three,
)


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
    alice, bob, _carol, conv, bob_conv, carol_conv = three(net)
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
    alice, bob, _carol, conv, bob_conv, carol_conv = three(net)
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
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
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
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    removal = carol_conv.remove_participant(ALICE)
    carol_conv.commit_rejected()
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    assert_rejected(bob_conv.receive(removal.cpim), "only application messages")
    late = conv.send_text("new era")
    event = bob_conv.receive(late.cpim)
    assert isinstance(event, TextMessage) and event.sender == ALICE


def test_late_message_while_this_devices_advance_is_pending(net: Net) -> None:
    """A6: Carol's late era-1 text reaches Alice while Alice's own advance waits at the
    focus (her new group holds only her). Carol is among those the advance adds, so the
    text is read; a refusal would have used up its key for good."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    late = carol_conv.send_text("late")
    advance = conv.advance_era([bob.kp(), carol.kp()])
    event = conv.receive(late.cpim)
    assert isinstance(event, TextMessage) and event.sender == CAROL
    with pytest.raises(GroupStateError, match="era advance is pending"):
        conv.forget_previous_era()  # it would strand a rejected advance
    alice.commit(conv, lambda: advance)
    bob.pump(), carol.pump()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def _bob_after_editing_his_saved_era(net: Net, edit: Callable[[Any], Any]) -> Dev:
    """Alice advances to era 2; then someone with write access to Bob's store replaces
    his saved previous era ``p`` by ``edit(p)``."""
    alice, bob, carol, conv, bob_conv, _carol_conv = three(net)
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    state, _journal = _native.rcs_load_conversation(bob_conv.group)
    assert state is not None
    saved = json.loads(state)
    saved["previous_era"] = edit(saved["previous_era"])
    _native.rcs_save_conversation(bob_conv.group, json.dumps(saved).encode())
    return bob


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: {**p, "era": "1"},
        lambda p: {**p, "era": True},
        lambda p: {**p, "era": -1},
        lambda p: {**p, "expires": "inf"},
        lambda p: {**p, "expires": float("inf")},
        lambda p: {**p, "expires": float("nan")},
        lambda p: {**p, "authenticators": []},
        lambda p: {**p, "authenticators": {"x": "AAAA"}},
        lambda p: {**p, "authenticators": {"1": "!!"}},
        lambda p: "x",
        lambda p: [],
    ],
)
def test_corrupted_saved_previous_era(net: Net, mutate: Callable[[Any], Any]) -> None:
    """A7: someone with write access to the store edits the saved previous era (to keep
    an old era open for good, say): loading raises StorageError, never anything else."""
    bob = _bob_after_editing_his_saved_era(net, mutate)
    with pytest.raises(StorageError):
        Conversation.load(bob.client, "grp", trust_anchors=net.anchors)


def test_saved_window_cannot_be_stretched(net: Net) -> None:
    """A7: an ``expires`` far in the future is cut to one window from the load."""
    bob = _bob_after_editing_his_saved_era(net, lambda p: {**p, "expires": 1e300})
    loaded = Conversation.load(bob.client, "grp", trust_anchors=net.anchors)
    previous = loaded._previous
    assert previous is not None
    assert previous.expires <= time.time() + profile.PREVIOUS_ERA_KEPT_SECONDS


def test_an_archive_left_by_a_crash_is_erased_at_load(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A8: Bob's process dies between the join of era 2 (which archives era 1) and the
    save of the state that records it. The archive nobody would read is erased when the
    conversation is loaded, so era 1's secrets do not outlive their window."""
    alice, bob, carol, conv, _bob_conv, _carol_conv = three(net)
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))

    def crash(*_args: object, **_kwargs: object) -> None:
        raise StorageError("the process died here")

    monkeypatch.setattr(_native, "rcs_save_conversation", crash)
    (event,) = bob.pump()
    assert isinstance(event, Rejected)  # the save failed
    monkeypatch.undo()
    assert bob.client.list_archived_groups() == [(b"rcs-era/1", b"grp")]
    loaded = Conversation.load(bob.client, "grp", trust_anchors=net.anchors)
    assert loaded.era == 2 and loaded.previous_era is None
    assert bob.client.list_archived_groups() == []


def test_encrypted_handshake_as_message_mls(net: Net) -> None:
    """A9: Carol joins with a client that sends handshakes as PrivateMessages and sends
    a proposal as ``message/mls``: refused on its clear content type, before OpenMLS
    would decrypt (and store) it."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    conv, commit = Conversation.start(
        alice.client, [bob.kp(), carol.kp()], group_id="grp", trust_anchors=net.anchors
    )
    alice.commit(conv, lambda: commit)
    bob.pump()
    (welcome,) = [d.cpim for d in net.relay.fetch(carol.device) if Conversation.is_welcome(d.cpim)]
    config = GroupConfig(public_handshake=False, max_past_epochs=5)
    raw = carol.client.stage_welcome(CpimMessage.from_bytes(welcome).body, config=config).join()
    proposal = raw.propose_self_update()
    bob_conv = bob.convs["grp"]
    era = bob_conv.era
    assert era is not None
    forged = forge_cpim(
        proposal, "message/mls", era=era, authenticator=bob_conv.epoch_authenticator
    )
    assert_rejected(bob_conv.receive(forged), "application content only")
    sent = bob_conv.send_text("still sending")
    assert isinstance(conv.receive(sent.cpim), TextMessage)


def test_stray_archives_of_other_conversations_are_kept(net: Net) -> None:
    """The clean-up at load touches only this conversation's eras."""
    alice, bob, _carol, _conv, _bob_conv, _carol_conv = three(net)
    other = alice.start([bob], group_id="other")
    alice.commit(other, lambda: other.advance_era([bob.kp()]))
    (event,) = bob.pump()
    assert isinstance(event, EraAdvanced)
    Conversation.load(bob.client, "grp", trust_anchors=net.anchors)
    assert bob.client.list_archived_groups() == [(b"rcs-era/1", b"other")]


def test_delivery_service_lies_about_an_era_advance(net: Net) -> None:
    """A10: the delivery service tells Alice her era advance lost (so she goes back to
    era 1) and hands its commit to Bob anyway, hoping to split the conversation. The
    Welcome leaves Alice only once her commit is accepted, and the commit alone belongs
    to a group Bob is not in: everyone stays in era 1, in step."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    epoch = conv.epoch
    advance = conv.advance_era([bob.kp(), carol.kp()])
    assert_rejected(bob_conv.receive(advance.cpim), "is not this group's era")
    conv.commit_rejected()
    assert (conv.era, conv.previous_era, conv.epoch) == (1, None, epoch)
    assert alice.client.list_archived_groups() == []
    assert bob_conv.era == 1 and bob_conv.previous_era is None
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_era_welcome_replayed_after_the_advance(net: Net) -> None:
    """A11: the delivery service replays the era-2 Welcome to Bob, who is in era 2
    already (with era 1 archived), hoping he re-joins it and archives era 2 over era 1.
    The continuity check wants an era after his own: refused, nothing archived."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    (welcome,) = [d.cpim for d in net.relay.fetch(bob.device) if Conversation.is_welcome(d.cpim)]
    assert isinstance(bob_conv.receive(welcome), EraAdvanced)
    carol.pump()
    assert_rejected(bob_conv.receive(welcome), "does not open")
    assert (bob_conv.era, bob_conv.previous_era) == (2, 1)
    assert bob.client.list_archived_groups() == [(b"rcs-era/1", b"grp")]
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))
