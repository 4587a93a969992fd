"""RCC.16 interoperability with mls-rs built with its GSMA features (``gsma_rcs_e2ee_feature``,
``self_remove_proposal``, ``prior_epoch_membership_key``, ``last_resort_key_package_ext``,
``x509``), as deployed RCS clients run it.

Our side is :class:`rcs_mls.rcs.conversation.Conversation`; the other side is the mls-rs
peer (``interop/mls-rs-peer``, clients created with ``rcc16=True``: suite 0x0002, X.509
credentials from the test CA, the RCC.16 capabilities, PublicMessage handshakes), with the
RCC.16 framing written in ``tests/interop/rcc16_framing.py`` from RCC16.md, not by this
package's framing code. Every scenario runs in both directions where a direction exists.

The peer needs ``cargo``: without it the tests skip, except under CI (``CI=true``) where
they fail.
"""

from __future__ import annotations

import base64
import functools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from rcs_mls import Client, Credential, KeyPackage, SignatureKeyPair
from rcs_mls.exceptions import ValidationError
from rcs_mls.interop.mlsrs import (
    MlsRsApplication,
    MlsRsClient,
    MlsRsCommit,
    MlsRsGroup,
    MlsRsPeer,
    MlsRsProposal,
)
from rcs_mls.rcs.conversation import (
    CommitApplied,
    Conversation,
    Event,
    LeaveRequest,
    MembershipChange,
    Outgoing,
    Receipt,
    Rejected,
    TextMessage,
    client_for_device,
)
from rcs_mls.rcs.credentials import TestCertificateAuthority, generate_signature_key_pair
from rcs_mls.rcs.imdn import ImdnStatus, NotificationType
from tests.interop import rcc16_framing as f

ERA = 1

# ---------------------------------------------------------------- devices


@dataclass
class Ours:
    """A device running this package."""

    name: str
    number: str
    private_key: bytes
    chain: list[bytes]
    conv: Conversation | None = None
    _client: Client | None = None

    def client(self) -> Client:
        """The device's one client (its key packages live in its store)."""
        if self._client is None:
            keys = SignatureKeyPair.from_private_bytes(f.SUITE, self.private_key)
            self._client = client_for_device(Credential.x509(self.chain), keys)
        return self._client

    @property
    def c(self) -> Conversation:
        assert self.conv is not None, f"{self.name} is in no conversation"
        return self.conv


@dataclass
class Theirs:
    """A device running mls-rs (the peer)."""

    name: str
    number: str
    client: MlsRsClient
    chain: list[bytes]
    group: MlsRsGroup | None = None

    @property
    def g(self) -> MlsRsGroup:
        assert self.group is not None, f"{self.name} is in no group"
        return self.group


Device = Ours | Theirs


