"""The mls-rs peer as a forger of X.509 credentials (the tool of the adversary tests).

The peer builds, correctly signed, what this package refuses to build: key packages,
external commits, UpdatePaths and Update proposals whose X.509 credential does not certify
the leaf's signature key, or that change a member's certificate. These tests prove, through
this package's own API (raw OpenMLS groups configured as RCC.16 conversations), that the
tool produces such objects and that they are well-formed: OpenMLS parses and stages them.
Whether a conversation *accepts* them is the business of the adversary tests.

The peer needs ``cargo``: without it the tests skip, except under CI (``CI=true``) where
they fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from rcs_mls import (
    ApplicationMessage,
    Client,
    Credential,
    Group,
    KeyPackage,
    Member,
    ProposalMessage,
    SignatureKeyPair,
    StagedCommit,
)
from rcs_mls.exceptions import CredentialError
from rcs_mls.interop.mlsrs import (
    MlsRsApplication,
    MlsRsClient,
    MlsRsCommit,
    MlsRsGroup,
    MlsRsPeer,
    MlsRsPeerError,
)
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import Conversation, client_for_device
from rcs_mls.rcs.credentials import (
    TestCertificateAuthority,
    generate_signature_key_pair,
    phone_number_of,
)

SUITE = 2  # RCC.16: MLS_128_DHKEMP256_AES128GCM_SHA256_P256
VICTIM = "tel:+15550100001"
ALICE = "tel:+15550100002"
BOB = "tel:+15550100003"
OTHER = "tel:+15550100009"

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ca() -> TestCertificateAuthority:
    return TestCertificateAuthority.generate()


@dataclass(frozen=True)
class Device:
    """An honest RCS device: its key pair (RFC 9420 encodings) and its certificate chain."""

    phone_number: str
    private_key: bytes
    public_key: bytes
    chain: list[bytes]

    def client(self) -> Client:
        keys = SignatureKeyPair.from_private_bytes(SUITE, self.private_key)
        return client_for_device(Credential.x509(self.chain), keys)


def device(ca: TestCertificateAuthority, phone_number: str) -> Device:
    private_key, public_key = generate_signature_key_pair()
    chain = ca.issue_device_certificate(phone_number, public_key)
    return Device(phone_number, private_key, public_key, chain)


def rcs_peer_client(
    peer: MlsRsPeer,
    label: str,
    chain: Sequence[bytes],
    signature_secret_key: bytes | None = None,
) -> MlsRsClient:
    """A peer client that can live in an RCC.16 group: suite 2, PublicMessage handshakes,
    the RCC.16 extension and proposal types in its capabilities, an X.509 credential."""
    return peer.create_client(
        label.encode(),
        SUITE,
        encrypt_handshake=False,
        x509_chain=chain,
        signature_secret_key=signature_secret_key,
        extension_types=profile.CLIENT_EXTENSION_TYPES,
        proposal_types=profile.CLIENT_PROPOSAL_TYPES,
    )


def rcs_group(owner: Device) -> Group:
    """A raw OpenMLS group with the RCC.16 configuration (era extension, required
    capabilities, PublicMessage handshakes), created by an honest device."""
    return owner.client().create_group(Conversation.group_config())


def member_at(group: Group, leaf_index: int) -> Member:
    member = group.member(leaf_index)
    assert member is not None, f"no member at leaf {leaf_index}"
    return member


def add_peer_member(group: Group, peer: MlsRsPeer, client: MlsRsClient) -> tuple[MlsRsGroup, int]:
    """Add the peer client to ``group`` from its key package; returns its group and leaf."""
    result = group.add_members([KeyPackage.from_bytes(peer.key_package(client))])
    group.merge_pending_commit()
    assert result.welcome is not None
    theirs = peer.join(client, result.welcome)
    leaf = peer.state(theirs).own_leaf_index
    assert_in_sync(group, peer, theirs)
    return theirs, leaf


def assert_in_sync(group: Group, peer: MlsRsPeer, theirs: MlsRsGroup) -> None:
    assert peer.epoch(theirs) == group.epoch
    assert peer.epoch_authenticator(theirs) == group.epoch_authenticator


def assert_talks(group: Group, peer: MlsRsPeer, theirs: MlsRsGroup, chain: Sequence[bytes]) -> None:
    """Application messages flow both ways; ours attributes the peer's to ``chain``."""
    received = group.process_message(peer.encrypt(theirs, b"from mls-rs", b"ad"))
    assert isinstance(received, ApplicationMessage)
    assert received.plaintext == b"from mls-rs"
    assert received.authenticated_data == b"ad"
    assert received.sender_credential.certificates == list(chain)
    back = peer.process(theirs, group.encrypt(b"from rcs_mls"))
    assert isinstance(back, MlsRsApplication)
    assert back.plaintext == b"from rcs_mls"


