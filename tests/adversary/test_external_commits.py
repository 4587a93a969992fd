"""External commits: the delivery service holds every GroupInfo (RCC.16 keeps it there for
self-heal), so anyone it lends one to can build an external commit. Only a device of a
participant, with a certificate that certifies its own key, gets in (docs/threat-model.md,
rows E1-E5; E6-E8 are in test_review.py)."""

from __future__ import annotations

from rcs_mls import Credential, SignatureKeyPair
from rcs_mls.interop.mlsrs import MlsRsApplication, MlsRsClient, MlsRsPeer
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import Conversation, ExternalJoin
from rcs_mls.rcs.cpim import CpimMessage
from rcs_mls.rcs.credentials import generate_signature_key_pair
from rcs_mls.rcs.membership import MembershipPolicy
from tests.adversary.harness import (
    ALICE,
    BOB,
    MALLORY,
    Dev,
    Net,
    assert_rejected,
    device_keys,
    inject,
    raw_client,
    still_in_step,
)


def _pair(net: Net) -> tuple[Dev, Dev, Conversation, Conversation]:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    return alice, bob, conv, bob.convs["grp"]


def _group_info(net: Net) -> bytes:
    group_info = net.relay.group_info("grp")
    assert group_info is not None
    return group_info


def _peer_device(
    peer: MlsRsPeer, chain: list[bytes], private_key: bytes | None = None
) -> MlsRsClient:
    """An RCS device on mls-rs: suite 0x0002, PublicMessage handshakes, the RCC.16
    capabilities; the certificate ``chain`` whatever its key, unless ``private_key``."""
    return peer.create_client(
        b"peer",
        2,
        encrypt_handshake=False,
        x509_chain=chain,
        signature_secret_key=private_key,
        extension_types=profile.CLIENT_EXTENSION_TYPES,
        proposal_types=profile.CLIENT_PROPOSAL_TYPES,
    )


def test_ghost_participant_with_a_basic_credential(net: Net) -> None:
    """Delivery service (issue #9, attack 1): joins by external commit from the GroupInfo
    it holds, with a basic credential naming Bob's number: a ghost device of Bob."""
    alice, bob, conv, bob_conv = _pair(net)
    ghost = raw_client(Credential.basic(BOB.encode()), SignatureKeyPair.generate(profile.SUITE))
    _group, result = ghost.join_by_external_commit(
        _group_info(net), config=Conversation.group_config()
    )
    for c in (conv, bob_conv):
        assert_rejected(inject(c, result.commit), "X.509")
        assert c.participants == {ALICE: [0], BOB: [1]}
    still_in_step((alice, conv), (bob, bob_conv))


def test_ghost_with_the_victims_certificate_and_its_own_key(net: Net, peer: MlsRsPeer) -> None:
    """Delivery service: external commit by a device presenting Bob's real (public)
    certificate with a key of its own: built with mls-rs, as this package refuses to."""
    alice, bob, conv, bob_conv = _pair(net)
    ghost = _peer_device(peer, list(bob.client.credential.certificates))
    _group, commit = peer.external_join(ghost, _group_info(net))
    for c in (conv, bob_conv):
        assert_rejected(inject(c, commit), "does not certify")
    still_in_step((alice, conv), (bob, bob_conv))


def test_ghost_replacing_the_victims_leaf(net: Net, peer: MlsRsPeer) -> None:
    """Delivery service: the same forged device also removes Bob's leaf (a "resync" in
    Bob's name), to take his place in the conversation."""
    alice, _bob, conv, _bob_conv = _pair(net)
    ghost = _peer_device(peer, list(_bob.client.credential.certificates))
    _group, commit = peer.external_join(ghost, _group_info(net), remove_leaf=1)
    assert_rejected(inject(conv, commit), "does not certify")
    assert conv.participants == {ALICE: [0], BOB: [1]}
    still_in_step((alice, conv), (_bob, _bob_conv))


