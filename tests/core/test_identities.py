"""Ciphersuites, signature keys and credentials."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

import rcs_mls
from rcs_mls import (
    Ciphersuite,
    Client,
    Credential,
    CredentialError,
    InvalidArgumentError,
    ParseError,
    SignatureKeyPair,
    UnsupportedCiphersuiteError,
)


def test_suite_names_follow_the_rfc() -> None:
    assert Ciphersuite(1).name == "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
    assert Ciphersuite(2).name == "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"
    assert Ciphersuite(3).name == "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"
    assert tuple(Ciphersuite) == rcs_mls.SUPPORTED_CIPHERSUITES


@pytest.mark.parametrize("value", [0, 4, 5, 7, 0xF001])
def test_unsupported_suite_is_a_clear_error(value: int) -> None:
    with pytest.raises(UnsupportedCiphersuiteError, match="not supported"):
        Ciphersuite(value)
    with pytest.raises(UnsupportedCiphersuiteError):
        SignatureKeyPair.generate(value)
    keys = SignatureKeyPair.generate(1)
    with pytest.raises(UnsupportedCiphersuiteError):
        Client(Credential.basic(b"x"), keys, value)
    # It is also a ValueError, which callers already catch.
    with pytest.raises(ValueError):
        Ciphersuite(value)


def test_signature_key_sizes(suite: Ciphersuite) -> None:
    keys = SignatureKeyPair.generate(suite)
    if suite == Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256:
        assert keys.signature_scheme == "ecdsa_secp256r1_sha256"
        assert len(keys.public_key) == 65 and keys.public_key[0] == 4
    else:
        assert keys.signature_scheme == "ed25519"
        assert len(keys.public_key) == 32
    assert len(keys.private_bytes()) == 32


def test_key_export_import_roundtrip(suite: Ciphersuite) -> None:
    keys = SignatureKeyPair.generate(suite)
    again = SignatureKeyPair.from_bytes(keys.to_bytes())
    assert again.public_key == keys.public_key
    assert again.private_bytes() == keys.private_bytes()
    raw = SignatureKeyPair.from_private_bytes(suite, keys.private_bytes())
    assert raw.public_key == keys.public_key
    # bytearray and memoryview are accepted too.
    assert SignatureKeyPair.from_bytes(bytearray(keys.to_bytes())).public_key == keys.public_key
    assert SignatureKeyPair.from_bytes(memoryview(keys.to_bytes())).public_key == keys.public_key


def test_imported_key_signs_like_the_original(suite: Ciphersuite) -> None:
    """A client built from an exported key is the same member to its peers."""
    keys = SignatureKeyPair.generate(suite)
    restored = SignatureKeyPair.from_bytes(keys.to_bytes())
    alice = Client(Credential.basic(b"alice"), restored, suite)
    kp = alice.generate_key_package()
    assert kp.signature_key == keys.public_key


def test_key_import_rejects_bad_input(suite: Ciphersuite) -> None:
    keys = SignatureKeyPair.generate(suite)
    data = keys.to_bytes()
    with pytest.raises(ParseError):
        SignatureKeyPair.from_bytes(data[:-1])
    with pytest.raises(ParseError):
        SignatureKeyPair.from_bytes(data + b"\x00")
    tampered = bytearray(data)
    tampered[-1] ^= 1  # public key no longer matches the private key
    with pytest.raises(ParseError, match="does not match"):
        SignatureKeyPair.from_bytes(bytes(tampered))
    with pytest.raises(InvalidArgumentError):
        SignatureKeyPair.from_private_bytes(suite, b"\x01" * 31)
    with pytest.raises(TypeError):
        SignatureKeyPair.from_bytes("not bytes")  # type: ignore[arg-type]


def test_p256_zero_scalar_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError):
        SignatureKeyPair.from_private_bytes(2, b"\x00" * 32)


def test_client_rejects_key_of_another_scheme() -> None:
    ed_keys = SignatureKeyPair.generate(1)
    with pytest.raises(InvalidArgumentError, match="signs with"):
        Client(Credential.basic(b"a"), ed_keys, 2)


def test_basic_credential() -> None:
    cred = Credential.basic(b"alice@example.org")
    assert cred.credential_type == "basic"
    assert cred.identity == b"alice@example.org"
    assert cred.certificates == []
    assert Credential.from_bytes(cred.to_bytes()) == cred
    with pytest.raises(ParseError):
        Credential.from_bytes(cred.to_bytes()[:-2])


def _self_signed(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, uri: str) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=60))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False
        )
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, algorithm)
    return cert.public_bytes(serialization.Encoding.DER)


def _keys_and_cert(suite: Ciphersuite, uri: str) -> tuple[SignatureKeyPair, bytes]:
    if suite == Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256:
        ec_key = ec.generate_private_key(ec.SECP256R1())
        scalar = ec_key.private_numbers().private_value.to_bytes(32, "big")
        return SignatureKeyPair.from_private_bytes(suite, scalar), _self_signed(ec_key, uri)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    seed = ed_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return SignatureKeyPair.from_private_bytes(suite, seed), _self_signed(ed_key, uri)


def test_x509_credential_with_matching_key(suite: Ciphersuite) -> None:
    keys, leaf = _keys_and_cert(suite, "tel:+15550100001")
    cred = Credential.x509([leaf])
    assert cred.credential_type == "x509"
    assert cred.certificates == [leaf]
    assert cred.identity == b"tel:+15550100001"
    client = Client(cred, keys, suite)
    kp = client.generate_key_package()
    parsed = rcs_mls.KeyPackage.from_bytes(kp.to_bytes())
    assert parsed.credential == cred
    assert parsed.identity == b"tel:+15550100001"
    # A group of two X.509 members works end to end.
    bob_keys, bob_leaf = _keys_and_cert(suite, "tel:+15550100002")
    bob = Client(Credential.x509([bob_leaf]), bob_keys, suite)
    group = client.create_group()
    welcome = group.add_members([bob.generate_key_package()]).welcome
    group.merge_pending_commit()
    assert welcome is not None
    bob_group = bob.join_group(welcome)
    assert [m.identity for m in bob_group.members()] == [b"tel:+15550100001", b"tel:+15550100002"]


def test_x509_leaf_key_must_match_the_signature_key(suite: Ciphersuite) -> None:
    _, leaf = _keys_and_cert(suite, "tel:+15550100001")
    other_keys = SignatureKeyPair.generate(suite)
    with pytest.raises(CredentialError, match="not the signature key"):
        Client(Credential.x509([leaf]), other_keys, suite)


def test_x509_credential_rejects_garbage() -> None:
    with pytest.raises(CredentialError):
        Credential.x509([b"\x30\x03\x02\x01"])
    with pytest.raises(CredentialError):
        Credential.x509([])