@dataclass
class Room:
    """One conversation between our devices and the peer's, delivering every CPIM object to
    every other member and checking the RCC.16 framing on the peer's side."""

    peer: MlsRsPeer
    ca: TestCertificateAuthority
    members: list[Device] = field(default_factory=list)
    #: What our devices received, by device name.
    events: dict[str, list[Event]] = field(default_factory=dict)
    _numbers: int = 0

    # -- devices

    def number(self) -> str:
        self._numbers += 1
        return f"+1555010{self._numbers:04d}"

    def ours(self, name: str, number: str | None = None) -> Ours:
        private, public = generate_signature_key_pair()
        number = number or self.number()
        chain = self.ca.issue_device_certificate(number, public)
        return Ours(name, number, private, chain)

    def theirs(
        self,
        name: str,
        number: str | None = None,
        *,
        extension_types: tuple[int, ...] = f.RCS_EXTENSIONS,
    ) -> Theirs:
        private, public = generate_signature_key_pair()
        number = number or self.number()
        chain = self.ca.issue_device_certificate(number, public)
        client = self.peer.create_client(
            name.encode(),
            f.SUITE,
            encrypt_handshake=False,
            x509_chain=chain,
            signature_secret_key=private,
            extension_types=extension_types,
            proposal_types=f.RCS_PROPOSALS,
            rcc16=True,
        )
        return Theirs(name, number, client, chain)

    def key_package(self, dev: Device) -> bytes:
        if isinstance(dev, Ours):
            return dev.client().generate_key_package().to_bytes()
        return self.peer.key_package(dev.client, last_resort=False)

    @property
    def anchors(self) -> list[bytes]:
        return [self.ca.certificate_der]

    # -- state of each side

    def epoch(self, dev: Device) -> int:
        return dev.c.epoch if isinstance(dev, Ours) else self.peer.epoch(dev.g)

    def authenticator(self, dev: Device) -> bytes:
        if isinstance(dev, Ours):
            return dev.c.epoch_authenticator
        return self.peer.epoch_authenticator(dev.g)

    def leaf(self, dev: Device) -> int:
        if isinstance(dev, Ours):
            return dev.c.group.own_leaf_index
        return self.peer.state(dev.g).own_leaf_index

    def in_sync(self) -> None:
        """Every member is in the same epoch with the same authenticator and roster."""
        first = self.members[0]
        for dev in self.members[1:]:
            assert self.epoch(dev) == self.epoch(first), (dev.name, first.name)
            assert self.authenticator(dev) == self.authenticator(first), (dev.name, first.name)
        leaves = {self.leaf(d): d.chain[0] for d in self.members}
        for dev in self.members:
            if isinstance(dev, Theirs):
                roster = {m.leaf_index: m.identity for m in self.peer.roster(dev.g)}
            else:
                roster = {m.leaf_index: m.credential.certificates[0] for m in dev.c.group.members()}
            assert roster == leaves, dev.name

    # -- creating and joining

    def create(self, creator: Device, others: list[Device], *, one_to_one: bool = False) -> None:
        """``creator`` creates the conversation and adds ``others`` in one commit."""
        self.members = [creator]
        if isinstance(creator, Ours):
            kps = [KeyPackage.from_bytes(self.key_package(d)) for d in others]
            conv, commit = Conversation.start(
                creator.client(),
                kps,
                trust_anchors=self.anchors,
                group_id=None if one_to_one else f"rcc16-interop-{uuid.uuid4()}",
            )
            creator.conv = conv
            self.ours_commit(creator, lambda: commit, added=others)
        else:
            gid = str(uuid.uuid4()) if one_to_one else f"rcc16-interop-{uuid.uuid4()}"
            creator.group = self.peer.create_group(
                creator.client,
                gid.encode(),
                extensions=[(f.EXT_ERA, f.era_bytes(ERA))],
                required_extensions=[f.EXT_ERA],
                required_proposals=f.RCS_PROPOSALS,
            )
            self.theirs_commit(creator, "add", added=others)
        self.in_sync()

    def join(self, dev: Device, welcome: bytes) -> None:
        c = f.parse_cpim(welcome)
        assert c.content_type == f.MLS_RCS_CLIENT and c.era == ERA
        if isinstance(dev, Ours):
            dev.conv = Conversation.join(dev.client(), welcome, trust_anchors=self.anchors)
            assert dev.conv.era == ERA
        else:
            dev.group = self.peer.join(dev.client, c.body)
            extensions = dict(self.peer.group_context_extensions(dev.g))
            assert extensions[f.EXT_ERA] == f.era_bytes(ERA)
        self.members.append(dev)

    # -- delivery

    def deliver(
        self, sender: Device | None, data: bytes, to: list[Device] | None = None
    ) -> dict[str, object]:
        """Hand ``data`` to every member but ``sender`` (None: the server sent it)."""
        out: dict[str, object] = {}
        for dev in to if to is not None else self.members:
            if dev is sender:
                continue
            out[dev.name] = self.receive(dev, data)
        return out

    def receive(self, dev: Device, data: bytes) -> object:
        if isinstance(dev, Ours):
            event = dev.c.receive(data)
            self.events.setdefault(dev.name, []).append(event)
            return event
        c = f.parse_cpim(data)
        assert c.era == ERA
        if c.content_type == f.IMDN:
            return self.theirs_verify_receipt(dev, c)
        assert c.epoch_authenticator == self.peer.epoch_authenticator(dev.g), dev.name
        received = self.peer.process(dev.g, c.body)
        if c.content_type == f.MLS:
            assert isinstance(received, MlsRsApplication)
            assert received.authenticated_data == f.application_aad(c.message_id, ERA)
            payload = f.parse_secret_payload(received.plaintext)
            # RCC16.md §4: the frame's generation is the MLS generation of this message.
            assert payload.generation == received.generation, (payload, received)
            return payload
        assert c.content_type in (f.MLS_RCS_CLIENT, f.MLS_RCS_SERVER), c.content_type
        return received

    # -- texts

    def text(self, sender: Device, text: str) -> dict[str, object]:
        """``sender`` sends a text; every other member reads it (checked)."""
        if isinstance(sender, Ours):
            data = sender.c.send_text(text).cpim
        else:
            data = self.theirs_text(sender, text)
        got = self.deliver(sender, data)
        for dev in self.members:
            if dev is sender:
                continue
            r = got[dev.name]
            if isinstance(dev, Ours):
                assert isinstance(r, TextMessage), (dev.name, r)
                assert r.text == text and r.sender == sender.number
            else:
                assert isinstance(r, f.Payload), (dev.name, r)
                assert r.content_type == f.TEXT_PLAIN and r.body == text.encode()
        return got

    def theirs_text(self, dev: Theirs, text: str, *, generation_shift: int = 0) -> bytes:
        generation = self.peer.next_generation(dev.g)
        mid = f.message_id()
        frame = f.secret_payload(generation + generation_shift, f.TEXT_PLAIN, text.encode())
        wire, used = self.peer.encrypt_with_generation(dev.g, frame, f.application_aad(mid, ERA))
        assert used == generation
        data, _ = f.cpim(
            wire, f.MLS, era=ERA, epoch_authenticator=self.authenticator(dev), msg_id=mid
        )
        return data

    def chat(self) -> None:
        for dev in list(self.members):
            self.text(dev, f"hello from {dev.name} at epoch {self.epoch(dev)}")

    # -- commits

    def ours_commit(
        self,
        dev: Ours,
        make: Callable[[], Outgoing],
        *,
        added: list[Device] = (),  # type: ignore[assignment]
    ) -> dict[str, object]:
        out = make()
        c = f.parse_cpim(out.cpim)
        assert c.content_type == f.MLS_RCS_CLIENT
        # The commit carries the authenticator of the epoch it was made in.
        assert c.epoch_authenticator == dev.c.epoch_authenticator
        follow = dev.c.commit_accepted()
        got = self.deliver(dev, out.cpim)
        self._after_commit(got)
        welcomes = [o for o in follow if o.kind == "welcome"]
        if added:
            assert len(welcomes) == 1
            for new in added:
                self.join(new, welcomes[0].cpim)
        return got

    def theirs_commit(
        self,
        dev: Theirs,
        kind: str,
        *,
        added: list[Device] = (),  # type: ignore[assignment]
        removed: list[Device] = (),  # type: ignore[assignment]
    ) -> dict[str, object]:
        auth = self.peer.epoch_authenticator(dev.g)
        if kind == "add":
            co = self.peer.add(dev.g, [self.key_package(d) for d in added])
        elif kind == "remove":
            co = self.peer.remove(dev.g, [self.leaf(d) for d in removed])
        elif kind == "update":
            co = self.peer.update(dev.g)
        else:
            co = self.peer.commit_pending(dev.g)
        self.peer.apply_pending_commit(dev.g)
        data, _ = f.cpim(
            co.commit, f.MLS_RCS_CLIENT, era=ERA, epoch_authenticator=auth, disposition=None
        )
        got = self.deliver(dev, data)
        self._after_commit(got)
        if added:
            assert co.welcome is not None
            welcome, _ = f.cpim(
                co.welcome,
                f.MLS_RCS_CLIENT,
                era=ERA,
                epoch_authenticator=self.peer.epoch_authenticator(dev.g),
                disposition=None,
            )
            for new in added:
                self.join(new, welcome)
        return got

    def _after_commit(self, got: dict[str, object]) -> None:
        """Drop the members a commit removed."""
        for name, r in got.items():
            gone = (isinstance(r, MembershipChange) and r.removed_self) or (
                isinstance(r, MlsRsCommit) and r.removed_self
            )
            if gone:
                self.members = [d for d in self.members if d.name != name]

    def by_name(self, name: str) -> Device:
        (dev,) = [d for d in self.members if d.name == name]
        return dev

    # -- receipts

    def theirs_verify_receipt(self, dev: Theirs, c: f.Cpim) -> tuple[int | None, bytes]:
        """Verify a signed receipt with mls-rs's validate_custom_proposal; returns the
        signer's leaf and the IMDN."""
        header = c.header("mls.MLS-Derived-Content-Signature")
        assert header is not None, "a signed receipt without its signature header"
        signature = base64.b64decode(header, validate=True)
        verified = self.peer.validate_custom_proposal(dev.g, signature, f.PROPOSAL_RCS_SIGNATURE)
        return verified.sender, verified.authenticated_data

    def theirs_receipt(self, dev: Theirs, reported_id: str, *, display: bool) -> bytes:
        """``dev`` signs a delivery or display receipt for ``reported_id``."""
        receipt_id = f.message_id()
        content = f.signed_receipt_content(receipt_id, ERA, reported_id, display=display)
        signature = self.peer.propose_custom(
            dev.g, f.PROPOSAL_RCS_SIGNATURE, b"", authenticated_data=content
        )
        return f.receipt_cpim(
            f.imdn_xml(reported_id, display=display),
            signature,
            era=ERA,
            epoch_authenticator=self.authenticator(dev),
            receipt_id=receipt_id,
        )


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ca() -> TestCertificateAuthority:
    return TestCertificateAuthority.generate(name="rcc16 interop")


