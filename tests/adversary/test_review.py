"""Variants found while reviewing docs/threat-model.md as the attacker (rows E6-E8,
C10-C11, L14-L16, R10-R13, D10-D11).

Each test tries an attack the other modules of this suite do not: the attacker is named
in its docstring. An attack that succeeds today is kept, marked ``xfail(strict=True)``
with the reason, and listed in the threat model's "Residual risks".
"""

from __future__ import annotations

import contextlib
import os
import random
import struct
from collections.abc import Callable
from dataclasses import fields

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rcs_mls import _native
from rcs_mls.exceptions import RcsMlsError
from rcs_mls.interop.mlsrs import MlsRsClient, MlsRsPeer
from rcs_mls.rcs import filecrypt, profile
from rcs_mls.rcs.conversation import (
    Conversation,
    Event,
    ExternalJoin,
    FileKeyReceived,
    LeaveRequest,
    MembershipChange,
    Outgoing,
    Rejected,
    TextMessage,
)
from rcs_mls.rcs.cpim import CONTENT_TYPE_MLS, CONTENT_TYPE_MLS_FT, CpimMessage
from rcs_mls.rcs.credentials import generate_signature_key_pair
from rcs_mls.rcs.fileinfo import CONTENT_TYPE_FILE_INFO, FileEncryptionInfo, FileInfo, FileMetadata
from rcs_mls.rcs.imdn import ImdnStatus
from rcs_mls.rcs.membership import MembershipPolicy
from tests.adversary.harness import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    MALLORY,
    Dev,
    Net,
    assert_rejected,
    inject,
    server_cpim,
    still_in_step,
)
from tests.adversary.test_leaves import _server_keys_group, _server_remove
from tests.rcs.test_conversation import leaves

#: The Annex C HKDF salt (RCC16.md §6: the first 32 bytes of pi).
_ANNEX_C_SALT = bytes.fromhex("3243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c8")

Trio = tuple[Dev, Dev, Dev, Conversation, Conversation, Conversation]