def external_join(
    group: Group, peer: MlsRsPeer, client: MlsRsClient, remove_leaf: int | None = None
) -> tuple[MlsRsGroup, StagedCommit]:
    """The peer client joins ``group`` by external commit; ours stages and merges it."""
    theirs, commit = peer.external_join(client, group.export_group_info(), remove_leaf=remove_leaf)
    staged = group.process_message(commit)
    assert isinstance(staged, StagedCommit), f"ours did not stage the external commit: {staged!r}"
    assert staged.sender_leaf_index is None  # an external sender (NewMemberCommit)
    assert staged.has_path
    group.merge_staged_commit(staged)
    assert_in_sync(group, peer, theirs)
    return theirs, staged


# ---------------------------------------------------------------- key packages


def test_this_package_refuses_the_forgery(ca: TestCertificateAuthority) -> None:
    """The baseline: our own API will not pair a certificate with another key."""
    victim = device(ca, VICTIM)
    with pytest.raises(CredentialError):
        Client(Credential.x509(victim.chain), SignatureKeyPair.generate(SUITE), SUITE)


def test_key_package_with_someone_elses_certificate(
    peer: MlsRsPeer, ca: TestCertificateAuthority
) -> None:
    victim = device(ca, VICTIM)  # the certificate certifies K1 ...
    forger = rcs_peer_client(peer, "forger", victim.chain)  # ... the peer signs with K2
    assert len(forger.signature_key) == 65 and forger.signature_key != victim.public_key

    kp = KeyPackage.from_bytes(peer.key_package(forger))  # OpenMLS checks its signature

    assert kp.ciphersuite == SUITE
    assert kp.credential.credential_type == "x509"
    assert kp.credential.certificates == victim.chain
    assert kp.credential.certificates[0] == victim.chain[0]
    assert phone_number_of(kp.credential.certificates) == "+15550100001"
    assert kp.signature_key == forger.signature_key
    assert kp.signature_key != victim.public_key

    # In a group, the forged member's leaf has the victim's certificate and the peer's key.
    alice = device(ca, ALICE)
    group = rcs_group(alice)
    theirs, leaf = add_peer_member(group, peer, forger)
    member = member_at(group, leaf)
    assert member.credential.certificates == victim.chain
    assert member.signature_key == forger.signature_key != victim.public_key
    (seen,) = [m for m in peer.roster(theirs) if m.leaf_index == leaf]
    assert seen.credential_type == 2
    assert seen.identity == victim.chain[0]
    assert seen.certificates == tuple(victim.chain)
    assert seen.signature_key == forger.signature_key
    assert_talks(group, peer, theirs, victim.chain)


def test_key_package_with_a_chain_of_two(peer: MlsRsPeer) -> None:
    """The whole chain (leaf, intermediate) is carried as given."""
    ca2 = TestCertificateAuthority.generate(intermediate=True)
    victim = device(ca2, VICTIM)
    assert len(victim.chain) == 2
    forger = rcs_peer_client(peer, "forger", victim.chain)
    kp = KeyPackage.from_bytes(peer.key_package(forger))
    assert kp.credential.certificates == victim.chain
    assert kp.signature_key != victim.public_key


# ---------------------------------------------------------------- external commits