def test_stranger_with_a_valid_certificate(net: Net) -> None:
    """Delivery service or anyone it lends the GroupInfo to: a valid RCS device of a
    number that is not a participant joins by external commit."""
    alice, bob, conv, bob_conv = _pair(net)
    keys, chain = device_keys(net.ca, MALLORY)
    mallory = raw_client(Credential.x509(chain), keys)
    _group, result = mallory.join_by_external_commit(
        _group_info(net), config=Conversation.group_config()
    )
    for c in (conv, bob_conv):
        assert_rejected(inject(c, result.commit), "not a participant")
    still_in_step((alice, conv), (bob, bob_conv))
    # Where the conversation allows external joins, the same commit is a membership
    # event naming the joiner (the policy's switch works both ways).
    open_policy = MembershipPolicy(net.anchors, allow_external_joins=True)
    open_conv = Conversation(alice.client, conv.group, trust_anchors=open_policy)
    _group, result = mallory.join_by_external_commit(
        _group_info(net), config=Conversation.group_config()
    )
    event = inject(open_conv, result.commit)
    assert isinstance(event, ExternalJoin), event
    assert event.sender == MALLORY and event.added == (MALLORY,) and event.replaced_leaves == ()


def test_stranger_removing_a_participants_leaf(net: Net, peer: MlsRsPeer) -> None:
    """Delivery service with a valid device of its own (Mallory's certificate, her key):
    an external commit that removes Bob's leaf, as if it were a resync."""
    alice, bob, conv, bob_conv = _pair(net)
    private, public = generate_signature_key_pair()
    mallory = _peer_device(peer, net.ca.issue_device_certificate(MALLORY, public), private)
    _group, commit = peer.external_join(mallory, _group_info(net), remove_leaf=1)
    policy = MembershipPolicy(net.anchors, allow_external_joins=True)
    for c in (conv, Conversation(alice.client, conv.group, trust_anchors=policy)):
        assert_rejected(inject(c, commit), "not one of its own devices")
    still_in_step((alice, conv), (bob, bob_conv))


def test_resync_by_a_participants_own_device(net: Net, peer: MlsRsPeer) -> None:
    """Positive control of the rows above: Bob's device lost its state and rejoins by
    external commit replacing its old leaf (self-heal); the others report it."""
    _alice, _bob, conv, _bob_conv = _pair(net)
    private, public = generate_signature_key_pair()
    rejoined = _peer_device(peer, net.ca.issue_device_certificate(BOB, public), private)
    group, commit = peer.external_join(rejoined, _group_info(net), remove_leaf=1)
    event = inject(conv, commit)
    assert isinstance(event, ExternalJoin), event
    assert event.sender == BOB and event.added == () and event.replaced_leaves == (1,)
    assert conv.participants == {ALICE: [0], BOB: [1]}
    assert peer.epoch_authenticator(group) == conv.epoch_authenticator
    sent = conv.send_text("welcome back")
    message = peer.process(group, CpimMessage.from_bytes(sent.cpim).body)
    assert isinstance(message, MlsRsApplication) and message.sender == 0


def test_new_device_of_a_participant_by_external_commit(net: Net) -> None:
    """Positive control: a second device of Bob (valid certificate, its own key) joins by
    external commit; everyone stays in step with it."""
    alice, bob, conv, bob_conv = _pair(net)
    keys, chain = device_keys(net.ca, BOB)
    tablet = net.dev("bob-tablet", BOB)
    tablet.client = raw_client(Credential.x509(chain), keys)
    group, result = tablet.client.join_by_external_commit(
        _group_info(net), config=Conversation.group_config()
    )
    tablet_conv = Conversation(tablet.client, group, trust_anchors=net.anchors)
    for c in (conv, bob_conv):
        event = inject(c, result.commit)
        assert isinstance(event, ExternalJoin) and event.sender == BOB and event.added == ()
    assert conv.participants == {ALICE: [0], BOB: [1, 2]}
    still_in_step((alice, conv), (bob, bob_conv), (tablet, tablet_conv))
