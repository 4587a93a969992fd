"""Where OpenMLS falls short of RCC.16 (rust/src/rcs_gaps.rs, docs/openmls-gaps.md): sender
generations, bare RCC.16 proposals, Welcome-only GroupInfo extensions."""

from __future__ import annotations

import contextlib

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    Group,
    GroupConfig,
    ProposalMessage,
    SignatureKeyPair,
    StagedCommit,
)
from rcs_mls import _native as n
from rcs_mls.exceptions import (
    GroupStateError,
    InvalidArgumentError,
    InvalidSignatureError,
    ParseError,
    RcsMlsError,
    ValidationError,
    WrongEpochError,
)
from rcs_mls.rcs.payload import decode_varint

SUITES = list(Ciphersuite)
FRAME = b"\x00\x01\x00\x01\x00\x00\x00\x00payload"  # a SecretPayload-like header


P256 = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256


def client(name: str, suite: Ciphersuite = P256) -> Client:
    return Client(Credential.basic(name.encode()), SignatureKeyPair.generate(suite), suite)


def group_of(n_members: int, suite: Ciphersuite = P256, *, past_epochs: int = 5) -> list[Group]:
    config = GroupConfig(public_handshake=True, max_past_epochs=past_epochs)
    clients = [client(f"m{i}", suite) for i in range(n_members)]
    creator = clients[0].create_group(config)
    if n_members == 1:
        return [creator]
    result = creator.add_members([c.generate_key_package() for c in clients[1:]])
    creator.merge_pending_commit()
    assert result.welcome is not None
    return [creator] + [c.join_group(result.welcome, config=config) for c in clients[1:]]


def deliver(commit: bytes, groups: list[Group]) -> None:
    for g in groups:
        staged = g.process_message(commit)
        assert isinstance(staged, StagedCommit)
        g.merge_staged_commit(staged)


# --- the sender generation ------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: f"0x{int(s):04x}")
def test_generations_on_the_wire(suite: Ciphersuite) -> None:
    a, b = group_of(2, suite)
    seen = []
    for i in range(3):
        assert n.rcs_next_generation(a) == i
        wire, generation = n.rcs_encrypt_with_generation(a, FRAME, authenticated_data=b"aad")
        assert generation == i
        # The receiver reads it from the sender data, before processing.
        sender = n.rcs_private_message_sender(b, wire)
        assert sender == (a.own_leaf_index, i, a.epoch)
        message = b.process_message(wire)
        assert isinstance(message, ApplicationMessage)
        # And the generation is in the plaintext, where RCC.16 wants it.
        assert message.plaintext[4:8] == i.to_bytes(4, "big")
        assert message.plaintext[8:] == FRAME[8:]
        assert message.authenticated_data == b"aad"
        seen.append(sender[1])
    assert seen == [0, 1, 2]


def test_each_sender_has_its_own_ratchet() -> None:
    a, b, c = group_of(3)
    wires = [n.rcs_encrypt_with_generation(g, FRAME)[0] for g in (a, b, a, c, a)]
    read = [n.rcs_private_message_sender(b if i != 1 else a, w) for i, w in enumerate(wires)]
    assert [(r[0], r[1]) for r in read if r is not None] == [(0, 0), (1, 0), (0, 1), (2, 0), (0, 2)]


def test_plain_encrypt_also_moves_the_ratchet() -> None:
    a, b = group_of(2)
    a.encrypt(b"not RCS")
    a.encrypt(b"not RCS either")
    assert n.rcs_next_generation(a) == 2
    wire, generation = n.rcs_encrypt_with_generation(a, FRAME)
    assert generation == 2 and n.rcs_private_message_sender(b, wire) == (0, 2, 1)


def test_a_stale_cached_generation_is_caught() -> None:
    a, b = group_of(2)
    first, generation = n.rcs_encrypt_with_generation(a, FRAME)
    assert generation == 0
    plain = a.encrypt(b"behind the binding's back")  # generation 1
    # The binding expected 1; OpenMLS sent 2; that message is dropped and a new one made.
    wire, generation = n.rcs_encrypt_with_generation(a, FRAME)
    assert generation == 3
    assert n.rcs_private_message_sender(b, wire) == (0, 3, 1)
    for message in (first, plain, wire):
        assert isinstance(b.process_message(message), ApplicationMessage)
    assert n.rcs_next_generation(a) == 4


