"""Conversation mechanics beyond a single MLS group (RCC.16): era advance with a
continuity token, self-heal by external commit, resends, a removed device added back,
server control objects."""

from __future__ import annotations

import datetime as dt

import pytest

from rcs_mls import Client, Credential, SignatureKeyPair
from rcs_mls.exceptions import InvalidArgumentError, ValidationError
from rcs_mls.rcs import continuity, profile
from rcs_mls.rcs.conversation import (
    Conversation,
    EraAdvanced,
    ExternalJoin,
    FailureReport,
    LeaveRequest,
    MembershipChange,
    MetadataKeysRequested,
    Rejected,
    TextMessage,
)
from rcs_mls.rcs.cpim import CpimHeader, CpimMessage
from rcs_mls.rcs.imdn import Imdn, ImdnStatus, MlsServerFailureReason, NotificationType
from tests.adversary.harness import inject, server_cpim, still_in_step
from tests.rcs.test_conversation import ALICE, BOB, CAROL, Dev, Net
from tests.rcs.test_conversation import ca as ca  # the fixtures
from tests.rcs.test_conversation import net as net


def _trio(net: Net) -> tuple[Dev, Dev, Dev, Conversation, Conversation, Conversation]:
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    conv = alice.start([bob, carol], group_id="grp")
    return alice, bob, carol, conv, bob.convs["grp"], carol.convs["grp"]


# --- era advance ---------------------------------------------------------------------------