def _three(net: Net) -> Trio:
    """Alice, Bob and Carol in group chat ``grp`` (leaves 0, 1, 2)."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    conv = alice.start([bob, carol], group_id="grp")
    return alice, bob, carol, conv, bob.convs["grp"], carol.convs["grp"]


def _body(outgoing: Outgoing) -> bytes:
    return CpimMessage.from_bytes(outgoing.cpim).body


def _group_info(net: Net, group_id: str = "grp") -> bytes:
    group_info = net.relay.group_info(group_id)
    assert group_info is not None
    return group_info


def _peer_device(peer: MlsRsPeer, chain: list[bytes], private_key: bytes) -> MlsRsClient:
    """An RCS device on mls-rs (suite 0x0002, PublicMessage handshakes, RCC.16
    capabilities) with certificate ``chain`` and key ``private_key``."""
    return peer.create_client(
        b"peer",
        2,
        encrypt_handshake=False,
        x509_chain=chain,
        signature_secret_key=private_key,
        extension_types=profile.CLIENT_EXTENSION_TYPES,
        proposal_types=profile.CLIENT_PROPOSAL_TYPES,
    )


def _valid_peer_device(net: Net, peer: MlsRsPeer, number: str) -> MlsRsClient:
    private, public = generate_signature_key_pair()
    return _peer_device(peer, net.ca.issue_device_certificate(number, public), private)


def _no_signature_made(event: Event) -> None:
    assert not any(isinstance(getattr(event, f.name), Outgoing) for f in fields(event)), event


def _subject_info(key_material: bytes, ciphertext_key: filecrypt.FileKey) -> FileInfo:
    return FileInfo(
        subject=FileMetadata(
            filecrypt.GROUP_SUBJECT_INFO,
            "text/plain;charset=UTF-8",
            FileEncryptionInfo(
                key_material=key_material,
                initialization_vector=ciphertext_key.iv,
                hmac_tag=ciphertext_key.tag,
                file_length_hint=ciphertext_key.message_length,
            ),
        )
    )


# --- external commits --------------------------------------------------------------------


def test_participant_device_external_commit_removing_another_participant(
    net: Net, peer: MlsRsPeer
) -> None:
    """E6. Delivery service holding a *valid* device of Bob (or Bob himself): an external
    commit that is Bob's resync in form but removes Alice's leaf."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    device = _valid_peer_device(net, peer, BOB)
    _group, commit = peer.external_join(device, _group_info(net), remove_leaf=0)
    for c in (bob_conv, carol_conv):
        assert_rejected(inject(c, commit), "not one of its own devices")
    assert conv.participants == {ALICE: [0], BOB: [1], CAROL: [2]}
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_external_commit_replacing_another_device_of_the_same_participant(
    net: Net, peer: MlsRsPeer
) -> None:
    """E7. Holder of a valid certificate for Bob's number: an external commit that removes
    Bob's *other* device (not the one it claims to resync). The policy allows it (same
    ``tel:`` identity: the participant's own business [safe choice]), but it is never
    silent: every member gets an ExternalJoin naming the leaf replaced, and the removed
    device learns that it was removed."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    tablet = net.dev("bob-tablet", BOB)
    alice.commit(conv, lambda: conv.add_devices([tablet.kp()]))
    bob.pump(), carol.pump(), tablet.pump()
    tablet_conv = tablet.convs["grp"]
    assert conv.participants[BOB] == [1, 3]
    device = _valid_peer_device(net, peer, BOB)
    group, commit = peer.external_join(device, _group_info(net), remove_leaf=3)
    for c in (conv, bob_conv, carol_conv):
        event = inject(c, commit)
        assert isinstance(event, ExternalJoin), event
        assert event.sender == BOB and event.replaced_leaves == (3,) and event.added == ()
    event = inject(tablet_conv, commit)
    assert isinstance(event, MembershipChange) and event.removed_self, event
    assert peer.epoch_authenticator(group) == conv.epoch_authenticator
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_external_join_of_a_third_party_into_a_one_to_one(net: Net) -> None:
    """E8. Delivery service lending a 1:1's GroupInfo to a valid device of Mallory, including
    in a conversation configured to allow external joins: a 1:1 keeps two participants."""
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob])
    bob_conv = bob.convs[conv.group_id]
    mallory = net.dev("mallory", MALLORY)
    _group, result = mallory.client.join_by_external_commit(
        _group_info(net, conv.group_id), config=Conversation.group_config()
    )
    assert_rejected(inject(conv, result.commit), "not a participant")
    open_policy = MembershipPolicy(net.anchors, allow_external_joins=True)
    open_conv = Conversation(alice.client, conv.group, trust_anchors=open_policy)
    assert_rejected(inject(open_conv, result.commit), "two participants")
    still_in_step((alice, conv), (bob, bob_conv))


# --- adds by reference; a commit that adds and replaces ------------------------------------


def test_add_proposal_committed_by_reference(net: Net) -> None:
    """C10. Malicious member: Carol proposes adding Mallory (an Add proposal, not a commit) and
    then commits it by reference, so the add never appears in a commit by value."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    mallory = net.dev("mallory", MALLORY)
    proposal = carol_conv.group.propose_add(mallory.kp())
    for c in (conv, bob_conv):
        assert_rejected(inject(c, proposal), "not acted on")
    commit = carol_conv.group.commit_pending_proposals().commit
    carol_conv.group.clear_pending_commit()
    carol_conv.group.clear_pending_proposals()
    for c in (conv, bob_conv):
        assert_rejected(inject(c, commit), "invalid commit")
        assert set(c.participants) == {ALICE, BOB, CAROL}
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- leave requests ----------------------------------------------------------------------