@pytest.fixture
def room(peer: MlsRsPeer, ca: TestCertificateAuthority) -> Room:
    return Room(peer, ca)


def pair(room: Room, creator: str) -> tuple[Ours, Theirs]:
    ours, theirs = room.ours("ours"), room.theirs("theirs")
    if creator == "ours":
        room.create(ours, [theirs], one_to_one=True)
    else:
        room.create(theirs, [ours], one_to_one=True)
    return ours, theirs


SIDES = ["ours", "theirs"]

# ---------------------------------------------------------------- 1:1 and groups, texts


@pytest.mark.parametrize("creator", SIDES)
def test_one_to_one_with_texts_and_generations(room: Room, creator: str) -> None:
    ours, theirs = pair(room, creator)
    gid = ours.c.group_id
    assert uuid.UUID(gid).version == 4 and gid == gid.lower()
    assert room.peer.state(theirs.g).group_id == gid.encode()
    assert ours.c.is_one_to_one
    # Generations count up from 0 on both sides, and each frame carries its own.
    for i in range(3):
        assert room.peer.next_generation(theirs.g) == i
        got = room.text(theirs, f"mls-rs says {i}")
        assert isinstance(got["ours"], TextMessage)
    for i in range(3):
        (payload,) = room.text(ours, f"rcs_mls says {i}").values()
        assert isinstance(payload, f.Payload) and payload.generation == i
    room.in_sync()


