"""The GSMA RCC.16 profile settings of :mod:`rcs_mls.rcs.conversation`, in one place.

RCC.16 is not public; what is known of it comes from implementations that interoperate
with deployed clients (see ``../shared/RCC16.md``). Every code point and every choice the
conversation layer makes is a named constant here, marked **[spec]** (confirmed in a
primary source), **[deployed]** (observed on the wire by an implementation) or
**[guess]** (inferred), so that a correction is a one-line change.

The formats themselves keep their own constants (:mod:`rcs_mls.rcs.payload`,
:mod:`rcs_mls.rcs.fileinfo`, :mod:`rcs_mls.rcs.filecrypt`, :mod:`rcs_mls.rcs.cpim`).
"""

from __future__ import annotations

import secrets
import string
from typing import Final

from rcs_mls._types import Ciphersuite, ProposalType

__all__ = [
    "CLIENT_EXTENSION_TYPES",
    "CLIENT_PROPOSAL_TYPES",
    "CPIM_ANONYMOUS_URI",
    "DISPOSITION_NOTIFICATION",
    "END_MLS_DATA",
    "ERA_INITIAL",
    "EXT_END_MLS",
    "EXT_ERA",
    "EXT_ICON_COMMITMENT",
    "EXT_ICON_KEY",
    "EXT_CONTINUITY_COMMITMENT",
    "EXT_CONTINUITY_TOKEN",
    "EXT_METADATA_KEYS_REQUESTED",
    "EXT_SUBJECT_COMMITMENT",
    "EXT_SUBJECT_KEY",
    "FILE_URL_LIFETIME",
    "ICON_COMMITMENT_LABEL",
    "MAX_PAST_EPOCHS",
    "PREVIOUS_ERA_KEPT_SECONDS",
    "PROPOSAL_RCS_SIGNATURE",
    "PROPOSAL_SELF_REMOVE",
    "PROPOSAL_SERVER_REMOVE",
    "REQUIRED_EXTENSIONS",
    "SELF_REMOVE_PROPOSAL",
    "SIGNED_RECEIPT_TYPE_DELIVERY",
    "SIGNED_RECEIPT_TYPE_DISPLAY",
    "SIGNED_RECEIPTS",
    "SUBJECT_COMMITMENT_LABEL",
    "SUITE",
    "VERIFIABLE_CONTENT_VERSION",
    "WELCOME_ONLY_EXTENSIONS",
    "new_message_id",
]

#: The RCS ciphersuite [deployed].
SUITE: Final = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256

# --- GroupContext / GroupInfo / Welcome extensions (RCC.16 §7.11) --------------------------

#: ``era``: bare uint32 big-endian in the GroupContext; fixed for the life of an MLS group
#: (an era advance is a new group under the same group id) [deployed].
EXT_ERA: Final = 0xF001
#: ``end_mls``: the conversation is no longer encrypted [deployed].
EXT_END_MLS: Final = 0xF002
#: ``icon_key``: Welcome only, a secret [deployed].
EXT_ICON_KEY: Final = 0xF003
#: ``icon_commitment``: GroupContext, ``opaque<V>`` of a SHA-256 commitment [deployed].
EXT_ICON_COMMITMENT: Final = 0xF004
#: ``subject_key``: Welcome only, a secret [deployed].
EXT_SUBJECT_KEY: Final = 0xF005
#: ``subject_commitment``: GroupContext, ``opaque<V>`` of a SHA-256 commitment [deployed].
EXT_SUBJECT_COMMITMENT: Final = 0xF006
#: ``group_metadata_keys_requested``: presence is the flag [deployed]; not produced here.
EXT_METADATA_KEYS_REQUESTED: Final = 0xF007
#: ``continuity_token``: ``opaque<V>`` of 32 bytes, in the Welcome of a re-created group
#: only (see :mod:`rcs_mls.rcs.continuity`).
EXT_CONTINUITY_TOKEN: Final = 0xF010
#: The commitment to the continuity token, in the GroupContext of a re-created group.
EXT_CONTINUITY_COMMITMENT: Final = 0xF011

#: The era of a new group [deployed].
ERA_INITIAL: Final = 1
#: The ``end_mls`` extension data: the ASCII literal, bare (RCC.16 v3.0) [deployed].
END_MLS_DATA: Final = b"end_mls"
#: The Annex C.1 commitment labels, bare ASCII (RCC.16 v3.0) [deployed]. The committed
#: value is the 32-byte file key ``K`` of the encrypted subject or icon [deployed].
SUBJECT_COMMITMENT_LABEL: Final = b"subject_commitment"
ICON_COMMITMENT_LABEL: Final = b"icon_commitment"
#: [guess] What a key extension (0xF005 / 0xF003) carries, inside its ``opaque<V>``: a
#: FileInfo protobuf whose ``subject`` (or ``icon``) slot holds the key, IV and tag of the
#: encrypted value (a deployed client names it "fileInfoForGroupSubject").
WELCOME_ONLY_EXTENSIONS: Final = (EXT_SUBJECT_KEY, EXT_ICON_KEY, EXT_CONTINUITY_TOKEN)