def test_external_join_with_a_forged_credential(
    peer: MlsRsPeer, ca: TestCertificateAuthority
) -> None:
    alice, victim = device(ca, ALICE), device(ca, VICTIM)
    group = rcs_group(alice)
    forger = rcs_peer_client(peer, "forger", victim.chain)

    theirs, staged = external_join(group, peer, forger)

    assert staged.removed == []
    assert staged.epoch == 1
    leaf = peer.state(theirs).own_leaf_index
    member = member_at(group, leaf)
    assert member.credential.certificates == victim.chain
    assert member.signature_key == forger.signature_key != victim.public_key
    # the group context extensions (era) survive the peer's external commit
    assert dict(group.extensions)[profile.EXT_ERA] == (1).to_bytes(4, "big")
    assert_talks(group, peer, theirs, victim.chain)


def test_forged_member_next_to_the_victim(peer: MlsRsPeer, ca: TestCertificateAuthority) -> None:
    """Two leaves with the same certificate: the peer's trees (the victim's and the
    forger's) accept it, as ours does (the permissive identity is certificate + key)."""
    alice, victim = device(ca, ALICE), device(ca, VICTIM)
    group = rcs_group(alice)
    honest = rcs_peer_client(peer, "victim", victim.chain, victim.private_key)
    victim_group, victim_leaf = add_peer_member(group, peer, honest)
    forger = rcs_peer_client(peer, "forger", victim.chain)

    theirs, commit = peer.external_join(forger, group.export_group_info())
    assert isinstance(peer.process(victim_group, commit), MlsRsCommit)
    staged = group.process_message(commit)
    assert isinstance(staged, StagedCommit)
    group.merge_staged_commit(staged)
    forger_leaf = peer.state(theirs).own_leaf_index
    same_cert = [m.leaf_index for m in group.members() if m.credential.certificates == victim.chain]
    assert sorted(same_cert) == sorted([victim_leaf, forger_leaf])
    for g in (victim_group, theirs):
        assert_in_sync(group, peer, g)
        assert sorted(m.leaf_index for m in peer.roster(g) if m.identity == victim.chain[0]) == (
            sorted(same_cert)
        )
    # the forger's next commit is processed by the victim's mls-rs client too
    out = peer.update(theirs, apply=True)
    assert isinstance(peer.process(victim_group, out.commit), MlsRsCommit)
    staged = group.process_message(out.commit)
    assert isinstance(staged, StagedCommit)
    group.merge_staged_commit(staged)
    assert_in_sync(group, peer, victim_group)
    assert_in_sync(group, peer, theirs)


def test_external_join_removing_a_leaf(peer: MlsRsPeer, ca: TestCertificateAuthority) -> None:
    """A forged resync: the peer takes Bob's certificate and removes Bob's leaf."""
    alice, bob = device(ca, ALICE), device(ca, BOB)
    group = rcs_group(alice)
    bob_client = bob.client()
    result = group.add_members([bob_client.generate_key_package()])
    group.merge_pending_commit()
    assert result.welcome is not None
    bob_group = bob_client.join_group(result.welcome, config=Conversation.group_config())
    bob_leaf = bob_group.own_leaf_index

    forger = rcs_peer_client(peer, "forger", bob.chain)
    theirs, staged = external_join(group, peer, forger, remove_leaf=bob_leaf)

    assert staged.removed == [bob_leaf]
    leaves = {m.leaf_index: m for m in group.members()}
    own = peer.state(theirs).own_leaf_index
    assert own == bob_leaf  # mls-rs puts the joiner in the leaf the removal frees
    assert sorted(leaves) == [0, own]
    assert leaves[own].credential.certificates == bob.chain
    assert leaves[own].signature_key == forger.signature_key != bob.public_key
    assert [m.leaf_index for m in peer.roster(theirs)] == [0, own]


