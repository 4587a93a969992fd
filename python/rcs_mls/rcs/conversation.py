"""RCS conversations end-to-end encrypted with MLS, as GSMA RCC.16 runs them.

A :class:`Conversation` is one device's view of a 1:1 chat or a group chat: an MLS group
(ciphersuite 0x0002, handshake messages as PublicMessage, the ``era`` GroupContext
extension) plus the RCC.16 framing around every message. Everything that leaves a
conversation is a complete ``message/cpim`` object (RFC 3862) with the ``mls.`` headers
(RCC.16 §7.9): :class:`Outgoing`. Everything that arrives goes through
:meth:`Conversation.receive`, which returns one typed :class:`Event`; a message that fails
any check becomes :class:`Rejected` and is never delivered.

What travels, by inner ``Content-Type``:

==============================  ==========================================================
``message/mls``                 a PrivateMessage whose plaintext is a SecretPayload (text,
                                FileInfo key delivery, FT descriptor, encrypted receipt,
                                typing indication); the SecretPayload ``generation`` is the
                                MLS generation of that very message (RCC.16 §7.5.2)
``message/mls-rcs-client``      a commit, a proposal (SelfRemove 0xF003) or a Welcome
``message/imdn+xml``            a signed receipt (RCC.16 §7.6): the IMDN, and in the
                                ``mls.MLS-Derived-Content-Signature`` header an
                                ``rcs_signature`` (0xF002) PublicMessage that signs it
``message/mls-ft``              an encrypted group subject or icon (Annex C)
==============================  ==========================================================

Checks on receipt of an application message, in order: the required ``mls.Era-ID`` and
``mls.Epoch-Authenticator`` headers (the era is this group's, the authenticator is the one
of the epoch the message was encrypted in); the sender data, decrypted by this package
(:func:`rcs_mls._native.rcs_private_message_sender`) for the sender's leaf and generation;
the authenticated data, read from the wire before decrypting so that a mismatch does not
use up the message's key (RCC.16 §7.5.3: message id equal to the CPIM
``imdn.Message-ID``, this era); MLS decryption (which authenticates it); the
SecretPayload, whose generation must equal the one in the sender data; then the content
itself. A message that does not decrypt yields, in :attr:`Rejected.response`, the
negative-delivery IMDN (``failed-to-decrypt``) to send back.

Conversation state beyond the MLS group (pending file keys, subject and icon keys, leave
requests, the authenticators of past epochs) lives in memory, in this object.

Who may be in the conversation is decided by one policy,
:class:`~rcs_mls.rcs.membership.MembershipPolicy`, applied before anything is merged or
stored: the members of a Welcome, key packages before they are added, and every received
commit (adds, external joins, credential replacements, GroupContext changes). A commit it
refuses is :class:`Rejected` and the group stays in its epoch, fully usable.

Participants are keyed by the ``tel:`` number of their X.509 credentials; a participant
may have several devices (leaves), and adding or removing a participant touches all of
them in one commit. Commits are arbitrated by the delivery service (one per epoch, see
:mod:`rcs_mls.rcs.relay`): a commit method returns the commit to submit; then call
:meth:`Conversation.commit_accepted` (merge; returns the follow-up messages: Welcome,
subject or icon key delivery) or :meth:`Conversation.commit_rejected` (drop it, process
the winner, retry).

Not authenticated by RCC.16, and so not checked: the CPIM ``From``, ``To`` and
``DateTime`` headers (the network rewrites the addresses). Every RCC.16 choice this module
makes is a named constant in :mod:`rcs_mls.rcs.profile`; where OpenMLS falls short, the
native ``rcs_*`` functions and ``docs/openmls-gaps.md`` say what was done instead.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rcs_mls import _native
from rcs_mls._native import (
    ApplicationMessage,
    Client,
    Credential,
    Group,
    GroupConfig,
    KeyPackage,
    Member,
    ProposalMessage,
    StagedCommit,
)
from rcs_mls._types import ProposalType
from rcs_mls.exceptions import (
    CpimParseError,
    CredentialError,
    DecryptionError,
    FileIntegrityError,
    GroupStateError,
    InvalidArgumentError,
    MembershipError,
    ParseError,
    RcsMlsError,
    StorageError,
    ValidationError,
    WrongEpochError,
)
from rcs_mls.rcs import continuity, eras, filecrypt, profile
from rcs_mls.rcs.cpim import (
    CONTENT_TYPE_MLS,
    CONTENT_TYPE_MLS_FT,
    CONTENT_TYPE_MLS_RCS_CLIENT,
    CONTENT_TYPE_MLS_RCS_SERVER,
    HEADER_IMDN_DISPOSITION_NOTIFICATION,
    HEADER_IMDN_MESSAGE_ID,
    HEADER_MLS_DERIVED_CONTENT_SIGNATURE,
    HEADER_MLS_EPOCH_AUTHENTICATOR,
    HEADER_MLS_ERA_ID,
    HEADER_MLS_ORIGINAL_MESSAGE_ID,
    NS_IMDN,
    NS_MLS,
    CpimHeader,
    CpimMessage,
    MimeHeader,
    format_datetime,
)
from rcs_mls.rcs.credentials import phone_number_of
from rcs_mls.rcs.file_transfer import (
    CONTENT_TYPE_FT_HTTP,
    ENCRYPTED_FILE_NAME,
    FileTransferDescriptor,
    FileTransferInfo,
)
from rcs_mls.rcs.fileinfo import (
    CONTENT_TYPE_FILE_INFO,
    FileEncryptionInfo,
    FileInfo,
    FileMetadata,
)
from rcs_mls.rcs.imdn import (
    CONTENT_TYPE_IMDN,
    Imdn,
    ImdnStatus,
    MlsClientFailureReason,
    MlsServerFailureReason,
    NotificationType,
)
from rcs_mls.rcs.iscomposing import CONTENT_TYPE_ISCOMPOSING, ComposingState, IsComposing
from rcs_mls.rcs.membership import MembershipPolicy, TrustAnchors
from rcs_mls.rcs.payload import ApplicationAad, SecretPayload, decode_varint, encode_varint

__all__ = [
    "CommitApplied",
    "Conversation",
    "ConversationEnded",
    "EraAdvanced",
    "Event",
    "ExternalJoin",
    "FailureReport",
    "FileKeyReceived",
    "FileOffer",
    "IconChange",
    "LeaveRequest",
    "MembershipChange",
    "MetadataKeysRequested",
    "Outgoing",
    "Receipt",
    "Rejected",
    "SubjectChange",
    "TextMessage",
    "Typing",
    "client_for_device",
    "era_extension",
    "metadata_commitment",
]

_TEXT_PLAIN = "text/plain;charset=UTF-8"
_UUID4_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_ERA_RE = re.compile(r"[0-9]{1,10}")
_SENDER_MEMBER = 1
_SENDER_EXTERNAL = 2
_SENDER_NEW_MEMBER_COMMIT = 4
_WIRE_PUBLIC = 1
_WIRE_PRIVATE = 2
_WIRE_WELCOME = 3
_CONTENT_PROPOSAL = 2
_CONTENT_COMMIT = 3
_AUTHENTICATOR_LENGTH = 32
# The layout of the conversation state saved in the client's store.
_STATE_VERSION = 1
_AUTHENTICATOR_BASE64_LENGTH = 44
# What a new era keeps of the group it replaces (GroupContext extensions).
_CARRIED_ACROSS_ERAS = frozenset(
    {profile.EXT_SUBJECT_COMMITMENT, profile.EXT_ICON_COMMITMENT, 0x0005}  # external_senders
)
# The RCC.16 proposals OpenMLS cannot decode (bare payloads): this package handles them.
_BARE_PROPOSALS = (
    profile.PROPOSAL_RCS_SIGNATURE,
    profile.PROPOSAL_SELF_REMOVE,
    profile.PROPOSAL_SERVER_REMOVE,
)
# [guess] The descriptor's content type of an encrypted file: its real type is in FileInfo.
_ENCRYPTED_CONTENT_TYPE = "application/octet-stream"
_DISPOSITION_NOTIFICATION = "notification"

# The VerifiableDerivedContent status codes of RCC.16 §7.6.3.2 / §7.6.3.3 [deployed].
_DELIVERY_STATUS = {
    ImdnStatus.DELIVERED: 1,
    ImdnStatus.FAILED: 2,
    ImdnStatus.FORBIDDEN: 3,
    ImdnStatus.ERROR: 4,
}
_DISPLAY_STATUS = {ImdnStatus.DISPLAYED: 1, ImdnStatus.FORBIDDEN: 2, ImdnStatus.ERROR: 3}
# The commitment label and GroupContext extension of the subject and of the icon.
_METADATA = {
    "subject": (profile.SUBJECT_COMMITMENT_LABEL, profile.EXT_SUBJECT_COMMITMENT),
    "icon": (profile.ICON_COMMITMENT_LABEL, profile.EXT_ICON_COMMITMENT),
}


# --- helpers -------------------------------------------------------------------------------


def _era_of(extensions: Sequence[tuple[int, bytes]]) -> int | None:
    """The era in GroupContext extensions (0xF001, a bare uint32), or None."""
    for ext_type, data in extensions:
        if ext_type == profile.EXT_ERA and len(data) == 4:
            return int.from_bytes(data, "big")
    return None


def era_extension(era: int = profile.ERA_INITIAL) -> tuple[int, bytes]:
    """The ``era`` GroupContext extension: type 0xF001, a bare uint32 big-endian."""
    return profile.EXT_ERA, era.to_bytes(4, "big")


def metadata_commitment(label: bytes, value: bytes) -> bytes:
    """The RCC.16 Annex C.1 commitment ``SHA-256(varint(len L) || L || varint(len V) || V)``."""
    return hashlib.sha256(
        encode_varint(len(label)) + label + encode_varint(len(value)) + value
    ).digest()


def _opaque(value: bytes) -> bytes:
    return encode_varint(len(value)) + value


def _unframe(value: bytes) -> bytes | None:
    """The content of an ``opaque<V>`` extension payload, or None if it is not one."""
    try:
        length, offset = decode_varint(value, 0)
    except ParseError:
        return None
    return value[offset:] if offset + length == len(value) else None


def client_for_device(credential: Credential, keys: _native.SignatureKeyPair) -> Client:
    """A :class:`Client` for one RCS device (ciphersuite 0x0002) that lists the RCC.16
    extensions and proposals in its capabilities.

    Raises:
        InvalidArgumentError: the key is not a P-256 key, or the credential does not
            certify it.
    """
    return Client(
        credential,
        keys,
        profile.SUITE,
        extension_types=list(profile.CLIENT_EXTENSION_TYPES),
        proposal_types=list(profile.CLIENT_PROPOSAL_TYPES),
    )


def _policy_for(
    trust_anchors: TrustAnchors | MembershipPolicy, allow_external_joins: bool
) -> MembershipPolicy:
    if isinstance(trust_anchors, MembershipPolicy):
        return trust_anchors
    return MembershipPolicy(trust_anchors, allow_external_joins=allow_external_joins)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- what leaves a conversation -------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A complete ``message/cpim`` object to hand to the network.

    ``content_type`` is the encapsulated Content-Type (what the network sees);
    ``kind`` says what it is for logs (``text``, ``commit``, ``welcome``...; never sent);
    ``recipients`` is None for every participant, or the participants (``tel:`` numbers)
    a Welcome is for; ``epoch`` the epoch the message belongs to. For a commit, ``added``
    and ``removed`` name the participants it adds and removes.
    """

    cpim: bytes = field(repr=False)
    message_id: str
    content_type: str
    kind: str
    epoch: int
    recipients: tuple[str, ...] | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


