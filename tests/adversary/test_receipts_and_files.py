"""Signed failure reports and file keys under attack.

* A member signs a negative-delivery report (an ``rcs_signature`` over the reported
  message id) only for a message that authenticated as coming from a current member:
  otherwise the delivery service could collect signatures over ids of its choosing.
* A File Transfer descriptor unlocks only the FileInfo key its own sender delivered,
  under the message id it names: another member cannot point Alice at Bob's key.

docs/threat-model.md, rows R1-R9; R10-R13 are in test_review.py.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import fields
from pathlib import Path

from rcs_mls import _native
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import (
    CommitApplied,
    FailureReport,
    FileKeyReceived,
    FileOffer,
    Outgoing,
    Receipt,
    Rejected,
    TextMessage,
)
from rcs_mls.rcs.cpim import CONTENT_TYPE_MLS, CpimMessage
from rcs_mls.rcs.file_transfer import (
    CONTENT_TYPE_FT_HTTP,
    ENCRYPTED_FILE_NAME,
    FileTransferDescriptor,
    FileTransferInfo,
)
from rcs_mls.rcs.fileinfo import (
    CONTENT_TYPE_FILE_INFO,
    FileEncryptionInfo,
    FileInfo,
    FileMetadata,
)
from rcs_mls.rcs.imdn import ImdnStatus, MlsClientFailureReason
from rcs_mls.rcs.payload import ApplicationAad, SecretPayload
from tests.adversary.harness import (
    ALICE,
    BOB,
    CAROL,
    Net,
    assert_rejected,
    inject,
    server_cpim,
    still_in_step,
    three,
)

#: The message id the delivery service wants a signature over.
_CHOSEN_ID = "MxChosenByTheServer00001"


def _body(cpim: bytes) -> bytes:
    return CpimMessage.from_bytes(cpim).body


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def _no_signature_made(event: Rejected) -> None:
    """Receiving produced nothing to send: no field of the event is an outgoing object."""
    assert not any(isinstance(getattr(event, f.name), Outgoing) for f in fields(event)), event


# --- no signed report for what did not authenticate ------------------------------------


def test_random_bytes_with_a_chosen_message_id(net: Net) -> None:
    """Delivery service: injects a ``message/mls`` object whose body is random bytes,
    under a message id of its choosing, hoping for a signed failure report over it."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    for body in (os.urandom(200), b"\x00\x01\x00\x02" + os.urandom(100)):
        cpim = server_cpim(conv, body, CONTENT_TYPE_MLS, message_id=_CHOSEN_ID)
        event = assert_rejected(conv.receive(cpim), "PrivateMessage")
        assert event.message_id == _CHOSEN_ID
        _no_signature_made(event)
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_private_message_of_another_group_with_a_chosen_message_id(net: Net) -> None:
    """Delivery service: takes a real PrivateMessage of another conversation of the same
    people and delivers it into this one under a message id of its choosing."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    alice.start([bob, carol], group_id="other")
    foreign = _body(bob.convs["other"].send_text("for the other group").cpim)
    cpim = server_cpim(conv, foreign, CONTENT_TYPE_MLS, message_id=_CHOSEN_ID)
    event = assert_rejected(conv.receive(cpim), "PrivateMessage")
    _no_signature_made(event)
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_tampered_private_message(net: Net) -> None:
    """Delivery service: flips bits in a real PrivateMessage (sender data, ciphertext,
    AEAD tag) and delivers it, with its own message id or with the original one."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    sent = bob_conv.send_text("the genuine one")
    body = _body(sent.cpim)
    failures = set()
    for index in (len(body) // 3, len(body) // 2, len(body) - 1):
        for message_id in (_CHOSEN_ID, sent.message_id):
            cpim = server_cpim(conv, _flip(body, index), CONTENT_TYPE_MLS, message_id=message_id)
            event = conv.receive(cpim)
            assert isinstance(event, Rejected), event
            _no_signature_made(event)
            failures.add(event.failure)
    # Where RCC.16 has a reason (the message does not decrypt), it is given, unsigned.
    assert MlsClientFailureReason.FAILED_TO_DECRYPT in failures
    # The genuine message is still readable.
    event = conv.receive(sent.cpim)
    assert isinstance(event, TextMessage) and event.text == "the genuine one"
    carol_conv.receive(sent.cpim)
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_cannot_decrypt_failure_is_reported_unsigned(net: Net) -> None:
    """Delivery service: a real PrivateMessage of this group from an epoch Alice holds no
    keys for (sent before she was added), under a message id of its choosing or its own:
    a failure reason, but no signature."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    bob_conv = bob.start([carol], group_id="grp")
    early = bob_conv.send_text("before Alice")
    bob.commit(bob_conv, lambda: bob_conv.add_participants([alice.kp()]))
    alice.pump(), carol.pump()
    conv = alice.convs["grp"]
    cpim = server_cpim(conv, _body(early.cpim), CONTENT_TYPE_MLS, message_id=_CHOSEN_ID)
    event = conv.receive(cpim)
    assert isinstance(event, Rejected), event
    _no_signature_made(event)
    event = conv.receive(early.cpim)
    assert isinstance(event, Rejected) and event.failure is MlsClientFailureReason.FAILED_TO_DECRYPT
    _no_signature_made(event)
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol.convs["grp"]))


def test_commit_with_a_broken_signature_or_membership_tag(net: Net) -> None:
    """Delivery service: flips bytes of a real commit (in its content, its signature, its
    membership tag) and delivers it under a message id of its choosing before the real
    one."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    commit = bob_conv.update_keys()
    assert net.relay.submit(bob.device, "grp", commit) is not None
    bob_conv.commit_accepted()
    body = _body(commit.cpim)
    # The PublicMessage ends with the signature<V> (64-72 bytes) and the membership tag<V>
    # (33 bytes): the last byte is the tag, 40 bytes from the end the signature.
    for index in (len(body) // 2, len(body) - 40, len(body) - 1):
        event = conv.receive(
            server_cpim(conv, _flip(body, index), message_id=f"{_CHOSEN_ID[:-2]}{index % 100:02d}")
        )
        event = assert_rejected(event, "invalid commit")
        assert event.failure is MlsClientFailureReason.INVALID_COMMIT
        _no_signature_made(event)
    for device in (alice, carol):
        (event,) = device.pump()
        assert isinstance(event, CommitApplied) and event.sender == BOB
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_forged_signed_receipt_is_not_answered(net: Net) -> None:
    """Delivery service: a real signed receipt of another conversation, and one relabelled
    with a receipt id of its choosing: neither verifies, neither is answered."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    alice.start([bob, carol], group_id="other")
    sent = conv.send_text("hello")
    alice.send(conv, sent)
    bob.pump(), carol.pump()
    other = bob.convs["other"].send_receipt(sent.message_id)
    event = assert_rejected(conv.receive(other.cpim), "receipt signature")
    _no_signature_made(event)
    real = bob_conv.send_receipt(sent.message_id)
    forged = real.cpim.replace(real.message_id.encode(), _CHOSEN_ID.encode())
    event = assert_rejected(conv.receive(forged), "signed content")
    _no_signature_made(event)
    receipt = conv.receive(real.cpim)
    assert isinstance(receipt, Receipt) and receipt.signed and receipt.sender == BOB
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_refused_commit_of_a_real_member_can_be_reported(net: Net) -> None:
    """Positive control: for a malicious member's commit that the policy refuses (a new
    era), the application can send a signed invalid-commit report, which the committer
    verifies."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    extensions = [
        (t, (profile.ERA_INITIAL + 1).to_bytes(4, "big") if t == profile.EXT_ERA else d)
        for t, d in carol_conv.group.extensions
    ]
    result = carol_conv.group.commit(group_context_extensions=extensions)
    carol_conv.group.clear_pending_commit()
    event = assert_rejected(inject(conv, result.commit), "era")
    assert event.failure is MlsClientFailureReason.INVALID_COMMIT
    _no_signature_made(event)
    report = carol_conv.receive(conv.failure_report(event).cpim)
    assert isinstance(report, FailureReport), report
    assert report.signed and report.sender == ALICE
    assert report.status is ImdnStatus.FAILED
    assert report.reason is MlsClientFailureReason.INVALID_COMMIT
    assert report.reported_message_id == event.message_id
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- file keys bound to (sender, message id) -------------------------------------------


