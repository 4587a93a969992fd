"""The exception hierarchy of rcs-mls.

Every error the package raises derives from :class:`RcsMlsError`. Errors caused by
bytes that do not parse also derive from :class:`ValueError`, so code that already
catches ``ValueError`` around decoding keeps working.

::

    RcsMlsError
    ├── ParseError (ValueError)            bytes or text that do not decode
    │   ├── CpimParseError
    │   ├── ImdnParseError
    │   ├── IsComposingParseError
    │   ├── FileTransferParseError
    │   ├── PayloadParseError              SecretPayload frame, authenticated data
    │   └── FileInfoParseError
    ├── UnsupportedCiphersuiteError (ValueError)
    ├── InvalidArgumentError (ValueError)  a wrong argument (length, range, type of key)
    ├── CredentialError                    a credential or certificate that is not acceptable
    ├── ValidationError                    well-formed input that fails an MLS check
    │   ├── MembershipError                a roster change the membership policy refuses
    │   ├── InvalidSignatureError
    │   ├── KeyPackageExpiredError
    │   └── WrongEpochError
    ├── DecryptionError                    says nothing about why (no oracle)
    ├── GroupStateError                    API misuse for the group's state
    ├── StorageError                       the state store failed or is unusable
    ├── FileIntegrityError                 an encrypted file failed its checks
    └── LibraryError                       an internal error: a bug, please report it
"""

from __future__ import annotations

__all__ = [
    "CpimParseError",
    "CredentialError",
    "DecryptionError",
    "FileInfoParseError",
    "FileIntegrityError",
    "FileTransferParseError",
    "GroupStateError",
    "ImdnParseError",
    "InvalidArgumentError",
    "InvalidSignatureError",
    "IsComposingParseError",
    "KeyPackageExpiredError",
    "LibraryError",
    "MembershipError",
    "ParseError",
    "PayloadParseError",
    "RcsMlsError",
    "StorageError",
    "UnsupportedCiphersuiteError",
    "ValidationError",
    "WrongEpochError",
]


class RcsMlsError(Exception):
    """Base class of every error raised by rcs-mls."""


class ParseError(RcsMlsError, ValueError):
    """Bytes (or text) that do not decode as the expected structure."""


class CpimParseError(ParseError):
    """A malformed CPIM (RFC 3862) message."""


class ImdnParseError(ParseError):
    """A malformed IMDN (RFC 5438) notification."""


class IsComposingParseError(ParseError):
    """A malformed isComposing (RFC 3994) document."""


class FileTransferParseError(ParseError):
    """A malformed File Transfer over HTTP descriptor (GSMA RCC.07)."""


class PayloadParseError(ParseError):
    """A malformed SecretPayload frame or application authenticated data (RCC.16)."""


class FileInfoParseError(ParseError):
    """A malformed FileInfo protobuf (RCC.16 Annex C)."""


class UnsupportedCiphersuiteError(RcsMlsError, ValueError):
    """A ciphersuite this package does not implement."""


class InvalidArgumentError(RcsMlsError, ValueError):
    """An argument with a wrong value (length, range, kind of key)."""


class CredentialError(RcsMlsError):
    """A credential or certificate chain that is not acceptable."""


class ValidationError(RcsMlsError):
    """Well-formed input that fails an MLS validity check."""


class MembershipError(ValidationError):
    """A change of who is in a group, or of what a member's credential says, that the
    membership policy refuses (:mod:`rcs_mls.rcs.membership`): an external join by a
    stranger, a leaf replaced under another identity, a GroupContext change members may
    not make. A credential that fails its own checks is a :class:`CredentialError`."""


class InvalidSignatureError(ValidationError):
    """A signature that does not verify."""


class KeyPackageExpiredError(ValidationError):
    """A key package outside its lifetime."""


class WrongEpochError(ValidationError):
    """A message for an epoch other than the group's current one."""


class DecryptionError(RcsMlsError):
    """A message that could not be decrypted.

    On purpose it does not say why (unknown key, replay, tampering), so that it
    cannot serve as an oracle.
    """


class GroupStateError(RcsMlsError):
    """An operation that the group's current state does not allow.

    For example: creating a commit while another is pending, or using a group
    from which this member has been removed.
    """


class StorageError(RcsMlsError):
    """The state store failed, is corrupted, or is unusable."""


class FileIntegrityError(RcsMlsError):
    """An encrypted file (or group subject or icon) failed its integrity checks."""


class LibraryError(RcsMlsError):
    """An internal error that should never happen: please report it."""