def test_after_an_epoch_change() -> None:
    a, b = group_of(2)
    for _ in range(3):
        n.rcs_encrypt_with_generation(a, FRAME)
    late, _ = n.rcs_encrypt_with_generation(a, FRAME)  # generation 3 of epoch 1
    result = b.self_update()
    b.merge_pending_commit()
    deliver(result.commit, [a])
    assert a.epoch == b.epoch == 2
    # A new epoch, a new ratchet.
    wire, generation = n.rcs_encrypt_with_generation(a, FRAME)
    assert generation == 0 and n.rcs_private_message_sender(b, wire) == (0, 0, 2)
    # A late message of the previous epoch: read with the kept past-epoch secrets.
    assert n.rcs_private_message_sender(b, late) == (0, 3, 1)
    message = b.process_message(late)
    assert isinstance(message, ApplicationMessage) and message.epoch == 1


def test_no_secrets_for_the_epoch() -> None:
    a, b = group_of(2, past_epochs=0)
    late, _ = n.rcs_encrypt_with_generation(a, FRAME)
    result = b.self_update()
    b.merge_pending_commit()
    deliver(result.commit, [a])
    assert n.rcs_private_message_sender(b, late) is None
    # A message that is not for the group, or not a PrivateMessage.
    other = group_of(1)[0]
    wire, _ = n.rcs_encrypt_with_generation(a, FRAME)
    with pytest.raises(ValidationError):
        n.rcs_private_message_sender(other, wire)
    with pytest.raises(InvalidArgumentError):
        n.rcs_private_message_sender(b, result.commit)


def test_tampered_sender_data_reads_as_none() -> None:
    a, b = group_of(2)
    wire = bytearray(n.rcs_encrypt_with_generation(a, FRAME)[0])
    offset = 4
    length, offset = decode_varint(bytes(wire), offset)
    offset += length + 9
    length, offset = decode_varint(bytes(wire), offset)  # authenticated_data
    offset += length
    length, offset = decode_varint(bytes(wire), offset)  # encrypted_sender_data
    wire[offset] ^= 1
    assert n.rcs_private_message_sender(b, bytes(wire)) is None


def test_encrypt_with_generation_errors() -> None:
    a, _b = group_of(2)
    with pytest.raises(InvalidArgumentError):
        n.rcs_encrypt_with_generation(a, b"\x00\x01\x00")
    with pytest.raises(InvalidArgumentError):
        n.rcs_encrypt_with_generation(a, FRAME, generation_offset=len(FRAME) - 3)
    a.self_update()
    with pytest.raises(GroupStateError):
        n.rcs_encrypt_with_generation(a, FRAME)
    a.clear_pending_commit()
    assert n.rcs_encrypt_with_generation(a, FRAME)[1] == 0


# --- bare RCC.16 proposals ------------------------------------------------------------------


def _after_content_type(message: bytes) -> bytes:
    """The bytes of a PublicMessage from the proposal on (member sender)."""
    length, offset = decode_varint(message, 4)
    offset += length + 8 + 1 + 4  # group_id, epoch, sender type, leaf index
    length, offset = decode_varint(message, offset)
    offset += length  # authenticated data
    assert message[offset] == 2  # content type: proposal
    return message[offset + 1 :]