@pytest.mark.parametrize("creator", SIDES)
def test_group_create_join_and_texts(room: Room, creator: str) -> None:
    if creator == "ours":
        head: Device = room.ours("alice")
        rest: list[Device] = [room.theirs("bob"), room.theirs("carol"), room.ours("dave")]
    else:
        head = room.theirs("alice")
        rest = [room.ours("bob"), room.ours("carol"), room.theirs("dave")]
    room.create(head, rest)
    for dev in room.members:
        if isinstance(dev, Ours):
            assert not dev.c.is_one_to_one
            assert set(dev.c.participants) == {d.number for d in room.members}
    room.chat()
    room.chat()
    room.in_sync()


def test_wrong_secret_payload_generation_is_rejected(room: Room) -> None:
    """RCC16.md §4: a frame whose generation is not the message's MLS generation."""
    ours, theirs = pair(room, "theirs")
    room.text(theirs, "a good one")
    event = ours.c.receive(room.theirs_text(theirs, "a forged one", generation_shift=1))
    assert isinstance(event, Rejected), event
    room.text(theirs, "and good again")


@pytest.mark.parametrize("creator", SIDES)
def test_late_message_of_the_previous_era_from_the_peer(room: Room, creator: str) -> None:
    """RCC16.md §2: the mls-rs device sends in era 1 just before ours re-creates the
    conversation as era 2; the late text is still read, from the archived era-1 group,
    with its era-1 headers (written by the peer's framing), and only once. The peer
    advertises RCC16.md §2's whole list of extensions, the continuity token and its
    commitment (0xF010 / 0xF011) included: the new era's GroupContext carries the
    commitment, so a device without it cannot be taken into the new era (below)."""
    alice = room.ours("alice")
    bob = room.theirs("bob", extension_types=(*f.RCS_EXTENSIONS, *f.CONTINUITY_EXTENSIONS))
    if creator == "ours":
        room.create(alice, [bob])
    else:
        room.create(bob, [alice])
    room.text(bob, "in era 1")
    late = room.theirs_text(bob, "late, from era 1")
    assert f.parse_cpim(late).era == ERA
    kp = KeyPackage.from_bytes(room.key_package(bob))
    advance = alice.c.advance_era([kp])
    assert f.parse_cpim(advance.cpim).era == ERA + 1
    (welcome,) = alice.c.commit_accepted()
    assert f.parse_cpim(welcome.cpim).era == ERA + 1
    assert (alice.c.era, alice.c.previous_era) == (ERA + 1, ERA)
    event = alice.c.receive(late)
    assert isinstance(event, TextMessage), event
    assert (event.text, event.sender) == ("late, from era 1", bob.number)
    again = alice.c.receive(late)
    assert isinstance(again, Rejected) and "decrypt" in again.reason


