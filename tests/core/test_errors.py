"""Bad input and misuse: every failure is a clear exception from the package's tree."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rcs_mls
from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Credential,
    DecryptionError,
    GroupConfig,
    GroupStateError,
    InvalidArgumentError,
    KeyPackage,
    ParseError,
    RcsMlsError,
    SignatureKeyPair,
    StagedCommit,
    ValidationError,
    WrongEpochError,
)
from tests.conftest import assert_in_sync, deliver, make_client, make_group


def test_hierarchy() -> None:
    for name in rcs_mls.exceptions.__all__:
        cls = getattr(rcs_mls.exceptions, name)
        assert issubclass(cls, RcsMlsError)
    for cls in (ParseError, rcs_mls.UnsupportedCiphersuiteError, InvalidArgumentError):
        assert issubclass(cls, ValueError)
    assert not issubclass(DecryptionError, ValueError)
    assert issubclass(WrongEpochError, ValidationError)


def test_truncated_message(suite: Ciphersuite) -> None:
    _, (a, b) = make_group(suite, 2)
    wire = a.encrypt(b"hello")
    for cut in (0, 3, 10, len(wire) - 1):
        with pytest.raises(ParseError) as info:
            b.process_message(wire[:cut])
        assert isinstance(info.value, ValueError)
    # The untouched message still decrypts: nothing was consumed.
    m = b.process_message(wire)
    assert isinstance(m, ApplicationMessage) and m.plaintext == b"hello"


def test_replay_is_rejected(suite: Ciphersuite) -> None:
    _, (a, b) = make_group(suite, 2)
    wire = a.encrypt(b"once")
    b.process_message(wire)
    with pytest.raises(DecryptionError) as info:
        b.process_message(wire)
    assert str(info.value) == "the message could not be decrypted"


def test_tampered_ciphertext_says_nothing(suite: Ciphersuite) -> None:
    _, (a, b) = make_group(suite, 2)
    wire = bytearray(a.encrypt(b"secret"))
    wire[-5] ^= 0x40
    with pytest.raises(DecryptionError) as info:
        b.process_message(bytes(wire))
    assert str(info.value) == "the message could not be decrypted"
    # The group still works afterwards.
    assert isinstance(b.process_message(a.encrypt(b"next")), ApplicationMessage)


def test_wrong_epoch(suite: Ciphersuite) -> None:
    _, (a, b) = make_group(suite, 2)
    old = a.encrypt(b"epoch 1")
    result = b.self_update()
    b.merge_pending_commit()
    deliver(result.commit, [a])
    with pytest.raises(WrongEpochError):
        b.process_message(old)
    # A commit for an epoch the group has left.
    stale = a.self_update().commit
    a.clear_pending_commit()
    newer = b.self_update()
    b.merge_pending_commit()
    deliver(newer.commit, [a])
    with pytest.raises(WrongEpochError):
        b.process_message(stale)
    assert_in_sync([a, b])


def test_past_epoch_messages_when_configured(suite: Ciphersuite) -> None:
    config = GroupConfig(max_past_epochs=3)
    _, (a, b) = make_group(suite, 2, config)
    old = a.encrypt(b"late message")
    result = b.self_update()
    b.merge_pending_commit()
    deliver(result.commit, [a])
    m = b.process_message(old)
    assert isinstance(m, ApplicationMessage) and m.plaintext == b"late message"
    assert m.epoch == b.epoch - 1


def test_removed_member(suite: Ciphersuite) -> None:
    _, (a, b, c) = make_group(suite, 3)
    result = a.remove_members([2])
    a.merge_pending_commit()
    deliver(result.commit, [b])
    # c has not processed its removal yet and sends at the old epoch.
    from_removed = c.encrypt(b"am I still here?")
    with pytest.raises(WrongEpochError):
        a.process_message(from_removed)
    staged = c.process_message(result.commit)
    assert isinstance(staged, StagedCommit) and staged.self_removed
    c.merge_staged_commit(staged)
    assert not c.is_active
    with pytest.raises(GroupStateError, match="removed"):
        c.encrypt(b"after removal")
    with pytest.raises(GroupStateError):
        c.self_update()


def test_message_for_another_group(suite: Ciphersuite) -> None:
    _, (_a, b) = make_group(suite, 2)
    _, (x, _y) = make_group(suite, 2)
    with pytest.raises(ValidationError, match="another group"):
        b.process_message(x.encrypt(b"wrong group"))


def test_wrong_message_kinds(suite: Ciphersuite) -> None:
    _clients, (a, b) = make_group(suite, 2)
    carol = make_client("carol", suite)
    result = a.add_members([carol.generate_key_package()])
    assert result.welcome is not None
    with pytest.raises(InvalidArgumentError, match="PublicMessage or PrivateMessage"):
        b.process_message(result.welcome)
    with pytest.raises(InvalidArgumentError, match="not a Welcome"):
        carol.join_group(result.commit)
    with pytest.raises(InvalidArgumentError, match="not a GroupInfo"):
        carol.join_by_external_commit(result.commit)
    # A Welcome for somebody else.
    dave = make_client("dave", suite)
    with pytest.raises(ValidationError, match="key packages"):
        dave.join_group(result.welcome)
    # The failed attempt did not consume carol's key package: she can still join.
    a.merge_pending_commit()
    assert carol.join_group(result.welcome).epoch == a.epoch


def test_failed_join_keeps_the_key_package(suite: Ciphersuite) -> None:
    config = GroupConfig(use_ratchet_tree_extension=False)
    _, (a,) = make_group(suite, 1, config)
    bob = make_client("bob", suite)
    result = a.add_members([bob.generate_key_package()])
    a.merge_pending_commit()
    assert result.welcome is not None
    with pytest.raises(RcsMlsError):
        bob.join_group(result.welcome)  # no ratchet tree: fails
    joined = bob.join_group(result.welcome, ratchet_tree=a.export_ratchet_tree())
    assert joined.epoch_authenticator == a.epoch_authenticator


def test_garbage_ratchet_tree_and_group_info(suite: Ciphersuite) -> None:
    _, (a,) = make_group(suite, 1)
    bob = make_client("bob", suite)
    with pytest.raises(ParseError):
        bob.join_by_external_commit(b"\x00\x01\x00\x04garbage")
    gi = a.export_group_info(with_ratchet_tree=False)
    with pytest.raises(ParseError):
        bob.join_by_external_commit(gi, ratchet_tree=b"\xff\xff")


def test_pending_commit_blocks_other_changes(suite: Ciphersuite) -> None:
    _, (a, _b) = make_group(suite, 2)
    carol = make_client("carol", suite)
    a.self_update()
    for call in (
        lambda: a.add_members([carol.generate_key_package()]),
        lambda: a.remove_members([1]),
        lambda: a.commit_pending_proposals(),
        lambda: a.propose_self_update(),
    ):
        with pytest.raises(GroupStateError):
            call()


def test_staged_commit_cannot_cross_groups(suite: Ciphersuite) -> None:
    _, (a, b) = make_group(suite, 2)
    _, (_x, y) = make_group(suite, 2)
    staged = b.process_message(a.self_update().commit)
    assert isinstance(staged, StagedCommit)
    with pytest.raises(GroupStateError, match="another group"):
        y.merge_staged_commit(staged)


_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_package_errors(data: bytes) -> None:
    suite = Ciphersuite(1)
    group = _FUZZ_GROUP
    for call in (
        lambda: group.process_message(data),
        lambda: KeyPackage.from_bytes(data),
        lambda: Credential.from_bytes(data),
        lambda: SignatureKeyPair.from_bytes(data),
        lambda: _FUZZ_CLIENT.join_group(data),
        lambda: _FUZZ_CLIENT.join_by_external_commit(data),
    ):
        with contextlib.suppress(RcsMlsError):
            call()
    assert group.epoch == 1 and suite == Ciphersuite(1)


@_settings
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
def test_mutated_messages_raise_only_package_errors(position: int, value: int) -> None:
    wire = bytearray(_FUZZ_WIRE)
    wire[position % len(wire)] = value
    try:
        result = _FUZZ_PEER.process_message(bytes(wire))
    except RcsMlsError:
        return
    # An unchanged byte (same value) decrypts once; later copies are replays.
    assert isinstance(result, ApplicationMessage)


_FUZZ_CLIENTS, (_FUZZ_GROUP, _FUZZ_PEER) = make_group(Ciphersuite(1), 2)
_FUZZ_CLIENT = make_client("fuzz", Ciphersuite(1))
_FUZZ_WIRE = _FUZZ_GROUP.encrypt(b"fuzz me", authenticated_data=b"aad")