@pytest.mark.parametrize(
    ("proposal_type", "body"),
    [(0xF002, b""), (0xF003, b""), (0xF004, b"\x00\x00\x00\x07")],
)
def test_bare_proposal_layout(proposal_type: int, body: bytes) -> None:
    a, b = group_of(2)
    message = n.rcs_create_proposal(a, proposal_type, body, authenticated_data=b"content")
    rest = _after_content_type(message)
    # The type, the bare body, then at once the signature<V>: no length prefix (which
    # OpenMLS would write for a custom proposal).
    assert rest[:2] == proposal_type.to_bytes(2, "big")
    assert rest[2 : 2 + len(body)] == body
    signature_length, after = decode_varint(rest, 2 + len(body))
    assert 64 <= signature_length <= 72  # a DER ECDSA P-256 signature
    tag_length, end = decode_varint(rest, after + signature_length)
    assert tag_length == 32 and end + tag_length == len(rest)  # HMAC-SHA256 membership tag
    parsed = n.rcs_parse_proposal(message)
    assert parsed == (a.group_id, a.epoch, 1, a.own_leaf_index, proposal_type, body, b"content")
    verified = n.rcs_verify_proposal(b, message)
    assert (verified.sender_type, verified.sender_index, verified.proposal_type) == (
        1,
        a.own_leaf_index,
        proposal_type,
    )
    assert (verified.body, verified.authenticated_data, verified.epoch) == (
        body,
        b"content",
        a.epoch,
    )
    credential = verified.credential
    assert credential is not None and credential.identity == b"m0"
    own = a.member(a.own_leaf_index)
    assert own is not None and verified.signature_key == own.signature_key


def test_our_verifier_accepts_openmls_proposals() -> None:
    """The TBS, the membership tag and SignWithLabel are computed as OpenMLS does: our
    verifier accepts the proposals OpenMLS signs (Remove, Update, SelfRemove)."""
    a, b, c = group_of(3)
    for message in (a.propose_remove(2), a.propose_self_update(), a.leave_via_self_remove()):
        verified = n.rcs_verify_proposal(b, message)
        assert verified.sender_type == 1 and verified.sender_index == 0
        assert verified.epoch == a.epoch
        assert n.rcs_parse_proposal(message)[4] in (0x0003, 0x0002, 0x000A)
        # And it breaks on any change.
        bad = bytearray(message)
        bad[-40] ^= 1
        with pytest.raises(InvalidSignatureError):
            n.rcs_verify_proposal(c, bytes(bad))


def test_proposal_signature_and_tag() -> None:
    a, b = group_of(2)
    message = n.rcs_create_proposal(a, 0xF002, authenticated_data=b"signed receipt")
    tag_start = len(message) - 32
    for index in (30, len(message) - 80, tag_start, len(message) - 1):
        bad = bytearray(message)
        bad[index] ^= 0x01
        with pytest.raises((InvalidSignatureError, ParseError, ValidationError)):
            n.rcs_verify_proposal(b, bytes(bad))
    # Signed content changed by one byte: the signature no longer verifies.
    forged = message.replace(b"signed receipt", b"signed receipT")
    with pytest.raises(InvalidSignatureError):
        n.rcs_verify_proposal(b, forged)


def test_proposal_verified_in_a_past_epoch() -> None:
    a, b, c = group_of(3)
    signed = n.rcs_create_proposal(c, 0xF002, authenticated_data=b"receipt at epoch 1")
    # Two epochs later, and the signer removed meanwhile: the kept epoch tree has its key.
    result = a.self_update()
    a.merge_pending_commit()
    deliver(result.commit, [b, c])
    result = a.remove_members([c.own_leaf_index])
    a.merge_pending_commit()
    deliver(result.commit, [b])
    assert b.epoch == 3 and b.member(2) is None
    verified = n.rcs_verify_proposal(b, signed)
    assert verified.sender_index == 2 and verified.epoch == 1
    assert verified.authenticated_data == b"receipt at epoch 1"
    credential = verified.credential
    assert credential is not None and credential.identity == b"m2"


def test_proposal_from_a_forgotten_epoch() -> None:
    a, b = group_of(2, past_epochs=0)
    signed = n.rcs_create_proposal(a, 0xF003)
    result = a.self_update()
    a.merge_pending_commit()
    deliver(result.commit, [b])
    with pytest.raises(WrongEpochError):
        n.rcs_verify_proposal(b, signed)


