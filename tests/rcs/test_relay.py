"""The in-process relay / conversation focus (python/rcs_mls/rcs/relay.py): fan-out, the
latest GroupInfo, one commit per epoch, re-basing losers, the content server."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcs_mls import _native
from rcs_mls.exceptions import GroupStateError, InvalidArgumentError
from rcs_mls.rcs.conversation import CommitApplied, Conversation, MembershipChange, TextMessage
from rcs_mls.rcs.imdn import MlsServerFailureReason
from rcs_mls.rcs.relay import Relay, WireRecord, submit_commit
from tests.rcs.test_conversation import ALICE, BOB, CAROL, DAVE, Dev, Net, in_sync
from tests.rcs.test_conversation import ca as ca  # the fixtures
from tests.rcs.test_conversation import net as net


@pytest.fixture
def trio(net: Net) -> tuple[Dev, Dev, Dev, Conversation]:
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    conv = alice.start([bob, carol], group_id="grp")
    return alice, bob, carol, conv


def test_one_commit_per_epoch(net: Net, trio: tuple[Dev, Dev, Dev, Conversation]) -> None:
    alice, bob, carol, conv = trio
    bob_conv, carol_conv = bob.convs["grp"], carol.convs["grp"]
    epoch = net.relay.epoch("grp")
    bob_commit, carol_commit = bob_conv.update_keys(), carol_conv.update_keys()
    assert bob_commit.epoch == carol_commit.epoch == epoch
    won = net.relay.submit(bob.device, "grp", bob_commit)
    lost = net.relay.submit(carol.device, "grp", carol_commit)
    assert won is not None and won.accepted and won.epoch == epoch + 1
    assert lost is not None and not lost.accepted and lost.epoch == epoch + 1
    assert lost.reason is MlsServerFailureReason.INCORRECT_EPOCH
    # A stale commit is refused whatever comes later, too.
    again = net.relay.submit(carol.device, "grp", carol_commit)
    assert again is not None and not again.accepted
    bob_conv.commit_accepted()
    # The loser drops its commit and processes the winner's, like everyone else.
    carol_conv.commit_rejected()
    assert [type(e) for e in carol.pump()] == [CommitApplied]
    assert [type(e) for e in alice.pump()] == [CommitApplied]
    in_sync(conv, bob_conv, carol_conv)
    # Then retries, and wins the next epoch.
    submit_commit(net.relay, carol.device, carol_conv, carol_conv.update_keys)
    alice.pump(), bob.pump()
    in_sync(conv, bob_conv, carol_conv)
    assert net.relay.epoch("grp") == conv.epoch == epoch + 2


def test_submit_commit_rebases_and_retries(
    net: Net, trio: tuple[Dev, Dev, Dev, Conversation]
) -> None:
    alice, bob, carol, conv = trio
    carol_conv = carol.convs["grp"]
    # Bob wins an epoch Carol has not seen yet.
    bob.commit(bob.convs["grp"], bob.convs["grp"].update_keys)
    dave = net.dev("dave", DAVE)
    seen: list[object] = []
    submit_commit(
        net.relay,
        carol.device,
        carol_conv,
        lambda: carol_conv.add_participants([dave.kp()]),
        on_event=lambda _delivery, event: seen.append(event),
    )
    assert [type(e) for e in seen] == [CommitApplied]  # Bob's commit, while re-basing
    assert [r.accepted for r in net.relay.records if r.sender == "c" and r.kind == "commit"] == [
        False,
        True,
    ]
    dave.pump()
    alice.pump(), bob.pump()
    assert set(conv.participants) == {ALICE, BOB, CAROL, DAVE}
    in_sync(conv, bob.convs["grp"], carol_conv, dave.convs["grp"])


def test_submit_commit_gives_up(net: Net, trio: tuple[Dev, Dev, Dev, Conversation]) -> None:
    _alice, bob, carol, _conv = trio
    stale = carol.convs["grp"].update_keys()
    carol.convs["grp"].commit_rejected()
    bob.commit(bob.convs["grp"], bob.convs["grp"].update_keys)
    with pytest.raises(GroupStateError):
        submit_commit(net.relay, carol.device, carol.convs["grp"], lambda: stale, attempts=2)


def test_group_info_follows_the_epochs(net: Net, trio: tuple[Dev, Dev, Dev, Conversation]) -> None:
    alice, _bob, _carol, conv = trio
    first = net.relay.group_info("grp")
    assert first is not None and _native.rcs_message_info(first)[0] == 4  # GroupInfo
    alice.commit(conv, conv.update_keys)
    second = net.relay.group_info("grp")
    assert second is not None and second != first
    assert second == conv.group_info() or _native.rcs_message_info(second)[0] == 4
    with pytest.raises(InvalidArgumentError):
        net.relay.publish_group_info("grp", b"\x00\x01\x00\x02")
    with pytest.raises(InvalidArgumentError):
        net.relay.publish_group_info("nope", first)
    assert net.relay.group_info("nope") is None and net.relay.epoch("nope") is None


def test_fan_out_and_membership(net: Net, trio: tuple[Dev, Dev, Dev, Conversation]) -> None:
    alice, bob, carol, conv = trio
    assert net.relay.members("grp") == {ALICE, BOB, CAROL}
    alice.send(conv, conv.send_text("all"))
    assert [type(e) for e in bob.pump()] == [TextMessage]
    assert [type(e) for e in carol.pump()] == [TextMessage]
    assert alice.pump() == []  # never back to the sender
    alice.commit(conv, lambda: conv.remove_participant(CAROL))
    assert net.relay.members("grp") == {ALICE, BOB}
    (event,) = carol.pump()  # the removed member still gets the commit that removes it
    assert isinstance(event, MembershipChange) and event.removed_self
    alice.send(conv, conv.send_text("without carol"))
    assert carol.pump() == []
    with pytest.raises(GroupStateError):
        net.relay.submit(carol.device, "grp", conv.send_text("x"))


def test_records_say_no_content(net: Net, trio: tuple[Dev, Dev, Dev, Conversation]) -> None:
    seen: list[WireRecord] = []
    relay = Relay(observer=seen.append)
    try:
        device = relay.register(ALICE, "alice")
        conv, commit = Conversation.start(
            trio[0].client, [trio[1].kp()], group_id="g2", trust_anchors=net.anchors
        )
        verdict = relay.submit(device, "g2", commit)
        assert verdict is not None and verdict.accepted
        assert seen[-1].kind == "commit" and seen[-1].mls_wire_format == "PublicMessage"
        (welcome,) = conv.commit_accepted()
        relay.submit(device, "g2", welcome)
        relay.submit(device, "g2", conv.send_text("secret words"))
        assert [r.mls_wire_format for r in seen] == ["PublicMessage", "Welcome", "PrivateMessage"]
        assert seen[-1].size > seen[-1].body_size > 0
        assert all("secret" not in repr(r) for r in seen)
    finally:
        relay.close()


def test_content_server(net: Net, tmp_path: Path) -> None:
    src = tmp_path / "blob"
    src.write_bytes(b"ciphertext" * 100)
    url = net.relay.upload(src)
    assert url.startswith("https://")
    assert net.relay.download(url, tmp_path / "copy") == 1000
    assert (tmp_path / "copy").read_bytes() == src.read_bytes()
    for bad in ("https://elsewhere.example/f1", url + "/../../etc/passwd", url + "x"):
        with pytest.raises(InvalidArgumentError):
            net.relay.download(bad, tmp_path / "nope")
    with pytest.raises(InvalidArgumentError):
        net.relay.path_of("ftp://x")