#: The extension types every RCS client lists in its capabilities (RFC 9420 §7.2), so
#: that a group may carry them. The range 0xF010-0xF030 that deployed clients also
#: advertise is left out: nothing here produces or reads it.
CLIENT_EXTENSION_TYPES: Final = (
    EXT_ERA,
    EXT_END_MLS,
    EXT_ICON_KEY,
    EXT_ICON_COMMITMENT,
    EXT_SUBJECT_KEY,
    EXT_SUBJECT_COMMITMENT,
    EXT_METADATA_KEYS_REQUESTED,
    EXT_CONTINUITY_TOKEN,
    EXT_CONTINUITY_COMMITMENT,
)
#: [guess] The GroupContext extensions the group requires of every member (its
#: RequiredCapabilities extension).
REQUIRED_EXTENSIONS: Final = (
    EXT_ERA,
    EXT_END_MLS,
    EXT_ICON_COMMITMENT,
    EXT_SUBJECT_COMMITMENT,
    EXT_METADATA_KEYS_REQUESTED,
)

# --- proposals (RCC.16 §7.11.7-9) --------------------------------------------------------

#: ``rcs_signature``: empty, bare, never committed; its PublicMessage signs a receipt.
PROPOSAL_RCS_SIGNATURE: Final = 0xF002
#: ``SelfRemove``: empty, bare [spec: mls-rs PR #299].
PROPOSAL_SELF_REMOVE: Final = 0xF003
#: ``ServerRemove``: ``uint32 to_remove``, bare [spec].
PROPOSAL_SERVER_REMOVE: Final = 0xF004
#: The SelfRemove a member sends to leave. RCC.16's 0xF003 (built by this package, see
#: docs/openmls-gaps.md; the other members commit a Remove for the leaver) is the default;
#: ``ProposalType.SELF_REMOVE`` (0x000A) would use OpenMLS's draft-ietf-mls-extensions
#: SelfRemove instead, which RCC.16 peers do not know.
SELF_REMOVE_PROPOSAL: Final[int] = PROPOSAL_SELF_REMOVE
#: The proposal types RCS clients list in their capabilities.
CLIENT_PROPOSAL_TYPES: Final = (
    PROPOSAL_RCS_SIGNATURE,
    PROPOSAL_SELF_REMOVE,
    PROPOSAL_SERVER_REMOVE,
    int(ProposalType.SELF_REMOVE),
)

#: Past epochs whose secrets a member keeps, for late messages and for receipts signed in
#: an earlier epoch (deployed clients keep 3 to 30 days; this is a count of epochs).
MAX_PAST_EPOCHS: Final = 5

#: How long, in seconds, the previous era of a conversation stays readable after an era
#: advance, for late messages sent before their sender learned of the new era: 3 days
#: [guess: RCC.16 v3.0 keeps previous-epoch secrets at least 3 days, v4.0 30 days; the
#: profile says nothing of eras, and a shorter window limits what a removed device or a
#: replaying server can still send into the old group].
PREVIOUS_ERA_KEPT_SECONDS: Final = 3 * 24 * 3600

# --- CPIM envelope (RCC.16 §7.9) ---------------------------------------------------------

#: ``From`` and ``To`` of the CPIM object: the network fills in the real addresses
#: [deployed].
CPIM_ANONYMOUS_URI: Final = "sip:anonymous@anonymous.invalid"
#: ``imdn.Disposition-Notification`` of an ordinary message [deployed].
DISPOSITION_NOTIFICATION: Final = "positive-delivery, negative-delivery, display"
#: How long the content server keeps an uploaded file (the descriptor's ``until``),
#: in seconds [guess].
FILE_URL_LIFETIME: Final = 7 * 24 * 3600

_MESSAGE_ID_ALPHABET: Final = string.ascii_letters + string.digits
#: [deployed form] Message ids look like ``Mx`` and 22 random alphanumerics.
_MESSAGE_ID_PREFIX: Final = "Mx"
_MESSAGE_ID_RANDOM: Final = 22


def new_message_id() -> str:
    """A fresh ``imdn.Message-ID``: ``Mx`` and 22 random letters and digits [deployed]."""
    random_part = "".join(secrets.choice(_MESSAGE_ID_ALPHABET) for _ in range(_MESSAGE_ID_RANDOM))
    return _MESSAGE_ID_PREFIX + random_part


# --- receipts (RCC.16 §7.6) --------------------------------------------------------------

#: Whether receipts are sent as RCC.16 signed receipts: the IMDN in the CPIM body and an
#: ``rcs_signature`` PublicMessage in ``mls.MLS-Derived-Content-Signature`` [deployed].
#: When False they travel encrypted inside MLS like any other payload.
SIGNED_RECEIPTS: Final = True
#: ``VerifiableDerivedContentVersion`` v1 (RCC.16 §7.6.3.1) [deployed].
VERIFIABLE_CONTENT_VERSION: Final = 1
#: The type byte between the header and the inner struct of the signed content: not in
#: the spec text, observed in deployed receipts [deployed].
SIGNED_RECEIPT_TYPE_DELIVERY: Final = 1
SIGNED_RECEIPT_TYPE_DISPLAY: Final = 2