def test_self_remove_replayed_after_the_leaver_updated_its_leaf(net: Net) -> None:
    """L14. Delivery service: captures Carol's SelfRemove, lets Carol change her mind and
    commit a key update (a new leaf node) instead, then replays the SelfRemove."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    captured = carol_conv.leave()
    carol_conv.group.clear_pending_proposals()
    carol.commit(carol_conv, carol_conv.update_keys)
    alice.pump(), bob.pump()
    for c in (conv, bob_conv):
        assert_rejected(c.receive(captured.cpim), "stale")
        assert c.commit_leaves() is None
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_server_remove_of_the_committers_own_leaf(net: Net) -> None:
    """L15. Delivery service: a (validly signed) ServerRemove of Alice's leaf, delivered to
    Alice only, and a commit by Alice that references it: a committer cannot remove
    itself: ``commit_leaves`` skips it and OpenMLS refuses to build the commit."""
    server_keys, alice, bob, carol, conv = _server_keys_group(net)
    bob_conv, carol_conv = bob.convs["grp"], carol.convs["grp"]
    proposal = _server_remove(server_keys, conv, conv.group.own_leaf_index)
    event = inject(conv, proposal)
    assert isinstance(event, LeaveRequest) and event.leaf_index == 0
    assert conv.commit_leaves() is None
    with pytest.raises(RcsMlsError):
        _native.rcs_commit(conv.group, proposals=[proposal])
    assert not conv.has_pending_commit
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_commit_referencing_a_leave_request_the_receiver_never_got(net: Net) -> None:
    """L16. Delivery service: drops Carol's SelfRemove on its way to Bob and delivers Alice's
    commit of it. Bob refuses the commit (it references a proposal he does not hold) and
    stays in his epoch; once the proposal reaches him, the same commit goes through."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    request = carol_conv.leave()
    carol.send(carol_conv, request)
    alice.pump()
    net.relay.fetch(bob.device)  # dropped for Bob
    alice.commit(conv, lambda: leaves(conv))
    (commit,) = net.relay.fetch(bob.device)
    epoch = bob_conv.epoch
    assert_rejected(bob_conv.receive(commit.cpim), "invalid commit")
    assert bob_conv.epoch == epoch
    assert isinstance(bob_conv.receive(request.cpim), LeaveRequest)
    event = bob_conv.receive(commit.cpim)
    assert isinstance(event, MembershipChange) and event.removed == (CAROL,), event
    still_in_step((alice, conv), (bob, bob_conv))


# --- receipts, files, subject ------------------------------------------------------------


def test_signed_receipt_from_a_removed_member(net: Net) -> None:
    """R10. Removed member: Carol ignores the commit removing her and, from her last epoch,
    signs "displayed" receipts for messages she never saw; Alice, epochs later, takes
    them as Carol's signed receipts."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    alice.commit(conv, lambda: conv.remove_participant(CAROL))
    bob.pump()
    net.relay.fetch(carol.device)  # Carol never processes her removal
    secret = conv.send_text("after Carol left")
    alice.send(conv, secret)
    bob.pump()
    receipt = carol_conv.send_receipt(secret.message_id, ImdnStatus.DISPLAYED)
    event = conv.receive(receipt.cpim)
    assert_rejected(event, "no longer in the conversation")
    still_in_step((alice, conv), (bob, bob_conv))


def test_file_info_replayed_from_a_past_epoch(net: Net) -> None:
    """R11. Delivery service: replays Bob's FileInfo and descriptor to Alice after she used
    them and the group moved on (the key would then stand for a file of its choosing)."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    key = filecrypt.FileKey(os.urandom(32), os.urandom(12), os.urandom(32), 10)
    key_message, descriptor = bob_conv.send_file(
        key, file_name="a.txt", content_type="text/plain", url="https://x.invalid/a", size=10
    )
    for c in (conv, carol_conv):
        assert isinstance(c.receive(key_message.cpim), FileKeyReceived)
        c.receive(descriptor.cpim)
    alice.commit(conv, conv.update_keys)
    bob.pump(), carol.pump()
    for outgoing in (key_message, descriptor):
        event = assert_rejected(conv.receive(outgoing.cpim), "decrypt")
        _no_signature_made(event)
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def _subject_group(net: Net) -> tuple[Trio, bytes]:
    """Group ``grp`` whose subject Alice set; returns the devices and the subject key."""
    trio = _three(net)
    alice, bob, carol, conv, _bob_conv, _carol_conv = trio
    alice.commit(conv, lambda: conv.set_subject("Team"))
    bob.pump(), carol.pump()
    key = conv._committed_key("subject")
    assert key is not None
    return trio, key.metadata.encryption_info.key_material


