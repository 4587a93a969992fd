"""Tests of rcs_mls.rcs.credentials: the RCC.16 X.509 credential profile."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID
from hypothesis import given
from hypothesis import strategies as st

from rcs_mls.exceptions import CredentialError, InvalidArgumentError, RcsMlsError
from rcs_mls.rcs import credentials
from rcs_mls.rcs.credentials import (
    ID_KP_RCS_MLS_CLIENT,
    LEAF_MAX_LIFETIME,
    OID_RCS_E2EE_CERTIFICATE_POLICY,
    OID_RCS_PARTICIPANT_INFORMATION,
    RcsIdentity,
    TestCertificateAuthority,
    generate_signature_key_pair,
    map_members_to_phone_numbers,
    normalize_phone_number,
    phone_number_of,
    validate_chain,
)

ALICE = "+15550100001"
BOB = "+447700900123"
CAROL = "+33612345678"


@pytest.fixture(scope="module")
def ca() -> TestCertificateAuthority:
    return TestCertificateAuthority.generate(name="Test Root")


@pytest.fixture(scope="module")
def ca_with_intermediate() -> TestCertificateAuthority:
    return TestCertificateAuthority.generate(name="Test Root 2", intermediate=True)


@pytest.fixture(scope="module")
def other_ca() -> TestCertificateAuthority:
    return TestCertificateAuthority.generate(name="Someone Else's Root")


def _now() -> datetime:
    return datetime.now(UTC)


def _public_point() -> bytes:
    return generate_signature_key_pair()[1]


def _key_usage(*, digital_signature: bool = True, key_agreement: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


_DEFAULT_EKU = (ID_KP_RCS_MLS_CLIENT,)
_DEFAULT_SAN = (f"tel:{ALICE}",)


def _custom_leaf(
    ca: TestCertificateAuthority,
    *,
    public_key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = _DEFAULT_EKU,
    san: Sequence[str] | None = _DEFAULT_SAN,
    key_usage: x509.KeyUsage | None = None,
    is_ca: bool = False,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
    lifetime: timedelta = timedelta(days=60),
) -> list[bytes]:
    """A leaf built with cryptography directly, to deviate from the profile."""
    if public_key is None:
        public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    start = _now() - timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device")]))
        .issuer_name(ca.issuer_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(
            x509.BasicConstraints(ca=is_ca, path_length=None),
            critical=True,
        )
        .add_extension(key_usage or _key_usage(), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.issuer_private_key.public_key()),
            critical=False,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri) for uri in san]),
            critical=False,
        )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    leaf = builder.sign(ca.issuer_private_key, hashes.SHA256())
    chain = [leaf.public_bytes(serialization.Encoding.DER)]
    if ca.intermediate_certificate is not None:
        chain.append(ca.intermediate_certificate.public_bytes(serialization.Encoding.DER))
    return chain


# --- Issue and validate -----------------------------------------------------------------


@pytest.mark.parametrize("intermediate", [False, True], ids=["root-only", "intermediate"])
def test_issue_and_validate(intermediate: bool) -> None:
    ca = TestCertificateAuthority.generate(intermediate=intermediate)
    private_key, public_key = generate_signature_key_pair()
    chain = ca.issue_device_certificate(ALICE, public_key)

    assert len(chain) == (2 if intermediate else 1)
    identity = validate_chain(chain, [ca.certificate_der], expected_phone_number=ALICE)

    assert identity.phone_number == ALICE
    assert identity.leaf_public_key == public_key
    assert identity.chain == tuple(chain)
    assert identity.not_valid_after - identity.not_valid_before == LEAF_MAX_LIFETIME
    assert identity.not_valid_before.tzinfo is not None
    assert len(private_key) == 32


def test_leaf_profile(ca_with_intermediate: TestCertificateAuthority) -> None:
    public_key = _public_point()
    chain = ca_with_intermediate.issue_device_certificate(ALICE, public_key, device_id="dev-1")
    leaf = x509.load_der_x509_certificate(chain[0])
    extensions = leaf.extensions

    key = leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert leaf.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ID_KP_RCS_MLS_CLIENT
    ]
    key_usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value == _key_usage()
    policies = extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [OID_RCS_E2EE_CERTIFICATE_POLICY]
    assert not extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [f"tel:{ALICE}"]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= LEAF_MAX_LIFETIME
    assert leaf.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "dev-1"
    assert leaf.issuer == ca_with_intermediate.issuer_certificate.subject


def test_leaf_public_key_equals_key_object(ca: TestCertificateAuthority) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    chain = ca.issue_device_certificate(ALICE, private_key.public_key())
    identity = validate_chain(chain, [ca.certificate])
    assert identity.leaf_public_key == private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def test_generate_signature_key_pair() -> None:
    private_scalar, public_point = generate_signature_key_pair()
    assert len(private_scalar) == 32
    assert len(public_point) == 65
    assert public_point[0] == 0x04
    derived = ec.derive_private_key(int.from_bytes(private_scalar, "big"), ec.SECP256R1())
    assert (
        derived.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        == public_point
    )


def test_trust_anchor_forms_and_trailing_root(
    ca_with_intermediate: TestCertificateAuthority,
) -> None:
    chain = ca_with_intermediate.issue_device_certificate(ALICE, _public_point())
    for anchor in (ca_with_intermediate.certificate, ca_with_intermediate.certificate_der):
        assert validate_chain(chain, [anchor]).phone_number == ALICE
    with_root = [*chain, ca_with_intermediate.certificate_der]
    assert validate_chain(with_root, [ca_with_intermediate.certificate]).chain == tuple(with_root)
    # Typed as bytes, but any bytes-like object is accepted at run time.
    bytes_like: list[object] = [bytearray(chain[0]), memoryview(chain[1])]
    identity = validate_chain(bytes_like, [ca_with_intermediate.certificate])  # type: ignore[arg-type]
    assert identity.chain == tuple(chain)


def test_identity_is_frozen(ca: TestCertificateAuthority) -> None:
    identity = validate_chain(ca.issue_device_certificate(ALICE, _public_point()), [ca.certificate])
    assert isinstance(identity, RcsIdentity)
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.phone_number = BOB  # type: ignore[misc]


# --- Identity ---------------------------------------------------------------------------


@pytest.mark.parametrize("expected", [ALICE, "+1 (555) 010-0001", "tel:+1-555-010-0001"])
def test_expected_phone_number_normalised(ca: TestCertificateAuthority, expected: str) -> None:
    chain = ca.issue_device_certificate("+1 555 010 0001", _public_point())
    assert validate_chain(chain, [ca.certificate], expected_phone_number=expected).phone_number == (
        ALICE
    )


def test_wrong_phone_number(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(ALICE, _public_point())
    with pytest.raises(CredentialError, match="expected"):
        validate_chain(chain, [ca.certificate], expected_phone_number=BOB)


def test_expected_phone_number_garbage(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(ALICE, _public_point())
    with pytest.raises(InvalidArgumentError):
        validate_chain(chain, [ca.certificate], expected_phone_number="alice")


@pytest.mark.parametrize(
    ("san", "message"),
    [
        (None, "no SubjectAltName"),
        (("sip:alice@example.com",), "no tel: URI"),
        ((f"tel:{ALICE}", f"tel:{BOB}"), "more than one"),
        ((f"tel:{ALICE};ext=7",), "E.164"),
        (("tel:5550100001",), "E.164"),
        (("tel:+1-555-010-0001",), "E.164"),
        (("tel:+1234567890123456",), "E.164"),
    ],
)
def test_bad_subject_alt_name(
    ca: TestCertificateAuthority, san: tuple[str, ...] | None, message: str
) -> None:
    chain = _custom_leaf(ca, san=san)
    with pytest.raises(CredentialError, match=message):
        validate_chain(chain, [ca.certificate])
    with pytest.raises(CredentialError, match=message):
        phone_number_of(chain)


# --- Time -------------------------------------------------------------------------------


def test_expired(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(
        ALICE, _public_point(), not_valid_before=_now() - timedelta(days=80)
    )
    with pytest.raises(CredentialError, match="expired"):
        validate_chain(chain, [ca.certificate])
    with pytest.raises(CredentialError, match="expired"):
        validate_chain(chain, [ca.certificate], min_remaining=timedelta(0))


def test_fewer_than_30_days_left(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(
        ALICE, _public_point(), not_valid_before=_now() - timedelta(days=50)
    )
    with pytest.raises(CredentialError, match="left"):
        validate_chain(chain, [ca.certificate])
    # Still valid: a caller may accept it for purposes other than its own use.
    identity = validate_chain(chain, [ca.certificate], min_remaining=timedelta(0))
    assert identity.phone_number == ALICE


@pytest.mark.parametrize(("days", "ok"), [(45, True), (47, False)])
def test_remaining_lifetime_at_given_time(
    ca: TestCertificateAuthority, days: int, ok: bool
) -> None:
    start = _now()
    chain = ca.issue_device_certificate(ALICE, _public_point(), not_valid_before=start)
    later = start + timedelta(days=days)
    if ok:
        assert validate_chain(chain, [ca.certificate], now=later).phone_number == ALICE
    else:
        with pytest.raises(CredentialError, match="less than"):
            validate_chain(chain, [ca.certificate], now=later)


def test_naive_now_is_utc(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(ALICE, _public_point())
    naive = datetime.now(UTC).replace(tzinfo=None)
    assert validate_chain(chain, [ca.certificate], now=naive).phone_number == ALICE


def test_not_yet_valid(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(
        ALICE, _public_point(), not_valid_before=_now() + timedelta(days=1)
    )
    with pytest.raises(CredentialError, match="not valid before"):
        validate_chain(chain, [ca.certificate])


def test_lifetime_longer_than_76_days(ca: TestCertificateAuthority) -> None:
    chain = _custom_leaf(ca, lifetime=timedelta(days=90))
    with pytest.raises(CredentialError, match="lifetime"):
        validate_chain(chain, [ca.certificate])
    assert validate_chain(chain, [ca.certificate], max_lifetime=None).phone_number == ALICE


def test_negative_min_remaining(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(ALICE, _public_point())
    with pytest.raises(InvalidArgumentError):
        validate_chain(chain, [ca.certificate], min_remaining=timedelta(days=-1))


# --- Leaf profile -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("eku", "ok"),
    [
        ((ID_KP_RCS_MLS_CLIENT,), True),
        ((ID_KP_RCS_MLS_CLIENT, ExtendedKeyUsageOID.CLIENT_AUTH), True),
        ((ExtendedKeyUsageOID.CLIENT_AUTH,), False),
        ((ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,), False),
        (None, False),
    ],
    ids=["rcs", "rcs+clientAuth", "clientAuth", "anyEKU", "missing"],
)
def test_extended_key_usage(
    ca_with_intermediate: TestCertificateAuthority,
    eku: tuple[x509.ObjectIdentifier, ...] | None,
    ok: bool,
) -> None:
    chain = _custom_leaf(ca_with_intermediate, eku=eku)
    if ok:
        assert validate_chain(chain, [ca_with_intermediate.certificate]).phone_number == ALICE
    else:
        with pytest.raises(CredentialError, match="ExtendedKeyUsage"):
            validate_chain(chain, [ca_with_intermediate.certificate])


@pytest.mark.parametrize(
    "eku",
    [(ExtendedKeyUsageOID.CLIENT_AUTH,), None],
    ids=["clientAuth", "missing"],
)
def test_path_validation_enforces_eku_on_its_own(
    ca: TestCertificateAuthority,
    monkeypatch: pytest.MonkeyPatch,
    eku: tuple[x509.ObjectIdentifier, ...] | None,
) -> None:
    # Without the early profile check, the verifier's extension policy still refuses.
    monkeypatch.setattr(credentials, "_check_leaf_profile", lambda leaf: None)
    chain = _custom_leaf(ca, eku=eku)
    with pytest.raises(CredentialError, match="does not validate"):
        validate_chain(chain, [ca.certificate])


@pytest.mark.parametrize("kind", ["p384", "ed25519"])
def test_wrong_key_type(ca: TestCertificateAuthority, kind: str) -> None:
    public_key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    if kind == "p384":
        public_key = ec.generate_private_key(ec.SECP384R1()).public_key()
    else:
        public_key = ed25519.Ed25519PrivateKey.generate().public_key()
    chain = _custom_leaf(ca, public_key=public_key)
    with pytest.raises(CredentialError, match="P-256"):
        validate_chain(chain, [ca.certificate])


def test_leaf_that_is_a_ca(ca: TestCertificateAuthority) -> None:
    chain = _custom_leaf(ca, is_ca=True)
    with pytest.raises(CredentialError, match="CA"):
        validate_chain(chain, [ca.certificate])


def test_key_usage_without_digital_signature(ca: TestCertificateAuthority) -> None:
    chain = _custom_leaf(ca, key_usage=_key_usage(digital_signature=False, key_agreement=True))
    with pytest.raises(CredentialError, match="digitalSignature"):
        validate_chain(chain, [ca.certificate])


def test_unknown_critical_extension(ca: TestCertificateAuthority) -> None:
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    chain = _custom_leaf(ca, extra=[(unknown, True)])
    with pytest.raises(CredentialError, match="does not validate"):
        validate_chain(chain, [ca.certificate])


def test_critical_participant_information_extension(ca: TestCertificateAuthority) -> None:
    # Deployed leaves carry this critical extension; only cryptography >= 49 can be
    # told about it during path validation.
    participant_information = x509.UnrecognizedExtension(
        OID_RCS_PARTICIPANT_INFORMATION, b"\x30\x00"
    )
    chain = _custom_leaf(ca, extra=[(participant_information, True)])
    if credentials._ACCEPTS_RCS_EXTENSIONS:
        assert validate_chain(chain, [ca.certificate]).phone_number == ALICE
    else:
        with pytest.raises(CredentialError, match="cryptography 49"):
            validate_chain(chain, [ca.certificate])


# --- Chains and trust ---------------------------------------------------------------------


def test_untrusted_root(ca: TestCertificateAuthority, other_ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(ALICE, _public_point())
    with pytest.raises(CredentialError, match="does not validate"):
        validate_chain(chain, [other_ca.certificate])


def test_missing_intermediate(ca_with_intermediate: TestCertificateAuthority) -> None:
    chain = ca_with_intermediate.issue_device_certificate(ALICE, _public_point())
    with pytest.raises(CredentialError, match="does not validate"):
        validate_chain(chain[:1], [ca_with_intermediate.certificate])


def test_self_signed_leaf_is_not_trusted(ca: TestCertificateAuthority) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device")])
    start = _now() - timedelta(hours=1)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.certificate.subject)  # claims the trusted issuer
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=60))
        .add_extension(x509.ExtendedKeyUsage([ID_KP_RCS_MLS_CLIENT]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"tel:{ALICE}")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(CredentialError, match="does not validate"):
        validate_chain([leaf.public_bytes(serialization.Encoding.DER)], [ca.certificate])


def test_tampered_signature(ca: TestCertificateAuthority) -> None:
    leaf = bytearray(ca.issue_device_certificate(ALICE, _public_point())[0])
    leaf[-5] ^= 0x01
    with pytest.raises(CredentialError):
        validate_chain([bytes(leaf)], [ca.certificate])


def test_intermediate_with_rcs_eku_is_accepted() -> None:
    root = TestCertificateAuthority.generate(name="EKU Root", intermediate=True)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    start = _now() - timedelta(days=1)
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EKU Intermediate")]))
        .issuer_name(root.certificate.subject)
        .public_key(intermediate_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ID_KP_RCS_MLS_CLIENT]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(intermediate_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.root_private_key.public_key()),
            critical=False,
        )
        .sign(root.root_private_key, hashes.SHA256())
    )
    ca = TestCertificateAuthority(
        root_certificate=root.certificate,
        root_private_key=root.root_private_key,
        intermediate_certificate=intermediate,
        intermediate_private_key=intermediate_key,
    )
    chain = ca.issue_device_certificate(ALICE, _public_point())
    assert validate_chain(chain, [root.certificate]).phone_number == ALICE


# --- Malformed input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "chain",
    [
        [],
        [b""],
        [b"\x30\x03abc"],
        [b"not a certificate at all"],
    ],
    ids=["empty-chain", "empty-der", "short-der", "garbage"],
)
def test_garbage_der(ca: TestCertificateAuthority, chain: list[bytes]) -> None:
    with pytest.raises(CredentialError):
        validate_chain(chain, [ca.certificate])
    with pytest.raises(CredentialError):
        phone_number_of(chain)


def test_truncated_der(ca_with_intermediate: TestCertificateAuthority) -> None:
    leaf, intermediate = ca_with_intermediate.issue_device_certificate(ALICE, _public_point())
    for chain in ([leaf[:-10], intermediate], [leaf, intermediate[: len(intermediate) // 2]]):
        with pytest.raises(CredentialError, match="not a valid DER"):
            validate_chain(chain, [ca_with_intermediate.certificate])


def test_duplicate_extension(ca: TestCertificateAuthority) -> None:
    # Two extensions with distinct OIDs of equal length, then one renamed to the SAN's
    # OID in the DER: cryptography raises DuplicateExtension, not a ValueError.
    placeholder = x509.ObjectIdentifier("2.5.29.91")
    chain = _custom_leaf(ca, extra=[(x509.UnrecognizedExtension(placeholder, b"\x05\x00"), False)])
    der = chain[0].replace(bytes.fromhex("0603551d5b"), bytes.fromhex("0603551d11"))
    assert der != chain[0]
    with pytest.raises(CredentialError, match="malformed extensions"):
        phone_number_of([der])
    with pytest.raises(CredentialError, match="malformed extensions"):
        validate_chain([der], [ca.certificate])


def test_invalid_certificate_version(ca: TestCertificateAuthority) -> None:
    # cryptography raises InvalidVersion (not a ValueError) for a version other than 1-3.
    der = ca.issue_device_certificate(ALICE, _public_point())[0]
    bad = der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020105"), 1)
    assert bad != der
    with pytest.raises(CredentialError, match="not a valid DER"):
        validate_chain([bad], [ca.certificate])


# Module-level: hypothesis runs a test many times and refuses function-scoped fixtures.
_HYPOTHESIS_CA = TestCertificateAuthority.generate(name="Hypothesis Root")


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_arbitrary_bytes_raise_only_credential_error(chain: list[bytes]) -> None:
    with pytest.raises(CredentialError):
        phone_number_of(chain)


@given(st.binary(max_size=600))
def test_arbitrary_leaf_bytes_fail_validation(data: bytes) -> None:
    anchor = _HYPOTHESIS_CA.certificate
    with pytest.raises(CredentialError):
        validate_chain([data], [anchor])


def test_wrong_argument_types(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(ALICE, _public_point())
    with pytest.raises(InvalidArgumentError):
        validate_chain(chain[0], [ca.certificate])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        validate_chain(["not bytes"], [ca.certificate])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        validate_chain(None, [ca.certificate])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        validate_chain(chain, ca.certificate_der)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        validate_chain(chain, [])
    with pytest.raises(InvalidArgumentError):
        validate_chain(chain, [b"garbage"])


# --- Members and phone numbers ------------------------------------------------------------


def test_phone_number_of(ca_with_intermediate: TestCertificateAuthority) -> None:
    chain = ca_with_intermediate.issue_device_certificate(BOB, _public_point())
    assert phone_number_of(chain) == BOB


def test_map_members_to_phone_numbers(ca: TestCertificateAuthority) -> None:
    members = [
        (3, ca.issue_device_certificate(ALICE, _public_point(), device_id="alice-tablet")),
        (1, ca.issue_device_certificate(BOB, _public_point())),
        (0, ca.issue_device_certificate(ALICE, _public_point(), device_id="alice-phone")),
        (7, ca.issue_device_certificate(CAROL, _public_point())),
    ]
    assert map_members_to_phone_numbers(members) == {ALICE: [0, 3], BOB: [1], CAROL: [7]}
    assert map_members_to_phone_numbers([]) == {}


def test_map_members_rejects_bad_input(ca: TestCertificateAuthority) -> None:
    chain = ca.issue_device_certificate(ALICE, _public_point())
    with pytest.raises(InvalidArgumentError, match="twice"):
        map_members_to_phone_numbers([(0, chain), (0, chain)])
    with pytest.raises(InvalidArgumentError):
        map_members_to_phone_numbers([(-1, chain)])
    with pytest.raises(CredentialError):
        map_members_to_phone_numbers([(0, chain), (1, [b"garbage"])])
    with pytest.raises(InvalidArgumentError, match="pairs"):
        map_members_to_phone_numbers([(0,)])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1 (555) 010-0001", ALICE),
        ("+15550100001", ALICE),
        ("  +1.555.010.0001 ", ALICE),
        ("tel:+15550100001", ALICE),
        ("+44 7700 900123", BOB),
        ("+33\u00a06 12 34 56 78", CAROL),
        ("+1", "+1"),
        ("+123456789012345", "+123456789012345"),
    ],
)
def test_normalize_phone_number(text: str, expected: str) -> None:
    assert normalize_phone_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "+",
        "5550100001",
        "+0123456",
        "+1234567890123456",
        "+1-555-CALL-NOW",
        "++15550100001",
        "+1555010000\uff11",  # a fullwidth digit
        "+1\u0663",  # an Arabic-Indic digit
        "alice@example.com",
        "+1555;ext=1",
    ],
)
def test_normalize_phone_number_rejects_garbage(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        normalize_phone_number(text)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RcsMlsError)


def test_normalize_phone_number_rejects_non_str() -> None:
    with pytest.raises(InvalidArgumentError):
        normalize_phone_number(15550100001)  # type: ignore[arg-type]


# --- The test CA --------------------------------------------------------------------------


def test_test_ca_certificates(ca_with_intermediate: TestCertificateAuthority) -> None:
    root = ca_with_intermediate.certificate
    assert x509.load_der_x509_certificate(ca_with_intermediate.certificate_der) == root
    assert root.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    intermediate = ca_with_intermediate.intermediate_certificate
    assert intermediate is not None
    assert intermediate.issuer == root.subject
    assert ca_with_intermediate.issuer_certificate == intermediate
    intermediate.verify_directly_issued_by(root)


def test_issue_options(ca: TestCertificateAuthority) -> None:
    start = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    chain = ca.issue_device_certificate(
        "+1 555 010 0001",
        _public_point(),
        not_valid_before=start,
        lifetime=timedelta(days=30),
        serial_number=12345,
    )
    leaf = x509.load_der_x509_certificate(chain[0])
    assert leaf.serial_number == 12345
    assert leaf.not_valid_before_utc == start
    assert leaf.not_valid_after_utc == start + timedelta(days=30)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ALICE


@pytest.mark.parametrize(
    "public_key",
    [
        b"\x04" + b"\x00" * 64,  # not on the curve
        b"\x02" + b"\x11" * 32,  # compressed
        b"\x04" + b"\x11" * 63,  # short
        "not a key",
        ec.generate_private_key(ec.SECP384R1()).public_key(),
    ],
    ids=["off-curve", "compressed", "short", "str", "p384"],
)
def test_issue_rejects_bad_keys(ca: TestCertificateAuthority, public_key: object) -> None:
    with pytest.raises(InvalidArgumentError):
        ca.issue_device_certificate(ALICE, public_key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lifetime": timedelta(days=77)},
        {"lifetime": timedelta(0)},
        {"serial_number": 0},
        {"device_id": "under_score"},
        {"device_id": ""},
    ],
)
def test_issue_rejects_bad_options(ca: TestCertificateAuthority, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        ca.issue_device_certificate(ALICE, _public_point(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        ca.issue_device_certificate("not a number", _public_point())


def test_intermediate_needs_certificate_and_key(
    ca_with_intermediate: TestCertificateAuthority,
) -> None:
    with pytest.raises(InvalidArgumentError):
        TestCertificateAuthority(
            root_certificate=ca_with_intermediate.certificate,
            root_private_key=ca_with_intermediate.issuer_private_key,
            intermediate_certificate=ca_with_intermediate.intermediate_certificate,
        )