def test_era_advance_with_a_peer_without_the_continuity_extensions(room: Room) -> None:
    """A device that does not advertise 0xF011 cannot be added to a group whose
    GroupContext holds it (RFC 9420 §7.2): our era advance fails and the conversation
    stays in its era, still talking to the peer."""
    alice, bob = room.ours("alice"), room.theirs("bob")
    room.create(alice, [bob])
    kp = KeyPackage.from_bytes(room.key_package(bob))
    with pytest.raises(ValidationError, match="capabilities"):
        alice.c.advance_era([kp])
    assert (alice.c.era, alice.c.previous_era) == (ERA, None)
    room.chat()
    room.in_sync()


# ---------------------------------------------------------------- commits and authenticators


@pytest.mark.parametrize("creator", SIDES)
def test_commits_and_epoch_authenticators(room: Room, creator: str) -> None:
    ours, theirs = pair(room, creator)
    for _ in range(3):
        got = room.theirs_commit(theirs, "update")
        assert isinstance(got["ours"], CommitApplied), got
        room.in_sync()
        got = room.ours_commit(ours, ours.c.update_keys)
        commit = got["theirs"]
        assert isinstance(commit, MlsRsCommit) and commit.committer == room.leaf(ours)
        room.in_sync()
        room.chat()
    assert room.epoch(ours) == 7


# ---------------------------------------------------------------- signed receipts


@pytest.mark.parametrize("display", [False, True], ids=["delivery", "display"])
def test_signed_receipt_from_the_peer(room: Room, display: bool) -> None:
    ours, theirs = pair(room, "ours")
    sent = ours.c.send_text("please confirm")
    room.deliver(ours, sent.cpim)
    event = ours.c.receive(room.theirs_receipt(theirs, sent.message_id, display=display))
    assert isinstance(event, Receipt), event
    assert event.signed and event.sender == theirs.number
    assert event.reported_message_id == sent.message_id
    expected = NotificationType.DISPLAY if display else NotificationType.DELIVERY
    assert event.notification is expected


@pytest.mark.parametrize("display", [False, True], ids=["delivery", "display"])
def test_signed_receipt_to_the_peer(room: Room, display: bool) -> None:
    """mls-rs's validate_custom_proposal verifies our rcs_signature, and its authenticated
    data is the derived content as written from RCC16.md."""
    ours, theirs = pair(room, "theirs")
    room.deliver(theirs, room.theirs_text(theirs, "please confirm"))
    text_event = room.events["ours"][-1]
    assert isinstance(text_event, TextMessage) and text_event.message_id is not None
    status = ImdnStatus.DISPLAYED if display else ImdnStatus.DELIVERED
    out = ours.c.send_receipt(text_event.message_id, status)
    c = f.parse_cpim(out.cpim)
    assert c.content_type == f.IMDN and c.epoch_authenticator == room.authenticator(theirs)
    signer, content = room.theirs_verify_receipt(theirs, c)
    assert signer == room.leaf(ours)
    expected = f.signed_receipt_content(c.message_id, ERA, text_event.message_id, display=display)
    assert content == expected, (content.hex(), expected.hex())
    assert text_event.message_id.encode() in c.body


@pytest.mark.parametrize("signer", SIDES)
def test_signed_receipt_from_a_past_epoch(room: Room, signer: str) -> None:
    """A receipt signed in epoch n verifies after a commit moved the group to n + 1
    (mls-rs: prior_epoch_membership_key)."""
    ours, theirs = pair(room, "ours")
    if signer == "theirs":
        sent = ours.c.send_text("confirm later")
        room.deliver(ours, sent.cpim)
        receipt = room.theirs_receipt(theirs, sent.message_id, display=False)
        room.ours_commit(ours, ours.c.update_keys)
        event = ours.c.receive(receipt)
        assert isinstance(event, Receipt) and event.signed, event
        assert event.reported_message_id == sent.message_id
    else:
        room.deliver(theirs, room.theirs_text(theirs, "confirm later"))
        text_event = room.events["ours"][-1]
        assert isinstance(text_event, TextMessage) and text_event.message_id is not None
        out = ours.c.send_receipt(text_event.message_id)
        epoch = ours.c.epoch
        room.theirs_commit(theirs, "update")
        assert room.epoch(theirs) == epoch + 1
        c = f.parse_cpim(out.cpim)
        verified = room.peer.validate_custom_proposal(
            theirs.g,
            base64.b64decode(c.header("mls.MLS-Derived-Content-Signature") or ""),
            f.PROPOSAL_RCS_SIGNATURE,
        )
        assert verified.epoch == epoch and verified.sender == room.leaf(ours)
        assert verified.authenticated_data == f.signed_receipt_content(
            c.message_id, ERA, text_event.message_id, display=False
        )
    room.in_sync()