def test_subject_changed_without_a_commit(net: Net) -> None:
    """R12. Malicious member (with the delivery service choosing who gets it): Carol re-uses
    the committed subject key with a fresh IV and tag to deliver a different subject to
    Alice only, without a commit: Alice and Bob would then show different subjects in
    the same epoch."""
    trio, key_material = _subject_group(net)
    alice, bob, carol, conv, bob_conv, carol_conv = trio
    ciphertext, fresh = _encrypt_under(key_material, b"Carol's own subject")
    key_delivery = carol_conv.send_payload(
        CONTENT_TYPE_FILE_INFO, _subject_info(key_material, fresh).to_bytes()
    )
    assert isinstance(conv.receive(key_delivery.cpim), FileKeyReceived)
    event = conv.receive(server_cpim(conv, ciphertext, CONTENT_TYPE_MLS_FT))
    assert isinstance(event, Rejected), event
    assert conv.subject == bob_conv.subject == "Team"
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def _encrypt_under(key_material: bytes, plaintext: bytes) -> tuple[bytes, filecrypt.FileKey]:
    """Encrypt ``plaintext`` as a group subject under a *given* key K with a fresh IV, as
    any holder of K can (RCC16.md §6, written from the profile text with the primitives
    of ``cryptography``)."""
    keys = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=_ANNEX_C_SALT, info=b"group_subject"
    ).derive(key_material)
    k_enc, k_hmac = keys[:32], keys[32:]
    padding = filecrypt.padme(len(plaintext)) - len(plaintext)
    framed = plaintext + bytes(padding) + struct.pack(">II", len(plaintext), padding)
    iv = os.urandom(12)
    encryptor = Cipher(algorithms.AES(k_enc), modes.CTR(iv + bytes(4))).encryptor()
    ciphertext = encryptor.update(framed) + encryptor.finalize()
    mac = hmac.HMAC(k_hmac, hashes.SHA256())
    mac.update(iv + ciphertext)
    return ciphertext, filecrypt.FileKey(key_material, iv, mac.finalize(), len(plaintext))


def test_subject_from_a_removed_member_or_the_server(net: Net) -> None:
    """R13. Removed member (who still holds the subject key) and the delivery service: a new
    subject ciphertext under the committed key, with the FileInfo for it sent from the
    removed member's last epoch; or a ciphertext alone."""
    trio, key_material = _subject_group(net)
    alice, bob, carol, conv, bob_conv, carol_conv = trio
    alice.commit(conv, lambda: conv.remove_participant(CAROL))
    bob.pump()
    net.relay.fetch(carol.device)  # Carol ignores her removal
    ciphertext, fresh = _encrypt_under(key_material, b"the removed member's subject")
    key_delivery = carol_conv.send_payload(
        CONTENT_TYPE_FILE_INFO, _subject_info(key_material, fresh).to_bytes()
    )
    assert_rejected(conv.receive(key_delivery.cpim), "no longer in the conversation")
    for body in (ciphertext, os.urandom(64)):
        event = assert_rejected(
            conv.receive(server_cpim(conv, body, CONTENT_TYPE_MLS_FT)), "no committed subject"
        )
        _no_signature_made(event)
    assert conv.subject == bob_conv.subject == "Team"
    still_in_step((alice, conv), (bob, bob_conv))


# --- CPIM envelope -------------------------------------------------------------------------