def test_external_join_removing_a_leaf_is_seen_by_an_mls_rs_member(
    peer: MlsRsPeer, ca: TestCertificateAuthority
) -> None:
    """The peer processes another peer client's forged resync too (permissive provider)."""
    alice, victim = device(ca, ALICE), device(ca, VICTIM)
    group = rcs_group(alice)
    honest = rcs_peer_client(peer, "victim", victim.chain, victim.private_key)
    victim_group, victim_leaf = add_peer_member(group, peer, honest)
    watcher = rcs_peer_client(peer, "watcher", device(ca, BOB).chain)
    watcher_group, _ = add_peer_member(group, peer, watcher)
    peer.drop_group(victim_group)  # the victim is offline

    forger = rcs_peer_client(peer, "forger", victim.chain)
    theirs, commit = peer.external_join(forger, group.export_group_info(), remove_leaf=victim_leaf)
    seen = peer.process(watcher_group, commit)
    assert isinstance(seen, MlsRsCommit)
    assert seen.is_external
    assert [p.removed_leaf_index for p in seen.proposals if p.proposal_type == 3] == [victim_leaf]
    staged = group.process_message(commit)
    assert isinstance(staged, StagedCommit)
    group.merge_staged_commit(staged)
    assert_in_sync(group, peer, theirs)
    assert_in_sync(group, peer, watcher_group)


# ---------------------------------------------------------------- updates


def test_update_path_changes_the_certificate(peer: MlsRsPeer, ca: TestCertificateAuthority) -> None:
    alice, victim, other = device(ca, ALICE), device(ca, VICTIM), device(ca, OTHER)
    group = rcs_group(alice)
    honest = rcs_peer_client(peer, "victim", victim.chain, victim.private_key)
    theirs, leaf = add_peer_member(group, peer, honest)

    out = peer.update(theirs, new_x509_chain=other.chain)
    assert out.has_path
    staged = group.process_message(out.commit)
    assert isinstance(staged, StagedCommit)
    assert staged.sender_leaf_index == leaf
    assert staged.has_path
    group.merge_staged_commit(staged)
    peer.apply_pending_commit(theirs)
    assert_in_sync(group, peer, theirs)

    member = member_at(group, leaf)
    assert member.credential.certificates == other.chain  # a new phone number ...
    assert member.signature_key == victim.public_key  # ... on the same key
    assert member.signature_key != other.public_key
    (seen,) = [m for m in peer.roster(theirs) if m.leaf_index == leaf]
    assert seen.certificates == tuple(other.chain)
    assert_talks(group, peer, theirs, other.chain)


def test_update_path_changes_certificate_and_key(
    peer: MlsRsPeer, ca: TestCertificateAuthority
) -> None:
    alice, victim, other = device(ca, ALICE), device(ca, VICTIM), device(ca, OTHER)
    group = rcs_group(alice)
    forger = rcs_peer_client(peer, "forger", victim.chain)
    theirs, leaf = add_peer_member(group, peer, forger)

    out = peer.update(
        theirs, new_x509_chain=other.chain, new_signature_secret_key=other.private_key, apply=True
    )
    staged = group.process_message(out.commit)
    assert isinstance(staged, StagedCommit)
    group.merge_staged_commit(staged)
    assert_in_sync(group, peer, theirs)
    member = member_at(group, leaf)
    assert member.credential.certificates == other.chain
    assert member.signature_key == other.public_key  # now an honest leaf
    assert_talks(group, peer, theirs, other.chain)  # signed with the new key

    # and back to a forgery, keeping the new key
    out = peer.update(theirs, new_x509_chain=victim.chain, apply=True)
    staged = group.process_message(out.commit)
    assert isinstance(staged, StagedCommit)
    group.merge_staged_commit(staged)
    member = member_at(group, leaf)
    assert member.credential.certificates == victim.chain
    assert member.signature_key == other.public_key
    assert_in_sync(group, peer, theirs)


def test_update_proposal_changes_the_certificate(
    peer: MlsRsPeer, ca: TestCertificateAuthority
) -> None:
    alice, victim, other = device(ca, ALICE), device(ca, VICTIM), device(ca, OTHER)
    group = rcs_group(alice)
    honest = rcs_peer_client(peer, "victim", victim.chain, victim.private_key)
    theirs, leaf = add_peer_member(group, peer, honest)

    proposal = group.process_message(peer.propose_update(theirs, new_x509_chain=other.chain))
    assert isinstance(proposal, ProposalMessage)
    assert proposal.proposal_type == 2  # Update
    assert proposal.sender_leaf_index == leaf

    result = group.commit_pending_proposals()
    group.merge_pending_commit()
    seen = peer.process(theirs, result.commit)
    assert isinstance(seen, MlsRsCommit)
    assert [p.sender for p in seen.proposals if p.proposal_type == 2] == [leaf]
    assert_in_sync(group, peer, theirs)
    member = member_at(group, leaf)
    assert member.credential.certificates == other.chain
    assert member.signature_key == victim.public_key
    assert_talks(group, peer, theirs, other.chain)