# ---------------------------------------------------------------- SelfRemove, by reference


def proposals_of(commit: object) -> list[tuple[int, str | None]]:
    assert isinstance(commit, MlsRsCommit), commit
    return [(p.proposal_type, p.source) for p in commit.proposals]


def group_of(room: Room, creator: str) -> tuple[Ours, Theirs, Theirs]:
    """Ours, and two devices of the peer, created by ``creator``."""
    ours, t1, t2 = room.ours("ours"), room.theirs("t1"), room.theirs("t2")
    if creator == "ours":
        room.create(ours, [t1, t2])
    else:
        room.create(t1, [ours, t2])
    return ours, t1, t2


@pytest.mark.parametrize("creator", SIDES)
def test_self_remove_committed_by_the_peer(room: Room, creator: str) -> None:
    _ours, t1, t2 = group_of(room, creator)
    leaving = room.leaf(t2)
    proposal, _ = f.cpim(
        room.peer.self_remove(t2.g),
        f.MLS_RCS_CLIENT,
        era=ERA,
        epoch_authenticator=room.authenticator(t2),
        disposition=None,
    )
    got = room.deliver(t2, proposal)
    assert isinstance(got["ours"], LeaveRequest) and got["ours"].leaf_index == leaving
    assert got["ours"].sender == t2.number
    assert isinstance(got["t1"], MlsRsProposal) and got["t1"].proposal_type == 0xF003
    got = room.theirs_commit(t1, "pending")
    assert (0xF003, "reference") in proposals_of(got["t2"])
    event = got["ours"]
    assert isinstance(event, MembershipChange), event
    assert event.removed == (t2.number,)
    room.in_sync()
    room.chat()


@pytest.mark.parametrize("creator", SIDES)
def test_self_remove_committed_by_us(room: Room, creator: str) -> None:
    ours, _t1, t2 = group_of(room, creator)
    proposal, _ = f.cpim(
        room.peer.self_remove(t2.g),
        f.MLS_RCS_CLIENT,
        era=ERA,
        epoch_authenticator=room.authenticator(t2),
        disposition=None,
    )
    got = room.deliver(t2, proposal)
    assert isinstance(got["ours"], LeaveRequest)

    def commit() -> Outgoing:
        out = ours.c.commit_leaves()
        assert out is not None
        return out

    got = room.ours_commit(ours, commit)
    # The peer's members see the SelfRemove committed by reference (RCC.16 §8).
    assert proposals_of(got["t1"]) == [(0xF003, "reference")]
    commit_t2 = got["t2"]
    assert isinstance(commit_t2, MlsRsCommit) and commit_t2.removed_self
    room.in_sync()
    room.chat()


@pytest.mark.parametrize("creator", SIDES)
def test_our_leave_committed_by_the_peer(room: Room, creator: str) -> None:
    ours, t1, _t2 = group_of(room, creator)
    leave = ours.c.leave()
    c = f.parse_cpim(leave.cpim)
    assert c.content_type == f.MLS_RCS_CLIENT
    got = room.deliver(ours, leave.cpim)
    for name in ("t1", "t2"):
        p = got[name]
        assert isinstance(p, MlsRsProposal), p
        assert p.proposal_type == 0xF003 and p.sender == room.leaf(ours)
    got = room.theirs_commit(t1, "pending")
    assert (0xF003, "reference") in proposals_of(got["t2"])
    event = got["ours"]
    assert isinstance(event, MembershipChange) and event.removed_self, event
    assert ours.c.group.is_active is False
    room.in_sync()
    room.chat()


# ---------------------------------------------------------------- ServerRemove, by reference