def test_cpim_with_two_message_ids(net: Net) -> None:
    """D10. Delivery service: adds a second ``imdn.Message-ID`` to a real message (before or
    after the real one), so that different readers of the envelope take different ids
    (for receipts, for the authenticated-data check)."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    sent = bob_conv.send_text("one id only")
    real = f"imdn.Message-ID: {sent.message_id}\r\n".encode()
    extra = b"imdn.Message-ID: MxChosenByTheServer00001\r\n"
    assert sent.cpim.count(real) == 1
    for doubled in (real + extra, extra + real):
        event = conv.receive(sent.cpim.replace(real, doubled))
        event = assert_rejected(event, "appears 2 times")
        assert event.message_id is None
        _no_signature_made(event)
    assert isinstance(conv.receive(sent.cpim), TextMessage)
    carol_conv.receive(sent.cpim)
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- Welcomes ------------------------------------------------------------------------------


def test_welcome_into_a_group_id_the_device_already_has(net: Net) -> None:
    """C11. Attacker with a valid device of its own (Mallory): builds a group under the id of
    Carol's existing conversation and Welcomes her, to overwrite her state for ``grp``."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    mallory = net.dev("mallory", MALLORY)
    fake = mallory.client.create_group(Conversation.group_config(), group_id=b"grp")
    result = fake.add_members([carol.kp()])
    fake.merge_pending_commit()
    assert result.welcome is not None
    welcome = server_cpim(carol_conv, result.welcome)
    with pytest.raises(RcsMlsError, match="already"):
        Conversation.join(carol.client, welcome, trust_anchors=net.anchors)
    assert carol.client.load_group(b"grp").epoch_authenticator == conv.epoch_authenticator
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- bytes that might crash the native code ------------------------------------------------


def _mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    """Truncations, bit flips, byte overwrites, length-field blowups and splices."""
    out = [data[:n] for n in range(0, len(data), max(1, len(data) // 40))]
    for _ in range(count):
        b = bytearray(data)
        kind = rng.randrange(4)
        at = rng.randrange(len(b))
        if kind == 0:
            b[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            b[at] = rng.choice((0x00, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0, 0xFF))
        elif kind == 2:
            b[at : at + 4] = rng.choice((b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00" * 4))
        else:
            b = b[:at] + bytearray(rng.randbytes(rng.randrange(1, 16))) + b[at:]
        if bytes(b) != data:  # the genuine message is not an attack
            out.append(bytes(b))
    return out


def test_mutated_wire_bytes_never_crash(net: Net) -> None:
    """D11. Delivery service: delivers mutated copies of every kind of real traffic (a text,
    a commit, a SelfRemove, a signed receipt, a Welcome, a key package): every one comes
    back as an event or a package exception, never a panic or a foreign exception, and
    the honest members are unaffected."""
    alice, bob, carol, conv, bob_conv, carol_conv = _three(net)
    rng = random.Random(0x9A9)
    text = _body(bob_conv.send_text("fuzz me"))
    receipt = bob_conv.send_receipt("MxSomeMessage0000000001")
    leave = _body(bob_conv.leave())
    bob_conv.group.clear_pending_proposals()
    commit = bob_conv.update_keys()
    bob_conv.commit_rejected()
    dave = net.dev("dave", DAVE)
    key_package = dave.kp()
    result = bob_conv.group.add_members([key_package])
    bob_conv.group.clear_pending_commit()
    assert result.welcome is not None
    samples: list[tuple[str, bytes]] = [
        (CONTENT_TYPE_MLS, text),
        ("message/mls-rcs-client", leave),
        ("message/mls-rcs-client", _body(commit)),
        ("message/mls-rcs-client", result.welcome),
        ("message/mls-rcs-server", leave),
    ]
    checked = 0
    for content_type, body in samples:
        for mutated in _mutations(body, rng, 150):
            event = conv.receive(server_cpim(conv, mutated, content_type))
            assert isinstance(event, Event), event
            checked += 1
    for mutated in _mutations(receipt.cpim, rng, 150):
        assert isinstance(conv.receive(mutated), Event)
    parsers: list[Callable[[bytes], object]] = [
        _native.rcs_message_info,
        _native.rcs_parse_proposal,
        _native.KeyPackage.from_bytes,
        lambda b: _native.rcs_private_message_sender(conv.group, b),
        lambda b: _native.rcs_verify_proposal(conv.group, b),
        lambda b: dave.client.stage_welcome(b, config=Conversation.group_config()),
    ]
    for data in (text, leave, result.welcome, key_package.to_bytes()):
        for mutated in _mutations(data, rng, 60):
            for parse in parsers:
                with contextlib.suppress(RcsMlsError):
                    parse(mutated)
                checked += 1
    assert checked > 1000
    assert dave.client.list_groups() == []
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))
