"""RCS device credentials: the X.509 profile of GSMA RCC.16 for MLS (RFC 9420 §5.3).

An RCS participant proves its identity in an MLS group with an X.509 credential
(credential type 2): a DER certificate chain, leaf first. The leaf certifies the
device's MLS signature key (P-256, ciphersuite 0x0002) and names the participant by a
``tel:`` URI in its SubjectAltName. Every device of a participant has its own leaf.

The leaf profile used here (RCC.16 annex A, as deployed; OIDs as in BoringSSL):

* P-256 public key, signed with ecdsa-with-SHA256;
* SubjectAltName URI ``tel:+<E.164>``;
* ExtendedKeyUsage ``id-kp-rcsMlsClient`` (2.23.146.2.1.3);
* KeyUsage digitalSignature only, critical;
* CertificatePolicies 2.23.146.2.1.2;
* basicConstraints cA false;
* a lifetime of at most 76 days, with at least 30 days left whenever it is used.

Every constant of the profile is a module-level name below, so that a correction to
the profile is a one-line change.

Path validation uses ``cryptography.x509.verification`` (a client verifier whose
extension policies encode the profile); this module performs no signature check of
its own. Limitation: deployed leaves carry the *critical* RCC.16 participant
information extension (2.23.146.2.1.4). ``cryptography`` before 49 cannot be told
about extensions outside a fixed set of eight, so it rejects any certificate with an
unknown critical extension; with such a version installed, :func:`validate_chain`
refuses these leaves with a :class:`~rcs_mls.exceptions.CredentialError` that says
so. With ``cryptography`` 49 or later the RCC.16 extensions are registered in the
verifier's extension policy and accepted. Their contents (proof of possession,
identity proof, vendor id) are not checked: their encoding is not public.

:class:`TestCertificateAuthority` issues certificates in this profile for tests and
demonstrations; it is not meant for production use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from rcs_mls.exceptions import CredentialError, InvalidArgumentError

__all__ = [
    "ID_KP_RCS_MLS_CLIENT",
    "LEAF_MAX_LIFETIME",
    "LEAF_MIN_REMAINING",
    "OID_RCS_ACS_PARTICIPANT_INFORMATION",
    "OID_RCS_E2EE",
    "OID_RCS_E2EE_CERTIFICATE_POLICY",
    "OID_RCS_PARTICIPANT_INFORMATION",
    "OID_RCS_VENDOR_ID",
    "RcsIdentity",
    "TestCertificateAuthority",
    "generate_signature_key_pair",
    "leaf_identity",
    "load_trust_anchors",
    "map_members_to_phone_numbers",
    "normalize_phone_number",
    "phone_number_of",
    "validate_chain",
]

# --- Profile settings (RCC.16 annex A; arc { gsma(146) rcs(2) rcsE2EE(1) }) -----------

#: id-gsmaRCSE2EE, the arc of every RCC.16 object identifier.
OID_RCS_E2EE = x509.ObjectIdentifier("2.23.146.2.1")
#: The certificatePolicies policy of RCS end-to-end encryption certificates.
OID_RCS_E2EE_CERTIFICATE_POLICY = x509.ObjectIdentifier("2.23.146.2.1.2")
#: id-kp-rcsMlsClient: the only ExtendedKeyUsage of an RCS MLS leaf.
ID_KP_RCS_MLS_CLIENT = x509.ObjectIdentifier("2.23.146.2.1.3")
#: id-participantInformation: critical leaf extension, proof of possession.
OID_RCS_PARTICIPANT_INFORMATION = x509.ObjectIdentifier("2.23.146.2.1.4")
#: id-acsParticipantInformation: identity proof signed by the configuration server.
OID_RCS_ACS_PARTICIPANT_INFORMATION = x509.ObjectIdentifier("2.23.146.2.1.5")
#: vendorId.
OID_RCS_VENDOR_ID = x509.ObjectIdentifier("2.23.146.2.1.6")

#: The longest lifetime (notAfter - notBefore) of a leaf certificate.
LEAF_MAX_LIFETIME = timedelta(days=76)
#: The validity a leaf must have left when it is used.
LEAF_MIN_REMAINING = timedelta(days=30)

# The E.164 number in a tel: URI: "+", a country code that does not start with 0,
# at most 15 digits in all (ITU-T E.164 §6).
_E164 = re.compile(r"\+[1-9][0-9]{0,14}")
# The SAN of a leaf: exactly "tel:" and a global number, without RFC 3966 visual
# separators or parameters (";ext=" would name a different endpoint).
_TEL_URI = re.compile(r"(?i:tel):(\+[0-9]+)")
# X.520 serialNumber: a PrintableString of at most 64 characters (RFC 5280 annex A).
_PRINTABLE_STRING = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]{1,64}")
# Characters people write between digits: RFC 3966 visual separators and spaces.
_VISUAL_SEPARATORS = re.compile(r"[\s\-.()/\u00a0]+")

_P256_SCALAR_LENGTH = 32
_P256_UNCOMPRESSED_POINT_LENGTH = 65

# Certificates issued by the test CA are backdated a little, so that a validation
# time taken just before issuing still falls inside the validity period.
_ISSUE_BACKDATE = timedelta(minutes=5)
_TEST_CA_LIFETIME = timedelta(days=3650)

_RCS_LEAF_EXTENSION_OIDS = (
    OID_RCS_PARTICIPANT_INFORMATION,
    OID_RCS_ACS_PARTICIPANT_INFORMATION,
    OID_RCS_VENDOR_ID,
)


# --- Public types ---------------------------------------------------------------------


@dataclass(frozen=True)
class RcsIdentity:
    """The identity a validated RCS credential vouches for.

    ``phone_number`` is the E.164 number of the leaf's ``tel:`` SubjectAltName
    (``"+15550100001"``); ``leaf_public_key`` the leaf's P-256 key as an uncompressed
    SEC1 point (65 bytes, the form of an MLS signature key for ciphersuite 0x0002);
    ``not_valid_before`` / ``not_valid_after`` the leaf's validity as aware UTC
    datetimes; ``chain`` the DER certificates as presented, leaf first.
    """

    phone_number: str
    leaf_public_key: bytes
    not_valid_before: datetime
    not_valid_after: datetime
    chain: tuple[bytes, ...]


# --- Phone numbers --------------------------------------------------------------------


def normalize_phone_number(number: str) -> str:
    """Return ``number`` in E.164 form: ``"+1 (555) 010-0001"`` -> ``"+15550100001"``.

    Spaces and the RFC 3966 visual separators ``-`` ``.`` ``(`` ``)`` are removed; a
    leading ``tel:`` is accepted. The number must be global (start with ``+``): a
    national number cannot be normalised without knowing its country.

    Raises:
        InvalidArgumentError: ``number`` is not a string or not an E.164 number.
    """
    if not isinstance(number, str):
        raise InvalidArgumentError(f"a phone number must be a str, not {type(number).__name__}")
    text = number.strip()
    if text[:4].lower() == "tel:":
        text = text[4:]
    compact = _VISUAL_SEPARATORS.sub("", text)
    if _E164.fullmatch(compact) is None:
        raise InvalidArgumentError(
            f"not an E.164 phone number ('+' then at most 15 digits): {number!r}"
        )
    return compact


def _phone_number_of_leaf(leaf: x509.Certificate) -> str:
    """The E.164 number of the single ``tel:`` URI in the leaf's SubjectAltName."""
    try:
        san = _extensions(leaf).get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise CredentialError("the leaf certificate has no SubjectAltName") from None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    tel_uris = [uri for uri in uris if uri[:4].lower() == "tel:"]
    if not tel_uris:
        raise CredentialError("the leaf certificate has no tel: URI in its SubjectAltName")
    if len(tel_uris) > 1:
        raise CredentialError(
            "the leaf certificate names more than one tel: URI in its SubjectAltName"
        )
    match = _TEL_URI.fullmatch(tel_uris[0])
    if match is None or _E164.fullmatch(match.group(1)) is None:
        raise CredentialError(f"the leaf's tel: URI is not a global E.164 number: {tel_uris[0]!r}")
    return match.group(1)