def server_group(room: Room, creator: str) -> tuple[Ours, Theirs, Theirs, bytes, bytes]:
    """Ours and two peer devices in a group whose external_senders lists the server."""
    from rcs_mls import GroupConfig

    server_private, server_public = generate_signature_key_pair()
    server_name = b"rcs-server"
    ours, t1, t2 = room.ours("ours"), room.theirs("t1"), room.theirs("t2")
    if creator == "ours":
        entry = f.opaque(server_public) + b"\x00\x01" + f.opaque(server_name)
        external_senders = (0x0005, f.opaque(entry))
        base = Conversation.group_config()
        config = GroupConfig(
            public_handshake=True,
            max_past_epochs=base.max_past_epochs,
            required_extensions=base.required_extensions,
            group_context_extensions=[*base.group_context_extensions, external_senders],
        )
        client = ours.client()
        ours.conv = Conversation(
            client,
            client.create_group(config, group_id=f"rcc16-interop-{uuid.uuid4()}".encode()),
            trust_anchors=room.anchors,
        )
        room.members = [ours]
        conv = ours.c
        kps = [KeyPackage.from_bytes(room.key_package(d)) for d in (t1, t2)]
        room.ours_commit(ours, lambda: conv.add_participants(kps), added=[t1, t2])
    else:
        t1.group = room.peer.create_group(
            t1.client,
            f"rcc16-interop-{uuid.uuid4()}".encode(),
            extensions=[(f.EXT_ERA, f.era_bytes(ERA))],
            required_extensions=[f.EXT_ERA],
            required_proposals=f.RCS_PROPOSALS,
            external_senders=[(server_name, server_public)],
        )
        room.members = [t1]
        room.theirs_commit(t1, "add", added=[ours, t2])
    room.in_sync()
    return ours, t1, t2, server_private, server_name


def server_remove(room: Room, via: Device, private: bytes, name: bytes, leaf: int) -> bytes:
    """The server's ServerRemove of ``leaf`` (built by an mls-rs ExternalClient), as the
    server delivers it: ``message/mls-rcs-server``."""
    group_info = via.c.group_info() if isinstance(via, Ours) else room.peer.group_info(via.g)
    proposal = room.peer.external_proposal(
        group_info,
        suite=f.SUITE,
        signature_secret_key=private,
        identity=name,
        proposal_type=f.PROPOSAL_SERVER_REMOVE,
        data=leaf.to_bytes(4, "big"),
        extension_types=f.RCS_EXTENSIONS,
        proposal_types=f.RCS_PROPOSALS,
    )
    data, _ = f.cpim(
        proposal,
        f.MLS_RCS_SERVER,
        era=ERA,
        epoch_authenticator=room.authenticator(via),
        disposition=None,
    )
    return data


@pytest.mark.parametrize("committer", SIDES)
@pytest.mark.parametrize("creator", SIDES)
def test_server_remove_committed_by_reference(room: Room, creator: str, committer: str) -> None:
    ours, t1, t2, private, name = server_group(room, creator)
    leaf = room.leaf(t2)
    data = server_remove(room, t1, private, name, leaf)
    got = room.deliver(None, data)
    assert isinstance(got["ours"], LeaveRequest), got["ours"]
    assert got["ours"].leaf_index == leaf and got["ours"].sender is None
    for n in ("t1", "t2"):
        p = got[n]
        assert isinstance(p, MlsRsProposal) and p.proposal_type == f.PROPOSAL_SERVER_REMOVE
        assert p.external_sender == 0 and p.data == leaf.to_bytes(4, "big")
    if committer == "theirs":
        got = room.theirs_commit(t1, "pending")
        event = got["ours"]
        assert isinstance(event, MembershipChange) and event.removed == (t2.number,), event
    else:

        def commit() -> Outgoing:
            out = ours.c.commit_leaves()
            assert out is not None
            return out

        got = room.ours_commit(ours, commit)
        seen = proposals_of(got["t1"])
        assert (f.PROPOSAL_SERVER_REMOVE, "reference") in seen, seen
    commit_t2 = got["t2"]
    assert isinstance(commit_t2, MlsRsCommit) and commit_t2.removed_self
    assert {d.name for d in room.members} == {"ours", "t1"}
    room.in_sync()
    room.chat()


# ---------------------------------------------------------------- a participant with two devices