# --- what arrives ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something :meth:`Conversation.receive` read: ``message_id`` of the CPIM object,
    ``sender`` the authenticated participant (``tel:`` number; None when not known),
    ``epoch`` the MLS epoch of the message. ``original_message_id`` is set on a resend
    (RCC.16 §7.5.3: the message id it replaces, authenticated in the AAD)."""

    message_id: str | None
    sender: str | None
    epoch: int
    original_message_id: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class TextMessage(Event):
    """A text (or other ``text/*``) message."""

    text: str
    content_type: str = _TEXT_PLAIN


@dataclass(frozen=True)
class FileKeyReceived(Event):
    """The key of a file (FileInfo, RCC.16 §7.8.1); its descriptor follows."""

    file_info: FileInfo


@dataclass(frozen=True)
class FileOffer(Event):
    """A file offered with File Transfer over HTTP, with the key to decrypt it.

    Download ``descriptor.file.url`` and pass the ciphertext to
    :meth:`Conversation.decrypt_file`.
    """

    descriptor: FileTransferDescriptor
    metadata: FileMetadata

    @property
    def file_name(self) -> str:
        """The original file name (from FileInfo; the descriptor says ``encrypted_file``)."""
        return self.metadata.file_name

    @property
    def content_type(self) -> str:
        """The real content type (from FileInfo)."""
        return self.metadata.content_type


@dataclass(frozen=True)
class Receipt(Event):
    """A delivery or display notification for ``reported_message_id``.

    ``signed`` is True for an RCC.16 signed receipt whose signature verified.
    """

    reported_message_id: str
    notification: NotificationType
    status: ImdnStatus
    signed: bool


@dataclass(frozen=True)
class FailureReport(Receipt):
    """A negative-delivery notification: the peer could not process our message."""

    reason: MlsClientFailureReason | MlsServerFailureReason | None = None


@dataclass(frozen=True)
class Typing(Event):
    """An is-composing indication (RFC 3994)."""

    active: bool
    refresh: int | None = None


@dataclass(frozen=True)
class MembershipChange(Event):
    """A commit that added or removed devices; ``sender`` made it. ``added`` names the
    participants (``tel:`` numbers) with devices added (new participants or new devices),
    ``removed`` the participants no longer in the conversation.

    ``removed_self`` is True when this device was removed: the conversation is over.
    """

    added: tuple[str, ...]
    removed: tuple[str, ...]
    removed_self: bool = False


@dataclass(frozen=True)
class ExternalJoin(MembershipChange):
    """A device joined by external commit (``sender`` is its participant, also in
    ``added`` when it is new to the conversation): a participant's device rejoining after
    it lost its state (self-heal), which replaced ``replaced_leaves`` (its own old
    leaves), or a new device."""

    replaced_leaves: tuple[int, ...] = ()


@dataclass(frozen=True)
class CommitApplied(Event):
    """A commit that changed neither the participants nor ended the conversation (a key
    update, a new subject or icon commitment)."""


@dataclass(frozen=True)
class MetadataKeysRequested(Event):
    """A member (``sender``) committed ``group_metadata_keys_requested`` (0xF007): it
    lacks the subject or icon key; a member holding them answers with
    :meth:`Conversation.send_metadata_keys` [guess]."""


@dataclass(frozen=True)
class EraAdvanced(Event):
    """The conversation was re-created as a new MLS group of ``era`` (RCC16.md §2) by
    ``sender``, a member of the group it replaces (checked with the continuity token, see
    :mod:`rcs_mls.rcs.continuity`). Late application messages of the previous era are
    still read for :data:`~rcs_mls.rcs.profile.PREVIOUS_ERA_KEPT_SECONDS`
    (:attr:`Conversation.previous_era`)."""

    era: int


@dataclass(frozen=True)
class ConversationEnded(Event):
    """The ``end_mls`` extension was committed (``sender`` ended encryption): no
    encrypted message is sent any more."""


@dataclass(frozen=True)
class LeaveRequest(Event):
    """A device asked to leave (SelfRemove, ``sender`` its participant), or the server
    asked to remove one (ServerRemove, ``sender`` None); commit it with
    :meth:`Conversation.commit_leaves`."""

    leaf_index: int


@dataclass(frozen=True)
class SubjectChange(Event):
    """The group subject, decrypted and checked against its commitment (0xF006)."""

    subject: str


@dataclass(frozen=True)
class IconChange(Event):
    """The group icon, decrypted and checked against its commitment (0xF004)."""

    icon: bytes = field(repr=False)


@dataclass(frozen=True)
class Rejected(Event):
    """A message that failed a check and was not delivered.

    ``reason`` says which check; ``failure`` the RCC.16 client failure reason, if one
    applies. Nothing is signed in answer on its own: a CPIM message id is not bound to a
    handshake message, and a message that did not decrypt authenticates nothing, so an
    automatic report would let the delivery service collect signed reports for message
    ids of its choosing. RCC.16 sends the report only after self-heal failed: then call
    :meth:`Conversation.failure_report`.
    """

    reason: str
    failure: MlsClientFailureReason | None = None


class _Reject(Exception):
    """Internal: abort processing of one incoming message."""

    def __init__(self, reason: str, *, failure: MlsClientFailureReason | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure = failure


@dataclass(frozen=True)
class _LeaveRequest:
    """A verified leave request for a leaf, as that leaf was held when it was made (its
    signature and encryption keys: the leaf node), and the proposal itself (None for
    OpenMLS's own 0x000A, which OpenMLS keeps) of ``epoch``."""

    number: str
    signature_key: bytes
    encryption_key: bytes
    proposal: bytes | None
    epoch: int


@dataclass(frozen=True)
class _Decrypted:
    """A decrypted application message with what the checks after decryption need."""

    message_id: str
    original: str | None
    generation: int
    plaintext: bytes
    sender_leaf_index: int | None
    credential: Credential
    epoch: int


@dataclass
class _PendingCommit:
    kind: str
    epoch: int
    welcome_to: tuple[str, ...] = ()
    welcome: bytes | None = None
    follow_ups: list[tuple[str, FileInfo, str, bytes]] = field(default_factory=list)


@dataclass
class _MetadataKey:
    """A subject or icon key from FileInfo or the Welcome, until its ciphertext arrives."""

    kind: str  # "subject" or "icon"
    metadata: FileMetadata
    sender: str | None = None


# --- the conversation -------------------------------------------------------------------


class Conversation:
    """One device's side of an RCC.16 conversation (1:1 or group) over an MLS group.

    Create one with :meth:`start` or :meth:`join`. Not thread-safe: use one conversation
    from one thread at a time (the MLS group inside is).
    """

    def __init__(
        self,
        client: Client,
        group: Group,
        *,
        trust_anchors: TrustAnchors | MembershipPolicy,
        allow_external_joins: bool = False,
    ) -> None:
        """Wrap an existing group; most callers want :meth:`start` or :meth:`join`.

        ``trust_anchors`` (required) are the roots RCS device certificates chain to; only
        :data:`~rcs_mls.rcs.membership.INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS` skips
        chain validation. ``allow_external_joins`` accepts external commits by devices of
        people who are not participants yet. Both make the conversation's
        :class:`~rcs_mls.rcs.membership.MembershipPolicy`; a policy built beforehand may
        be passed as ``trust_anchors`` instead (``allow_external_joins`` is then the
        policy's).

        Raises:
            ValidationError: the group is not an RCC.16 group (no ``era`` extension).
            CredentialError: this device's own credential is not acceptable.
            InvalidArgumentError: malformed trust anchors.
        """
        self._client = client
        self._group = group
        self._policy = _policy_for(trust_anchors, allow_external_joins)
        self._own_number = self._policy.participant(
            client.credential, client.signature_public_key, new=False
        )
        self._pending: _PendingCommit | None = None
        self._authenticators: dict[int, bytes] = {}
        # File keys by (sender, FileInfo message id): a descriptor claims only its own.
        self._file_keys: dict[tuple[str, str], FileMetadata] = {}
        self._metadata_keys: list[_MetadataKey] = []
        # Who committed the current subject / icon commitment (None: unknown, e.g. set
        # before this device joined): only that member's key delivery is taken.
        self._metadata_committers: dict[str, str | None] = {}
        # Verified leave requests by leaf: a bare 0xF003 SelfRemove or 0xF004 ServerRemove
        # (removed by value when committing), and OpenMLS's 0x000A (in its proposal store).
        self._leave_requests: dict[int, _LeaveRequest] = {}
        self._openmls_leaves: dict[int, _LeaveRequest] = {}
        self._subject: str | None = None
        self._icon: bytes | None = None
        # The era before this one, archived and still read for its late messages.
        self._previous: eras.PreviousEra | None = None
        # Journal entries of decrypted messages, folded into the next saved state.
        self._journal_done: list[bytes] = []
        #: Events read back from the journal by :meth:`load` (messages decrypted before a
        #: crash, whose effect had not been saved yet).
        self.recovered_events: list[Event] = []
        if self.era is None:
            raise ValidationError("not an RCC.16 group: no era extension (0xF001)")
        self._remember_epoch()

    # --- creating and joining -------------------------------------------------------------

    @staticmethod
    def group_config() -> GroupConfig:
        """The RCC.16 group configuration: PublicMessage handshakes, past epochs kept, the
        ``era`` extension at :data:`~rcs_mls.rcs.profile.ERA_INITIAL`, and the required
        capabilities of :data:`~rcs_mls.rcs.profile.REQUIRED_EXTENSIONS`."""
        return GroupConfig(
            public_handshake=True,
            max_past_epochs=profile.MAX_PAST_EPOCHS,
            required_extensions=list(profile.REQUIRED_EXTENSIONS),
            group_context_extensions=[era_extension()],
        )

    @classmethod
    def start(
        cls,
        client: Client,
        key_packages: Sequence[KeyPackage],
        *,
        trust_anchors: TrustAnchors | MembershipPolicy,
        group_id: str | None = None,
        allow_external_joins: bool = False,
    ) -> tuple[Conversation, Outgoing]:
        """Create a conversation and the commit that adds every device of ``key_packages``.

        Without ``group_id`` it is a 1:1 chat: the MLS group id is a fresh lowercase UUIDv4
        string and the key packages must belong to exactly one other participant (and,
        optionally, this participant's other devices). With ``group_id`` it is a group chat
        under that RCS group id. Submit the commit, then call :meth:`commit_accepted` and
        send the Welcome it returns.

        Raises:
            InvalidArgumentError: no key package, a 1:1 with other than one peer, or a key
                package in another ciphersuite.
            CredentialError: a credential (this device's or a key package's) is not
                acceptable (:class:`~rcs_mls.rcs.membership.MembershipPolicy`).
        """
        if not key_packages:
            raise InvalidArgumentError("a conversation starts with at least one other device")
        policy = _policy_for(trust_anchors, allow_external_joins)
        own = policy.participant(client.credential, client.signature_public_key)
        others = {policy.check_key_package(kp) for kp in key_packages} - {own}
        if group_id is None:
            if len(others) != 1:
                raise InvalidArgumentError("a 1:1 conversation has exactly one other participant")
            group_id = str(uuid.uuid4())
        elif not group_id:
            raise InvalidArgumentError("group_id must not be empty")
        group = client.create_group(cls.group_config(), group_id=group_id.encode("utf-8"))
        conversation = cls(client, group, trust_anchors=policy)
        commit = conversation.add_devices(key_packages)
        return conversation, commit

    @classmethod
    def join(
        cls,
        client: Client,
        welcome: bytes,
        *,
        trust_anchors: TrustAnchors | MembershipPolicy,
        allow_external_joins: bool = False,
    ) -> Conversation:
        """Join from a Welcome CPIM object, once every member of the group it leads to
        passed the membership policy (nothing is stored otherwise, and the key package
        stays usable). The subject and icon keys of the Welcome are kept: the subject and
        icon are read when their ciphertexts arrive.

        Raises:
            ParseError: not a CPIM Welcome.
            ValidationError: the era header disagrees with the group, or the group is not
                an RCC.16 group.
            CredentialError: a member's credential is not acceptable.
            RcsMlsError: the Welcome is not for this client, or does not verify.
        """
        message = CpimMessage.from_bytes(welcome)
        if message.content_type != CONTENT_TYPE_MLS_RCS_CLIENT:
            raise ParseError("a Welcome travels as message/mls-rcs-client")
        staged = client.stage_welcome(message.body, config=cls.group_config(), replace_group=True)
        era = _era_of(staged.group_context_extensions)
        if era is None:
            raise ValidationError("not an RCC.16 group: no era extension (0xF001)")
        if message.header("Era-ID", NS_MLS) != str(era):
            raise ValidationError("the Welcome's mls.Era-ID is not the group's era")
        policy = _policy_for(trust_anchors, allow_external_joins)
        policy.review_welcome(
            staged,
            policy.participant(client.credential, client.signature_public_key),
            one_to_one=_UUID4_RE.fullmatch(staged.group_id.decode("utf-8", "replace")) is not None,
        )
        # A device removed before and added again replaces its dead group; a live one is
        # never replaced from here.
        if staged.group_id in client.list_groups() and client.load_group(staged.group_id).is_active:
            raise GroupStateError(
                "this device is in this conversation already (a Welcome of a new era goes "
                "to Conversation.receive)"
            )
        conversation = cls(client, staged.join(), trust_anchors=policy)
        conversation._keep_welcome_keys(staged.group_info_extensions)
        conversation._save()
        return conversation

    def _keep_welcome_keys(self, extensions: Sequence[tuple[int, bytes]]) -> None:
        """The subject and icon keys a Welcome carries (GroupInfo extensions)."""
        for ext_type, data in extensions:
            kind = {profile.EXT_SUBJECT_KEY: "subject", profile.EXT_ICON_KEY: "icon"}.get(ext_type)
            if kind is None:
                continue
            inner = _unframe(data)
            try:
                info = FileInfo.from_bytes(inner if inner is not None else b"")
            except ParseError:
                continue
            slot = info.subject if kind == "subject" else info.icon
            if slot is not None:
                self._metadata_keys.append(_MetadataKey(kind, slot))

    def _switch_to(self, group: Group) -> None:
        """Continue the conversation in ``group`` (a new era, or this device's rejoin):
        what belonged to the previous group's epochs is dropped."""
        self._group = group
        self._pending = None
        self._authenticators.clear()
        self._leave_requests.clear()
        self._openmls_leaves.clear()
        self._metadata_committers.clear()
        self._remember_epoch()

    @staticmethod
    def is_welcome(data: bytes) -> bool:
        """Whether a CPIM object carries a Welcome (to pass to :meth:`join`)."""
        try:
            message = CpimMessage.from_bytes(data)
            if message.content_type != CONTENT_TYPE_MLS_RCS_CLIENT:
                return False
            return _native.rcs_message_info(message.body)[0] == _WIRE_WELCOME
        except ParseError:
            return False

    # --- state ----------------------------------------------------------------------------

    @property
    def group(self) -> Group:
        """The MLS group."""
        return self._group

    @property
    def group_id(self) -> str:
        """The RCS group id (group chat) or the UUIDv4 (1:1): the MLS group id as text."""
        return self._group.group_id.decode("utf-8", "replace")

    @property
    def own_number(self) -> str:
        """This device's participant (``tel:`` number of its credential)."""
        return self._own_number

    @property
    def is_one_to_one(self) -> bool:
        """Whether this is a 1:1 chat: its group id is a UUIDv4 (RCC.16 §8), and the
        membership policy keeps it to two participants."""
        return self._is_uuid_group()

    def _is_uuid_group(self) -> bool:
        return _UUID4_RE.fullmatch(self.group_id) is not None

    @property
    def era(self) -> int | None:
        """The group's era (extension 0xF001), or None if it has none."""
        return _era_of(self._group.extensions)

    @property
    def previous_era(self) -> int | None:
        """The era before :attr:`era`, whose late application messages are still read
        (:mod:`rcs_mls.rcs.eras`), or None: none kept, or its window is over."""
        previous = self._previous
        if previous is None or previous.expired():
            return None
        return previous.era

    def forget_previous_era(self) -> None:
        """Stop reading the previous era now: erase its archived group and its secrets
        (an advance erases an older previous era by itself; this is for a device that
        wants the window closed early).

        Raises:
            GroupStateError: this device's own era advance is pending (if it is rejected,
                the conversation goes back to the previous era).
        """
        if self._pending is not None and self._pending.kind == "era":
            raise GroupStateError("an era advance is pending: accept or reject it first")
        if self._previous is not None:
            self._forget_previous()
            self._save()

    def _forget_previous(self) -> None:
        previous, self._previous = self._previous, None
        if previous is not None:
            previous.forget(self._client)

    def _erase_stray_eras(self) -> None:
        """Erase the archived eras of this conversation other than the kept previous one
        (left by a crash between an advance and the save of this state, which records
        the era kept), so that no old era's secrets outlive their window."""
        kept = None if self._previous is None else eras.archive_name(self._previous.era)
        group_id = self._group.group_id
        for name, gid in self._client.list_archived_groups():
            if gid == group_id and name != kept and eras.is_era_archive(name):
                self._client.delete_archived_group(name, gid)

    @property
    def epoch(self) -> int:
        """The MLS epoch."""
        return self._group.epoch

    @property
    def epoch_authenticator(self) -> bytes:
        """The RFC 9420 epoch authenticator of the current epoch."""
        return self._group.epoch_authenticator

    @property
    def ended(self) -> bool:
        """Whether ``end_mls`` (0xF002) is in the GroupContext."""
        return any(t == profile.EXT_END_MLS for t, _ in self._group.extensions)

    @property
    def active(self) -> bool:
        """Whether this device is still a member."""
        return self._group.is_active

    @property
    def participants(self) -> dict[str, list[int]]:
        """Participants (``tel:`` numbers) and the leaf indices of their devices."""
        out: dict[str, list[int]] = {}
        for leaf, number in self._leaves().items():
            out.setdefault(number, []).append(leaf)
        return out

    @property
    def policy(self) -> MembershipPolicy:
        """The membership policy this conversation applies."""
        return self._policy

    @property
    def subject(self) -> str | None:
        """The last group subject read or set, or None."""
        return self._subject

    @property
    def icon(self) -> bytes | None:
        """The last group icon read or set, or None."""
        return self._icon

    @property
    def has_pending_commit(self) -> bool:
        """Whether a commit of this device waits for the delivery service's verdict."""
        return self._pending is not None

    def group_info(self) -> bytes:
        """The current epoch's GroupInfo (MLSMessage bytes, with the ratchet tree) for the
        delivery service. It carries no Welcome-only secret."""
        return self._group.export_group_info()

    def _remember_epoch(self) -> None:
        if not self._group.is_active:
            return
        self._authenticators[self._group.epoch] = self._group.epoch_authenticator
        for old in sorted(self._authenticators)[: -(profile.MAX_PAST_EPOCHS + 1)]:
            del self._authenticators[old]

    def _require_sendable(self) -> None:
        if not self._group.is_active:
            raise GroupStateError("this device is no longer a member of the conversation")
        if self.ended:
            raise GroupStateError("the conversation ended (end_mls): nothing is encrypted")
        if self._pending is not None:
            raise GroupStateError("a commit is pending: wait for the delivery service")

    # --- the CPIM envelope ----------------------------------------------------------------

    def _cpim(
        self,
        message_id: str,
        content_type: str,
        body: bytes,
        *,
        authenticator: bytes | None = None,
        extra: Iterable[CpimHeader] = (),
        disposition: str | None = profile.DISPOSITION_NOTIFICATION,
        content_disposition: str | None = None,
    ) -> bytes:
        auth = self._group.epoch_authenticator if authenticator is None else authenticator
        anonymous = f"<{profile.CPIM_ANONYMOUS_URI}>"
        headers = [
            CpimHeader("From", anonymous),
            CpimHeader("To", anonymous),
            CpimHeader("NS", f"imdn <{NS_IMDN}>"),
            CpimHeader("NS", f"mls <{NS_MLS}>"),
            CpimHeader(HEADER_IMDN_MESSAGE_ID, message_id),
            CpimHeader("DateTime", format_datetime(_now())),
        ]
        if disposition is not None:
            headers.append(CpimHeader(HEADER_IMDN_DISPOSITION_NOTIFICATION, disposition))
        headers += [
            CpimHeader(HEADER_MLS_ERA_ID, str(self.era)),
            CpimHeader(HEADER_MLS_EPOCH_AUTHENTICATOR, base64.b64encode(auth).decode("ascii")),
            *extra,
        ]
        content = [MimeHeader("Content-Type", content_type)]
        if content_disposition is not None:
            content.append(MimeHeader("Content-Disposition", content_disposition))
        return CpimMessage(tuple(headers), tuple(content), body).to_bytes()

    def _application(
        self,
        kind: str,
        content_type: str,
        body: bytes,
        *,
        original_message_id: str | None = None,
    ) -> Outgoing:
        """Encrypt a SecretPayload whose generation is the one MLS encrypts it with; a
        resend names the message it replaces in the AAD and in mls.Original-Message-ID."""
        self._require_sendable()
        message_id = profile.new_message_id()
        resend = None if original_message_id is None else _resend_component(original_message_id)
        aad = ApplicationAad(message_id, self._era_or_fail(), resend).to_bytes()
        frame = SecretPayload(0, content_type, body).to_bytes()
        # The generation field sits at offset 4 (after version and payload type); the
        # native call writes the real generation there under the group lock.
        wire, _generation = _native.rcs_encrypt_with_generation(
            self._group, frame, authenticated_data=aad, generation_offset=4
        )
        extra = (
            ()
            if original_message_id is None
            else (CpimHeader(HEADER_MLS_ORIGINAL_MESSAGE_ID, original_message_id),)
        )
        cpim = self._cpim(message_id, CONTENT_TYPE_MLS, wire, extra=extra)
        return Outgoing(cpim, message_id, CONTENT_TYPE_MLS, kind, self._group.epoch)

    def _era_or_fail(self) -> int:
        era = self.era
        if era is None:  # pragma: no cover - checked at construction; GCE keep it
            raise ValidationError("the group lost its era extension")
        return era

    # --- sending --------------------------------------------------------------------------

    def send_text(
        self,
        text: str,
        *,
        content_type: str = _TEXT_PLAIN,
        original_message_id: str | None = None,
    ) -> Outgoing:
        """Encrypt a text message; with ``original_message_id``, a resend of that message
        (say after a failure report), under a new message id.

        Raises:
            GroupStateError: the conversation ended, this device left, or a commit is
                pending.
            InvalidArgumentError: ``original_message_id`` is not a message id.
        """
        return self._application(
            "text", content_type, text.encode("utf-8"), original_message_id=original_message_id
        )

    def send_payload(self, content_type: str, body: bytes, *, kind: str = "payload") -> Outgoing:
        """Encrypt any MIME entity (a location, an image inline...) as a SecretPayload.

        Raises:
            GroupStateError: as for :meth:`send_text`.
        """
        return self._application(kind, content_type, body)

    def send_typing(self, active: bool = True, *, refresh: int | None = None) -> Outgoing:
        """Encrypt an is-composing indication (RFC 3994)."""
        state = ComposingState.ACTIVE if active else ComposingState.IDLE
        document = IsComposing(state, last_active=_now() if active else None, refresh=refresh)
        return self._application("typing", CONTENT_TYPE_ISCOMPOSING, document.to_bytes())

    @staticmethod
    def encrypt_file(
        src: str | os.PathLike[str], dst: str | os.PathLike[str], file_name: str
    ) -> filecrypt.FileKey:
        """Encrypt ``src`` into ``dst`` (Annex C, streaming) under a fresh key; upload
        ``dst``, then call :meth:`send_file`.

        Raises:
            InvalidArgumentError: the file is 2 GiB or larger.
            OSError: a file cannot be read or written.
        """
        return filecrypt.encrypt_file(src, dst, file_name)

    def send_file(
        self,
        file_key: filecrypt.FileKey,
        *,
        file_name: str,
        content_type: str,
        url: str,
        size: int,
        until: dt.datetime | None = None,
    ) -> tuple[Outgoing, Outgoing]:
        """The two messages of an encrypted file (RCC.16 §7.8): the FileInfo with its key
        (``message/mls-rcs-file-info`` in MLS), then the File Transfer descriptor (in MLS)
        naming the uploaded ciphertext (``size`` bytes at ``url``) ``encrypted_file`` and
        pointing back to the FileInfo by its message id in ``<mls-file>``.

        Raises:
            GroupStateError: as for :meth:`send_text`.
        """
        encryption = FileEncryptionInfo(
            key_material=file_key.key,
            initialization_vector=file_key.iv,
            hmac_tag=file_key.tag,
            file_length_hint=file_key.message_length,
        )
        info = FileInfo(file=FileMetadata(file_name, content_type, encryption))
        key_message = self._application("file-info", CONTENT_TYPE_FILE_INFO, info.to_bytes())
        expires = until or _now() + dt.timedelta(seconds=profile.FILE_URL_LIFETIME)
        descriptor = FileTransferDescriptor(
            FileTransferInfo(
                size=size,
                content_type=_ENCRYPTED_CONTENT_TYPE,
                url=url,
                until=expires,
                name=ENCRYPTED_FILE_NAME,
            ),
            mls_file=key_message.message_id.encode("ascii"),
        )
        descriptor_message = self._application("file", CONTENT_TYPE_FT_HTTP, descriptor.to_bytes())
        return key_message, descriptor_message

    def decrypt_file(
        self, offer: FileOffer, src: str | os.PathLike[str], dst: str | os.PathLike[str]
    ) -> int:
        """Decrypt a downloaded file (streaming); returns its length.

        Raises:
            FileIntegrityError: the ciphertext, key, IV or tag was tampered with.
            OSError: a file cannot be read or written.
        """
        info = offer.metadata.encryption_info
        key = filecrypt.FileKey(
            info.key_material, info.initialization_vector, info.hmac_tag, info.file_length_hint
        )
        return filecrypt.decrypt_file(src, dst, offer.metadata.file_name, key)

    def send_receipt(
        self,
        message_id: str,
        status: ImdnStatus = ImdnStatus.DELIVERED,
        *,
        reason: MlsClientFailureReason | None = None,
        signed: bool | None = None,
    ) -> Outgoing:
        """A delivery (``delivered``, ``failed``...) or display (``displayed``) notification
        for ``message_id``.

        Signed (the default, :data:`~rcs_mls.rcs.profile.SIGNED_RECEIPTS`): the IMDN is
        the CPIM body and an ``rcs_signature`` proposal signs its derived content (RCC.16
        §7.6). Otherwise the IMDN is encrypted in MLS like any other payload.

        Raises:
            GroupStateError: this device left the conversation.
            InvalidArgumentError: a status that is not a delivery or display status, or a
                reason on a status other than ``failed``.
        """
        if status in _DELIVERY_STATUS:
            notification = NotificationType.DELIVERY
        elif status is ImdnStatus.DISPLAYED:
            notification = NotificationType.DISPLAY
        else:
            raise InvalidArgumentError(f"not a delivery or display status: {status}")
        receipt_id = profile.new_message_id()
        imdn = Imdn(
            message_id=message_id,
            datetime=_now(),
            notification=notification,
            status=status,
            client_failure_reason=reason,
        )
        if not (profile.SIGNED_RECEIPTS if signed is None else signed):
            if self.ended or self._pending is not None:
                self._require_sendable()
            return self._encrypted_receipt(imdn)
        if not self._group.is_active:
            raise GroupStateError("this device is no longer a member of the conversation")
        content = _signed_receipt_content(receipt_id, self._era_or_fail(), imdn)
        signature = _native.rcs_create_proposal(
            self._group, profile.PROPOSAL_RCS_SIGNATURE, authenticated_data=content
        )
        header = CpimHeader(
            HEADER_MLS_DERIVED_CONTENT_SIGNATURE, base64.b64encode(signature).decode("ascii")
        )
        cpim = self._cpim(
            receipt_id,
            CONTENT_TYPE_IMDN,
            imdn.to_bytes(),
            extra=(header,),
            disposition=None,
            content_disposition=_DISPOSITION_NOTIFICATION,
        )
        return Outgoing(cpim, receipt_id, CONTENT_TYPE_IMDN, "receipt", self._group.epoch)

    def _encrypted_receipt(self, imdn: Imdn) -> Outgoing:
        return self._application("receipt", CONTENT_TYPE_IMDN, imdn.to_bytes())

    # --- commits ----------------------------------------------------------------------------

    def _committed_key(self, kind: str) -> _MetadataKey | None:
        """The subject or icon key that matches the GroupContext commitment, if held."""
        label, ext_type = _METADATA[kind]
        committed = dict(self._group.extensions).get(ext_type)
        if committed is None:
            return None
        for key in reversed(self._metadata_keys):
            if key.kind == kind and _unframe(committed) == metadata_commitment(
                label, key.metadata.encryption_info.key_material
            ):
                return key
        return None

    def _takes_metadata_key(self, kind: str, slot: FileMetadata, sender: str) -> bool:
        """Whether a subject or icon key delivered in a FileInfo is taken: it must match the
        committed commitment and come from the member who committed it (when that is
        known; else only while no key for the commitment is held). The commitment binds
        the key only, not the IV: anyone holding the key could otherwise deliver another
        value under it [safe choice]."""
        label, ext_type = _METADATA[kind]
        committed = dict(self._group.extensions).get(ext_type)
        if committed is None or _unframe(committed) != metadata_commitment(
            label, slot.encryption_info.key_material
        ):
            return False
        committer = self._metadata_committers.get(kind)
        if committer is not None:
            return sender == committer
        return self._committed_key(kind) is None

    def _note_metadata_commits(
        self, before: Sequence[tuple[int, bytes]], committer: str | None
    ) -> None:
        """After a commit: who committed a changed subject or icon commitment."""
        old, new = dict(before), dict(self._group.extensions)
        for kind, (_label, ext_type) in _METADATA.items():
            if old.get(ext_type) != new.get(ext_type):
                self._metadata_committers[kind] = committer

    def _welcome_extensions(self) -> list[tuple[int, bytes]]:
        """The current subject and icon keys, for the Welcome only (0xF005, 0xF003)."""
        out: list[tuple[int, bytes]] = []
        subject, icon = self._committed_key("subject"), self._committed_key("icon")
        if subject is not None:
            info = FileInfo(subject=subject.metadata)
            out.append((profile.EXT_SUBJECT_KEY, _opaque(info.to_bytes())))
        if icon is not None:
            info = FileInfo(icon=icon.metadata)
            out.append((profile.EXT_ICON_KEY, _opaque(info.to_bytes())))
        return out

    def _commit(
        self,
        kind: str,
        *,
        add: Sequence[KeyPackage] = (),
        remove: Sequence[int] = (),
        extensions: list[tuple[int, bytes]] | None = None,
        added: tuple[str, ...] = (),
        removed: tuple[str, ...] = (),
        welcome_to: tuple[str, ...] = (),
        proposals: Sequence[bytes] = (),
        welcome_extensions: Sequence[tuple[int, bytes]] = (),
    ) -> Outgoing:
        self._require_sendable()
        epoch = self._group.epoch
        authenticator = self._group.epoch_authenticator
        result = _native.rcs_commit(
            self._group,
            add=list(add),
            remove=list(remove),
            group_context_extensions=extensions,
            welcome_extensions=[*self._welcome_extensions(), *welcome_extensions] if add else [],
            proposals=list(proposals),
        )
        self._pending = _PendingCommit(kind, epoch, welcome_to, result.welcome)
        self._save()
        message_id = profile.new_message_id()
        cpim = self._cpim(
            message_id,
            CONTENT_TYPE_MLS_RCS_CLIENT,
            result.commit,
            authenticator=authenticator,
            disposition=None,
        )
        return Outgoing(
            cpim,
            message_id,
            CONTENT_TYPE_MLS_RCS_CLIENT,
            "commit",
            epoch,
            added=added,
            removed=removed,
        )

    def add_devices(self, key_packages: Sequence[KeyPackage]) -> Outgoing:
        """One commit adding every device of ``key_packages`` (new participants, or new
        devices of existing ones).

        Raises:
            CredentialError: a credential is not acceptable (the membership policy).
            GroupStateError: as for :meth:`send_text`.
            InvalidArgumentError: a key package of another ciphersuite, or a third
                participant in a 1:1.
        """
        numbers = []
        for kp in key_packages:
            if kp.ciphersuite != profile.SUITE:
                raise InvalidArgumentError("RCS key packages are ciphersuite 0x0002")
            numbers.append(self._policy.check_key_package(kp))
        targets = tuple(sorted(set(numbers)))
        added = tuple(sorted(set(targets) - set(self.participants)))
        if self._is_uuid_group() and len(set(self.participants) | set(targets)) > 2:
            raise InvalidArgumentError("a 1:1 conversation has two participants")
        return self._commit("add", add=key_packages, added=added, welcome_to=targets)

    def add_participants(self, key_packages: Sequence[KeyPackage]) -> Outgoing:
        """Alias of :meth:`add_devices`: all devices of the new participants in one commit."""
        return self.add_devices(key_packages)

    def remove_participant(self, number: str) -> Outgoing:
        """One commit removing every device of participant ``number``.

        Raises:
            InvalidArgumentError: not a participant, or this device's own participant (use
                :meth:`leave`).
            GroupStateError: as for :meth:`send_text`.
        """
        leaves = self.participants.get(number)
        if not leaves:
            raise InvalidArgumentError(f"{number} is not a participant")
        if number == self._own_number:
            raise InvalidArgumentError("remove yourself with leave()")
        return self._commit("remove", remove=leaves, removed=(number,))

    def commit_leaves(self) -> Outgoing | None:
        """One commit removing every device that asked to leave, or that the server asked
        to remove; None when nobody did. Requests of the current epoch are committed by
        reference, as deployed clients do (RCC.16 §8), older ones as Remove proposals.

        Raises:
            GroupStateError: as for :meth:`send_text`.
        """
        self._drop_stale_leaves()
        own, epoch = self._group.own_leaf_index, self._group.epoch
        bare = {leaf: r for leaf, r in self._leave_requests.items() if leaf != own}
        by_reference = [r.proposal for r in bare.values() if r.epoch == epoch and r.proposal]
        by_value = sorted(leaf for leaf, r in bare.items() if r.epoch != epoch)
        if not bare and not self._openmls_leaves:
            return None
        names = {r.number for r in bare.values()}
        names |= {r.number for r in self._openmls_leaves.values()}
        return self._commit(
            "remove", remove=by_value, proposals=by_reference, removed=tuple(sorted(names))
        )

    def _current_leave_proposals(self) -> list[bytes]:
        """The bare leave requests of this epoch: a commit may reference them."""
        epoch = self._group.epoch
        return [
            r.proposal
            for r in self._leave_requests.values()
            if r.epoch == epoch and r.proposal is not None
        ]

    def _drop_stale_leaves(self) -> None:
        """Forget leave requests whose leaf is now empty or holds another leaf node."""
        for requests in (self._leave_requests, self._openmls_leaves):
            for leaf, request in list(requests.items()):
                try:
                    MembershipPolicy.check_leave(
                        self._group.member(leaf),
                        leaf,
                        signature_key=request.signature_key,
                        encryption_key=request.encryption_key,
                    )
                except RcsMlsError:
                    del requests[leaf]

    def update_keys(self) -> Outgoing:
        """A commit with an update path (key refresh, RCC.16 asks for one at least every
        30 days with a refreshed certificate).

        Raises:
            GroupStateError: as for :meth:`send_text`.
        """
        self._require_sendable()
        epoch = self._group.epoch
        authenticator = self._group.epoch_authenticator
        result = self._group.commit(force_path=True)
        self._pending = _PendingCommit("update", epoch)
        message_id = profile.new_message_id()
        cpim = self._cpim(
            message_id,
            CONTENT_TYPE_MLS_RCS_CLIENT,
            result.commit,
            authenticator=authenticator,
            disposition=None,
        )
        return Outgoing(cpim, message_id, CONTENT_TYPE_MLS_RCS_CLIENT, "commit", epoch)

    def _extensions_with(self, ext_type: int, data: bytes | None) -> list[tuple[int, bytes]]:
        """The GroupContext extensions with ``ext_type`` set to ``data`` (None: removed);
        RequiredCapabilities and the era are kept as they are."""
        out = [(t, d) for t, d in self._group.extensions if t != ext_type]
        if data is not None:
            out.append((ext_type, data))
        return out

    def set_subject(self, subject: str) -> Outgoing:
        """Change the group subject: a commit of its commitment (0xF006). Once accepted,
        :meth:`commit_accepted` returns the key delivery (FileInfo, in MLS) and the
        encrypted subject (``message/mls-ft``).

        Raises:
            GroupStateError: as for :meth:`send_text`.
        """
        return self._set_metadata("subject", subject.encode("utf-8"), _TEXT_PLAIN)

    def set_icon(self, icon: bytes, content_type: str = "image/png") -> Outgoing:
        """Change the group icon, as :meth:`set_subject` (commitment 0xF004)."""
        return self._set_metadata("icon", bytes(icon), content_type)

    def _set_metadata(self, kind: str, value: bytes, content_type: str) -> Outgoing:
        self._require_sendable()
        info_name = filecrypt.GROUP_SUBJECT_INFO if kind == "subject" else filecrypt.GROUP_ICON_INFO
        ciphertext, key = filecrypt.encrypt(value, info_name)
        label, ext_type = _METADATA[kind]
        commitment = _opaque(metadata_commitment(label, key.key))
        encryption = FileEncryptionInfo(
            key_material=key.key,
            initialization_vector=key.iv,
            hmac_tag=key.tag,
            file_length_hint=key.message_length,
        )
        metadata = FileMetadata(info_name, content_type, encryption)
        info = FileInfo(subject=metadata) if kind == "subject" else FileInfo(icon=metadata)
        outgoing = self._commit(kind, extensions=self._extensions_with(ext_type, commitment))
        assert self._pending is not None
        self._pending.follow_ups.append((kind, info, content_type, ciphertext))
        self._save()
        return outgoing

    def request_metadata_keys(self) -> Outgoing:
        """Ask for the subject and icon keys this device lacks (a device that joined
        without them): a commit setting ``group_metadata_keys_requested`` (0xF007, its
        presence is the flag) [guess: RCC16.md names the extension only].

        Raises:
            GroupStateError: as for :meth:`send_text`.
        """
        flag = (profile.EXT_METADATA_KEYS_REQUESTED, b"")
        return self._commit(
            "metadata-request",
            extensions=self._extensions_with(*flag),
        )

    def send_metadata_keys(self) -> list[Outgoing]:
        """Answer a :class:`MetadataKeysRequested`: the subject and icon keys this device
        holds for the committed commitments, each in a FileInfo inside MLS (as a subject
        change delivers them). Empty when this device holds none.

        Raises:
            GroupStateError: as for :meth:`send_text`.
        """
        out = []
        for kind in ("subject", "icon"):
            key = self._committed_key(kind)
            if key is None:
                continue
            info = (
                FileInfo(subject=key.metadata) if kind == "subject" else FileInfo(icon=key.metadata)
            )
            out.append(self._application(f"{kind}-key", CONTENT_TYPE_FILE_INFO, info.to_bytes()))
        return out

    def end(self) -> Outgoing:
        """End encryption in this 1:1 conversation: a commit adding ``end_mls`` (0xF002).

        Raises:
            GroupStateError: as for :meth:`send_text`, or a group chat (the membership
                policy lets no member end encryption in a group chat).
        """
        if not self._is_uuid_group():
            raise GroupStateError("end_mls ends 1:1 conversations only")
        extensions = self._extensions_with(profile.EXT_END_MLS, profile.END_MLS_DATA)
        return self._commit("end", extensions=extensions)

    def leave(self) -> Outgoing:
        """Ask to leave: a SelfRemove proposal (RCC.16 0xF003, bare, by default) that
        another member commits. A 1:1 is ended with :meth:`end`, not left.

        Raises:
            GroupStateError: a 1:1 conversation, or this device is no longer a member.
        """
        if self.is_one_to_one:
            raise GroupStateError("a 1:1 conversation is ended with end(), not left")
        if not self._group.is_active:
            raise GroupStateError("this device is no longer a member of the conversation")
        if int(ProposalType.SELF_REMOVE) == profile.SELF_REMOVE_PROPOSAL:
            proposal = self._group.leave_via_self_remove()
        else:
            proposal = _native.rcs_create_proposal(self._group, profile.SELF_REMOVE_PROPOSAL)
            # Kept, so that a member's commit referencing it can be processed here too.
            own = self._group.member(self._group.own_leaf_index)
            assert own is not None
            self._leave_requests[own.leaf_index] = _LeaveRequest(
                self._own_number,
                own.signature_key,
                own.encryption_key,
                proposal,
                self._group.epoch,
            )
            self._save()
        message_id = profile.new_message_id()
        cpim = self._cpim(message_id, CONTENT_TYPE_MLS_RCS_CLIENT, proposal, disposition=None)
        return Outgoing(
            cpim, message_id, CONTENT_TYPE_MLS_RCS_CLIENT, "proposal", self._group.epoch
        )

    def advance_era(self, key_packages: Sequence[KeyPackage]) -> Outgoing:
        """Re-create the conversation as a new MLS group of the next era (RCC16.md §2: the
        era never changes within a group), with every device of ``key_packages`` (all
        devices of every other participant, and this participant's other devices). The
        new group keeps the group id, the subject and icon and the server's
        ``external_senders``; its Welcome carries the continuity token that proves to the
        others that a member made it (:mod:`rcs_mls.rcs.continuity`).

        This device sends in the new era at once. The previous era's group moves into an
        archive of the store (:mod:`rcs_mls.rcs.eras`), where the late messages of its
        members are still read for :data:`~rcs_mls.rcs.profile.PREVIOUS_ERA_KEPT_SECONDS`;
        an era kept from an earlier advance is erased. Submit the commit; once accepted,
        :meth:`commit_accepted` returns the Welcome.

        Raises:
            CredentialError: a key package's credential is not acceptable.
            GroupStateError: as for :meth:`send_text`.
            InvalidArgumentError: no key package, or one of another ciphersuite.
            ValidationError: a key package lacks a capability the new group requires (the
                continuity commitment 0xF011 among them).
            In every case the conversation stays in its era, as it was.
        """
        self._require_sendable()
        if not key_packages:
            raise InvalidArgumentError("a new era starts with at least one other device")
        numbers = []
        for kp in key_packages:
            if kp.ciphersuite != profile.SUITE:
                raise InvalidArgumentError("RCS key packages are ciphersuite 0x0002")
            numbers.append(self._policy.check_key_package(kp))
        new_era = self._era_or_fail() + 1
        commitment, carried = continuity.extensions(continuity.token(self._group, new_era))
        kept = [(t, d) for t, d in self._group.extensions if t in _CARRIED_ACROSS_ERAS]
        config = self.group_config()
        config = GroupConfig(
            public_handshake=True,
            max_past_epochs=config.max_past_epochs,
            required_extensions=config.required_extensions,
            group_context_extensions=[era_extension(new_era), commitment, *kept],
        )
        group_id = self._group.group_id
        old_era = self._era_or_fail()
        older = self._previous
        kept_state = (
            dict(self._leave_requests),
            dict(self._openmls_leaves),
            dict(self._metadata_committers),
        )
        group = self._client.create_group(
            config, group_id=group_id, archive_previous=eras.archive_name(old_era)
        )
        previous = eras.PreviousEra.kept(self._client, group_id, old_era, self._authenticators)
        self._switch_to(group)
        self._previous = previous
        targets = tuple(sorted(set(numbers)))
        try:
            outgoing = self._commit(
                "era",
                add=key_packages,
                added=tuple(sorted(set(targets) - {self._own_number})),
                welcome_to=targets,
                welcome_extensions=[carried],
            )
        except RcsMlsError:
            # Nothing happened: the conversation stays in its era, as it was.
            self._abandon_era(previous)
            self._previous = older
            self._leave_requests, self._openmls_leaves, self._metadata_committers = kept_state
            self._save()
            raise
        if older is not None:  # one previous era is kept
            older.forget(self._client)
        return outgoing

    def rejoin(self, group_info: bytes) -> Outgoing:
        """Self-heal (RCC.16 §7): this device missed a commit and cannot follow the group
        any more; it rejoins by external commit from the current GroupInfo (the delivery
        service keeps it), replacing its old leaf. The others accept it through the
        membership policy (:class:`ExternalJoin` with the replaced leaf).

        The GroupInfo's members pass the membership policy before the commit is made. This
        device is in the new epoch at once; if the delivery service rejects the commit,
        fetch the GroupInfo again and rejoin again.

        Raises:
            ParseError: not a GroupInfo.
            ValidationError: the GroupInfo is for another group or era.
            CredentialError / MembershipError: a member of the group is not acceptable.
        """
        group_id, extensions = _group_info_context(group_info)
        if group_id != self._group.group_id:
            raise ValidationError("the GroupInfo is for another group")
        if _era_of(extensions) != self.era:
            raise ValidationError("the GroupInfo is of another era")
        # The old group is erased in the join's transaction: kept if the join fails.
        group, result = self._client.join_by_external_commit(
            group_info, config=self.group_config(), replace_group=True
        )
        try:
            roster = {m.leaf_index: self._policy.member(m, new=False) for m in group.members()}
            if self._is_uuid_group() and len(set(roster.values())) > 2:
                raise MembershipError("a 1:1 conversation has two participants")
        except RcsMlsError:
            self._client.delete_group(group_id)
            raise
        self._switch_to(group)
        self._pending = _PendingCommit("rejoin", group.epoch - 1)
        self._save()
        message_id = profile.new_message_id()
        cpim = self._cpim(message_id, CONTENT_TYPE_MLS_RCS_CLIENT, result.commit, disposition=None)
        return Outgoing(cpim, message_id, CONTENT_TYPE_MLS_RCS_CLIENT, "commit", group.epoch - 1)

    def commit_accepted(self) -> list[Outgoing]:
        """The delivery service accepted this device's commit: merge it, and return what
        follows it (the Welcome, for the added participants only; the subject or icon key
        and ciphertext).

        Raises:
            GroupStateError: no commit is pending.
        """
        pending = self._pending
        if pending is None:
            raise GroupStateError("there is no pending commit")
        before = self._group.extensions
        if pending.kind != "rejoin":  # an external commit is applied when it is made
            self._group.merge_pending_commit()
        self._note_metadata_commits(before, self._own_number)
        self._pending = None
        self._remember_epoch()
        out: list[Outgoing] = []
        if pending.welcome is not None:
            message_id = profile.new_message_id()
            cpim = self._cpim(
                message_id, CONTENT_TYPE_MLS_RCS_CLIENT, pending.welcome, disposition=None
            )
            out.append(
                Outgoing(
                    cpim,
                    message_id,
                    CONTENT_TYPE_MLS_RCS_CLIENT,
                    "welcome",
                    self._group.epoch,
                    recipients=pending.welcome_to,
                )
            )
        for kind, info, _content_type, ciphertext in pending.follow_ups:
            slot = info.subject if kind == "subject" else info.icon
            assert slot is not None
            self._metadata_keys = [k for k in self._metadata_keys if k.kind != kind]
            self._metadata_keys.append(_MetadataKey(kind, slot, self._own_number))
            out.append(self._application(f"{kind}-key", CONTENT_TYPE_FILE_INFO, info.to_bytes()))
            message_id = profile.new_message_id()
            cpim = self._cpim(message_id, CONTENT_TYPE_MLS_FT, ciphertext, disposition=None)
            out.append(Outgoing(cpim, message_id, CONTENT_TYPE_MLS_FT, kind, self._group.epoch))
            plain = filecrypt.decrypt(ciphertext, slot.file_name, _file_key(slot))
            if kind == "subject":
                self._subject = plain.decode("utf-8")
            else:
                self._icon = plain
        self._save()
        return out

    def commit_rejected(self) -> None:
        """The delivery service rejected this device's commit (another won the epoch):
        drop it. Process the winner's commit, then make the change again (after a
        :meth:`rejoin`: rejoin again from the new GroupInfo). A rejected
        :meth:`advance_era` goes back to the previous era: its group comes back from the
        archive, where the winner's Welcome (say, another member's advance) finds it."""
        pending = self._pending
        if pending is not None and pending.kind == "era" and self._previous is not None:
            self._abandon_era(self._previous)
        elif pending is not None and pending.kind != "rejoin":
            self._group.clear_pending_commit()
        self._pending = None
        self._save()

    def _abandon_era(self, previous: eras.PreviousEra) -> None:
        """Drop the new era this device made and continue in ``previous``."""
        self._previous = None
        group = self._client.restore_archived_group(
            eras.archive_name(previous.era), previous.group.group_id, replace=True
        )
        self._switch_to(group)
        self._authenticators.update(previous.authenticators)

    # --- receiving --------------------------------------------------------------------------

    def receive(self, data: bytes) -> Event:
        """Read one CPIM object from the network; never raises for what arrives.

        Returns the typed event, or :class:`Rejected`.
        """
        event = self._receive_unsaved(data)
        try:
            self._save()
        except RcsMlsError as exc:  # the state stays journaled; the next save folds it
            return Rejected(event.message_id, None, self._safe_epoch(), f"not saved: {exc}")
        return event

    def _receive_unsaved(self, data: bytes) -> Event:
        message_id: str | None = None
        try:
            message = CpimMessage.from_bytes(data)
            message_id = message.header(HEADER_IMDN_MESSAGE_ID)
            return self._receive(message, message_id)
        except _Reject as exc:
            return Rejected(message_id, None, self._safe_epoch(), exc.reason, exc.failure)
        except ParseError as exc:
            return Rejected(message_id, None, self._safe_epoch(), f"malformed: {exc}")
        except RcsMlsError as exc:
            return Rejected(message_id, None, self._safe_epoch(), type(exc).__name__)

    # --- the state kept in the client's store ----------------------------------------------

    @classmethod
    def load(
        cls,
        client: Client,
        group_id: str,
        *,
        trust_anchors: TrustAnchors | MembershipPolicy,
        allow_external_joins: bool = False,
    ) -> Conversation:
        """The conversation ``group_id`` of ``client``'s store, as it was saved: pending
        file keys, subject and icon keys, the authenticators of kept past epochs, pending
        leave requests, a pending commit. Messages decrypted before a crash but not yet
        folded into the saved state are read again from the journal; their events are in
        :attr:`recovered_events`.

        Raises:
            InvalidArgumentError: no such group in the client's store.
            StorageError: the saved state is corrupted.
        """
        group = client.load_group(group_id.encode("utf-8"))
        conversation = cls(
            client, group, trust_anchors=trust_anchors, allow_external_joins=allow_external_joins
        )
        state, journal = _native.rcs_load_conversation(group)
        if state is not None:
            conversation._restore(state)
        for entry, context, plaintext, _aad, leaf, credential, epoch in journal:
            try:
                c = json.loads(context)
                decrypted = _Decrypted(
                    c["message_id"],
                    c["original"],
                    c["generation"],
                    plaintext,
                    leaf,
                    credential,
                    epoch,
                )
                conversation.recovered_events.append(conversation._replay(decrypted, c.get("era")))
            except _Reject as exc:
                conversation.recovered_events.append(
                    Rejected(None, None, epoch, exc.reason, exc.failure)
                )
            except (ValueError, KeyError, TypeError):
                raise StorageError("a corrupted conversation journal entry") from None
            conversation._journal_done.append(entry)
        previous = conversation._previous
        if previous is not None and previous.expired():
            conversation._forget_previous()
        conversation._erase_stray_eras()
        conversation._save()
        return conversation

    def _replay(self, decrypted: _Decrypted, era: int | None) -> Event:
        """A journaled message of this era (or of a version that did not record it), or
        of the previous one."""
        if era is None or era == self.era:
            return self._decrypted(decrypted)
        if self._previous is None or era != self._previous.era:
            raise _Reject(f"a message of era {era}, which is no longer kept")
        return self._decrypted(decrypted, self._previous)

    @staticmethod
    def list_stored(client: Client) -> list[str]:
        """The group ids of the conversations saved in ``client``'s store."""
        return [gid.decode("utf-8", "replace") for gid in _native.rcs_list_conversations(client)]

    def _save(self) -> None:
        """Store the conversation state, folding in the journal entries read since the
        last save (one transaction)."""
        if not self._group.is_active and not self._journal_done:
            return
        _native.rcs_save_conversation(self._group, self._state(), done=self._journal_done)
        self._journal_done = []

    def _state(self) -> bytes:
        def b64(value: bytes) -> str:
            return base64.b64encode(value).decode("ascii")

        def leaves(requests: dict[int, _LeaveRequest]) -> dict[str, list[object]]:
            return {
                str(leaf): [
                    r.number,
                    b64(r.signature_key),
                    b64(r.encryption_key),
                    None if r.proposal is None else b64(r.proposal),
                    r.epoch,
                ]
                for leaf, r in requests.items()
            }

        pending = self._pending
        return json.dumps(
            {
                "version": _STATE_VERSION,
                "authenticators": {str(e): b64(a) for e, a in self._authenticators.items()},
                "file_keys": [
                    [sender, mid, b64(FileInfo(file=m).to_bytes())]
                    for (sender, mid), m in self._file_keys.items()
                ],
                "metadata_keys": [
                    [k.kind, k.sender, b64(_slot_info(k.kind, k.metadata).to_bytes())]
                    for k in self._metadata_keys
                ],
                "metadata_committers": self._metadata_committers,
                "leave_requests": leaves(self._leave_requests),
                "openmls_leaves": leaves(self._openmls_leaves),
                "subject": self._subject,
                "icon": None if self._icon is None else b64(self._icon),
                "previous_era": None if self._previous is None else self._previous.to_json(),
                "pending": None
                if pending is None
                else {
                    "kind": pending.kind,
                    "epoch": pending.epoch,
                    "welcome_to": list(pending.welcome_to),
                    "welcome": None if pending.welcome is None else b64(pending.welcome),
                    "follow_ups": [
                        [kind, b64(info.to_bytes()), content_type, b64(ciphertext)]
                        for kind, info, content_type, ciphertext in pending.follow_ups
                    ],
                },
            }
        ).encode()

    def _restore(self, data: bytes) -> None:
        """The inverse of :meth:`_state`.

        Raises:
            StorageError: not a state this version wrote.
        """

        def raw(value: str) -> bytes:
            return base64.b64decode(value, validate=True)

        def leaves(saved: dict[str, list[Any]]) -> dict[int, _LeaveRequest]:
            return {
                int(leaf): _LeaveRequest(
                    number, raw(sig), raw(enc), None if p is None else raw(p), int(epoch)
                )
                for leaf, (number, sig, enc, p, epoch) in saved.items()
            }

        try:
            state = json.loads(data)
            if state.get("version") != _STATE_VERSION:
                raise StorageError("a conversation state of another version")
            for epoch, authenticator in state["authenticators"].items():
                self._authenticators.setdefault(int(epoch), raw(authenticator))
            for sender, mid, info in state["file_keys"]:
                file = FileInfo.from_bytes(raw(info)).file
                if file is not None:
                    self._file_keys[(sender, mid)] = file
            for kind, sender, info in state["metadata_keys"]:
                parsed = FileInfo.from_bytes(raw(info))
                slot = parsed.subject if kind == "subject" else parsed.icon
                if slot is not None:
                    self._metadata_keys.append(_MetadataKey(kind, slot, sender))
            self._metadata_committers = dict(state["metadata_committers"])
            self._leave_requests = leaves(state["leave_requests"])
            self._openmls_leaves = leaves(state["openmls_leaves"])
            self._subject = state["subject"]
            self._icon = None if state["icon"] is None else raw(state["icon"])
            previous = state.get("previous_era")
            if previous is not None:
                self._previous = eras.PreviousEra.from_json(
                    self._client, self._group.group_id, previous
                )
            pending = state["pending"]
            if (pending is not None and self._group.has_pending_commit) or (
                pending is not None and pending["kind"] == "rejoin"
            ):
                self._pending = _PendingCommit(
                    pending["kind"],
                    int(pending["epoch"]),
                    tuple(pending["welcome_to"]),
                    None if pending["welcome"] is None else raw(pending["welcome"]),
                    [
                        (kind, FileInfo.from_bytes(raw(info)), content_type, raw(ct))
                        for kind, info, content_type, ct in pending["follow_ups"]
                    ],
                )
        except StorageError:
            raise
        except (ValueError, KeyError, TypeError, ParseError, binascii.Error):
            raise StorageError("a corrupted conversation state") from None

    def failure_report(self, rejected: Rejected) -> Outgoing:
        """The signed negative-delivery notification for a rejected message (RCC.16 §7:
        send it once self-heal did not help), naming its ``failure`` reason.

        Raises:
            InvalidArgumentError: the rejection has no message id or no failure reason.
            GroupStateError: this device is no longer a member.
        """
        if rejected.message_id is None or rejected.failure is None:
            raise InvalidArgumentError("this rejection has no message id or failure reason")
        return self.send_receipt(rejected.message_id, ImdnStatus.FAILED, reason=rejected.failure)

    def _safe_epoch(self) -> int:
        try:
            return self._group.epoch
        except RcsMlsError:  # pragma: no cover - the epoch is readable in any state
            return -1

    def _check_headers(self, message: CpimMessage, expected_era: int | None = None) -> bytes:
        """The era (this group's, or ``expected_era``) and the epoch authenticator headers
        (RCC.16 §7.9); returns the latter."""
        if expected_era is None:
            expected_era = self.era
        era = message.header("Era-ID", NS_MLS)
        try:
            raw = message.header_base64(
                "Epoch-Authenticator", NS_MLS, max_length=_AUTHENTICATOR_BASE64_LENGTH
            )
        except CpimParseError:
            raise _Reject("mls.Epoch-Authenticator is not base64 of 32 bytes") from None
        if era is None or raw is None:
            raise _Reject("mls.Era-ID or mls.Epoch-Authenticator missing")
        if _ERA_RE.fullmatch(era) is None or int(era) != expected_era:
            raise _Reject(f"mls.Era-ID {era[:12]!r} is not this group's era")
        if len(raw) != _AUTHENTICATOR_LENGTH:
            raise _Reject("mls.Epoch-Authenticator is not 32 bytes")
        return raw

    def _check_authenticator(
        self, raw: bytes, epoch: int, previous: eras.PreviousEra | None = None
    ) -> None:
        authenticators = self._authenticators if previous is None else previous.authenticators
        known = authenticators.get(epoch)
        if known is None:
            raise _Reject(f"no epoch authenticator known for epoch {epoch}")
        if known != raw:
            raise _Reject("mls.Epoch-Authenticator does not match the message's epoch")

    def _receive(self, message: CpimMessage, message_id: str | None) -> Event:
        if message_id is None:
            raise _Reject("imdn.Message-ID missing")
        content_type = message.content_type
        if content_type == CONTENT_TYPE_MLS_RCS_CLIENT and _wire_format(message.body) == (
            _WIRE_WELCOME
        ):
            return self._receive_new_era(message, message_id)
        if content_type == CONTENT_TYPE_MLS_RCS_SERVER and _looks_like_xml(message.body):
            return self._receive_server_report(message.body, message_id)
        previous = self._previous
        if previous is not None and message.header("Era-ID", NS_MLS) == str(previous.era):
            return self._receive_previous_era(message, message_id, previous)
        authenticator = self._check_headers(message)
        if content_type == CONTENT_TYPE_MLS_RCS_SERVER:
            return self._receive_server_proposal(message.body, message_id, authenticator)
        if content_type == CONTENT_TYPE_MLS:
            return self._receive_application(message, message_id, authenticator)
        if content_type == CONTENT_TYPE_MLS_RCS_CLIENT:
            return self._receive_handshake(message.body, message_id, authenticator)
        if content_type == CONTENT_TYPE_IMDN:
            return self._receive_signed_receipt(message, message_id, authenticator)
        if content_type == CONTENT_TYPE_MLS_FT:
            return self._receive_metadata(message.body, message_id)
        raise _Reject(f"unexpected content type {str(content_type)[:60]!r}")

    def _receive_previous_era(
        self, message: CpimMessage, message_id: str, previous: eras.PreviousEra
    ) -> Event:
        """A late message of the previous era (:mod:`rcs_mls.rcs.eras`): an application
        message, read in the archived group while the era is kept."""
        if previous.expired():
            self._forget_previous()
            raise _Reject(f"era {previous.era} is no longer read (its kept window is over)")
        if message.content_type != CONTENT_TYPE_MLS:
            raise _Reject(f"only application messages of the previous era {previous.era} are read")
        authenticator = self._check_headers(message, previous.era)
        return self._receive_application(message, message_id, authenticator, previous)

    def _receive_new_era(self, message: CpimMessage, message_id: str) -> Event:
        """A Welcome into this conversation's group id: a new era, made by a member of the
        current group (the continuity token says so), whose members pass the policy."""
        try:
            staged = self._client.stage_welcome(
                message.body, config=self.group_config(), replace_group=True
            )
        except RcsMlsError as exc:
            raise _Reject(f"a Welcome that does not open: {type(exc).__name__}: {exc}") from None
        if staged.group_id != self._group.group_id:
            raise _Reject("a Welcome for another conversation: join it with Conversation.join")
        era = _era_of(staged.group_context_extensions)
        if era is None or message.header("Era-ID", NS_MLS) != str(era):
            raise _Reject("the Welcome's mls.Era-ID is not its group's era")
        try:
            continuity.verify(
                self._group, era, staged.group_context_extensions, staged.group_info_extensions
            )
            roster = self._policy.review_welcome(
                staged, self._own_number, one_to_one=self._is_uuid_group()
            )
        except (CredentialError, MembershipError) as exc:
            raise _Reject(f"new era: {exc}") from None
        old_era = self._era_or_fail()
        self._forget_previous()
        group = staged.join(archive_previous=eras.archive_name(old_era))
        previous = eras.PreviousEra.kept(
            self._client, group.group_id, old_era, self._authenticators
        )
        self._switch_to(group)
        self._previous = previous
        self._metadata_keys.clear()
        self._keep_welcome_keys(staged.group_info_extensions)
        creator = roster.get(staged.sender_leaf_index)
        return EraAdvanced(message_id, creator, self.epoch, era)

    def _receive_server_proposal(self, body: bytes, message_id: str, authenticator: bytes) -> Event:
        """Server control (``message/mls-rcs-server``, RCC16.md §3) carrying MLS: a
        proposal of an external sender, verified against the group's ``external_senders``
        (a ServerRemove); nothing a member sends travels this way."""
        try:
            _group_id, epoch, sender_type, *_rest = _native.rcs_parse_proposal(body)
        except ParseError as exc:
            raise _Reject(f"message/mls-rcs-server: not a proposal: {exc}") from None
        if sender_type != _SENDER_EXTERNAL:
            raise _Reject("message/mls-rcs-server carries what an external sender proposes")
        self._check_authenticator(authenticator, epoch)
        return self._receive_bare_proposal(body, message_id)

    def _receive_server_report(self, body: bytes, message_id: str) -> Event:
        """A failure report of the server (``message/mls-rcs-server`` with an IMDN and an
        ``<mls-server-failure-reason>``, RCC.16 §7): unsigned, as the server is no
        member, so it is information about the delivery service's view, not a proof."""
        try:
            imdn = Imdn.from_bytes(body)
        except ParseError:
            raise _Reject("message/mls-rcs-server: malformed IMDN") from None
        if imdn.status is not ImdnStatus.FAILED or imdn.server_failure_reason is None:
            raise _Reject("message/mls-rcs-server: only server failure reports are read")
        return _receipt_event(imdn, message_id, None, self.epoch, False)

    def _sender_number(self, credential: Credential | None) -> str | None:
        """The participant of an authenticated sender's credential (which passed the
        membership policy when it entered the group), or None."""
        if credential is None or credential.credential_type != "x509":
            return None
        try:
            return phone_number_of(credential.certificates)
        except RcsMlsError:
            return None

    def _receive_application(
        self,
        message: CpimMessage,
        message_id: str,
        authenticator: bytes,
        previous: eras.PreviousEra | None = None,
    ) -> Event:
        """An application message of this era, or of the ``previous`` one."""
        group = self._group if previous is None else previous.group
        era = self.era if previous is None else previous.era
        body = message.body
        try:
            sender = _native.rcs_private_message_sender(group, body)
        except RcsMlsError:
            raise _Reject("not a PrivateMessage of this group") from None
        if sender is None:
            raise _Reject("cannot decrypt", failure=MlsClientFailureReason.FAILED_TO_DECRYPT)
        leaf, generation, epoch = sender
        self._check_authenticator(authenticator, epoch, previous)
        if _private_message_content_type(body) != _CONTENT_APPLICATION:
            # RCC.16 handshakes are PublicMessages; a proposal or commit sent encrypted
            # is refused before OpenMLS would store or stage it.
            raise _Reject("message/mls carries application content only")
        if previous is not None:
            # Before decrypting, so that a refusal does not use up the message's key.
            self._require_sender_in_both_eras(leaf, None, previous)
        # The authenticated data travels in clear (and is authenticated by the AEAD):
        # check it before decrypting, so a mismatch does not use up the message's key.
        wire_aad = _private_message_aad(body)
        try:
            aad = ApplicationAad.from_bytes(wire_aad)
        except ParseError:
            raise _Reject("malformed authenticated data") from None
        if aad.message_id != message_id:
            raise _Reject("imdn.Message-ID differs from the authenticated data")
        if aad.era != era:
            raise _Reject("the authenticated data names another era")
        original = message.header("Original-Message-ID", NS_MLS)
        if aad.resend is None:
            if original is not None:
                raise _Reject("mls.Original-Message-ID on a message that is not a resend")
        elif original is None or _resend_component(original) != aad.resend:
            raise _Reject("mls.Original-Message-ID differs from the authenticated resend")
        # Decrypting uses up the message's key: what it carries is journaled in the same
        # store transaction, and folded into the saved state by receive().
        entry = hashlib.sha256(body).digest()[:16]
        context = json.dumps(
            {"message_id": message_id, "original": original, "generation": generation, "era": era}
        ).encode()
        try:
            result = _native.rcs_process_message(group, body, journal=(entry, context))
        except (DecryptionError, WrongEpochError):
            raise _Reject(
                "cannot decrypt", failure=MlsClientFailureReason.FAILED_TO_DECRYPT
            ) from None
        except RcsMlsError as exc:
            raise _Reject(f"invalid MLS message: {type(exc).__name__}") from None
        if not isinstance(result, ApplicationMessage):
            raise _Reject("message/mls must carry an application message")
        self._journal_done.append(entry)
        if result.authenticated_data != wire_aad:  # pragma: no cover - the AEAD binds it
            raise _Reject("the authenticated data changed")
        return self._decrypted(
            _Decrypted(
                message_id,
                original,
                generation,
                result.plaintext,
                result.sender_leaf_index,
                result.sender_credential,
                result.epoch,
            ),
            previous,
        )

    def _decrypted(self, d: _Decrypted, previous: eras.PreviousEra | None = None) -> Event:
        """The checks and routing of a decrypted application message of this era or the
        ``previous`` one (also replayed from the journal when a conversation is loaded)."""
        if previous is not None:
            self._require_in_both_eras(d, previous)
        elif d.epoch != self._group.epoch:
            self._require_still_present(d.sender_leaf_index, d.credential, d.epoch)
        try:
            payload = SecretPayload.from_bytes(d.plaintext)
        except ParseError:
            raise _Reject("malformed SecretPayload") from None
        if payload.generation != d.generation:
            raise _Reject(
                f"SecretPayload generation {payload.generation} is not the MLS generation "
                f"{d.generation}"
            )
        sender_number = self._sender_number(d.credential)
        if sender_number is None:  # pragma: no cover - the policy admitted every member
            raise _Reject("a sender with no participant identity")
        event = self._route(payload, d.message_id, sender_number, d.epoch)
        return event if d.original is None else replace(event, original_message_id=d.original)

    def _route(self, payload: SecretPayload, message_id: str, sender: str, epoch: int) -> Event:
        content_type = payload.content_type
        base = content_type.split(";", 1)[0].strip().lower()
        try:
            if base.startswith("text/"):
                text = payload.body.decode("utf-8")
                return TextMessage(message_id, sender, epoch, text, content_type)
            if base == CONTENT_TYPE_ISCOMPOSING:
                doc = IsComposing.from_bytes(payload.body)
                active = doc.state is ComposingState.ACTIVE
                return Typing(message_id, sender, epoch, active, doc.refresh)
            if base == CONTENT_TYPE_IMDN:
                return _receipt_event(
                    Imdn.from_bytes(payload.body), message_id, sender, epoch, False
                )
            if base == CONTENT_TYPE_FILE_INFO:
                info = FileInfo.from_bytes(payload.body)
                if info.file is not None:
                    self._file_keys[(sender, message_id)] = info.file
                for kind, slot in (("subject", info.subject), ("icon", info.icon)):
                    if slot is not None and self._takes_metadata_key(kind, slot, sender):
                        self._metadata_keys = [k for k in self._metadata_keys if k.kind != kind]
                        self._metadata_keys.append(_MetadataKey(kind, slot, sender))
                return FileKeyReceived(message_id, sender, epoch, info)
            if base == CONTENT_TYPE_FT_HTTP:
                descriptor = FileTransferDescriptor.from_bytes(payload.body)
                if descriptor.mls_file is None:
                    raise _Reject("an unencrypted file in an MLS conversation")
                key_id = descriptor.mls_file.decode("ascii", "replace")
                metadata = self._file_keys.pop((sender, key_id), None)
                if metadata is None:
                    raise _Reject("no FileInfo from this sender for this file")
                return FileOffer(message_id, sender, epoch, descriptor, metadata)
        except UnicodeDecodeError:
            raise _Reject("text that is not UTF-8") from None
        except ParseError as exc:
            raise _Reject(f"malformed {base}: {exc}") from None
        raise _Reject(f"unsupported content type {base[:60]!r}")

    def _require_in_both_eras(self, d: _Decrypted, previous: eras.PreviousEra) -> None:
        """A late message of the previous era is taken only from a device that was at its
        leaf in that era's last epoch, of a participant who is in this era (whoever the
        advance left out keeps the old group's keys) [safe choice]."""
        self._require_sender_in_both_eras(d.sender_leaf_index, d.credential, previous)

    def _require_sender_in_both_eras(
        self, leaf: int | None, credential: Credential | None, previous: eras.PreviousEra
    ) -> None:
        """The rule of :meth:`_require_in_both_eras` for the device at ``leaf`` (and, once
        decrypted, with that ``credential``). This era's participants include those this
        device's pending advance is adding."""
        member = None if leaf is None else previous.group.member(leaf)
        if member is None or (credential is not None and member.credential != credential):
            raise _Reject(f"a message of era {previous.era} from a device not in its last epoch")
        participants = set(self.participants)
        pending = self._pending
        if pending is not None and pending.kind == "era":
            participants.update(pending.welcome_to)
        if self._sender_number(member.credential) not in participants:
            raise _Reject(f"a message of era {previous.era} from a participant not in this era")

    def _require_still_present(self, leaf: int | None, credential: Credential, epoch: int) -> None:
        """Something signed or sent in a kept past epoch is taken only from a device still
        in the conversation at the same leaf (a removed member keeps its old epoch's keys
        and could go on signing and sending in it) [safe choice]."""
        current = None if leaf is None else self._group.member(leaf)
        if current is None or current.credential != credential:
            raise _Reject(f"a message of epoch {epoch} from a device no longer in the conversation")

    def _receive_signed_receipt(
        self, message: CpimMessage, message_id: str, authenticator: bytes
    ) -> Event:
        try:
            imdn = Imdn.from_bytes(message.body)
        except ParseError:
            raise _Reject("malformed IMDN") from None
        try:
            signature = message.header_base64("MLS-Derived-Content-Signature", NS_MLS)
        except CpimParseError:
            raise _Reject("the content signature is not base64") from None
        if signature is None:
            raise _Reject("a receipt in an MLS conversation must be signed")
        try:
            verified = _native.rcs_verify_proposal(self._group, signature)
        except RcsMlsError as exc:
            raise _Reject(f"receipt signature: {type(exc).__name__}") from None
        if (
            verified.proposal_type != profile.PROPOSAL_RCS_SIGNATURE
            or verified.sender_type != _SENDER_MEMBER
        ):
            raise _Reject("the content signature is not an rcs_signature of a member")
        epoch = verified.epoch
        self._check_authenticator(authenticator, epoch)
        if epoch != self._group.epoch and verified.credential is not None:
            self._require_still_present(verified.sender_index, verified.credential, epoch)
        try:
            expected = _signed_receipt_content(message_id, self._era_or_fail(), imdn)
        except (InvalidArgumentError, UnicodeError):
            raise _Reject("a receipt that cannot be signed") from None
        if verified.authenticated_data != expected:
            raise _Reject("the signed content does not match the receipt")
        sender = self._sender_number(verified.credential)
        return _receipt_event(imdn, message_id, sender, epoch, True)

    def _receive_metadata(self, ciphertext: bytes, message_id: str) -> Event:
        for kind in ("subject", "icon"):
            key = self._committed_key(kind)
            if key is None:
                continue
            metadata = key.metadata
            try:
                plain = filecrypt.decrypt(ciphertext, metadata.file_name, _file_key(metadata))
            except FileIntegrityError:
                continue
            if kind == "subject":
                try:
                    self._subject = plain.decode("utf-8")
                except UnicodeDecodeError:
                    raise _Reject("a subject that is not UTF-8") from None
                return SubjectChange(message_id, key.sender, self.epoch, self._subject)
            self._icon = plain
            return IconChange(message_id, key.sender, self.epoch, plain)
        raise _Reject("no committed subject or icon key decrypts this")

    def _receive_handshake(self, body: bytes, message_id: str, authenticator: bytes) -> Event:
        try:
            wire_format, _gid, epoch, content = _native.rcs_message_info(body)
        except ParseError:
            raise _Reject("not an MLS message") from None
        if wire_format == _WIRE_WELCOME:
            raise _Reject("a Welcome: join it with Conversation.join")
        if wire_format == _WIRE_PRIVATE:
            raise _Reject(
                "a handshake message in a PrivateMessage",
                failure=MlsClientFailureReason.COMMIT_IN_PRIVATEMESSAGE,
            )
        if wire_format != _WIRE_PUBLIC or epoch is None:
            raise _Reject("message/mls-rcs-client carries a PublicMessage or a Welcome")
        # An external commit's author was not in the epoch and cannot know its
        # authenticator; the commit itself is checked by MLS and the membership policy.
        if not (content == _CONTENT_COMMIT and _sender_type(body) == _SENDER_NEW_MEMBER_COMMIT):
            self._check_authenticator(authenticator, epoch)
        if content == _CONTENT_PROPOSAL:
            return self._receive_proposal(body, message_id, epoch)
        if content != _CONTENT_COMMIT:
            raise _Reject("an application message in a PublicMessage")
        if epoch != self._group.epoch:
            raise _Reject(f"a commit for epoch {epoch}, the group is at {self._group.epoch}")
        return self._receive_commit(body, message_id)

    def _receive_proposal(self, body: bytes, message_id: str, epoch: int) -> Event:
        try:
            proposal_type = _native.rcs_parse_proposal(body)[4]
        except ParseError as exc:
            raise _Reject(f"malformed proposal: {exc}") from None
        if proposal_type in _BARE_PROPOSALS:
            return self._receive_bare_proposal(body, message_id)
        if proposal_type != int(ProposalType.SELF_REMOVE):
            # Nothing else is acted on, so nothing else enters OpenMLS's proposal store
            # (where it would block sending until committed).
            raise _Reject(f"proposal 0x{proposal_type:04x} is not acted on")
        try:
            result = self._group.process_message(body)
        except RcsMlsError as exc:
            raise _Reject(f"invalid proposal: {type(exc).__name__}: {exc}") from None
        sender_leaf = result.sender_leaf_index if isinstance(result, ProposalMessage) else None
        member = None if sender_leaf is None else self._group.member(sender_leaf)
        if member is None:  # pragma: no cover - OpenMLS verified a member's proposal
            self._group.clear_pending_proposals()
            raise _Reject("a SelfRemove not sent by a member")
        # OpenMLS verified it in the current epoch, from the member at that leaf.
        request = _LeaveRequest(
            self._number_of(member), member.signature_key, member.encryption_key, None, epoch
        )
        self._openmls_leaves[member.leaf_index] = request
        return LeaveRequest(message_id, request.number, epoch, member.leaf_index)

    def _receive_bare_proposal(self, body: bytes, message_id: str) -> Event:
        """RCC.16's SelfRemove (0xF003) and ServerRemove (0xF004): verified in the epoch
        they name, honoured only while the leaf holds the leaf node it held then."""
        try:
            verified = _native.rcs_verify_proposal(self._group, body)
        except RcsMlsError as exc:
            raise _Reject(f"proposal: {type(exc).__name__}: {exc}") from None
        kind = (verified.proposal_type, verified.sender_type)
        if kind == (profile.PROPOSAL_SELF_REMOVE, _SENDER_MEMBER):
            leaf, by = verified.sender_index, "SelfRemove"
            keys = (verified.signature_key, verified.encryption_key)
        elif kind == (profile.PROPOSAL_SERVER_REMOVE, _SENDER_EXTERNAL):
            # Verified in the current epoch only: the leaf it names is today's.
            leaf, by = int.from_bytes(verified.body, "big"), "ServerRemove"
            target = self._group.member(leaf)
            if target is None:
                raise _Reject(f"ServerRemove of an empty leaf {leaf}")
            keys = (target.signature_key, target.encryption_key)
        else:
            raise _Reject(f"proposal 0x{verified.proposal_type:04x} is not acted on")
        current = self._group.member(leaf)
        try:
            MembershipPolicy.check_leave(
                current, leaf, signature_key=keys[0], encryption_key=keys[1]
            )
        except MembershipError as exc:
            raise _Reject(f"{by}: {exc}") from None
        assert current is not None
        number = self._number_of(current)
        self._leave_requests[leaf] = _LeaveRequest(number, *keys, bytes(body), verified.epoch)
        sender = number if by == "SelfRemove" else None
        return LeaveRequest(message_id, sender, verified.epoch, leaf)

    def _number_of(self, member: Member) -> str:
        """A member's participant; members passed the policy when they entered, so a
        credential that does not map (possible only in a group made without it) gets a
        placeholder instead of breaking the conversation."""
        number = self._sender_number(member.credential)
        return number if number is not None else f"<leaf {member.leaf_index}: no tel: URI>"

    def _leaves(self) -> dict[int, str]:
        """The leaf index of every member, to its participant."""
        return {m.leaf_index: self._number_of(m) for m in self._group.members()}

    def _receive_commit(self, body: bytes, message_id: str) -> Event:
        before = self._leaves()
        try:
            staged = _native.rcs_process_message(
                self._group, body, proposals=self._current_leave_proposals()
            )
        except RcsMlsError as exc:
            raise _Reject(
                f"invalid commit: {type(exc).__name__}: {exc}",
                failure=MlsClientFailureReason.INVALID_COMMIT,
            ) from None
        if not isinstance(staged, StagedCommit):  # pragma: no cover - content type said so
            raise _Reject("not a commit")
        # The one membership check, before the merge: a refused commit leaves the group
        # in its epoch.
        try:
            review = self._policy.review_commit(
                staged, before, self._group.extensions, one_to_one=self._is_uuid_group()
            )
        except CredentialError as exc:
            raise _Reject(
                f"membership: invalid credential: {exc}",
                failure=MlsClientFailureReason.INVALID_CREDENTIAL,
            ) from None
        except MembershipError as exc:
            raise _Reject(
                f"membership: {exc}", failure=MlsClientFailureReason.INVALID_COMMIT
            ) from None
        extensions_before = self._group.extensions
        self._group.merge_staged_commit(staged)
        self._remember_epoch()
        committer = review.committer
        self._note_metadata_commits(extensions_before, committer)
        # Removed leaves: by Remove proposals (a leaf may be refilled by an add of the same
        # commit) and by OpenMLS's SelfRemove (not a Remove proposal) alike.
        if self._group.is_active:
            after = self._leaves()
            gone = [leaf for leaf in before if leaf not in after or leaf in staged.removed]
        else:  # this device was removed: the tree is gone, the commit says who left
            after = {}
            gone = [leaf for leaf in before if leaf in staged.removed]
        for leaf in gone:
            self._leave_requests.pop(leaf, None)
            self._openmls_leaves.pop(leaf, None)
        self._drop_stale_leaves()
        joined = () if review.joiner is None else (review.joiner,)
        added = tuple(sorted(set(review.added) | (set(joined) - set(before.values()))))
        removed = tuple(sorted({before[leaf] for leaf in gone} - set(after.values())))
        if staged.self_removed or not self._group.is_active:
            return MembershipChange(
                message_id, committer, staged.epoch, added, removed or (self._own_number,), True
            )
        if review.joiner is not None:
            return ExternalJoin(
                message_id, committer, self.epoch, added, removed, False, review.replaced
            )
        if added or gone:
            return MembershipChange(message_id, committer, self.epoch, added, removed)
        if review.ended:
            return ConversationEnded(message_id, committer, self.epoch)
        flag = profile.EXT_METADATA_KEYS_REQUESTED
        if flag in dict(self._group.extensions) and flag not in dict(extensions_before):
            return MetadataKeysRequested(message_id, committer, self.epoch)
        return CommitApplied(message_id, committer, self.epoch)


# --- receipts -----------------------------------------------------------------------------


def _receipt_event(
    imdn: Imdn, message_id: str, sender: str | None, epoch: int, signed: bool
) -> Receipt:
    if imdn.status is ImdnStatus.FAILED:
        return FailureReport(
            message_id,
            sender,
            epoch,
            imdn.message_id,
            imdn.notification,
            imdn.status,
            signed,
            imdn.failure_reason,
        )
    return Receipt(
        message_id, sender, epoch, imdn.message_id, imdn.notification, imdn.status, signed
    )


def _signed_receipt_content(receipt_id: str, era: int, imdn: Imdn) -> bytes:
    """The content an RCC.16 signed receipt signs (RCC.16 §7.6.2-3, as deployed)::

        uint16 version = 1; opaque receipt_id<V>; uint32 era; uint8 type;
        VerifiableDeliveryImdn | VerifiableDisplayImdn; uint8 0x00 (no resend component)

    Raises:
        InvalidArgumentError: a processing notification, or a status RCC.16 cannot sign.
    """
    version = profile.VERIFIABLE_CONTENT_VERSION.to_bytes(2, "big")
    reported = _opaque(imdn.message_id.encode("utf-8"))
    if imdn.notification is NotificationType.DELIVERY and imdn.status in _DELIVERY_STATUS:
        reason = imdn.client_failure_reason
        code = 0 if reason is None else int(reason)
        inner = version + _DELIVERY_STATUS[imdn.status].to_bytes(2, "big") + reported
        inner += code.to_bytes(2, "big")
        if code:
            inner += b"\x00\x00"  # the absent option peers expect on the negative form
        kind = profile.SIGNED_RECEIPT_TYPE_DELIVERY
    elif imdn.notification is NotificationType.DISPLAY and imdn.status in _DISPLAY_STATUS:
        inner = version + _DISPLAY_STATUS[imdn.status].to_bytes(2, "big") + reported
        kind = profile.SIGNED_RECEIPT_TYPE_DISPLAY
    else:
        raise InvalidArgumentError("only delivery and display notifications are signed")
    return (
        version
        + _opaque(receipt_id.encode("ascii"))
        + era.to_bytes(4, "big")
        + bytes([kind])
        + inner
        + b"\x00"
    )


_CONTENT_APPLICATION = 1


def _private_message_content_type(body: bytes) -> int:
    """The ``content_type`` of a PrivateMessage (in clear, RFC 9420 §6.3), or -1 when the
    message is too short to hold one."""
    length, offset = decode_varint(body, 4)  # version, wire_format, then group_id<V>
    offset += length + 8  # epoch
    return body[offset] if offset < len(body) else -1


def _private_message_aad(body: bytes) -> bytes:
    """The ``authenticated_data`` of a PrivateMessage (RFC 9420 §6.3), read from the wire.

    Raises:
        PayloadParseError: truncated (the message was parsed before, so never in practice).
    """
    length, offset = decode_varint(body, 4)  # version, wire_format, then group_id<V>
    offset += length + 8 + 1  # epoch, content_type
    length, offset = decode_varint(body, offset)
    return body[offset : offset + length]


def _resend_component(original_message_id: str) -> bytes:
    """[guess] The AAD resend component after its tag: ``opaque original_message_id<V>``
    (RCC16.md §5 gives only its absent form, a single 0x00).

    Raises:
        InvalidArgumentError: not a printable-ASCII message id.
    """
    try:
        raw = original_message_id.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise InvalidArgumentError("a message id is printable ASCII") from None
    if not raw or not raw.isascii() or not raw.decode().isprintable():
        raise InvalidArgumentError("a message id is printable ASCII")
    return _opaque(raw)


def _sender_type(body: bytes) -> int | None:
    """The sender type of a PublicMessage (RFC 9420 §6: version, wire format, group_id<V>,
    epoch, then the sender), or None if truncated."""
    try:
        length, offset = decode_varint(body, 4)
    except ParseError:
        return None
    at = offset + length + 8
    return body[at] if at < len(body) else None


def _group_info_context(data: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The group id and GroupContext extensions of a GroupInfo MLSMessage (RFC 9420
    §12.4.3: version, wire format 4, then the GroupContext: version, cipher suite,
    group_id<V>, epoch, tree_hash<V>, confirmed_transcript_hash<V>, extensions<V>).

    Raises:
        ParseError: not a GroupInfo.
    """
    if len(data) < 8 or data[:4] != b"\x00\x01\x00\x04":
        raise ParseError("not a GroupInfo")
    length, offset = decode_varint(data, 8)
    group_id = data[offset : offset + length]
    offset += length + 8
    for _hash in range(2):
        length, offset = decode_varint(data, offset)
        offset += length
    length, offset = decode_varint(data, offset)
    end = offset + length
    if end > len(data):
        raise ParseError("a truncated GroupInfo")
    extensions = []
    while offset < end:
        if offset + 2 > end:
            raise ParseError("a truncated GroupInfo extension")
        ext_type = int.from_bytes(data[offset : offset + 2], "big")
        length, offset = decode_varint(data, offset + 2)
        if offset + length > end:
            raise ParseError("a truncated GroupInfo extension")
        extensions.append((ext_type, data[offset : offset + length]))
        offset += length
    return group_id, extensions


def _wire_format(body: bytes) -> int | None:
    try:
        return _native.rcs_message_info(body)[0]
    except ParseError:
        return None


def _looks_like_xml(body: bytes) -> bool:
    return body.lstrip()[:1] == b"<"


def _slot_info(kind: str, metadata: FileMetadata) -> FileInfo:
    return FileInfo(subject=metadata) if kind == "subject" else FileInfo(icon=metadata)


def _file_key(metadata: FileMetadata) -> filecrypt.FileKey:
    info = metadata.encryption_info
    return filecrypt.FileKey(
        info.key_material, info.initialization_vector, info.hmac_tag, info.file_length_hint
    )