def test_proposal_errors() -> None:
    a, _b = group_of(2)
    with pytest.raises(InvalidArgumentError):
        n.rcs_create_proposal(a, 0xF002, b"\x00")
    with pytest.raises(InvalidArgumentError):
        n.rcs_create_proposal(a, 0xF004, b"\x00\x01")
    with pytest.raises(InvalidArgumentError):
        n.rcs_create_proposal(a, 0x0003)
    other = group_of(1)[0]
    with pytest.raises(ValidationError):
        n.rcs_verify_proposal(other, n.rcs_create_proposal(a, 0xF003))
    wire, _ = n.rcs_encrypt_with_generation(a, FRAME)
    with pytest.raises(ParseError):
        n.rcs_parse_proposal(wire)
    commit = a.self_update().commit
    with pytest.raises(ParseError):
        n.rcs_parse_proposal(commit)
    assert n.RCS_PROPOSAL_RCS_SIGNATURE == 0xF002
    assert n.RCS_PROPOSAL_SELF_REMOVE == 0xF003 and n.RCS_PROPOSAL_SERVER_REMOVE == 0xF004


def test_server_remove_body() -> None:
    a, b = group_of(2)
    message = n.rcs_create_proposal(a, 0xF004, (1).to_bytes(4, "big"))
    assert n.rcs_parse_proposal(message)[5] == b"\x00\x00\x00\x01"
    assert n.rcs_verify_proposal(b, message).body == b"\x00\x00\x00\x01"


# --- Welcome-only GroupInfo extensions -------------------------------------------------------


def test_welcome_only_extensions() -> None:
    ext_types = [0xF001, 0xF005]
    config = GroupConfig(public_handshake=True, group_context_extensions=[(0xF001, b"\0\0\0\1")])
    alice = Client(
        Credential.basic(b"a"),
        SignatureKeyPair.generate(Ciphersuite(2)),
        2,
        extension_types=ext_types,
    )
    bob = Client(
        Credential.basic(b"b"),
        SignatureKeyPair.generate(Ciphersuite(2)),
        2,
        extension_types=ext_types,
    )
    group = alice.create_group(config, group_id=b"grp")
    secret = b"\x20" + b"K" * 32
    result = n.rcs_commit(
        group, add=[bob.generate_key_package()], welcome_extensions=[(0xF005, secret)]
    )
    assert result.welcome is not None and result.group_info is None
    group.merge_pending_commit()
    staged = bob.stage_welcome(result.welcome, config=config)
    assert (0xF005, secret) in staged.group_info_extensions
    joined = staged.join()
    assert joined.epoch_authenticator == group.epoch_authenticator
    # Not in the GroupContext, not in the GroupInfo the delivery service gets.
    assert all(t != 0xF005 for t, _ in joined.extensions)
    assert b"K" * 32 not in group.export_group_info()
    # Without extensions it is an ordinary commit.
    carol = client("c")
    with pytest.raises(RcsMlsError):
        carol.stage_welcome(result.welcome)
    with pytest.raises(InvalidArgumentError):
        bob.stage_welcome(result.commit)


def test_rcs_commit_checks() -> None:
    a, b = group_of(2)
    with pytest.raises(InvalidArgumentError):
        n.rcs_commit(a, remove=[a.own_leaf_index])
    with pytest.raises(InvalidArgumentError):
        n.rcs_commit(a, remove=[7])
    result = n.rcs_commit(a, remove=[1])
    with pytest.raises(GroupStateError):
        n.rcs_commit(a)
    a.merge_pending_commit()
    deliver(result.commit, [b])
    assert not b.is_active


# --- parsing arbitrary bytes -----------------------------------------------------------------


def test_message_info() -> None:
    a, _b = group_of(2)
    wire, _ = n.rcs_encrypt_with_generation(a, FRAME)
    assert n.rcs_message_info(wire) == (2, a.group_id, 1, 1)
    proposal = n.rcs_create_proposal(a, 0xF003)
    assert n.rcs_message_info(proposal) == (1, a.group_id, 1, 2)
    assert n.rcs_message_info(a.self_update().commit) == (1, a.group_id, 1, 3)
    assert n.rcs_message_info(a.export_group_info()) == (4, None, None, None)
    with pytest.raises(ParseError):
        n.rcs_message_info(b"\x00\x02\x00\x01")
    with pytest.raises(ParseError):
        n.rcs_message_info(b"\x00\x01\x00\x09")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_parsers_raise_only_parse_errors(data: bytes) -> None:
    for parse in (n.rcs_parse_proposal, n.rcs_message_info):
        with contextlib.suppress(ParseError, InvalidArgumentError):
            parse(data)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=120))
