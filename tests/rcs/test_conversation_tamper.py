"""Tampering anywhere is detected and reported, never delivered: CPIM headers, the
authenticated data, the SecretPayload, the MLS ciphertext, a file, a signed receipt, a
commit, the encrypted subject. A network attacker changes bytes on the wire; an insider
(a member) encrypts what it likes, so the SecretPayload and authenticated-data checks are
tested with messages a member forged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rcs_mls._native import rcs_next_generation
from rcs_mls.exceptions import FileIntegrityError
from rcs_mls.rcs import filecrypt
from rcs_mls.rcs.conversation import (
    Conversation,
    FailureReport,
    FileOffer,
    Receipt,
    Rejected,
    TextMessage,
)
from rcs_mls.rcs.cpim import CpimMessage
from rcs_mls.rcs.fileinfo import (
    CONTENT_TYPE_FILE_INFO,
    FileEncryptionInfo,
    FileInfo,
    FileMetadata,
)
from rcs_mls.rcs.imdn import ImdnStatus, MlsClientFailureReason
from rcs_mls.rcs.payload import ApplicationAad, SecretPayload, decode_varint
from rcs_mls.rcs.profile import EXT_ERA
from tests.rcs.test_conversation import ALICE, BOB, CAROL, Dev, Net
from tests.rcs.test_conversation import ca as ca  # the fixtures
from tests.rcs.test_conversation import net as net


@pytest.fixture
def pair(net: Net) -> tuple[Dev, Dev, Conversation, Conversation]:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    return alice, bob, conv, bob.convs["grp"]


def _body_span(cpim: bytes) -> int:
    """Offset of the CPIM body (the MLS message) in the CPIM object."""
    message = CpimMessage.from_bytes(cpim)
    return len(cpim) - len(message.body)


def _private_fields(body: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges of the PrivateMessage fields (RFC 9420 §6.3)."""
    offset = 4  # version, wire_format
    spans: dict[str, tuple[int, int]] = {}
    length, offset = decode_varint(body, offset)
    offset += length + 8 + 1  # group_id, epoch, content_type
    for name in ("authenticated_data", "encrypted_sender_data", "ciphertext"):
        length, offset = decode_varint(body, offset)
        spans[name] = (offset, offset + length)
        offset += length
    return spans


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _replace_header(cpim: bytes, name: bytes, value: bytes) -> bytes:
    return re.sub(rb"(" + re.escape(name) + rb": )[^\r]*", lambda m: m.group(1) + value, cpim)


# --- a network attacker --------------------------------------------------------------------


def _b64_flip(value: bytes) -> bytes:
    return (b"B" if value[:1] == b"A" else b"A") + value[1:]


WIRE_TAMPERING: dict[str, Callable[[bytes], bytes]] = {
    "message-id": lambda c: _replace_header(c, b"imdn.Message-ID", b"MxAAAAAAAAAAAAAAAAAAAAAA"),
    "era": lambda c: _replace_header(c, b"mls.Era-ID", b"7"),
    "epoch-authenticator": lambda c: re.sub(
        rb"(mls\.Epoch-Authenticator: )(\S+)", lambda m: m.group(1) + _b64_flip(m.group(2)), c
    ),
    "content-type": lambda c: c.replace(
        b"Content-Type: message/mls\r\n", b"Content-Type: message/mlx\r\n"
    ),
    "content-length": lambda c: c[:-1],
    "body-truncated": lambda c: c.replace(b"Content-Length: ", b"Content-Length: 1"),
}


@pytest.mark.parametrize("where", sorted(WIRE_TAMPERING))
def test_cpim_headers(pair: tuple[Dev, Dev, Conversation, Conversation], where: str) -> None:
    _alice, _bob, conv, bob_conv = pair
    sent = conv.send_text("hello")
    tampered = WIRE_TAMPERING[where](sent.cpim)
    assert tampered != sent.cpim
    event = bob_conv.receive(tampered)
    assert isinstance(event, Rejected), event
    # Nothing was consumed: the genuine message is still delivered.
    event = bob_conv.receive(sent.cpim)
    assert isinstance(event, TextMessage) and event.text == "hello"