def _descriptor(url: str, size: int, file_info_id: str) -> bytes:
    return FileTransferDescriptor(
        FileTransferInfo(
            size=size,
            content_type="application/octet-stream",
            url=url,
            until=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            name=ENCRYPTED_FILE_NAME,
        ),
        mls_file=file_info_id.encode("ascii"),
    ).to_bytes()


def test_descriptor_claiming_another_members_file_key(net: Net, tmp_path: Path) -> None:
    """Malicious member: Carol sends a descriptor naming the message id of Bob's FileInfo
    (and a URL of her choosing), so that Alice opens Carol's file as Bob's, or learns
    which file Bob's key opens."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    src = tmp_path / "bob.txt"
    src.write_bytes(b"Bob's file\n" * 1000)
    encrypted = tmp_path / "bob.bin"
    key = bob_conv.encrypt_file(src, encrypted, "bob.txt")
    url = net.relay.upload(encrypted)
    key_message, descriptor = bob_conv.send_file(
        key, file_name="bob.txt", content_type="text/plain", url=url, size=encrypted.stat().st_size
    )
    event = conv.receive(key_message.cpim)
    assert isinstance(event, FileKeyReceived) and event.sender == BOB
    carol_conv.receive(key_message.cpim)

    mallory_file = tmp_path / "carol.bin"
    mallory_file.write_bytes(os.urandom(encrypted.stat().st_size))
    carol_url = net.relay.upload(mallory_file)
    for target_url in (carol_url, url):
        claim = carol_conv.send_payload(
            CONTENT_TYPE_FT_HTTP,
            _descriptor(target_url, encrypted.stat().st_size, key_message.message_id),
            kind="file",
        )
        event = assert_rejected(conv.receive(claim.cpim), "no FileInfo from this sender")
        _no_signature_made(event)
        bob_conv.receive(claim.cpim)

    offer = conv.receive(descriptor.cpim)
    assert isinstance(offer, FileOffer) and offer.sender == BOB
    assert offer.descriptor.file.url == url
    downloaded, plain = tmp_path / "down.bin", tmp_path / "plain.txt"
    net.relay.download(url, downloaded)
    conv.decrypt_file(offer, downloaded, plain)
    assert plain.read_bytes() == src.read_bytes()
    carol_conv.receive(descriptor.cpim)
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_file_info_under_another_members_message_id(net: Net, tmp_path: Path) -> None:
    """Malicious member: Carol sends her own FileInfo under the message id of Bob's
    (she chooses her authenticated data), before Bob's descriptor arrives, to substitute
    her key for Bob's."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    src = tmp_path / "bob.txt"
    src.write_bytes(b"Bob's file\n" * 100)
    encrypted = tmp_path / "bob.bin"
    key = bob_conv.encrypt_file(src, encrypted, "bob.txt")
    url = net.relay.upload(encrypted)
    key_message, descriptor = bob_conv.send_file(
        key, file_name="bob.txt", content_type="text/plain", url=url, size=encrypted.stat().st_size
    )
    assert isinstance(conv.receive(key_message.cpim), FileKeyReceived)

    # Carol's FileInfo, with a key of her own, encrypted under Bob's message id.
    era = carol_conv.era
    assert era is not None
    info = FileInfo(
        file=FileMetadata(
            "bob.txt",
            "text/plain",
            FileEncryptionInfo(
                key_material=os.urandom(32),
                initialization_vector=os.urandom(12),
                hmac_tag=os.urandom(32),
                file_length_hint=100,
            ),
        )
    )
    frame = SecretPayload(0, CONTENT_TYPE_FILE_INFO, info.to_bytes()).to_bytes()
    wire, _generation = _native.rcs_encrypt_with_generation(
        carol_conv.group,
        frame,
        authenticated_data=ApplicationAad(key_message.message_id, era).to_bytes(),
        generation_offset=4,
    )
    event = conv.receive(
        server_cpim(conv, wire, CONTENT_TYPE_MLS, message_id=key_message.message_id)
    )
    assert isinstance(event, FileKeyReceived) and event.sender == CAROL  # her own, under her name

    offer = conv.receive(descriptor.cpim)
    assert isinstance(offer, FileOffer) and offer.sender == BOB
    assert offer.metadata.encryption_info.key_material == key.key
    downloaded, plain = tmp_path / "down.bin", tmp_path / "plain.txt"
    net.relay.download(url, downloaded)
    conv.decrypt_file(offer, downloaded, plain)
    assert plain.read_bytes() == src.read_bytes()
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_refused_commit_rewrapped_under_a_chosen_message_id(net: Net) -> None:
    """Delivery service (or the malicious member): re-wraps a real member's refused commit
    under the message id of Bob's text, which Alice read fine, to obtain Alice's signed
    "failed: invalid-commit" report for Bob's message."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    text = bob_conv.send_text("did you get this?")
    assert isinstance(conv.receive(text.cpim), TextMessage)
    carol_conv.receive(text.cpim)
    extensions = [
        (t, (profile.ERA_INITIAL + 1).to_bytes(4, "big") if t == profile.EXT_ERA else d)
        for t, d in carol_conv.group.extensions
    ]
    result = carol_conv.group.commit(group_context_extensions=extensions)
    carol_conv.group.clear_pending_commit()
    event = assert_rejected(
        conv.receive(server_cpim(conv, result.commit, message_id=text.message_id)), "era"
    )
    # Nothing is signed in answer: the delivery service collects no report from Alice.
    _no_signature_made(event)
    assert event.failure is MlsClientFailureReason.INVALID_COMMIT
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))