def test_sender_data_of_garbage(data: bytes) -> None:
    a = _SHARED[0]
    # A PrivateMessage shell with random content: None or a package error, never a crash.
    shell = b"\x00\x01\x00\x02" + bytes([len(a.group_id)]) + a.group_id + data
    with contextlib.suppress(RcsMlsError):
        n.rcs_private_message_sender(a, shell)


_SHARED = group_of(1)


# --- bare leave requests committed by reference ---------------------------------------------


def test_self_remove_committed_by_reference() -> None:
    """A bare 0xF003 is committed by reference (RCC.16 §8): the committer and every
    member, the leaver included, process the commit; the leaver learns it was removed."""
    a, b, c = group_of(3)
    leave = n.rcs_create_proposal(c, 0xF003)
    result = n.rcs_commit(a, proposals=[leave])
    # The commit carries the reference, not the proposal.
    reference = n.rcs_proposal_ref(a, leave)
    assert reference in result.commit and leave not in result.commit
    a.merge_pending_commit()
    staged = n.rcs_process_message(b, result.commit, proposals=[leave])
    assert isinstance(staged, StagedCommit) and staged.removed == [2]
    b.merge_staged_commit(staged)
    own = n.rcs_process_message(c, result.commit, proposals=[leave])
    assert isinstance(own, StagedCommit) and own.self_removed
    c.merge_staged_commit(own)
    assert not c.is_active
    assert a.epoch_authenticator == b.epoch_authenticator and b.member(2) is None
    # The stand-ins never stay in the store: sending works at once.
    wire, _ = n.rcs_encrypt_with_generation(b, FRAME)
    assert isinstance(a.process_message(wire), ApplicationMessage)


def test_by_reference_commit_needs_the_proposal() -> None:
    """A member that never received the SelfRemove cannot process the commit (and says
    so); given it, it can."""
    a, b, c = group_of(3)
    leave = n.rcs_create_proposal(c, 0xF003)
    result = n.rcs_commit(a, proposals=[leave])
    with pytest.raises(ValidationError):
        n.rcs_process_message(b, result.commit)
    assert b.epoch == 1 and not b.pending_proposals
    staged = n.rcs_process_message(b, result.commit, proposals=[leave])
    assert isinstance(staged, StagedCommit) and staged.removed == [2]


def test_proposal_ref_agrees_with_openmls() -> None:
    """Our RFC 9420 §5.2 reference of a proposal equals the one OpenMLS computes."""
    a, b = group_of(2)
    for message in (a.propose_remove(1), a.propose_self_update(), a.leave_via_self_remove()):
        processed = b.process_message(message)
        assert isinstance(processed, ProposalMessage)
        assert n.rcs_proposal_ref(b, message) == processed.proposal_ref
        b.clear_pending_proposals()


def test_stand_ins_are_checked() -> None:
    """Only a verified SelfRemove or ServerRemove of the current epoch is queued."""
    a, b, c = group_of(3)
    with pytest.raises(InvalidArgumentError):
        n.rcs_commit(a, proposals=[n.rcs_create_proposal(c, 0xF002)])
    forged = bytearray(n.rcs_create_proposal(c, 0xF003))
    forged[-40] ^= 1
    with pytest.raises(InvalidSignatureError):
        n.rcs_commit(a, proposals=[bytes(forged)])
    old = n.rcs_create_proposal(c, 0xF003)
    result = a.self_update()
    a.merge_pending_commit()
    deliver(result.commit, [b, c])
    with pytest.raises(WrongEpochError):
        n.rcs_commit(a, proposals=[old])
    assert not a.has_pending_commit and not a.pending_proposals