@pytest.mark.parametrize("field", ["authenticated_data", "encrypted_sender_data", "ciphertext"])
@pytest.mark.parametrize("position", ["first", "last"])
def test_mls_message_bytes(
    pair: tuple[Dev, Dev, Conversation, Conversation], field: str, position: str
) -> None:
    _alice, _bob, conv, bob_conv = pair
    sent = conv.send_text("hello")
    start = _body_span(sent.cpim)
    lo, hi = _private_fields(sent.cpim[start:])[field]
    index = start + (lo if position == "first" else hi - 1)
    event = bob_conv.receive(_flip(sent.cpim, index))
    assert isinstance(event, Rejected), event
    # A message that does not decrypt is reported as failed-to-decrypt, but not answered
    # on its own (nothing authenticated it); authenticated data that does not parse is
    # dropped before decryption is tried.
    if field != "authenticated_data":
        assert event.failure is MlsClientFailureReason.FAILED_TO_DECRYPT
    event = bob_conv.receive(sent.cpim)
    assert isinstance(event, TextMessage) and event.text == "hello"


def test_failure_report_reaches_the_sender(
    pair: tuple[Dev, Dev, Conversation, Conversation],
) -> None:
    alice, bob, conv, bob_conv = pair
    sent = conv.send_text("hello")
    event = bob_conv.receive(_flip(sent.cpim, len(sent.cpim) - 1))
    assert isinstance(event, Rejected) and event.failure is not None
    # The application reports it once self-heal did not help.
    bob.send(
        bob_conv, bob_conv.send_receipt(sent.message_id, ImdnStatus.FAILED, reason=event.failure)
    )
    (report,) = alice.pump()
    assert isinstance(report, FailureReport)
    assert report.reason is MlsClientFailureReason.FAILED_TO_DECRYPT
    assert report.reported_message_id == sent.message_id


def test_replay_is_not_delivered_twice(
    pair: tuple[Dev, Dev, Conversation, Conversation],
) -> None:
    _alice, _bob, conv, bob_conv = pair
    sent = conv.send_text("once")
    assert isinstance(bob_conv.receive(sent.cpim), TextMessage)
    assert isinstance(bob_conv.receive(sent.cpim), Rejected)


# --- an insider ------------------------------------------------------------------------------


def _forge(
    conv: Conversation,
    *,
    frame: bytes | None = None,
    aad: bytes | None = None,
    message_id: str = "MxForgedForgedForgedForg",
) -> bytes:
    """A message a member encrypts by hand: any SecretPayload, any authenticated data."""
    assert conv.era is not None
    if aad is None:
        aad = ApplicationAad(message_id, conv.era).to_bytes()
    if frame is None:
        frame = SecretPayload(0, "text/plain;charset=UTF-8", b"forged").to_bytes()
    wire = conv.group.encrypt(frame, authenticated_data=aad)
    return conv._cpim(message_id, "message/mls", wire)


def test_forged_generation(pair: tuple[Dev, Dev, Conversation, Conversation]) -> None:
    _alice, _bob, conv, bob_conv = pair
    conv.send_text("generation 0")
    for delta in (-1, 1, 1000):
        real = rcs_next_generation(conv.group)
        frame = SecretPayload(max(real + delta, 0), "text/plain", b"forged").to_bytes()
        event = bob_conv.receive(_forge(conv, frame=frame))
        assert isinstance(event, Rejected) and "generation" in event.reason
    # The same forgery with the right generation goes through: the check is exact.
    frame = SecretPayload(rcs_next_generation(conv.group), "text/plain", b"right").to_bytes()
    event = bob_conv.receive(_forge(conv, frame=frame))
    assert isinstance(event, TextMessage) and event.text == "right"


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00\x02\x00\x01\x00\x00\x00\x01\x00",  # version 2
        b"\x00\x01\x00\x01\x00\x00\x00\x01\x05abc",  # length disagrees
        SecretPayload(1, "text/plain", b"x").to_bytes() + b"trailing",
    ],
)
def test_malformed_secret_payload(
    pair: tuple[Dev, Dev, Conversation, Conversation], frame: bytes
) -> None:
    _alice, _bob, conv, bob_conv = pair
    event = bob_conv.receive(_forge(conv, frame=frame))
    assert isinstance(event, Rejected) and "SecretPayload" in event.reason


