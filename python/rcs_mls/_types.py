"""Plain Python types shared by the native core and the public API."""

from __future__ import annotations

import enum

__all__ = ["Ciphersuite", "ExtensionType", "ProposalType"]


class Ciphersuite(enum.IntEnum):
    """MLS ciphersuites (RFC 9420 §17.1) that this package implements."""

    MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 = 0x0001
    MLS_128_DHKEMP256_AES128GCM_SHA256_P256 = 0x0002
    """The suite GSMA RCC.16 mandates for RCS."""
    MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519 = 0x0003

    @classmethod
    def _missing_(cls, value: object) -> Ciphersuite:
        from rcs_mls.exceptions import UnsupportedCiphersuiteError

        if isinstance(value, int):
            raise UnsupportedCiphersuiteError(
                f"ciphersuite 0x{value:04x} is not supported (supported: 0x0001, 0x0002, 0x0003)"
            )
        raise UnsupportedCiphersuiteError(f"not a ciphersuite: {value!r}")


class ExtensionType(enum.IntEnum):
    """Extension types (RFC 9420 §17.3), for ``(type, data)`` extension pairs."""

    APPLICATION_ID = 0x0001
    RATCHET_TREE = 0x0002
    REQUIRED_CAPABILITIES = 0x0003
    EXTERNAL_PUB = 0x0004
    EXTERNAL_SENDERS = 0x0005
    LAST_RESORT = 0x000A


class ProposalType(enum.IntEnum):
    """Proposal types (RFC 9420 §17.4), as reported by ``ProposalMessage.proposal_type``."""

    ADD = 0x0001
    UPDATE = 0x0002
    REMOVE = 0x0003
    PSK = 0x0004
    REINIT = 0x0005
    EXTERNAL_INIT = 0x0006
    GROUP_CONTEXT_EXTENSIONS = 0x0007
    SELF_REMOVE = 0x000A