# ---------------------------------------------------------------- honest X.509 clients


def test_honest_x509_client(peer: MlsRsPeer, ca: TestCertificateAuthority) -> None:
    """With the certified key, the peer is an honest RCS device: for interop."""
    alice, dev = device(ca, ALICE), device(ca, VICTIM)
    honest = rcs_peer_client(peer, "honest", dev.chain, dev.private_key)
    assert honest.signature_key == dev.public_key
    assert honest.certificates == tuple(dev.chain)
    kp = KeyPackage.from_bytes(peer.key_package(honest))
    assert kp.signature_key == dev.public_key
    assert kp.credential.certificates == dev.chain

    group = rcs_group(alice)
    theirs, leaf = add_peer_member(group, peer, honest)
    assert member_at(group, leaf).signature_key == dev.public_key
    assert_talks(group, peer, theirs, dev.chain)

    # a plain update by the peer (PublicMessage, path) and one by ours
    out = peer.update(theirs, apply=True)
    staged = group.process_message(out.commit)
    assert isinstance(staged, StagedCommit)
    group.merge_staged_commit(staged)
    assert member_at(group, leaf).credential.certificates == dev.chain
    assert_in_sync(group, peer, theirs)
    seen = peer.process(theirs, group.self_update().commit)
    group.merge_pending_commit()
    assert isinstance(seen, MlsRsCommit)
    assert_in_sync(group, peer, theirs)
    assert_talks(group, peer, theirs, dev.chain)


def test_honest_x509_client_joins_by_external_commit(
    peer: MlsRsPeer, ca: TestCertificateAuthority
) -> None:
    alice, dev = device(ca, ALICE), device(ca, VICTIM)
    group = rcs_group(alice)
    honest = rcs_peer_client(peer, "honest", dev.chain, dev.private_key)
    theirs, _ = external_join(group, peer, honest)
    member = member_at(group, peer.state(theirs).own_leaf_index)
    assert member.signature_key == dev.public_key
    assert member.credential.certificates == dev.chain
    assert_talks(group, peer, theirs, dev.chain)


# ---------------------------------------------------------------- bad requests


def test_bad_signature_key_is_refused(peer: MlsRsPeer, ca: TestCertificateAuthority) -> None:
    chain = device(ca, VICTIM).chain
    with pytest.raises(MlsRsPeerError, match="signature_secret_key"):
        rcs_peer_client(peer, "zero", chain, bytes(32))  # 0 is not a P-256 scalar
    with pytest.raises(MlsRsPeerError, match="signature_secret_key"):
        rcs_peer_client(peer, "short", chain, b"\x01" * 5)
    with pytest.raises(ValueError, match="leaf certificate"):
        rcs_peer_client(peer, "empty", [])
    with pytest.raises(TypeError, match="sequence of DER certificates"):
        rcs_peer_client(peer, "bytes", chain[0])  # type: ignore[arg-type]  # one cert, no list


def test_basic_clients_are_unchanged(peer: MlsRsPeer) -> None:
    """Without the new options a client has a basic credential and a strict provider."""
    client = peer.create_client(b"carol", SUITE, encrypt_handshake=False)
    assert client.certificates == ()
    kp = KeyPackage.from_bytes(peer.key_package(client))
    assert kp.credential.credential_type == "basic"
    assert kp.identity == b"carol"
    assert kp.signature_key == client.signature_key
    group = peer.create_group(client)
    (me,) = peer.roster(group)
    assert (me.identity, me.credential_type, me.certificates) == (b"carol", 1, ())
    # the strict (basic) provider refuses an X.509 member
    forger = rcs_peer_client(peer, "forger", [b"not even a certificate"])
    with pytest.raises(MlsRsPeerError):
        peer.add(group, [peer.key_package(forger)])