@pytest.mark.parametrize(
    ("aad", "reason"),
    [
        (ApplicationAad("MxSomethingElseEntirely1", 1).to_bytes(), "Message-ID"),
        (ApplicationAad("MxForgedForgedForgedForg", 2).to_bytes(), "era"),
        (b"\x00\x02junk", "authenticated data"),
        (b"", "authenticated data"),
    ],
)
def test_authenticated_data(
    pair: tuple[Dev, Dev, Conversation, Conversation], aad: bytes, reason: str
) -> None:
    _alice, _bob, conv, bob_conv = pair
    event = bob_conv.receive(_forge(conv, aad=aad))
    assert isinstance(event, Rejected) and reason in event.reason, event


def test_unknown_inner_content_type(pair: tuple[Dev, Dev, Conversation, Conversation]) -> None:
    _alice, _bob, conv, bob_conv = pair
    event = bob_conv.receive(conv.send_payload("application/x-unknown", b"\x00\x01").cpim)
    assert isinstance(event, Rejected) and "unsupported" in event.reason


# --- files, receipts, commits, the subject ---------------------------------------------------


def test_file_ciphertext(net: Net, tmp_path: Path) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    src = tmp_path / "notes.txt"
    src.write_bytes(b"meeting at noon\n" * 5000)
    encrypted = tmp_path / "upload.bin"
    key = conv.encrypt_file(src, encrypted, "notes.txt")
    url = net.relay.upload(encrypted)
    for outgoing in conv.send_file(
        key,
        file_name="notes.txt",
        content_type="text/plain",
        url=url,
        size=encrypted.stat().st_size,
    ):
        alice.send(conv, outgoing)
    offer = bob.pump()[-1]
    assert isinstance(offer, FileOffer)
    stored = net.relay.path_of(url)
    for index in (0, stored.stat().st_size // 2, stored.stat().st_size - 1):
        data = bytearray(stored.read_bytes())
        data[index] ^= 0x80
        downloaded = tmp_path / f"down-{index}.bin"
        downloaded.write_bytes(bytes(data))
        out = tmp_path / f"out-{index}.txt"
        with pytest.raises(FileIntegrityError):
            bob.convs["grp"].decrypt_file(offer, downloaded, out)
        assert not out.exists()
    net.relay.download(url, tmp_path / "good.bin")
    bob.convs["grp"].decrypt_file(offer, tmp_path / "good.bin", tmp_path / "good.txt")
    assert (tmp_path / "good.txt").read_bytes() == src.read_bytes()


def test_file_descriptor_without_its_key(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    _ct, key = filecrypt.encrypt(b"data", "a.bin")
    key_message, descriptor = conv.send_file(
        key, file_name="a.bin", content_type="application/octet-stream", url="https://x/y", size=12
    )
    del key_message  # lost on the way
    event = bob.convs["grp"].receive(descriptor.cpim)
    assert isinstance(event, Rejected) and "FileInfo" in event.reason


SIGNED_RECEIPT_TAMPERING: dict[str, Callable[[bytes], bytes]] = {
    "reported-id": lambda c: re.sub(
        rb"<message-id>Mx(.)",
        lambda m: b"<message-id>Mx" + (b"Y" if m.group(1) == b"Z" else b"Z"),
        c,
    ),
    "status": lambda c: c.replace(b"<delivered/>", b"<forbidden/>"),
    "receipt-id": lambda c: _replace_header(c, b"imdn.Message-ID", b"MxAAAAAAAAAAAAAAAAAAAAAA"),
    "signature": lambda c: re.sub(
        rb"(mls\.MLS-Derived-Content-Signature: )(\S{40})(\S)",
        lambda m: m.group(1) + m.group(2) + (b"B" if m.group(3) == b"A" else b"A"),
        c,
    ),
    "signature-missing": lambda c: re.sub(
        rb"mls\.MLS-Derived-Content-Signature: [^\r]*\r\n", b"", c
    ),
    "era": lambda c: _replace_header(c, b"mls.Era-ID", b"2"),
}


@pytest.mark.parametrize("where", sorted(SIGNED_RECEIPT_TAMPERING))
def test_signed_receipt(pair: tuple[Dev, Dev, Conversation, Conversation], where: str) -> None:
    _alice, _bob, conv, bob_conv = pair
    sent = conv.send_text("hello")
    bob_conv.receive(sent.cpim)
    receipt = bob_conv.send_receipt(sent.message_id)
    tampered = SIGNED_RECEIPT_TAMPERING[where](receipt.cpim)
    assert tampered != receipt.cpim
    event = conv.receive(tampered)
    assert isinstance(event, Rejected), event
    event = conv.receive(receipt.cpim)
    assert isinstance(event, Receipt) and event.signed


def test_receipt_signed_by_someone_else(net: Net) -> None:
    alice, bob, carol = (net.dev(n, x) for n, x in (("a", ALICE), ("b", BOB), ("c", CAROL)))
    conv = alice.start([bob, carol], group_id="grp")
    sent = conv.send_text("hello")
    receipt = bob.convs["grp"].send_receipt(sent.message_id)
    event = conv.receive(receipt.cpim)
    assert isinstance(event, Receipt) and event.sender == BOB
    # Carol cannot pass her signature off for Bob's receipt content.
    carol_receipt = carol.convs["grp"].send_receipt(sent.message_id)
    signature = re.search(rb"mls\.MLS-Derived-Content-Signature: ([^\r]*)", carol_receipt.cpim)
    assert signature is not None
    spliced = _replace_header(
        receipt.cpim, b"mls.MLS-Derived-Content-Signature", signature.group(1)
    )
    assert isinstance(conv.receive(spliced), Rejected)


def test_commit_bytes(pair: tuple[Dev, Dev, Conversation, Conversation]) -> None:
    _alice, _bob, conv, bob_conv = pair
    commit = conv.update_keys()
    start = _body_span(commit.cpim)
    for index in (start + 30, len(commit.cpim) - 1):
        event = bob_conv.receive(_flip(commit.cpim, index))
        assert isinstance(event, Rejected)
        assert bob_conv.epoch == 1
    event = bob_conv.receive(commit.cpim)
    assert not isinstance(event, Rejected) and bob_conv.epoch == 2


def test_encrypted_subject(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    commit = conv.set_subject("Secret plans")
    net.relay.submit(alice.device, "grp", commit)
    key_delivery, blob = conv.commit_accepted()
    bob_conv = bob.convs["grp"]
    bob_conv.receive(commit.cpim)
    bob_conv.receive(key_delivery.cpim)
    assert isinstance(bob_conv.receive(_flip(blob.cpim, len(blob.cpim) - 1)), Rejected)
    assert bob_conv.subject is None
    event = bob_conv.receive(blob.cpim)
    assert not isinstance(event, Rejected) and bob_conv.subject == "Secret plans"
    # A member's subject under a key that is not the committed one is refused.
    fake, key = filecrypt.encrypt(b"Fake plans", filecrypt.GROUP_SUBJECT_INFO)
    encryption = FileEncryptionInfo(key.key, key.iv, key.tag, file_length_hint=key.message_length)
    info = FileInfo(subject=FileMetadata("group_subject", "text/plain", encryption))
    bob_conv.receive(conv.send_payload(CONTENT_TYPE_FILE_INFO, info.to_bytes()).cpim)
    event = bob_conv.receive(conv._cpim("MxFakeSubjectFakeSubject", "message/mls-ft", fake))
    assert isinstance(event, Rejected) and bob_conv.subject == "Secret plans"


def test_era_change_is_refused_before_the_merge(
    pair: tuple[Dev, Dev, Conversation, Conversation],
) -> None:
    """An insider's commit that changes the era (a new era is a new group) is refused
    before it is merged: the receiver stays in its epoch and keeps talking."""
    _alice, _bob, conv, bob_conv = pair
    extensions = [(t, d) for t, d in conv._group.extensions if t != EXT_ERA]
    commit = conv._commit("era", extensions=[*extensions, (EXT_ERA, (7).to_bytes(4, "big"))])
    event = bob_conv.receive(commit.cpim)
    assert isinstance(event, Rejected) and "era" in event.reason
    assert bob_conv.epoch == 1 and bob_conv.era == 1
    conv.commit_rejected()
    message = conv.send_text("still epoch 1")
    assert not isinstance(bob_conv.receive(message.cpim), Rejected)
