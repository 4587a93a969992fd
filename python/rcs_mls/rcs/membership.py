"""Who may be in an RCS conversation: the one membership policy.

Every change of who is in a group, or of what a member's credential says, passes
through :class:`MembershipPolicy` *before* anything is merged or stored:

==============================  ===========================================================
the members of a Welcome        :meth:`MembershipPolicy.review_welcome` (before joining)
a key package to add            :meth:`MembershipPolicy.check_key_package` (before the
                                commit is made)
a commit received               :meth:`MembershipPolicy.review_commit` (before the merge):
                                Add proposals by value and by reference, an external
                                joiner (new member or resync), Update proposals and the
                                committer's UpdatePath leaf, GroupContext extensions
a leave request received        :meth:`MembershipPolicy.check_leave` (when it arrives and
                                again when it is committed)
==============================  ===========================================================

One leaf is acceptable (:meth:`MembershipPolicy.participant`) when its credential is an
X.509 chain that validates to the configured trust anchors *now*, whose leaf certificate
has the RCC.16 profile (P-256 key, id-kp-rcsMlsClient, exactly one ``tel:`` URI), and
**whose public key is the leaf's MLS signature key** (else anyone could present someone
else's public certificate with a key of their own). A leaf replaced by an Update or an
UpdatePath must keep its ``tel:`` identity (RFC 9420 §5.3.3 leaves the rule to the
application). The attacker this is written for is the delivery service, which holds the
GroupInfo and can build external commits, and a malicious member; see
``docs/threat-model.md`` for each rule and the test that performs the attack.

A refused change raises :class:`~rcs_mls.exceptions.CredentialError` (the credential
itself is not acceptable) or :class:`~rcs_mls.exceptions.MembershipError` (an acceptable
credential doing something members may not do).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, final

from cryptography import x509

from rcs_mls._native import Credential, KeyPackage, Member, StagedCommit, StagedWelcome
from rcs_mls.exceptions import CredentialError, MembershipError
from rcs_mls.rcs import profile
from rcs_mls.rcs.credentials import (
    LEAF_MIN_REMAINING,
    RcsIdentity,
    leaf_identity,
    load_trust_anchors,
    validate_chain,
)

__all__ = [
    "INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS",
    "CommitReview",
    "MembershipPolicy",
    "TrustAnchors",
]

_log = logging.getLogger(__name__)


@final
class _InsecureSkipChainValidation:
    """The type of :data:`INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS"


#: Passed as ``trust_anchors``, skips validating certificate chains to a trust anchor
#: and the certificates' dates. Every other check stays (X.509 credentials, the RCC.16
#: leaf profile, a ``tel:`` URI, the certificate key equal to the signature key, a
#: replacement keeping its identity). Anyone able to make a certificate can then join a
#: conversation under any number: for tests only, never in a deployment.
INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS: Final = _InsecureSkipChainValidation()

#: The root certificates (DER or parsed) that RCS device certificates chain to, or the
#: test-only opt-out :data:`INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS`.
TrustAnchors = Sequence[bytes | x509.Certificate] | _InsecureSkipChainValidation

# GroupContext extensions any member may change by commit: the subject and icon
# commitments (RCC.16 Annex C: how a subject or icon changes) and the metadata-keys
# request flag. [safe choice: RCC.16 says nothing about who may change what]
_MEMBER_MAY_CHANGE: Final = frozenset(
    {
        profile.EXT_SUBJECT_COMMITMENT,
        profile.EXT_ICON_COMMITMENT,
        profile.EXT_METADATA_KEYS_REQUESTED,
    }
)
# Validated credentials are remembered, (chain, key) -> identity, while their dates
# allow (a validation costs a millisecond or more; the cache is emptied when full).
_CACHE_LIMIT: Final = 4096


class _HasCredential(Protocol):
    """A leaf: a :class:`Member` or anything with its credential and signature key."""

    @property
    def credential(self) -> Credential: ...
    @property
    def signature_key(self) -> bytes: ...


@dataclass(frozen=True)
class CommitReview:
    """What a commit accepted by the policy does, by participant (``tel:`` numbers).

    ``committer`` made it (for an external commit, the joiner); ``added`` are the
    participants of the devices added by Add proposals; ``joiner`` the participant of an
    external commit and ``replaced`` the leaves that external commit removes (its own
    old leaves: a resync); ``ended`` whether it adds ``end_mls``.
    """

    committer: str | None
    added: tuple[str, ...]
    joiner: str | None
    replaced: tuple[int, ...]
    ended: bool


class MembershipPolicy:
    """The checks every roster or credential change of an RCS group passes.

    ``trust_anchors`` are the roots device certificates must chain to (required; the
    only way around them is :data:`INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS`).
    ``allow_external_joins`` lets a device of someone who is not yet a participant join
    by external commit (off by default: RCC.16 uses external commits for self-heal, by
    devices already in the group). ``clock`` returns the time to validate at.

    Raises:
        InvalidArgumentError: ``trust_anchors`` is not a sequence of certificates.
    """

    def __init__(
        self,
        trust_anchors: TrustAnchors,
        *,
        allow_external_joins: bool = False,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if isinstance(trust_anchors, _InsecureSkipChainValidation):
            _log.warning("RCS certificate chains are NOT validated (test-only opt-out)")
            self._anchors: list[x509.Certificate] | None = None
        else:
            self._anchors = load_trust_anchors(trust_anchors)
        self.allow_external_joins = allow_external_joins
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._cache: dict[tuple[tuple[bytes, ...], bytes, bool], RcsIdentity] = {}

    @property
    def validates_chains(self) -> bool:
        """False under :data:`INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS`."""
        return self._anchors is not None

    # --- one leaf -------------------------------------------------------------------------

    def participant(self, credential: Credential, signature_key: bytes, *, new: bool = True) -> str:
        """The participant (E.164 number) a leaf with ``credential`` and
        ``signature_key`` is, if the policy accepts it.

        ``new`` is for a credential entering the group now (a key package, an external
        joiner, a replacement): its certificate must have
        :data:`~rcs_mls.rcs.credentials.LEAF_MIN_REMAINING` left, as RCC.16 requires of a
        certificate in use. Members already in a group are only required to be valid.

        Raises:
            CredentialError: not an X.509 credential; the chain does not validate to the
                trust anchors now; the leaf profile or its ``tel:`` URI is wrong; the
                certificate's key is not ``signature_key``.
        """
        if credential.credential_type != "x509":
            raise CredentialError(
                f"RCS members have X.509 credentials, not {credential.credential_type}"
            )
        chain = tuple(credential.certificates)
        key = (chain, bytes(signature_key), new)
        now = self._clock()
        identity = self._cache.get(key)
        if identity is None or not self._still_valid(identity, now, new=new):
            identity = self._identity(chain, new=new, now=now)
            if identity.leaf_public_key != bytes(signature_key):
                raise CredentialError(
                    f"the certificate of {identity.phone_number} does not certify this "
                    "leaf's signature key"
                )
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = identity
        return identity.phone_number

    def _still_valid(self, identity: RcsIdentity, now: dt.datetime, *, new: bool) -> bool:
        """Whether a cached validation still holds at ``now`` (the chain's signatures do
        not change; only the leaf's dates can make it fail)."""
        if self._anchors is None:
            return True
        margin = LEAF_MIN_REMAINING if new else dt.timedelta(0)
        return identity.not_valid_before <= now < identity.not_valid_after - margin

    def _identity(self, chain: Sequence[bytes], *, new: bool, now: dt.datetime) -> RcsIdentity:
        if self._anchors is None:
            return leaf_identity(chain)
        if new:
            return validate_chain(chain, self._anchors, now=now)
        return validate_chain(chain, self._anchors, now=now, min_remaining=dt.timedelta(0))

    def member(self, member: _HasCredential, *, new: bool = True) -> str:
        """:meth:`participant` of a :class:`Member` (or a key package's leaf)."""
        return self.participant(member.credential, member.signature_key, new=new)

    def check_key_package(self, key_package: KeyPackage) -> str:
        """The participant of a key package this device is about to add.

        Raises:
            CredentialError: as for :meth:`participant`.
        """
        return self.participant(key_package.credential, key_package.signature_key)

    # --- a Welcome --------------------------------------------------------------------------

    def review_welcome(
        self, staged: StagedWelcome, own_number: str, *, one_to_one: bool
    ) -> dict[int, str]:
        """Every member of a Welcome's group, by leaf, before joining it.

        Raises:
            CredentialError: a member's credential is not acceptable.
            MembershipError: this client's own leaf names another participant, or a 1:1
                has more than two participants.
        """
        roster = {m.leaf_index: self.member(m, new=False) for m in staged.members}
        if roster.get(staged.own_leaf_index) != own_number:
            raise MembershipError("the Welcome's leaf for this device is not this participant")
        if one_to_one and len(set(roster.values())) > 2:
            raise MembershipError("a 1:1 conversation has two participants")
        return roster

    # --- a commit ---------------------------------------------------------------------------

    def review_commit(
        self,
        staged: StagedCommit,
        roster: Mapping[int, str],
        extensions: Iterable[tuple[int, bytes]],
        *,
        one_to_one: bool,
    ) -> CommitReview:
        """Check a staged commit against the group before it: ``roster`` (leaf index ->
        participant) and GroupContext ``extensions`` of the current epoch.

        Raises:
            CredentialError: a new or replaced credential is not acceptable.
            MembershipError: an external join by a stranger (unless allowed), an external
                commit removing someone else's leaf, a replacement under another
                identity, a third participant in a 1:1, a GroupContext change members may
                not make.
        """
        participants = set(roster.values())
        added = tuple(self.member(m) for m in staged.added)
        joiner: str | None = None
        replaced: tuple[int, ...] = ()
        if staged.external_joiner is not None:
            joiner = self.member(staged.external_joiner)
            replaced = tuple(staged.removed)
            for leaf in replaced:
                if roster.get(leaf) != joiner:
                    raise MembershipError(
                        f"an external commit by {joiner} removes leaf {leaf}, which is not "
                        "one of its own devices"
                    )
            if joiner not in participants and not self.allow_external_joins:
                raise MembershipError(
                    f"{joiner} is not a participant: joining by external commit is only "
                    "for devices of participants (self-heal)"
                )
        for change in staged.credential_changes:
            before = roster.get(change.leaf_index)
            after = self.participant(change.new_credential, change.new_signature_key)
            if after != before:
                raise MembershipError(
                    f"leaf {change.leaf_index} of {before} would become {after}: a "
                    "replacement keeps its identity"
                )
        if one_to_one:
            newcomers = (set(added) | ({joiner} if joiner else set())) - participants
            if len(participants | newcomers) > 2:
                raise MembershipError("a 1:1 conversation has two participants")
        ended = _review_extensions(extensions, staged.group_context_extensions, one_to_one)
        sender = staged.sender_leaf_index
        committer = joiner if sender is None else roster.get(sender)
        return CommitReview(committer, added, joiner, replaced, ended)

    # --- leave requests ---------------------------------------------------------------------

    @staticmethod
    def check_leave(
        current: Member | None, leaf: int, *, signature_key: bytes, encryption_key: bytes
    ) -> None:
        """A leave request (SelfRemove, ServerRemove) for ``leaf``, made when that leaf
        held the leaf node with ``signature_key`` and ``encryption_key``, is honoured only
        while the leaf still holds that leaf node: a request captured in an earlier epoch
        cannot remove whoever holds the leaf now, even the same device added back (a new
        leaf node: the signature key of a device stays, its encryption key does not).

        Raises:
            MembershipError: the leaf is empty or holds another leaf node.
        """
        if current is None:
            raise MembershipError(f"stale leave request: leaf {leaf} is empty")
        if current.signature_key != signature_key or current.encryption_key != encryption_key:
            raise MembershipError(
                f"stale leave request: leaf {leaf} no longer holds the leaf node it names"
            )


def _review_extensions(
    before: Iterable[tuple[int, bytes]], after: Iterable[tuple[int, bytes]], one_to_one: bool
) -> bool:
    """Check a GroupContext extension change; True when it adds ``end_mls``.

    What a member may commit [safe choice where RCC.16 is silent]: the subject and icon
    commitments and the metadata-keys flag, in any conversation; ``end_mls`` in a 1:1
    only (RCC.16: a 1:1 is ended with it, not left), and never withdrawn; nothing else:
    the era (an era advance is a new group), ``external_senders`` (who may send a
    ServerRemove), the required capabilities and unknown extensions are fixed when the
    group is created.
    """
    old, new = dict(before), dict(after)
    ended = False
    for ext_type in sorted(set(old) | set(new)):
        if old.get(ext_type) == new.get(ext_type) or ext_type in _MEMBER_MAY_CHANGE:
            continue
        if ext_type == profile.EXT_END_MLS and ext_type not in old:
            if not one_to_one:
                raise MembershipError("end_mls in a group chat: a member may not end encryption")
            ended = True
            continue
        name = _EXTENSION_NAMES.get(ext_type, f"0x{ext_type:04x}")
        raise MembershipError(f"a commit may not change the GroupContext extension {name}")
    return ended


_EXTENSION_NAMES: Final = {
    profile.EXT_ERA: "era (an era advance is a new group)",
    profile.EXT_END_MLS: "end_mls (it cannot be withdrawn)",
    0x0003: "required_capabilities",
    0x0005: "external_senders",
}