def test_era_advance_continues_the_conversation(net: Net) -> None:
    """Alice re-creates the group as era 2; Bob and Carol check the continuity token and
    move with it: same group id, new group, the subject carried over."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    alice.commit(conv, lambda: conv.set_subject("Plans"))
    bob.pump(), carol.pump()
    follow_ups = alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    assert [o.kind for o in follow_ups] == ["welcome"]
    assert conv.era == 2 and conv.epoch == 1
    for dev, c in ((bob, bob_conv), (carol, carol_conv)):
        (event,) = dev.pump()
        assert isinstance(event, EraAdvanced) and event.era == 2 and event.sender == ALICE
        assert c.era == 2 and c.group_id == "grp"
    assert bob_conv.subject == "Plans"  # the key came in the new Welcome
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))
    # The new group carries the commitment; the token stayed in the Welcome.
    assert profile.EXT_CONTINUITY_COMMITMENT in dict(conv.group.extensions)
    assert profile.EXT_CONTINUITY_TOKEN not in dict(conv.group.extensions)


def test_era_advance_by_someone_outside_is_refused(net: Net) -> None:
    """Delivery service: creates a group of era 2 under the conversation's id (it knows
    every key package it serves) and sends Bob the Welcome; without the continuity token
    of the real group, Bob stays where he is."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    mallory = net.dev("mallory", "+15550100666")
    config = Conversation.group_config()
    fake_era = [(profile.EXT_ERA, (2).to_bytes(4, "big"))]
    bogus, _carried = continuity.extensions(b"\x00" * 32)
    group = mallory.client.create_group(
        type(config)(
            public_handshake=True,
            max_past_epochs=config.max_past_epochs,
            required_extensions=config.required_extensions,
            group_context_extensions=[*fake_era, bogus],
        ),
        group_id=b"grp",
    )
    result = group.add_members([bob.kp()])
    group.merge_pending_commit()
    assert result.welcome is not None
    welcome = CpimMessage.from_bytes(server_cpim(bob_conv, result.welcome))
    headers = tuple(
        CpimHeader(h.name, "2") if h.name == "mls.Era-ID" else h for h in welcome.message_headers
    )
    forged = CpimMessage(headers, welcome.content_headers, welcome.body).to_bytes()
    event = bob_conv.receive(forged)
    assert isinstance(event, Rejected) and "continuity" in event.reason
    assert bob_conv.era == 1
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_late_message_of_the_previous_era_is_read(net: Net) -> None:
    """Carol sent in era 1 just before Alice advanced to era 2: the message arrives after
    everyone moved on. Bob (who joined era 2 by Welcome) and Alice (who made it) still
    read it, from the archived era-1 group; once, never twice."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    late = carol_conv.send_text("before the new era")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    assert (conv.era, conv.previous_era) == (2, 1)
    assert (bob_conv.era, bob_conv.previous_era) == (2, 1)
    for c in (bob_conv, conv):
        event = c.receive(late.cpim)
        assert isinstance(event, TextMessage), event
        assert (event.text, event.sender) == ("before the new era", CAROL)
        replayed = c.receive(late.cpim)  # the delivery service replays it
        assert isinstance(replayed, Rejected) and "decrypt" in replayed.reason
    # The new era is unaffected: texts flow there.
    net.relay.submit(carol.device, "grp", carol_conv.send_text("in era 2"))
    assert [e.text for e in bob.pump() if isinstance(e, TextMessage)] == ["in era 2"]
    assert bob.client.list_archived_groups() == [(b"rcs-era/1", b"grp")]
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_an_era_advance_that_loses_the_race_goes_back_to_the_previous_era(net: Net) -> None:
    """Alice and Bob both re-create the conversation; the focus takes Alice's. Bob's
    rejected advance brings his era-1 group back from the archive, so Alice's Welcome
    (checked against era 1's continuity token) moves him to her era 2."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    late = carol_conv.send_text("era 1")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    carol.pump()
    lost = bob_conv.advance_era([alice.kp(), carol.kp()])
    verdict = net.relay.submit(bob.device, "grp", lost)
    assert verdict is not None and not verdict.accepted
    bob_conv.commit_rejected()
    assert (bob_conv.era, bob_conv.previous_era) == (1, None)
    assert bob.client.list_archived_groups() == []
    (event,) = bob.pump()
    assert isinstance(event, EraAdvanced) and event.era == 2 and event.sender == ALICE
    read = bob_conv.receive(late.cpim)
    assert isinstance(read, TextMessage) and read.text == "era 1"
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_a_failed_era_advance_changes_nothing(net: Net) -> None:
    """A key package that lacks a capability the new era requires (here the continuity
    commitment 0xF011): ``advance_era`` raises and the conversation stays in era 1, its
    group, its kept previous era and its pending leave requests as they were."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    assert isinstance(conv.receive(carol_conv.leave().cpim), LeaveRequest)
    keys = SignatureKeyPair.generate(profile.SUITE)
    chain = net.ca.issue_device_certificate(BOB, keys.public_key)
    old_client = Client(
        Credential.x509(chain),
        keys,
        profile.SUITE,
        extension_types=[
            t for t in profile.CLIENT_EXTENSION_TYPES if t != profile.EXT_CONTINUITY_COMMITMENT
        ],
        proposal_types=list(profile.CLIENT_PROPOSAL_TYPES),
    )
    epoch, authenticator = conv.epoch, conv.epoch_authenticator
    with pytest.raises(ValidationError):
        conv.advance_era([old_client.generate_key_package(), carol.kp()])
    assert (conv.era, conv.previous_era, conv.epoch) == (2, 1, epoch)
    assert conv.epoch_authenticator == authenticator
    assert alice.client.list_archived_groups() == [(b"rcs-era/1", b"grp")]
    assert conv.commit_leaves() is not None  # Carol's request is still pending
    conv.commit_rejected()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_previous_era_reads_only_application_messages(net: Net) -> None:
    """A commit (or a receipt, or any other object) of the previous era changes nothing
    any more: refused."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    commit = carol_conv.update_keys()
    carol_conv.commit_rejected()
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    event = bob_conv.receive(commit.cpim)
    assert isinstance(event, Rejected) and "only application messages" in event.reason
    assert bob_conv.era == 2 and bob_conv.previous_era == 1


def test_previous_era_is_not_read_after_its_window(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PREVIOUS_ERA_KEPT_SECONDS the archived group is erased and its late messages
    refused."""
    monkeypatch.setattr(profile, "PREVIOUS_ERA_KEPT_SECONDS", 0.0)
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    late = carol_conv.send_text("too late")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    assert bob_conv.previous_era is None  # the window is over at once
    assert bob.client.list_archived_groups() == [(b"rcs-era/1", b"grp")]
    event = bob_conv.receive(late.cpim)
    assert isinstance(event, Rejected) and "no longer read" in event.reason
    assert bob.client.list_archived_groups() == []  # erased, secrets with it
    again = bob_conv.receive(late.cpim)
    assert isinstance(again, Rejected) and "era" in again.reason


def test_a_second_advance_erases_the_first_previous_era(net: Net) -> None:
    """One previous era is kept: after era 3, era 1's messages are refused and its
    archive is gone; era 2's are read."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    era1 = carol_conv.send_text("era 1")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    era2 = carol_conv.send_text("era 2")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    assert (bob_conv.era, bob_conv.previous_era) == (3, 2)
    assert bob.client.list_archived_groups() == [(b"rcs-era/2", b"grp")]
    assert alice.client.list_archived_groups() == [(b"rcs-era/2", b"grp")]
    old = bob_conv.receive(era1.cpim)
    assert isinstance(old, Rejected) and "era" in old.reason
    late = bob_conv.receive(era2.cpim)
    assert isinstance(late, TextMessage) and late.text == "era 2"


def test_forget_previous_era(net: Net) -> None:
    """A device may close the window early: the archive is erased at once."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    late = carol_conv.send_text("late")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    bob_conv.forget_previous_era()
    assert bob_conv.previous_era is None
    assert bob.client.list_archived_groups() == []
    event = bob_conv.receive(late.cpim)
    assert isinstance(event, Rejected) and "era" in event.reason


# --- self-heal ---------------------------------------------------------------------------


def test_self_heal_by_external_commit(net: Net) -> None:
    """Carol misses a commit (the server dropped it); she rejoins from the GroupInfo the
    focus keeps, replacing her leaf; the others see an ExternalJoin of Carol."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    alice.commit(conv, conv.update_keys)
    bob.pump()
    net.relay.fetch(carol.device)  # dropped
    alice.commit(conv, conv.update_keys)
    bob.pump()
    (event,) = [e for e in carol.pump()]
    assert isinstance(event, Rejected)  # a commit of an epoch she cannot reach
    old_leaf = carol_conv.group.own_leaf_index
    group_info = net.relay.group_info("grp")
    assert group_info is not None
    carol.commit(carol_conv, lambda: carol_conv.rejoin(group_info))
    for dev, c in ((alice, conv), (bob, bob_conv)):
        (event,) = dev.pump()
        assert isinstance(event, ExternalJoin) and event.sender == CAROL
        assert event.replaced_leaves == (old_leaf,) and event.added == ()
        assert c.participants[CAROL] == [carol_conv.group.own_leaf_index]
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_self_heal_from_a_foreign_group_info_is_refused(net: Net) -> None:
    """Delivery service: hands Carol the GroupInfo of another conversation to heal into."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    other = alice.start([bob], group_id="other")
    with pytest.raises(Exception, match="another group"):
        carol_conv.rejoin(other.group_info())
    assert carol_conv.active
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- resend --------------------------------------------------------------------------------


def test_resend_names_the_original(net: Net) -> None:
    _alice, _bob, _carol, conv, bob_conv, _carol_conv = _trio(net)
    first = conv.send_text("hello")
    again = conv.send_text("hello", original_message_id=first.message_id)
    event = bob_conv.receive(again.cpim)
    assert isinstance(event, TextMessage) and event.original_message_id == first.message_id
    assert event.message_id == again.message_id != first.message_id
    plain = bob_conv.receive(first.cpim)
    assert isinstance(plain, TextMessage) and plain.original_message_id is None
    with pytest.raises(InvalidArgumentError):
        conv.send_text("x", original_message_id="bad\nid")


def test_resend_header_must_match_the_aad(net: Net) -> None:
    """Delivery service: rewrites mls.Original-Message-ID (or adds one) to make a message
    look like the resend of another."""
    _alice, _bob, _carol, conv, bob_conv, _carol_conv = _trio(net)
    again = conv.send_text("hello", original_message_id="MxOriginalOriginalOrigin")
    message = CpimMessage.from_bytes(again.cpim)
    rewritten = tuple(
        CpimHeader(h.name, "MxSomethingElseSomething") if h.name == "mls.Original-Message-ID" else h
        for h in message.message_headers
    )
    event = bob_conv.receive(
        CpimMessage(rewritten, message.content_headers, message.body).to_bytes()
    )
    assert isinstance(event, Rejected) and "Original-Message-ID" in event.reason
    plain = CpimMessage.from_bytes(conv.send_text("plain").cpim)
    added = (
        *plain.message_headers,
        CpimHeader("mls.Original-Message-ID", "MxSomethingElseSomething"),
    )
    event = bob_conv.receive(CpimMessage(added, plain.content_headers, plain.body).to_bytes())
    assert isinstance(event, Rejected) and "not a resend" in event.reason


# --- a removed device added back ---------------------------------------------------------


def test_removed_device_added_back_joins_again(net: Net) -> None:
    """Carol's device was removed (its store still holds the dead group) and is added
    back: Conversation.join replaces the dead group."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    alice.commit(conv, lambda: conv.remove_participant(CAROL))
    bob.pump()
    (event,) = carol.pump()
    assert isinstance(event, MembershipChange) and event.removed_self
    del carol.convs["grp"]
    alice.commit(conv, lambda: conv.add_participants([carol.kp()]))
    bob.pump()
    carol.pump()
    carol_conv = carol.convs["grp"]
    assert carol_conv.active
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- server control --------------------------------------------------------------------------


def test_server_failure_report(net: Net) -> None:
    """message/mls-rcs-server with a server failure reason: an unsigned FailureReport."""
    _alice, _bob, _carol, conv, bob_conv, _carol_conv = _trio(net)
    sent = conv.send_text("x")
    imdn = Imdn(
        message_id=sent.message_id,
        datetime=dt.datetime.now(dt.UTC),
        notification=NotificationType.DELIVERY,
        status=ImdnStatus.FAILED,
        server_failure_reason=MlsServerFailureReason.INCORRECT_EPOCH,
    )
    event = inject(conv, imdn.to_bytes(), "message/mls-rcs-server")
    assert isinstance(event, FailureReport) and not event.signed and event.sender is None
    assert event.reason is MlsServerFailureReason.INCORRECT_EPOCH
    # A member's proposal does not travel as server control.
    leave = CpimMessage.from_bytes(bob_conv.leave().cpim).body
    event = inject(conv, leave, "message/mls-rcs-server")
    assert isinstance(event, Rejected) and "external sender" in event.reason
    assert isinstance(bob_conv.receive(conv.send_text("still fine").cpim), TextMessage)


# --- group_metadata_keys_requested (0xF007) ------------------------------------------------


def test_metadata_keys_requested_and_sent(net: Net) -> None:
    """A device without the subject key asks for it (0xF007); a member sends it; the
    subject is then read from the focus's copy."""
    alice, bob, carol, conv, bob_conv, carol_conv = _trio(net)
    alice.commit(conv, lambda: conv.set_subject("Plans"))
    bob.pump()
    # Carol gets the commit but misses the key delivery and the ciphertext.
    for delivery in net.relay.fetch(carol.device):
        if delivery.kind == "commit":
            carol_conv.receive(delivery.cpim)
    assert carol_conv.subject is None and carol_conv.epoch == conv.epoch
    carol.commit(carol_conv, carol_conv.request_metadata_keys)
    (event,) = alice.pump()
    assert isinstance(event, MetadataKeysRequested) and event.sender == CAROL
    bob.pump()
    for outgoing in conv.send_metadata_keys():
        alice.send(conv, outgoing)
    bob.pump(), carol.pump()
    for data in net.relay.group_metadata("grp"):
        carol_conv.receive(data)
    assert carol_conv.subject == "Plans"
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))
