"""Credentials: every leaf that enters a conversation, or replaces one, carries a valid
RCS certificate for its own signature key, with a ``tel:`` identity that a replacement
keeps (docs/threat-model.md, rows C1-C9; C10-C11 are in test_review.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rcs_mls import Credential, KeyPackage
from rcs_mls.exceptions import CredentialError
from rcs_mls.interop.mlsrs import MlsRsClient, MlsRsGroup, MlsRsPeer
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import CommitApplied, Conversation, FailureReport
from rcs_mls.rcs.cpim import CpimMessage
from rcs_mls.rcs.credentials import (
    ID_KP_RCS_MLS_CLIENT,
    TestCertificateAuthority,
    generate_signature_key_pair,
)
from rcs_mls.rcs.imdn import MlsClientFailureReason
from tests.adversary.harness import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    MALLORY,
    Dev,
    Net,
    assert_rejected,
    device_keys,
    forge_cpim,
    inject,
    raw_client,
    still_in_step,
)


def _trio(net: Net) -> tuple[tuple[Dev, Conversation], ...]:
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    conv = alice.start([bob, carol], group_id="grp")
    return (alice, conv), (bob, bob.convs["grp"]), (carol, carol.convs["grp"])


def _peer_device(
    peer: MlsRsPeer, chain: list[bytes], private_key: bytes | None = None
) -> MlsRsClient:
    return peer.create_client(
        b"peer",
        2,
        encrypt_handshake=False,
        x509_chain=chain,
        signature_secret_key=private_key,
        extension_types=profile.CLIENT_EXTENSION_TYPES,
        proposal_types=profile.CLIENT_PROPOSAL_TYPES,
    )


def _forged_key_package(peer: MlsRsPeer, victim: Dev) -> KeyPackage:
    """A key package with the victim's real certificate and the forger's own key."""
    forger = _peer_device(peer, list(victim.client.credential.certificates))
    forged = KeyPackage.from_bytes(peer.key_package(forger))
    assert forged.credential.certificates == victim.client.credential.certificates
    assert forged.signature_key != victim.client.signature_public_key
    return forged


def _certificate_without_tel(ca: TestCertificateAuthority, public_point: bytes) -> list[bytes]:
    """A certificate from the trusted CA, for the key given, with no tel: URI."""
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_point)
    now = dt.datetime.now(dt.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "no number")]))
        .issuer_name(ca.issuer_certificate.subject)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ID_KP_RCS_MLS_CLIENT]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("sip:nobody@example")]),
            critical=False,
        )
        .sign(ca.issuer_private_key, hashes.SHA256())
    )
    return [leaf.public_bytes(serialization.Encoding.DER)]


# --- key packages ------------------------------------------------------------------------


def test_key_package_with_someone_elses_certificate(net: Net, peer: MlsRsPeer) -> None:
    """Anyone who saw Bob's certificate (it is public): a key package carrying it with a
    key of their own, offered to be added (issue #9, attack 2). Built with mls-rs."""
    (alice, conv), (bob, bob_conv), (carol, carol_conv) = _trio(net)
    forged = _forged_key_package(peer, bob)
    with pytest.raises(CredentialError, match="does not certify"):
        conv.add_participants([forged])
    assert not conv.has_pending_commit
    with pytest.raises(CredentialError, match="does not certify"):
        Conversation.start(alice.client, [forged], trust_anchors=net.anchors)
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_member_adds_a_forged_key_package(net: Net, peer: MlsRsPeer) -> None:
    """Malicious member: Carol commits the forged key package with her raw group, around
    her own conversation's checks; the others refuse the commit and tell her why."""
    (alice, conv), (bob, bob_conv), (carol, carol_conv) = _trio(net)
    forged = _forged_key_package(peer, bob)
    commit = carol_conv.group.add_members([forged]).commit
    for c in (conv, bob_conv):
        event = assert_rejected(inject(c, commit), "does not certify")
        assert event.failure is MlsClientFailureReason.INVALID_CREDENTIAL
    # Bob tells Carol why (a signed report, sent by the application).
    report = carol_conv.receive(bob_conv.failure_report(event).cpim)
    assert isinstance(report, FailureReport) and report.sender == BOB
    carol_conv.group.clear_pending_commit()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_key_package_from_another_ca_committed_by_a_member(net: Net) -> None:
    """Malicious member: commits a device whose certificate chains to a CA the others do
    not trust."""
    (alice, conv), (bob, bob_conv), (carol, carol_conv) = _trio(net)
    keys, chain = device_keys(TestCertificateAuthority.generate(name="rogue CA"), DAVE)
    rogue = raw_client(Credential.x509(chain), keys)
    commit = carol_conv.group.add_members([rogue.generate_key_package()]).commit
    for c in (conv, bob_conv):
        assert_rejected(inject(c, commit), "does not validate")
    carol_conv.group.clear_pending_commit()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_certificate_close_to_expiry_is_not_added(net: Net) -> None:
    """Malicious member: adds a device whose certificate has less than the 30 days left
    RCC.16 requires of a certificate in use."""
    (alice, conv), (bob, bob_conv), (carol, carol_conv) = _trio(net)
    keys, _ = device_keys(net.ca, DAVE)
    chain = net.ca.issue_device_certificate(
        DAVE,
        keys.public_key,
        not_valid_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=60),
        lifetime=dt.timedelta(days=70),
    )
    late = raw_client(Credential.x509(chain), keys)
    with pytest.raises(CredentialError, match="left"):
        conv.add_participants([late.generate_key_package()])
    commit = carol_conv.group.add_members([late.generate_key_package()]).commit
    assert_rejected(inject(conv, commit), "left")
    carol_conv.group.clear_pending_commit()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_member_without_a_tel_uri_cannot_freeze_the_conversation(net: Net) -> None:
    """Malicious member (issue #9, attack 4): adds a device whose certificate, from the
    trusted CA, has no tel: URI, hoping the others merge it and then fail every commit."""
    (alice, conv), (bob, bob_conv), (carol, carol_conv) = _trio(net)
    keys, _ = device_keys(net.ca, DAVE)
    nameless = raw_client(Credential.x509(_certificate_without_tel(net.ca, keys.public_key)), keys)
    commit = carol_conv.group.add_members([nameless.generate_key_package()]).commit
    for c in (conv, bob_conv):
        assert_rejected(inject(c, commit), "tel:")
        assert set(c.participants) == {ALICE, BOB, CAROL}  # never raises
    carol_conv.group.clear_pending_commit()
    # Later commits go through as before.
    alice.commit(conv, conv.update_keys)
    assert all(isinstance(e, CommitApplied) for e in bob.pump() + carol.pump())
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- a Welcome ---------------------------------------------------------------------------