# --- Parsing --------------------------------------------------------------------------


# What cryptography raises for certificates it cannot parse; none of these derives
# from another, and only ValueError is a standard exception.
_PARSE_ERRORS = (
    ValueError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)


def _extensions(certificate: x509.Certificate) -> x509.Extensions:
    try:
        return certificate.extensions
    except _PARSE_ERRORS as exc:
        raise CredentialError(f"a certificate has malformed extensions: {exc}") from None


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise InvalidArgumentError(f"{what} must be bytes, not {type(value).__name__}")


def _load_chain(chain: Sequence[bytes]) -> tuple[tuple[bytes, ...], list[x509.Certificate]]:
    if not isinstance(chain, Sequence) or isinstance(chain, (bytes, bytearray, memoryview, str)):
        raise InvalidArgumentError("a certificate chain is a sequence of DER certificates")
    ders = tuple(_as_bytes(item, "a certificate in the chain") for item in chain)
    if not ders:
        raise CredentialError("the certificate chain is empty")
    certificates = []
    for position, der in enumerate(ders):
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except _PARSE_ERRORS:
            raise CredentialError(
                f"certificate {position} of the chain is not a valid DER certificate"
            ) from None
    return ders, certificates


def load_trust_anchors(
    trust_anchors: Sequence[bytes | x509.Certificate],
) -> list[x509.Certificate]:
    """Parse trust anchors (DER or parsed certificates).

    Raises:
        InvalidArgumentError: not a sequence of certificates, or none.
    """
    if not isinstance(trust_anchors, Sequence) or isinstance(
        trust_anchors, (bytes, bytearray, memoryview, str)
    ):
        raise InvalidArgumentError("trust anchors are a sequence of certificates")
    anchors = []
    for anchor in trust_anchors:
        if isinstance(anchor, x509.Certificate):
            anchors.append(anchor)
            continue
        der = _as_bytes(anchor, "a trust anchor")
        try:
            anchors.append(x509.load_der_x509_certificate(der))
        except _PARSE_ERRORS:
            raise InvalidArgumentError("a trust anchor is not a valid DER certificate") from None
    if not anchors:
        raise InvalidArgumentError("at least one trust anchor is needed")
    return anchors


