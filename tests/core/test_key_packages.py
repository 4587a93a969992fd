"""Key packages: generation, serialisation, parsing and validation."""

from __future__ import annotations

import time

import pytest

from rcs_mls import (
    Ciphersuite,
    InvalidArgumentError,
    InvalidSignatureError,
    KeyPackage,
    KeyPackageExpiredError,
    ParseError,
    UnsupportedCiphersuiteError,
)
from tests.conftest import make_client


def test_generate_serialise_parse(suite: Ciphersuite) -> None:
    alice = make_client("alice", suite)
    kp = alice.generate_key_package(lifetime_seconds=3600)
    data = kp.to_bytes()
    # MLSMessage: version mls10 (0x0001), wire format mls_key_package (0x0005).
    assert data[:4] == b"\x00\x01\x00\x05"
    parsed = KeyPackage.from_bytes(data)
    assert parsed == kp
    assert parsed.ciphersuite == suite
    assert isinstance(parsed.ciphersuite, Ciphersuite)
    assert parsed.identity == b"alice"
    assert parsed.credential == alice.credential
    assert parsed.signature_key == alice.signature_public_key
    not_before, not_after = parsed.lifetime
    now = int(time.time())
    assert not_before <= now < not_after <= now + 3600 + 5
    assert len(parsed.hash_ref) == 32
    assert parsed.hash_ref == kp.hash_ref
    assert not parsed.last_resort


def test_generate_many_are_distinct(suite: Ciphersuite) -> None:
    alice = make_client("alice", suite)
    kps = alice.generate_key_packages(10)
    assert len({kp.hash_ref for kp in kps}) == 10


def test_last_resort_and_extensions(suite: Ciphersuite) -> None:
    alice = make_client("alice", suite, extension_types=[0xFF00])
    kp = alice.generate_key_package(last_resort=True, extensions=[(0xFF00, b"hello")])
    parsed = KeyPackage.from_bytes(kp.to_bytes())
    assert parsed.last_resort
    assert (0xFF00, b"hello") in parsed.extensions
    assert any(t == 0x000A for t, _ in parsed.extensions)


def test_explicit_lifetime(suite: Ciphersuite) -> None:
    now = int(time.time())
    alice = make_client("alice", suite)
    kp = alice.generate_key_package(lifetime=(now - 10, now + 100))
    assert KeyPackage.from_bytes(kp.to_bytes()).lifetime == (now - 10, now + 100)
    with pytest.raises(InvalidArgumentError):
        alice.generate_key_package(lifetime=(now, now - 1))


def test_expired_key_package_is_rejected(suite: Ciphersuite) -> None:
    now = int(time.time())
    alice = make_client("alice", suite)
    expired = alice.generate_key_package(lifetime=(now - 7200, now - 3600))
    with pytest.raises(KeyPackageExpiredError):
        KeyPackage.from_bytes(expired.to_bytes())
    not_yet = alice.generate_key_package(lifetime=(now + 3600, now + 7200))
    with pytest.raises(KeyPackageExpiredError):
        KeyPackage.from_bytes(not_yet.to_bytes())


def test_bad_signature_is_rejected(suite: Ciphersuite) -> None:
    data = bytearray(make_client("alice", suite).generate_key_package().to_bytes())
    data[-3] ^= 0x01  # inside the key package signature
    with pytest.raises((InvalidSignatureError, ParseError)):
        KeyPackage.from_bytes(bytes(data))


def test_tampered_identity_breaks_the_signature(suite: Ciphersuite) -> None:
    data = make_client("alice", suite).generate_key_package().to_bytes()
    tampered = data.replace(b"alice", b"alicf")
    assert tampered != data
    with pytest.raises(InvalidSignatureError):
        KeyPackage.from_bytes(tampered)


def test_truncated_and_garbage_bytes(suite: Ciphersuite) -> None:
    data = make_client("alice", suite).generate_key_package().to_bytes()
    for cut in (0, 1, 4, len(data) // 2, len(data) - 1):
        with pytest.raises(ParseError) as info:
            KeyPackage.from_bytes(data[:cut])
        assert isinstance(info.value, ValueError)
    with pytest.raises(ParseError):
        KeyPackage.from_bytes(data + b"\x00")


def test_welcome_is_not_a_key_package() -> None:
    suite = Ciphersuite(1)
    alice, bob = make_client("alice", suite), make_client("bob", suite)
    group = alice.create_group()
    welcome = group.add_members([bob.generate_key_package()]).welcome
    assert welcome is not None
    with pytest.raises(ParseError, match="KeyPackage"):
        KeyPackage.from_bytes(welcome)


def test_unsupported_suite_in_received_key_package() -> None:
    data = bytearray(make_client("alice", Ciphersuite(1)).generate_key_package().to_bytes())
    # MLSMessage header (4 bytes), KeyPackage.version (2), cipher_suite (2).
    assert data[6:8] == b"\x00\x01"
    data[6:8] = b"\x00\x07"
    with pytest.raises((UnsupportedCiphersuiteError, InvalidSignatureError, ParseError)):
        KeyPackage.from_bytes(bytes(data))