def test_welcome_into_a_group_with_a_forged_member(net: Net, peer: MlsRsPeer) -> None:
    """Malicious inviter: a Welcome into a group whose tree holds a leaf with Bob's
    certificate and someone else's key. Nothing is stored, the key package survives."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    forged = _forged_key_package(peer, bob)
    group = alice.client.create_group(Conversation.group_config(), group_id=b"evil")
    carol_kp = carol.kp()
    kept = len(carol.client.list_key_packages())
    result = group.add_members([forged, carol_kp])
    group.merge_pending_commit()
    assert result.welcome is not None
    welcome = forge_cpim(result.welcome, era=1, authenticator=group.epoch_authenticator)
    with pytest.raises(CredentialError, match="does not certify"):
        Conversation.join(carol.client, welcome, trust_anchors=net.anchors)
    assert carol.client.list_groups() == []
    assert len(carol.client.list_key_packages()) == kept
    # The same key package still joins an honest conversation.
    conv, commit = Conversation.start(alice.client, [carol_kp], trust_anchors=net.anchors)
    del commit
    (honest_welcome,) = conv.commit_accepted()
    carol_conv = Conversation.join(carol.client, honest_welcome.cpim, trust_anchors=net.anchors)
    still_in_step((alice, conv), (carol, carol_conv))


# --- replacements: Update proposals and UpdatePaths ----------------------------------------


def _peer_member(
    net: Net, peer: MlsRsPeer
) -> tuple[tuple[Dev, Conversation], tuple[Dev, Conversation], MlsRsClient, MlsRsGroup]:
    """Alice, Bob and an honest mls-rs device of Dave (valid certificate, its key)."""
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    private, public = generate_signature_key_pair()
    dave = _peer_device(peer, net.ca.issue_device_certificate(DAVE, public), private)
    (welcome,) = alice.commit(
        conv, lambda: conv.add_participants([KeyPackage.from_bytes(peer.key_package(dave))])
    )
    group = peer.join(dave, CpimMessage.from_bytes(welcome.cpim).body)
    bob.pump()
    assert set(conv.participants) == {ALICE, BOB, DAVE}
    assert peer.epoch_authenticator(group) == conv.epoch_authenticator
    return (alice, conv), (bob, bob.convs["grp"]), dave, group


def test_update_path_changes_the_identity(net: Net, peer: MlsRsPeer) -> None:
    """Malicious member (issue #9, attack 2, RFC 9420 §5.3.3): Dave, who also holds a
    valid certificate for another number, commits an UpdatePath that turns his leaf
    into that participant."""
    (alice, conv), (bob, bob_conv), dave, group = _peer_member(net, peer)
    other = net.ca.issue_device_certificate(MALLORY, dave.signature_key)
    output = peer.update(group, new_x509_chain=other)
    for c in (conv, bob_conv):
        assert_rejected(inject(c, output.commit), "keeps its identity")
        assert set(c.participants) == {ALICE, BOB, DAVE}
    peer.clear_pending_commit(group)
    still_in_step((alice, conv), (bob, bob_conv))
    assert peer.epoch_authenticator(group) == conv.epoch_authenticator


def test_update_path_changes_the_key_but_not_the_certificate(net: Net, peer: MlsRsPeer) -> None:
    """Malicious member: an UpdatePath that keeps Dave's certificate but moves the leaf to
    a new signature key the certificate does not certify."""
    (alice, conv), (bob, bob_conv), _dave, group = _peer_member(net, peer)
    new_private, _new_public = generate_signature_key_pair()
    output = peer.update(group, new_signature_secret_key=new_private)
    for c in (conv, bob_conv):
        assert_rejected(inject(c, output.commit), "does not certify")
    peer.clear_pending_commit(group)
    still_in_step((alice, conv), (bob, bob_conv))


def test_update_path_with_a_refreshed_certificate(net: Net, peer: MlsRsPeer) -> None:
    """Positive control: RCC.16's certificate refresh (an UpdatePath carrying a new
    certificate for the same number and key) is accepted."""
    (alice, conv), (bob, bob_conv), dave, group = _peer_member(net, peer)
    refreshed = net.ca.issue_device_certificate(DAVE, dave.signature_key)
    output = peer.update(group, new_x509_chain=refreshed)
    for c in (conv, bob_conv):
        event = inject(c, output.commit)
        assert isinstance(event, CommitApplied) and event.sender == DAVE, event
    peer.apply_pending_commit(group)
    assert peer.epoch_authenticator(group) == conv.epoch_authenticator
    still_in_step((alice, conv), (bob, bob_conv))


def test_update_proposal_changing_the_identity(net: Net, peer: MlsRsPeer) -> None:
    """Malicious member: the same identity change as an Update proposal. It is not acted
    on; the commit that follows (mls-rs drops its own Update and commits a path) leaves
    Dave's leaf as it was."""
    (alice, conv), (bob, bob_conv), dave, group = _peer_member(net, peer)
    other = net.ca.issue_device_certificate(MALLORY, dave.signature_key)
    proposal = peer.propose_update(group, new_x509_chain=other)
    for c in (conv, bob_conv):
        assert_rejected(inject(c, proposal), "not acted on")
    output = peer.commit_pending(group)
    for c in (conv, bob_conv):
        event = inject(c, output.commit)
        assert isinstance(event, CommitApplied) and event.sender == DAVE, event
        assert set(c.participants) == {ALICE, BOB, DAVE}
    peer.apply_pending_commit(group)
    assert peer.epoch_authenticator(group) == conv.epoch_authenticator
    still_in_step((alice, conv), (bob, bob_conv))