@pytest.mark.parametrize("creator", SIDES)
def test_participant_with_two_devices(room: Room, creator: str) -> None:
    """The creator adds a participant's two devices in one commit, and later removes both
    in one commit; a third participant (the other side) watches."""
    if creator == "ours":
        head: Device = room.ours("head")
        watcher: Device = room.theirs("watcher")
        number = room.number()
        d1: Device = room.theirs("d1", number)
        d2: Device = room.theirs("d2", number)
    else:
        head = room.theirs("head")
        watcher = room.ours("watcher")
        number = room.number()
        d1 = room.ours("d1", number)
        d2 = room.ours("d2", number)
    room.create(head, [watcher])
    if isinstance(head, Ours):
        kps = [KeyPackage.from_bytes(room.key_package(d)) for d in (d1, d2)]
        conv = head.c
        got = room.ours_commit(head, lambda: conv.add_participants(kps), added=[d1, d2])
    else:
        got = room.theirs_commit(head, "add", added=[d1, d2])
    if isinstance(watcher, Ours):
        event = got["watcher"]
        assert isinstance(event, MembershipChange) and event.added == (number,), event
        assert len(watcher.c.participants[number]) == 2
    else:
        commit = got["watcher"]
        assert isinstance(commit, MlsRsCommit)
        assert [p.proposal_type for p in commit.proposals] == [1, 1]
    room.in_sync()
    room.chat()
    if isinstance(head, Ours):
        conv = head.c
        got = room.ours_commit(head, lambda: conv.remove_participant(number))
    else:
        got = room.theirs_commit(head, "remove", removed=[d1, d2])
    if isinstance(watcher, Ours):
        event = got["watcher"]
        assert isinstance(event, MembershipChange) and event.removed == (number,), event
        assert number not in watcher.c.participants
    else:
        commit = got["watcher"]
        assert isinstance(commit, MlsRsCommit)
        assert sorted(p.removed_leaf_index or 0 for p in commit.proposals) == [2, 3]
    for name in ("d1", "d2"):
        r = got[name]
        gone = (isinstance(r, MembershipChange) and r.removed_self) or (
            isinstance(r, MlsRsCommit) and r.removed_self
        )
        assert gone, (name, r)
    assert {d.name for d in room.members} == {"head", "watcher"}
    room.in_sync()
    room.chat()


# ---------------------------------------------------------------- ten members, thirty epochs


def test_ten_member_mixed_group_through_thirty_random_epochs(room: Room) -> None:
    rng = random.Random(0x16)
    devices: list[Device] = []
    for i in range(5):
        devices += [room.ours(f"o{i}"), room.theirs(f"t{i}")]
    room.create(devices[0], devices[1:])
    assert len(room.members) == 10
    out: list[Device] = []
    done: list[str] = []
    for epoch in range(30):
        committer = rng.choice(room.members)
        others = [d for d in room.members if d is not committer]
        op = rng.choice(["update", "update", "remove", "add"])
        if op == "remove" and len(room.members) <= 6:
            op = "update"
        if op == "add" and not out:
            op = "update"
        before = room.epoch(committer)
        if op == "update":
            if isinstance(committer, Ours):
                room.ours_commit(committer, committer.c.update_keys)
            else:
                room.theirs_commit(committer, "update")
        elif op == "remove":
            victim = rng.choice(others)
            if isinstance(committer, Ours):
                conv = committer.c
                number = victim.number
                room.ours_commit(committer, functools.partial(conv.remove_participant, number))
            else:
                room.theirs_commit(committer, "remove", removed=[victim])
            assert victim not in room.members
            out.append(victim)
        else:
            # The removed participant comes back on a new device (same number).
            gone = out.pop(rng.randrange(len(out)))
            fresh = f"{gone.name.split('#')[0]}#{epoch}"
            back: Device = (
                room.ours(fresh, gone.number)
                if isinstance(gone, Ours)
                else room.theirs(fresh, gone.number)
            )
            if isinstance(committer, Ours):
                conv = committer.c
                kp = KeyPackage.from_bytes(room.key_package(back))
                room.ours_commit(
                    committer, functools.partial(conv.add_participants, [kp]), added=[back]
                )
            else:
                room.theirs_commit(committer, "add", added=[back])
        assert room.epoch(committer) == before + 1, (epoch, op)
        done.append(f"{op} by {'ours' if isinstance(committer, Ours) else 'theirs'}")
        room.in_sync()
        sender = rng.choice(room.members)
        room.text(sender, f"epoch {room.epoch(sender)}: {op} by {committer.name}")
    room.chat()
    # Every kind of epoch change happened, made by both sides.
    assert {f"{op} by {side}" for op in ("update", "remove", "add") for side in SIDES} <= set(
        done
    ), sorted(set(done))
