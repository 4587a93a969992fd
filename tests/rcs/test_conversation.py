"""RCC.16 conversations end to end: the demo flow, 1:1 and group chats, devices, leaving,
receipts, failures (python/rcs_mls/rcs/conversation.py).

The :class:`Net` harness here (devices with their conversations, on an in-process relay)
is shared with the other conversation tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from rcs_mls import Client, Credential, GroupConfig, KeyPackage, SignatureKeyPair
from rcs_mls.__main__ import run_demo
from rcs_mls._native import rcs_create_external_proposal
from rcs_mls.exceptions import CredentialError, GroupStateError, InvalidArgumentError, RcsMlsError
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import (
    CommitApplied,
    Conversation,
    ConversationEnded,
    Event,
    FailureReport,
    FileKeyReceived,
    FileOffer,
    IconChange,
    LeaveRequest,
    MembershipChange,
    Outgoing,
    Receipt,
    Rejected,
    SubjectChange,
    TextMessage,
    Typing,
    client_for_device,
)
from rcs_mls.rcs.credentials import TestCertificateAuthority
from rcs_mls.rcs.imdn import ImdnStatus, MlsClientFailureReason, NotificationType
from rcs_mls.rcs.membership import INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS
from rcs_mls.rcs.payload import encode_varint
from rcs_mls.rcs.relay import Device, Relay, submit_commit

ALICE, BOB, CAROL, DAVE = "+15550100001", "+15550100002", "+15550100003", "+15550100004"


@pytest.fixture(scope="module")
def ca() -> TestCertificateAuthority:
    return TestCertificateAuthority.generate(name="conversation tests")


def rcs_client(ca: TestCertificateAuthority, number: str) -> Client:
    keys = SignatureKeyPair.generate(profile.SUITE)
    chain = ca.issue_device_certificate(number, keys.public_key)
    return client_for_device(Credential.x509(chain), keys)


@dataclass
class Dev:
    """One device on the network: its client, relay inbox and conversations."""

    net: Net
    name: str
    number: str
    client: Client
    device: Device
    convs: dict[str, Conversation] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def kp(self) -> KeyPackage:
        return self.client.generate_key_package()

    def send(self, conv: Conversation, outgoing: Outgoing) -> None:
        self.net.relay.submit(self.device, conv.group_id, outgoing)

    def commit(self, conv: Conversation, make: Callable[[], Outgoing]) -> list[Outgoing]:
        return submit_commit(
            self.net.relay, self.device, conv, make, on_event=lambda _d, e: self.events.append(e)
        )

    def start(self, others: list[Dev], group_id: str | None = None) -> Conversation:
        conv, commit = Conversation.start(
            self.client, [d.kp() for d in others], group_id=group_id, trust_anchors=self.net.anchors
        )
        self.convs[conv.group_id] = conv
        self.commit(conv, lambda: commit)
        for d in others:
            d.pump()
        return conv

    def pump(self) -> list[Event]:
        """Process the inbox: join Welcomes (and read the group's subject and icon), read
        the rest, send back the negative receipts of failures."""
        got: list[Event] = []
        for delivery in self.net.relay.fetch(self.device):
            conv = self.convs.get(delivery.group_id)
            if Conversation.is_welcome(delivery.cpim):
                if conv is not None and conv.active:  # a new era of this conversation
                    got.append(conv.receive(delivery.cpim))
                    continue
                try:
                    conv = Conversation.join(
                        self.client, delivery.cpim, trust_anchors=self.net.anchors
                    )
                except RcsMlsError:
                    continue
                self.convs[delivery.group_id] = conv
                for data in self.net.relay.group_metadata(delivery.group_id):
                    got.append(conv.receive(data))
                continue
            if conv is None:
                continue
            got.append(conv.receive(delivery.cpim))
        self.events.extend(got)
        return got


class Net:
    def __init__(self, ca: TestCertificateAuthority) -> None:
        self.ca = ca
        self.anchors = [ca.certificate_der]
        self.relay = Relay()

    def dev(self, name: str, number: str) -> Dev:
        client = rcs_client(self.ca, number)
        return Dev(self, name, number, client, self.relay.register(number, name))


@pytest.fixture
def net(ca: TestCertificateAuthority) -> Iterator[Net]:
    n = Net(ca)
    yield n
    n.relay.close()


def leaves(conv: Conversation) -> Outgoing:
    """The commit of the pending leave requests (there must be some)."""
    commit = conv.commit_leaves()
    assert commit is not None
    return commit


def in_sync(*convs: Conversation) -> None:
    first = convs[0]
    for c in convs[1:]:
        assert c.epoch == first.epoch
        assert c.epoch_authenticator == first.epoch_authenticator


# --- the demo flow --------------------------------------------------------------------------


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_demo_flow_every_event() -> None:
    lines: list[str] = []
    result = run_demo(lines.append)
    ev = result.events
    assert kinds(ev["bob"]) == [
        # 1:1
        "Typing",
        "TextMessage",
        # group: created, named
        "CommitApplied",
        "FileKeyReceived",
        "SubjectChange",
        # carol added; alice's greeting
        "MembershipChange",
        "TextMessage",
        # carol's receipt for bob's file
        "Receipt",
        # carol's retried commit, carol typing, bob removed
        "CommitApplied",
        "Typing",
        "MembershipChange",
        # the 1:1 ends
        "ConversationEnded",
    ]
    assert kinds(ev["alice"]) == [
        "Receipt",
        "Receipt",
        "TextMessage",
        "FileKeyReceived",
        "FileOffer",
        "Receipt",
        "CommitApplied",
        "CommitApplied",
        "Typing",
    ]
    assert kinds(ev["carol"]) == [
        "SubjectChange",
        "TextMessage",
        "FileKeyReceived",
        "FileOffer",
        "CommitApplied",  # bob's commit, processed while re-basing
        "MembershipChange",
        "TextMessage",
    ]
    bob, alice, carol = ev["bob"], ev["alice"], ev["carol"]
    # What each read, and from whom.
    assert isinstance(bob[0], Typing) and bob[0].active and bob[0].sender == ALICE
    assert isinstance(bob[1], TextMessage) and bob[1].sender == ALICE
    assert bob[1].text == "Hi Bob, this is end-to-end encrypted."
    assert isinstance(bob[4], SubjectChange) and bob[4].subject == "Weekend hike"
    assert isinstance(bob[5], MembershipChange) and bob[5].added == (CAROL,)
    assert isinstance(bob[6], TextMessage) and bob[6].text == "Welcome, Carol."
    assert isinstance(bob[7], Receipt) and bob[7].sender == CAROL and bob[7].signed
    assert isinstance(bob[10], MembershipChange) and bob[10].removed_self
    assert isinstance(bob[11], ConversationEnded) and bob[11].sender == ALICE
    assert isinstance(alice[0], Receipt) and alice[0].status is ImdnStatus.DELIVERED
    assert isinstance(alice[1], Receipt) and alice[1].notification is NotificationType.DISPLAY
    assert alice[0].signed and alice[0].sender == BOB
    assert alice[0].reported_message_id == bob[1].message_id
    assert isinstance(alice[2], TextMessage) and alice[2].text == "Hello Alice!"
    assert isinstance(alice[4], FileOffer) and alice[4].file_name == "trip-photos.zip"
    assert alice[4].descriptor.file.name == "encrypted_file"
    assert alice[4].sender == BOB
    assert isinstance(carol[0], SubjectChange) and carol[0].subject == "Weekend hike"
    assert isinstance(carol[5], MembershipChange) and carol[5].removed == (BOB,)
    assert isinstance(carol[6], TextMessage) and carol[6].text == "Just the two of us now."
    assert result.file_read == {"alice": result.file_sha256, "carol": result.file_sha256}
    # What crossed the relay: content types and MLS wire formats, one rejected commit.
    rejected = [r for r in result.records if not r.accepted]
    assert len(rejected) == 1 and rejected[0].sender == "carol" and rejected[0].kind == "commit"
    for record in result.records:
        expected = {
            "text": ("message/mls", "PrivateMessage"),
            "typing": ("message/mls", "PrivateMessage"),
            "file-info": ("message/mls", "PrivateMessage"),
            "file": ("message/mls", "PrivateMessage"),
            "subject-key": ("message/mls", "PrivateMessage"),
            "commit": ("message/mls-rcs-client", "PublicMessage"),
            "welcome": ("message/mls-rcs-client", "Welcome"),
            "receipt": ("message/imdn+xml", None),
            "subject": ("message/mls-ft", None),
        }[record.kind]
        assert (record.content_type, record.mls_wire_format) == expected
    assert any("no content in clear" in line for line in lines)


# --- 1:1 and group chats ---------------------------------------------------------------------


def test_one_to_one_group_id_is_a_lowercase_uuid4(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob])
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", conv.group_id
    )
    assert conv.is_one_to_one and conv.era == profile.ERA_INITIAL
    assert (profile.EXT_ERA, b"\x00\x00\x00\x01") in conv.group.extensions
    bob_conv = bob.convs[conv.group_id]
    assert bob_conv.is_one_to_one and bob_conv.participants.keys() == {ALICE, BOB}
    in_sync(conv, bob_conv)


def test_one_to_one_needs_exactly_one_peer(net: Net) -> None:
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    with pytest.raises(InvalidArgumentError):
        Conversation.start(alice.client, [bob.kp(), carol.kp()], trust_anchors=net.anchors)
    with pytest.raises(InvalidArgumentError):
        Conversation.start(alice.client, [], trust_anchors=net.anchors)


def test_group_chat_uses_the_rcs_group_id(net: Net) -> None:
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    conv = alice.start([bob, carol], group_id="sip:grp-42@rcs.example")
    assert conv.group.group_id == b"sip:grp-42@rcs.example"
    assert not conv.is_one_to_one
    assert set(conv.participants) == {ALICE, BOB, CAROL}
    in_sync(conv, bob.convs[conv.group_id], carol.convs[conv.group_id])


def test_devices_added_and_removed_in_one_commit(net: Net) -> None:
    alice = net.dev("alice", ALICE)
    phone, tablet = net.dev("bob-phone", BOB), net.dev("bob-tablet", BOB)
    carol = net.dev("carol", CAROL)
    conv = alice.start([carol], group_id="grp")
    alice.commit(conv, lambda: conv.add_participants([phone.kp(), tablet.kp()]))
    phone.pump(), tablet.pump()
    events = carol.pump()
    assert [type(e) for e in events] == [MembershipChange]
    assert isinstance(events[0], MembershipChange) and events[0].added == (BOB,)
    assert len(conv.participants[BOB]) == 2
    in_sync(conv, phone.convs["grp"], tablet.convs["grp"], carol.convs["grp"])
    # One message reaches both of Bob's devices.
    alice.send(conv, conv.send_text("to both devices"))
    for device in (phone, tablet):
        (event,) = device.pump()
        assert isinstance(event, TextMessage) and event.text == "to both devices"
    carol.pump()
    # One commit removes both.
    commits_before = len([r for r in net.relay.records if r.kind == "commit"])
    alice.commit(conv, lambda: conv.remove_participant(BOB))
    assert len([r for r in net.relay.records if r.kind == "commit"]) == commits_before + 1
    for device in (phone, tablet):
        (event,) = device.pump()
        assert isinstance(event, MembershipChange) and event.removed_self
        assert not device.convs["grp"].active
    (event,) = carol.pump()
    assert isinstance(event, MembershipChange) and event.removed == (BOB,)
    assert BOB not in conv.participants
    in_sync(conv, carol.convs["grp"])


def test_remove_errors(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    with pytest.raises(InvalidArgumentError):
        conv.remove_participant(CAROL)
    with pytest.raises(InvalidArgumentError):
        conv.remove_participant(ALICE)


def test_leave_by_rcc16_self_remove(net: Net) -> None:
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    conv = alice.start([bob, carol], group_id="grp")
    carol_conv = carol.convs["grp"]
    proposal = carol_conv.leave()
    assert proposal.content_type == "message/mls-rcs-client" and proposal.kind == "proposal"
    carol.send(carol_conv, proposal)
    for device in (alice, bob):
        (event,) = device.pump()
        assert isinstance(event, LeaveRequest) and event.sender == CAROL
    # Members may still talk before it is committed (it is not in OpenMLS's store).
    bob.send(bob.convs["grp"], bob.convs["grp"].send_text("bye Carol"))
    alice.pump()
    alice.commit(conv, lambda: leaves(conv))
    (event,) = [e for e in carol.pump() if not isinstance(e, TextMessage)]
    assert isinstance(event, MembershipChange) and event.removed_self
    (event,) = bob.pump()
    assert isinstance(event, MembershipChange) and event.removed == (CAROL,)
    assert conv.commit_leaves() is None
    in_sync(conv, bob.convs["grp"])


def test_leave_by_openmls_self_remove(net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile, "SELF_REMOVE_PROPOSAL", 0x000A)
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    conv = alice.start([bob, carol], group_id="grp")
    carol.send(carol.convs["grp"], carol.convs["grp"].leave())
    (event,) = alice.pump()
    assert isinstance(event, LeaveRequest) and event.sender == CAROL
    bob.pump()
    alice.commit(conv, lambda: leaves(conv))
    (event,) = carol.pump()
    assert isinstance(event, MembershipChange) and event.removed_self
    (event,) = bob.pump()
    assert isinstance(event, MembershipChange) and event.removed == (CAROL,)


def test_one_to_one_is_ended_not_left(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob])
    with pytest.raises(GroupStateError):
        conv.leave()
    alice.commit(conv, conv.end)
    (event,) = bob.pump()
    assert isinstance(event, ConversationEnded) and event.sender == ALICE
    bob_conv = bob.convs[conv.group_id]
    assert conv.ended and bob_conv.ended
    with pytest.raises(GroupStateError):
        conv.send_text("in clear from now on")
    with pytest.raises(GroupStateError):
        bob_conv.send_text("nor this")


def test_adding_a_device_from_an_untrusted_ca(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    stranger = rcs_client(TestCertificateAuthority.generate(name="other CA"), CAROL)
    with pytest.raises(CredentialError):
        conv.add_participants([stranger.generate_key_package()])
    assert not conv.has_pending_commit


def test_a_commit_adding_an_untrusted_member_is_refused(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    stranger = rcs_client(TestCertificateAuthority.generate(name="other CA"), CAROL)
    # Alice's side skips chain validation (the test-only opt-out).
    lax = Conversation(
        alice.client, conv.group, trust_anchors=INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS
    )
    alice.send(conv, lax.add_participants([stranger.generate_key_package()]))
    (event,) = bob.pump()
    assert isinstance(event, Rejected) and "credential" in event.reason
    assert event.failure is MlsClientFailureReason.INVALID_CREDENTIAL
    bob.send(bob.convs["grp"], bob.convs["grp"].failure_report(event))  # back to Alice
    (report,) = alice.pump()
    assert isinstance(report, FailureReport)
    assert report.reason is MlsClientFailureReason.INVALID_CREDENTIAL


# --- subject and icon ------------------------------------------------------------------------


def test_subject_and_icon_reach_members_and_joiners(net: Net) -> None:
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    conv = alice.start([bob], group_id="grp")
    icon = bytes(range(256)) * 10
    alice.commit(conv, lambda: conv.set_subject("Plans"))
    alice.commit(conv, lambda: conv.set_icon(icon))
    got = bob.pump()
    assert [type(e) for e in got] == [
        CommitApplied,
        FileKeyReceived,
        SubjectChange,
        CommitApplied,
        FileKeyReceived,
        IconChange,
    ]
    assert bob.convs["grp"].subject == "Plans" and bob.convs["grp"].icon == icon
    commitments = dict(conv.group.extensions)
    assert len(commitments[profile.EXT_SUBJECT_COMMITMENT]) == 33  # opaque<V> of SHA-256
    assert len(commitments[profile.EXT_ICON_COMMITMENT]) == 33
    # Carol joins: the keys ride in the Welcome, the ciphertexts come from the focus.
    alice.commit(conv, lambda: conv.add_participants([carol.kp()]))
    got = carol.pump()
    assert {type(e) for e in got} == {SubjectChange, IconChange}
    assert carol.convs["grp"].subject == "Plans" and carol.convs["grp"].icon == icon
    # The GroupInfo the relay keeps has no key.
    key = [k for k in conv._metadata_keys if k.kind == "subject"][-1]
    assert key.metadata.encryption_info.key_material not in (net.relay.group_info("grp") or b"")


# --- receipts and failures -------------------------------------------------------------------


def test_encrypted_receipt(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob])
    sent = conv.send_text("hi")
    alice.send(conv, sent)
    bob.pump()
    receipt = bob.convs[conv.group_id].send_receipt(sent.message_id, signed=False)
    assert receipt.content_type == "message/mls"
    bob.send(bob.convs[conv.group_id], receipt)
    (event,) = alice.pump()
    assert isinstance(event, Receipt) and not event.signed
    assert event.reported_message_id == sent.message_id and event.sender == BOB


def test_receipt_signed_in_a_past_epoch_verifies(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    sent = conv.send_text("hi")
    alice.send(conv, sent)
    bob.pump()
    bob_conv = bob.convs["grp"]
    receipt = bob_conv.send_receipt(sent.message_id, ImdnStatus.DISPLAYED)
    alice.commit(conv, conv.update_keys)  # Alice moves on before the receipt arrives
    bob.send(bob_conv, receipt)
    (event,) = alice.pump()
    assert isinstance(event, Receipt) and event.signed and event.status is ImdnStatus.DISPLAYED
    assert event.epoch == receipt.epoch == conv.epoch - 1


def test_failed_to_decrypt_gets_a_negative_receipt(net: Net) -> None:
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    conv = alice.start([bob], group_id="grp")
    early = conv.send_text("before Carol")
    alice.commit(conv, lambda: conv.add_participants([carol.kp()]))
    carol.pump()
    # Carol gets a message from before she joined: she holds no key for it.
    event = carol.convs["grp"].receive(early.cpim)
    assert isinstance(event, Rejected) and event.message_id == early.message_id
    # Nothing is signed on its own; the application reports the failure once self-heal
    # did not help (RCC.16 §7).
    assert event.failure is MlsClientFailureReason.FAILED_TO_DECRYPT
    response = carol.convs["grp"].failure_report(event)
    assert response.content_type == "message/imdn+xml"
    carol.send(carol.convs["grp"], response)
    (report,) = alice.pump()
    assert isinstance(report, FailureReport) and report.signed and report.sender == CAROL
    assert report.reason is MlsClientFailureReason.FAILED_TO_DECRYPT
    assert report.reported_message_id == early.message_id


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda cpim: cpim.replace(b"mls.Era-ID: 1\r\n", b""), id="no-era"),
        pytest.param(
            lambda cpim: cpim.replace(b"mls.Era-ID: 1\r\n", b"mls.Era-ID: 2\r\n"), id="era-2"
        ),
        pytest.param(
            lambda cpim: re.sub(rb"mls\.Epoch-Authenticator: [^\r]*\r\n", b"", cpim), id="no-auth"
        ),
        pytest.param(lambda cpim: cpim.replace(b"message/mls\r\n", b"text/plain\r\n"), id="type"),
        pytest.param(lambda cpim: re.sub(rb"imdn\.Message-ID: [^\r]*\r\n", b"", cpim), id="no-id"),
    ],
)
def test_required_headers(net: Net, mutate: Callable[[bytes], bytes]) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob])
    sent = conv.send_text("hi")
    event = bob.convs[conv.group_id].receive(mutate(sent.cpim))
    assert isinstance(event, Rejected) and event.failure is None
    # The message itself is intact and still readable.
    event = bob.convs[conv.group_id].receive(sent.cpim)
    assert isinstance(event, TextMessage) and event.text == "hi"


def test_a_welcome_is_not_received(net: Net) -> None:
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    conv = alice.start([bob], group_id="grp")
    alice.commit(conv, lambda: conv.add_participants([carol.kp()]))
    welcome = next(d for d in net.relay.fetch(carol.device) if d.kind == "welcome")
    event = bob.convs["grp"].receive(welcome.cpim)
    assert isinstance(event, Rejected) and "Welcome" in event.reason


def test_garbage_is_rejected_never_raised(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob])
    for data in (b"", b"\x00" * 10, b"From: <a:b>\r\n\r\n\r\n", conv.send_text("x").cpim[:-3]):
        assert isinstance(bob.convs[conv.group_id].receive(data), Rejected)


def test_sending_while_a_commit_is_pending(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    commit = conv.update_keys()
    with pytest.raises(GroupStateError):
        conv.send_text("not now")
    with pytest.raises(GroupStateError):
        conv.update_keys()
    net.relay.submit(alice.device, "grp", commit)
    conv.commit_accepted()
    alice.send(conv, conv.send_text("now"))
    assert [type(e) for e in bob.pump()] == [CommitApplied, TextMessage]
    with pytest.raises(GroupStateError):
        conv.commit_accepted()


def test_server_remove(net: Net) -> None:
    """The server, an external sender of the group, removes a device with an RCC.16
    ServerRemove (0xF004, bare uint32); a member commits it as a Remove."""
    server_keys = SignatureKeyPair.generate(profile.SUITE)
    server = Credential.basic(b"rcs-server")
    entry = encode_varint(len(server_keys.public_key)) + server_keys.public_key
    entry += server.to_bytes()
    external_senders = (0x0005, encode_varint(len(entry)) + entry)
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    config = Conversation.group_config()
    config = GroupConfig(
        public_handshake=True,
        max_past_epochs=config.max_past_epochs,
        required_extensions=config.required_extensions,
        group_context_extensions=[*config.group_context_extensions, external_senders],
    )
    conv = Conversation(
        alice.client,
        alice.client.create_group(config, group_id=b"grp"),
        trust_anchors=net.anchors,
    )
    alice.convs["grp"] = conv
    alice.commit(conv, lambda: conv.add_participants([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    leaf = conv.participants[CAROL][0]
    proposal = rcs_create_external_proposal(
        server_keys, b"grp", conv.epoch, 0, profile.PROPOSAL_SERVER_REMOVE, leaf.to_bytes(4, "big")
    )
    # The server sends it to every member; Alice commits it by reference.
    cpim = conv._cpim("MxServerRemoveServerRemov", "message/mls-rcs-server", proposal)
    for c in (conv, bob.convs["grp"], carol.convs["grp"]):
        event = c.receive(cpim)
        assert isinstance(event, LeaveRequest) and event.leaf_index == leaf
        assert event.sender is None
    alice.commit(conv, lambda: leaves(conv))
    (event,) = carol.pump()
    assert isinstance(event, MembershipChange) and event.removed_self
    (event,) = bob.pump()
    assert isinstance(event, MembershipChange) and event.removed == (CAROL,)
    # Not from the listed server: refused.
    forged = rcs_create_external_proposal(
        SignatureKeyPair.generate(profile.SUITE),
        b"grp",
        conv.epoch,
        0,
        profile.PROPOSAL_SERVER_REMOVE,
        (1).to_bytes(4, "big"),
    )
    event = conv.receive(conv._cpim("MxForgedServerRemoveForg", "message/mls-rcs-client", forged))
    assert isinstance(event, Rejected)
