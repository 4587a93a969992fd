"""rcs-mls: MLS (RFC 9420) and GSMA RCS end-to-end encryption for Python.

The MLS work happens in a Rust core built on OpenMLS; this package is its typed
Python face. Everything that travels is ``bytes`` in its RFC 9420 TLS encoding.

Quick tour::

    from rcs_mls import Ciphersuite, Client, Credential, SignatureKeyPair

    suite = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256
    alice = Client(Credential.basic(b"alice"), SignatureKeyPair.generate(suite), suite)
    bob = Client(Credential.basic(b"bob"), SignatureKeyPair.generate(suite), suite)

    group = alice.create_group()
    result = group.add_members([bob.generate_key_package()])
    group.merge_pending_commit()
    bob_group = bob.join_group(result.welcome)

    wire = group.encrypt(b"hello")
    assert bob_group.process_message(wire).plaintext == b"hello"
"""

from __future__ import annotations

from rcs_mls import exceptions
from rcs_mls._native import (
    OPENMLS_VERSION,
    ApplicationMessage,
    Client,
    CommitResult,
    Credential,
    CredentialChange,
    Group,
    GroupConfig,
    KeyPackage,
    Member,
    ProposalMessage,
    SignatureKeyPair,
    StagedCommit,
    StagedWelcome,
)
from rcs_mls._types import Ciphersuite, ExtensionType, ProposalType
from rcs_mls._version import Versions, package_version, versions
from rcs_mls.exceptions import (
    CpimParseError,
    CredentialError,
    DecryptionError,
    FileInfoParseError,
    FileIntegrityError,
    FileTransferParseError,
    GroupStateError,
    ImdnParseError,
    InvalidArgumentError,
    InvalidSignatureError,
    IsComposingParseError,
    KeyPackageExpiredError,
    LibraryError,
    MembershipError,
    ParseError,
    PayloadParseError,
    RcsMlsError,
    StorageError,
    UnsupportedCiphersuiteError,
    ValidationError,
    WrongEpochError,
)

#: What :meth:`Group.process_message` returns.
ProcessedMessage = ApplicationMessage | ProposalMessage | StagedCommit

SUPPORTED_CIPHERSUITES: tuple[Ciphersuite, ...] = tuple(Ciphersuite)

#: The installed distribution's version; its one source is Cargo.toml (see :func:`versions`).
__version__: str = package_version()

__all__ = [
    "OPENMLS_VERSION",
    "SUPPORTED_CIPHERSUITES",
    "ApplicationMessage",
    "Ciphersuite",
    "Client",
    "CommitResult",
    "CpimParseError",
    "Credential",
    "CredentialChange",
    "CredentialError",
    "DecryptionError",
    "ExtensionType",
    "FileInfoParseError",
    "FileIntegrityError",
    "FileTransferParseError",
    "Group",
    "GroupConfig",
    "GroupStateError",
    "ImdnParseError",
    "InvalidArgumentError",
    "InvalidSignatureError",
    "IsComposingParseError",
    "KeyPackage",
    "KeyPackageExpiredError",
    "LibraryError",
    "Member",
    "MembershipError",
    "ParseError",
    "PayloadParseError",
    "ProcessedMessage",
    "ProposalMessage",
    "ProposalType",
    "RcsMlsError",
    "SignatureKeyPair",
    "StagedCommit",
    "StagedWelcome",
    "StorageError",
    "UnsupportedCiphersuiteError",
    "ValidationError",
    "Versions",
    "WrongEpochError",
    "__version__",
    "exceptions",
    "versions",
]