def _p256_point(public_key: object) -> bytes:
    """The uncompressed point of a P-256 key; CredentialError for any other key."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CredentialError(
            f"the leaf key must be an ECDSA P-256 key, not {type(public_key).__name__}"
        )
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise CredentialError(
            f"the leaf key must be on P-256 (secp256r1), not {public_key.curve.name}"
        )
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def phone_number_of(chain: Sequence[bytes]) -> str:
    """Return the E.164 number that the leaf of ``chain`` (DER, leaf first) names.

    This only parses the leaf: it does not validate the chain. Use it on credentials
    that were validated when they entered the group (see :func:`validate_chain`).

    Raises:
        CredentialError: the chain is empty or malformed, or the leaf has no single
            ``tel:`` SubjectAltName with an E.164 number.
        InvalidArgumentError: ``chain`` is not a sequence of bytes.
    """
    _, certificates = _load_chain(chain)
    return _phone_number_of_leaf(certificates[0])


def map_members_to_phone_numbers(
    members: Iterable[tuple[int, Sequence[bytes]]],
) -> dict[str, list[int]]:
    """Group MLS leaves by participant: phone number -> sorted leaf indices.

    ``members`` are pairs of a leaf index and that leaf's X.509 credential chain (DER,
    leaf first). A participant with several devices has several leaves, so several
    indices. Like :func:`phone_number_of`, this parses and does not validate.

    Raises:
        CredentialError: a chain is malformed or names no E.164 ``tel:`` URI.
        InvalidArgumentError: a leaf index is not a non-negative int or appears twice.
    """
    by_number: dict[str, list[int]] = {}
    seen: set[int] = set()
    for member in members:
        try:
            leaf_index, chain = member
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                "members must be pairs of a leaf index and a certificate chain"
            ) from None
        if isinstance(leaf_index, bool) or not isinstance(leaf_index, int) or leaf_index < 0:
            raise InvalidArgumentError(f"not a leaf index: {leaf_index!r}")
        if leaf_index in seen:
            raise InvalidArgumentError(f"leaf index {leaf_index} appears twice")
        seen.add(leaf_index)
        by_number.setdefault(phone_number_of(chain), []).append(leaf_index)
    for indices in by_number.values():
        indices.sort()
    return by_number


# --- Validation -----------------------------------------------------------------------


class _RcsExtension(x509.ExtensionType):
    """Names an RCC.16 extension in an ExtensionPolicy (which identifies by class).

    These classes are never instantiated: cryptography parses the extensions as
    :class:`~cryptography.x509.UnrecognizedExtension`.
    """

    def public_bytes(self) -> bytes:  # pragma: no cover - never instantiated
        raise NotImplementedError


class _ParticipantInformation(_RcsExtension):
    oid = OID_RCS_PARTICIPANT_INFORMATION


class _AcsParticipantInformation(_RcsExtension):
    oid = OID_RCS_ACS_PARTICIPANT_INFORMATION


class _VendorId(_RcsExtension):
    oid = OID_RCS_VENDOR_ID


_RCS_EXTENSION_TYPES: tuple[type[_RcsExtension], ...] = (
    _ParticipantInformation,
    _AcsParticipantInformation,
    _VendorId,
)


def _verifier_accepts_any_extension() -> bool:
    """Whether ExtensionPolicy takes extensions beyond its fixed set (cryptography >= 49)."""
    try:
        ExtensionPolicy.permit_all().may_be_present(
            _ParticipantInformation, Criticality.AGNOSTIC, None
        )
    except ValueError:
        return False
    return True


_ACCEPTS_RCS_EXTENSIONS = _verifier_accepts_any_extension()


def _check_leaf_eku(_policy: Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage) -> None:
    # Replaces the Web PKI check, which wants serverAuth or clientAuth.
    _check_leaf_eku_value(eku)


def _check_leaf_key_usage(
    _policy: Policy, _cert: x509.Certificate, key_usage: x509.KeyUsage | None
) -> None:
    # Absent KeyUsage means any usage (RFC 5280 §4.2.1.3). A present one must allow
    # signing MLS messages and, as in the Web PKI, must not allow signing certificates.
    if key_usage is None:
        return
    if not key_usage.digital_signature:
        raise CredentialError("the leaf's KeyUsage does not allow digitalSignature")
    if key_usage.key_cert_sign:
        raise CredentialError("the leaf's KeyUsage allows keyCertSign")


def _check_ca_eku(
    _policy: Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    # A CA that restricts its EKUs must allow id-kp-rcsMlsClient (or any usage).
    if eku is None:
        return
    if ID_KP_RCS_MLS_CLIENT not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
        raise CredentialError("a CA certificate's ExtendedKeyUsage excludes id-kp-rcsMlsClient")


def _extension_policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """The CA and leaf extension policies of the RCC.16 profile, on Web PKI defaults."""
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, _check_ca_eku
    )
    ee_policy = (
        ExtensionPolicy.webpki_defaults_ee()
        .require_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _check_leaf_eku)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _check_leaf_key_usage)
        # CA/B requires an AKI in leaves; RCC.16 does not, and it is not a security check.
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
    )
    if _ACCEPTS_RCS_EXTENSIONS:
        for extension_type in _RCS_EXTENSION_TYPES:
            ca_policy = ca_policy.may_be_present(extension_type, Criticality.AGNOSTIC, None)
            ee_policy = ee_policy.may_be_present(extension_type, Criticality.AGNOSTIC, None)
        # Some issuers mark certificatePolicies critical.
        ca_policy = ca_policy.may_be_present(x509.CertificatePolicies, Criticality.AGNOSTIC, None)
        ee_policy = ee_policy.may_be_present(x509.CertificatePolicies, Criticality.AGNOSTIC, None)
    return ca_policy, ee_policy


_CA_POLICY, _EE_POLICY = _extension_policies()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _check_leaf_profile(leaf: x509.Certificate) -> None:
    """The profile checks that do not need the issuer, with precise messages."""
    try:
        public_key = leaf.public_key()
    except _PARSE_ERRORS:
        raise CredentialError("the leaf's public key cannot be parsed") from None
    _p256_point(public_key)
    extensions = _extensions(leaf)
    try:
        eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise CredentialError("the leaf certificate has no ExtendedKeyUsage") from None
    _check_leaf_eku_value(eku)
    try:
        basic_constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        pass
    else:
        if basic_constraints.ca:
            raise CredentialError("the leaf certificate is a CA certificate")
    if not _ACCEPTS_RCS_EXTENSIONS:
        for extension in extensions:
            if extension.critical and extension.oid in _RCS_LEAF_EXTENSION_OIDS:
                raise CredentialError(
                    f"the leaf has the critical RCC.16 extension {extension.oid.dotted_string},"
                    " which the installed cryptography cannot accept in path validation;"
                    " cryptography 49 or later is needed"
                )


def _check_leaf_eku_value(eku: x509.ExtendedKeyUsage) -> None:
    if ID_KP_RCS_MLS_CLIENT not in eku:
        raise CredentialError(
            "the leaf's ExtendedKeyUsage lacks id-kp-rcsMlsClient"
            f" ({ID_KP_RCS_MLS_CLIENT.dotted_string})"
        )


def leaf_identity(chain: Sequence[bytes]) -> RcsIdentity:
    """The identity the leaf of ``chain`` claims, after the RCC.16 leaf profile checks
    (P-256 key, id-kp-rcsMlsClient, exactly one ``tel:`` URI) but **without** validating
    the chain to a trust anchor or the leaf's dates: what :func:`validate_chain` returns
    when a caller has chosen not to validate.

    Raises:
        CredentialError: the chain is malformed or its leaf fails the profile.
        InvalidArgumentError: ``chain`` is not a sequence of bytes.
    """
    ders, certificates = _load_chain(chain)
    leaf = certificates[0]
    _check_leaf_profile(leaf)
    return RcsIdentity(
        phone_number=_phone_number_of_leaf(leaf),
        leaf_public_key=_p256_point(leaf.public_key()),
        not_valid_before=leaf.not_valid_before_utc,
        not_valid_after=leaf.not_valid_after_utc,
        chain=ders,
    )


def validate_chain(
    chain: Sequence[bytes],
    trust_anchors: Sequence[bytes | x509.Certificate],
    *,
    expected_phone_number: str | None = None,
    now: datetime | None = None,
    min_remaining: timedelta = LEAF_MIN_REMAINING,
    max_lifetime: timedelta | None = LEAF_MAX_LIFETIME,
) -> RcsIdentity:
    """Validate an RCS X.509 credential chain and return the identity it certifies.

    ``chain`` is the DER certificates of an MLS X.509 credential, leaf first, then
    intermediates (a trailing root is allowed). ``trust_anchors`` are the root (or
    other trusted) certificates, DER or parsed. Checks, all at ``now`` (default: the
    current time; a naive datetime is taken as UTC):

    * the leaf profile: ECDSA P-256 key, ExtendedKeyUsage containing
      id-kp-rcsMlsClient, KeyUsage (if present) allowing digitalSignature, not a CA,
      exactly one ``tel:`` SubjectAltName holding a global E.164 number;
    * the leaf is valid at ``now``, its lifetime is at most ``max_lifetime`` (76 days;
      ``None`` skips this) and at least ``min_remaining`` (30 days) of it is left;
    * a path from the leaf to a trust anchor, validated by
      :mod:`cryptography.x509.verification` under the Web PKI rules for CA
      certificates and the RCC.16 rules for the leaf;
    * if ``expected_phone_number`` is given, the leaf names that number (both are
      normalised with :func:`normalize_phone_number`).

    Raises:
        CredentialError: the chain is malformed or fails any check above.
        InvalidArgumentError: a wrong argument: ``chain`` not a sequence of bytes, no
            or malformed trust anchors, an ``expected_phone_number`` that is not a
            phone number, a negative ``min_remaining``.
    """
    if min_remaining < timedelta(0):
        raise InvalidArgumentError("min_remaining must not be negative")
    expected = (
        None if expected_phone_number is None else normalize_phone_number(expected_phone_number)
    )
    moment = _utc(datetime.now(UTC) if now is None else now)
    anchors = load_trust_anchors(trust_anchors)
    ders, certificates = _load_chain(chain)
    leaf = certificates[0]

    _check_leaf_profile(leaf)
    phone_number = _phone_number_of_leaf(leaf)

    not_before = leaf.not_valid_before_utc
    not_after = leaf.not_valid_after_utc
    if moment < not_before:
        raise CredentialError(f"the leaf certificate is not valid before {not_before.isoformat()}")
    if moment >= not_after:
        raise CredentialError(f"the leaf certificate expired at {not_after.isoformat()}")
    if max_lifetime is not None and not_after - not_before > max_lifetime:
        raise CredentialError(
            f"the leaf certificate's lifetime {not_after - not_before} exceeds {max_lifetime}"
        )
    if not_after - moment < min_remaining:
        raise CredentialError(
            f"the leaf certificate has {not_after - moment} left, less than {min_remaining}"
        )

    verifier = (
        PolicyBuilder()
        .store(Store(anchors))
        .time(moment)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, certificates[1:])
    except VerificationError as exc:
        raise CredentialError(f"the certificate chain does not validate: {exc}") from None

    if expected is not None and phone_number != expected:
        raise CredentialError(f"the credential names {phone_number}, not the expected {expected}")

    return RcsIdentity(
        phone_number=phone_number,
        leaf_public_key=_p256_point(leaf.public_key()),
        not_valid_before=not_before,
        not_valid_after=not_after,
        chain=ders,
    )


# --- Keys and the test CA ---------------------------------------------------------------


def generate_signature_key_pair() -> tuple[bytes, bytes]:
    """Generate an MLS signature key pair for ciphersuite 0x0002 (ECDSA P-256).

    Returns ``(private_key, public_key)``: the private scalar as 32 big-endian bytes
    and the public key as a 65-byte uncompressed SEC1 point, the encodings of the
    RFC 9420 test vectors.
    """
    private_key = ec.generate_private_key(ec.SECP256R1())
    scalar = private_key.private_numbers().private_value.to_bytes(_P256_SCALAR_LENGTH, "big")
    return scalar, _p256_point(private_key.public_key())


def _load_p256_public_key(
    public_key: ec.EllipticCurvePublicKey | bytes,
) -> ec.EllipticCurvePublicKey:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1):
            raise InvalidArgumentError(f"the key must be on P-256, not {public_key.curve.name}")
        return public_key
    if not isinstance(public_key, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(
            "the public key must be an EllipticCurvePublicKey or an uncompressed P-256 point,"
            f" not {type(public_key).__name__}"
        )
    point = bytes(public_key)
    if len(point) != _P256_UNCOMPRESSED_POINT_LENGTH or point[0] != 0x04:
        raise InvalidArgumentError(
            "a P-256 public key must be a 65-byte uncompressed point (0x04 || X || Y)"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidArgumentError("the bytes are not a point on P-256") from None


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rcs-mls test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(
    *,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    path_length: int | None,
    not_valid_before: datetime,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_valid_before)
        .not_valid_after(not_valid_before + _TEST_CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer != subject:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


class TestCertificateAuthority:
    """A throwaway RCS certificate authority for tests and demonstrations.

    It holds a self-signed P-256 root and, optionally, an intermediate CA that signs
    the device certificates. Keys live in memory only; nothing here is suitable for
    production.
    """

    # Not a pytest test class, despite its name.
    __test__ = False

    def __init__(
        self,
        *,
        root_certificate: x509.Certificate,
        root_private_key: ec.EllipticCurvePrivateKey,
        intermediate_certificate: x509.Certificate | None = None,
        intermediate_private_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> None:
        """Wrap existing CA material; most callers want :meth:`generate`.

        Raises:
            InvalidArgumentError: only one of the intermediate's certificate and key
                is given.
        """
        if (intermediate_certificate is None) != (intermediate_private_key is None):
            raise InvalidArgumentError(
                "an intermediate needs both its certificate and its private key"
            )
        self._root_certificate = root_certificate
        self._root_private_key = root_private_key
        self._intermediate_certificate = intermediate_certificate
        self._intermediate_private_key = intermediate_private_key

    @classmethod
    def generate(
        cls,
        name: str = "rcs-mls Test Root CA",
        *,
        intermediate: bool = False,
        now: datetime | None = None,
    ) -> TestCertificateAuthority:
        """Create a fresh root CA (P-256, 10 years), and an intermediate if asked.

        The CA certificates are valid from a day before ``now`` (default: the current
        time) so that tests may validate at moments slightly in the past.
        """
        start = _utc(datetime.now(UTC) if now is None else now) - timedelta(days=1)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = _name(name)
        root = _ca_certificate(
            subject=root_name,
            public_key=root_key.public_key(),
            issuer=root_name,
            issuer_key=root_key,
            path_length=1 if intermediate else 0,
            not_valid_before=start,
        )
        if not intermediate:
            return cls(root_certificate=root, root_private_key=root_key)
        intermediate_key = ec.generate_private_key(ec.SECP256R1())
        intermediate_certificate = _ca_certificate(
            subject=_name(f"{name} Intermediate"),
            public_key=intermediate_key.public_key(),
            issuer=root_name,
            issuer_key=root_key,
            path_length=0,
            not_valid_before=start,
        )
        return cls(
            root_certificate=root,
            root_private_key=root_key,
            intermediate_certificate=intermediate_certificate,
            intermediate_private_key=intermediate_key,
        )

    @property
    def certificate(self) -> x509.Certificate:
        """The root certificate: the trust anchor."""
        return self._root_certificate

    @property
    def certificate_der(self) -> bytes:
        """The root certificate, DER."""
        return self._root_certificate.public_bytes(serialization.Encoding.DER)

    @property
    def root_private_key(self) -> ec.EllipticCurvePrivateKey:
        """The root's private key (to build other intermediates in tests)."""
        return self._root_private_key

    @property
    def intermediate_certificate(self) -> x509.Certificate | None:
        """The intermediate CA certificate, if this CA has one."""
        return self._intermediate_certificate

    @property
    def issuer_certificate(self) -> x509.Certificate:
        """The certificate of the CA that signs device certificates."""
        return self._intermediate_certificate or self._root_certificate

    @property
    def issuer_private_key(self) -> ec.EllipticCurvePrivateKey:
        """The key that signs device certificates (to build deliberately bad ones)."""
        return self._intermediate_private_key or self._root_private_key

    def issue_device_certificate(
        self,
        phone_number: str,
        public_key: ec.EllipticCurvePublicKey | bytes,
        *,
        not_valid_before: datetime | None = None,
        lifetime: timedelta = LEAF_MAX_LIFETIME,
        device_id: str | None = None,
        serial_number: int | None = None,
    ) -> list[bytes]:
        """Issue a device (leaf) certificate in the RCC.16 profile.

        ``public_key`` is the device's MLS signature key: a P-256
        ``EllipticCurvePublicKey`` or its 65-byte uncompressed point. The subject is
        the E.164 number, plus ``device_id`` as the X.520 serialNumber (a device's
        serial number) when given. ``not_valid_before`` defaults to five minutes ago;
        a naive datetime is taken as UTC.

        Returns the DER chain for an MLS X.509 credential, leaf first:
        ``[leaf]`` or ``[leaf, intermediate]`` (the root is the trust anchor).

        Raises:
            InvalidArgumentError: a bad phone number, a key that is not P-256, a
                lifetime that is not positive or exceeds 76 days, a ``device_id`` that
                is not a PrintableString, a serial number that is not positive.
        """
        number = normalize_phone_number(phone_number)
        key = _load_p256_public_key(public_key)
        if lifetime <= timedelta(0) or lifetime > LEAF_MAX_LIFETIME:
            raise InvalidArgumentError(
                f"a device certificate's lifetime must be in (0, {LEAF_MAX_LIFETIME}]"
            )
        if device_id is not None and _PRINTABLE_STRING.fullmatch(device_id) is None:
            raise InvalidArgumentError(
                "device_id must be 1 to 64 PrintableString characters"
                " (letters, digits, space and ' ( ) + , - . / : = ?)"
            )
        if serial_number is None:
            serial_number = x509.random_serial_number()
        elif serial_number <= 0:
            raise InvalidArgumentError("a certificate serial number must be positive")
        start = (
            datetime.now(UTC) - _ISSUE_BACKDATE
            if not_valid_before is None
            else _utc(not_valid_before)
        )
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, number)]
        if device_id is not None:
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, device_id))
        issuer = self.issuer_certificate
        issuer_key = self.issuer_private_key
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(issuer.subject)
            .public_key(key)
            .serial_number(serial_number)
            .not_valid_before(start)
            .not_valid_after(start + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ID_KP_RCS_MLS_CLIENT]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"tel:{number}")]),
                critical=False,
            )
            .add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(OID_RCS_E2EE_CERTIFICATE_POLICY, None)]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
            .sign(issuer_key, hashes.SHA256())
        )
        chain = [leaf.public_bytes(serialization.Encoding.DER)]
        if self._intermediate_certificate is not None:
            chain.append(self._intermediate_certificate.public_bytes(serialization.Encoding.DER))
        return chain
