"""What a trace shows without keys: per conversation, what was protected, and anomalies.

:func:`audit` reads each :class:`~rcs_mls.audit.trace.TraceRecord` as a server would: the
CPIM envelope and, for an MLS body, what :func:`rcs_mls._native.inspect_message` reads in
clear (wire format, group id, epoch, sender, a PublicMessage's commit or proposal). It
keeps per conversation:

- every distinct object (an object delivered several times is counted once), with its
  **kind** and its **protection**:

  ==============  ============================================================================
  kind            what a server can tell it is
  ==============  ============================================================================
  ``message``     an MLS application message (PrivateMessage): text, file key, file
                  descriptor, encrypted receipt or typing are indistinguishable
  ``text``        ``text/*`` in the clear
  ``file``        a file descriptor (FT over HTTP) or inline media in the clear
  ``receipt``     an IMDN (``message/imdn+xml``), signed (RCC.16 §7.6) or in the clear
  ``typing``      an is-composing indication in the clear
  ``subject/icon`` an encrypted group subject or icon (``message/mls-ft``, Annex C)
  ``control``     a commit, proposal, Welcome or GroupInfo
  ``other``       anything else
  ==============  ============================================================================

  ==============  ============================================================================
  protection      meaning
  ==============  ============================================================================
  ``encrypted``   PrivateMessage, Welcome, or Annex C ciphertext: content hidden
  ``signed``      MLS PublicMessage (or a receipt signed by one): authenticated by the
                  group, content visible (RCC.16 sends commits and signed receipts so)
  ``clear``       no MLS protection at all: transport security only
  ==============  ============================================================================

- what MLS shows a server: group id, era, epochs, commits per epoch, Welcome sizes and
  recipients, PublicMessage handshakes (proposal types, adds and removes, paths);
- anomalies (:class:`Anomaly`), each with a severity: ``downgrade`` (content not
  end-to-end encrypted, or encryption ended) or ``warning`` (a signal to look at).

Then a verdict per conversation (:attr:`ConversationReport.verdict`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rcs_mls import _native
from rcs_mls.exceptions import InvalidArgumentError, ParseError
from rcs_mls.rcs import profile
from rcs_mls.rcs.cpim import (
    CONTENT_TYPE_MLS,
    CONTENT_TYPE_MLS_FT,
    CONTENT_TYPE_MLS_RCS_CLIENT,
    CONTENT_TYPE_MLS_RCS_FILE_INFO,
    CONTENT_TYPE_MLS_RCS_SERVER,
    NS_MLS,
    CpimMessage,
)

from .trace import TraceIssue, TraceRecord

__all__ = [
    "KINDS",
    "PROTECTIONS",
    "Anomaly",
    "AuditReport",
    "ConversationReport",
    "ObjectView",
    "audit",
]

KINDS = ("message", "text", "file", "receipt", "typing", "subject/icon", "control", "other")
PROTECTIONS = ("encrypted", "signed", "clear")

_MLS_BODY_TYPES = (
    CONTENT_TYPE_MLS,
    CONTENT_TYPE_MLS_RCS_CLIENT,
    CONTENT_TYPE_MLS_RCS_SERVER,
    CONTENT_TYPE_MLS_RCS_FILE_INFO,
)
_CONTENT_KINDS = ("message", "text", "file", "receipt", "typing", "subject/icon", "other")

_WIRE_PUBLIC, _WIRE_PRIVATE, _WIRE_WELCOME, _WIRE_GROUP_INFO = 1, 2, 3, 4
_APPLICATION, _PROPOSAL, _COMMIT = 1, 2, 3
_SENDER_MEMBER, _SENDER_EXTERNAL, _SENDER_NEW_MEMBER_COMMIT = 1, 2, 4
_ADD, _UPDATE, _REMOVE, _GCE = 1, 2, 3, 7

_PROPOSAL_NAMES = {
    1: "Add",
    2: "Update",
    3: "Remove",
    4: "PreSharedKey",
    5: "ReInit",
    6: "ExternalInit",
    7: "GroupContextExtensions",
    0x000A: "SelfRemove",
    profile.PROPOSAL_RCS_SIGNATURE: "rcs_signature",
    profile.PROPOSAL_SELF_REMOVE: "RCS SelfRemove",
    profile.PROPOSAL_SERVER_REMOVE: "ServerRemove",
}
_SENDER_NAMES = {1: "member", 2: "external", 3: "new_member_proposal", 4: "new_member_commit"}


def proposal_name(proposal_type: int) -> str:
    """A proposal type's name (``0x1234`` for an unknown one)."""
    return _PROPOSAL_NAMES.get(proposal_type, f"0x{proposal_type:04x}")


def _kind_of_clear(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    if base.startswith("text/"):
        return "text"
    if base == "application/vnd.gsma.rcs-ft-http+xml" or base.split("/", 1)[0] in (
        "image",
        "video",
        "audio",
    ):
        return "file"
    if base == "message/imdn+xml":
        return "receipt"
    if base == "application/im-iscomposing+xml":
        return "typing"
    return "other"


def _identity(credential: bytes | None) -> str | None:
    """The identity of a credential (the ``tel:`` URI of an X.509 one), unverified."""
    if credential is None:
        return None
    try:
        raw = _native.Credential.from_bytes(credential).identity
    except ParseError:
        return "?"
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


def _era_value(data: bytes) -> int | None:
    return int.from_bytes(data, "big") if len(data) == 4 else None


@dataclass(frozen=True)
class Anomaly:
    """A downgrade or anomaly signal: ``code`` (stable, for machines), ``severity``
    (``downgrade`` or ``warning``), the object's index in its conversation (None for the
    conversation as a whole), its epoch when known, and a sentence."""

    code: str
    severity: str
    message: str
    index: int | None = None
    epoch: int | None = None
    source: str = ""


@dataclass
class ObjectView:
    """One distinct CPIM object of a conversation, as the server saw it."""

    index: int
    source: str
    time: dt.datetime | None
    sender: str
    content_type: str
    kind: str
    protection: str
    size: int
    deliveries: int = 1
    wire_format: str | None = None
    epoch: int | None = None
    era: int | None = None
    detail: str = ""
    accepted: bool = True
    anomalies: list[str] = field(default_factory=list)


@dataclass
class _Epoch:
    commits: int = 0
    accepted: int = 0
    authenticator: bytes | None = None


@dataclass
class ConversationReport:
    """Everything the audit found about one conversation."""

    conversation: str
    objects: list[ObjectView] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    eras: list[int] = field(default_factory=list)
    first_epoch: int | None = None
    last_epoch: int | None = None
    commits_per_epoch: dict[int, int] = field(default_factory=dict)
    rejected_commits: int = 0
    welcome_sizes: list[int] = field(default_factory=list)
    welcome_recipients: list[int] = field(default_factory=list)
    handshakes: dict[str, int] = field(default_factory=dict)
    participants: list[str] = field(default_factory=list)
    ended_at_epoch: int | None = None
    # State while reading.
    _seen: dict[bytes, ObjectView] = field(default_factory=dict, repr=False)
    _epochs: dict[tuple[int | None, int], _Epoch] = field(default_factory=dict, repr=False)
    _expected: int | None = field(default=None, repr=False)
    _era: int | None = field(default=None, repr=False)
    _leaves: dict[int, str] | None = field(default=None, repr=False)
    _mls_seen: bool = field(default=False, repr=False)

    # --- results ---------------------------------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        """Objects by kind, then by protection (every kind and protection present)."""
        table = {kind: dict.fromkeys(PROTECTIONS, 0) for kind in KINDS}
        for obj in self.objects:
            table[obj.kind][obj.protection] += 1
        return table

    @property
    def uses_mls(self) -> bool:
        """At least one object was an MLS message."""
        return any(o.wire_format is not None for o in self.objects)

    @property
    def clear_content(self) -> list[ObjectView]:
        """The content objects (not control) sent with no MLS protection."""
        return [o for o in self.objects if o.kind != "control" and o.protection == "clear"]

    @property
    def status(self) -> str:
        """``E2EE``, ``E2EE-ENDED``, ``E2EE-ANOMALIES`` or ``NOT-E2EE``."""
        downgrades = [a for a in self.anomalies if a.severity == "downgrade"]
        if self.clear_content or not self.uses_mls:
            return "NOT-E2EE"
        if any(a.code != "end_mls" for a in downgrades):
            return "NOT-E2EE"
        if self.ended_at_epoch is not None:
            return "E2EE-ENDED"
        if self.anomalies:
            return "E2EE-ANOMALIES"
        return "E2EE"

    @property
    def verdict(self) -> str:
        """One line: the status and why."""
        n = len(self.objects)
        content = [o for o in self.objects if o.kind != "control"]
        clear = self.clear_content
        status = self.status
        codes = Counter(a.code for a in self.anomalies)
        listed = ", ".join(
            f"{code} x{count}" if count > 1 else code for code, count in codes.items()
        )
        if status == "NOT-E2EE":
            if not self.uses_mls:
                return f"NOT E2EE: no MLS traffic; {n} objects rely on transport security only"
            kinds = Counter(o.kind for o in clear)
            what = ", ".join(f"{c} {k}" for k, c in sorted(kinds.items()))
            parts = [f"{len(clear)} of {len(content)} content objects in the clear ({what})"]
            if self.ended_at_epoch is not None:
                parts.append(f"end_mls at epoch {self.ended_at_epoch}")
            others = [a.code for a in self.anomalies if a.code not in ("end_mls",)]
            if others:
                parts.append(f"anomalies: {listed}")
            if not clear:
                parts = [f"anomalies: {listed}"]
            return "NOT E2EE: " + "; ".join(parts)
        protected = f"all {len(content)} content objects protected ({n} objects in all)"
        if status == "E2EE-ENDED":
            rest = [a for a in self.anomalies if a.code != "end_mls"]
            tail = f"; anomalies: {listed}" if rest else ""
            return f"E2EE until end_mls at epoch {self.ended_at_epoch}: {protected}{tail}"
        if status == "E2EE-ANOMALIES":
            return f"E2EE with anomalies: {protected}; {listed}"
        return f"E2EE: {protected}"

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary (for ``--json``)."""
        return {
            "conversation": self.conversation,
            "status": self.status,
            "verdict": self.verdict,
            "objects": len(self.objects),
            "counts": self.counts(),
            "mls": {
                "group_ids": self.group_ids,
                "eras": self.eras,
                "first_epoch": self.first_epoch,
                "last_epoch": self.last_epoch,
                "commits_per_epoch": {str(k): v for k, v in sorted(self.commits_per_epoch.items())},
                "rejected_commits": self.rejected_commits,
                "welcome_sizes": self.welcome_sizes,
                "welcome_recipients": self.welcome_recipients,
                "public_handshakes": dict(sorted(self.handshakes.items())),
                "participants_added": self.participants,
                "ended_at_epoch": self.ended_at_epoch,
            },
            "anomalies": [
                {
                    "code": a.code,
                    "severity": a.severity,
                    "message": a.message,
                    "object": a.index,
                    "epoch": a.epoch,
                    "source": a.source,
                }
                for a in self.anomalies
            ],
            "timeline": [
                {
                    "index": o.index,
                    "time": None if o.time is None else o.time.isoformat(),
                    "sender": o.sender,
                    "kind": o.kind,
                    "protection": o.protection,
                    "wire_format": o.wire_format,
                    "epoch": o.epoch,
                    "size": o.size,
                    "deliveries": o.deliveries,
                    "detail": o.detail,
                    "anomalies": o.anomalies,
                }
                for o in self.objects
            ],
        }

    # --- reading ---------------------------------------------------------------------

    def _flag(self, obj: ObjectView | None, code: str, severity: str, message: str) -> None:
        self.anomalies.append(
            Anomaly(
                code,
                severity,
                message,
                None if obj is None else obj.index,
                None if obj is None else obj.epoch,
                "" if obj is None else obj.source,
            )
        )
        if obj is not None:
            obj.anomalies.append(code)

    def add(self, record: TraceRecord) -> None:
        """Read one record (an object already seen is only counted as delivered again)."""
        digest = hashlib.sha256(record.cpim).digest()
        seen = self._seen.get(digest)
        if seen is not None:
            seen.deliveries += 1
            if not record.accepted:
                seen.accepted = False
            return
        obj = ObjectView(
            index=len(self.objects),
            source=record.source,
            time=record.time,
            sender=record.sender,
            content_type="?",
            kind="other",
            protection="clear",
            size=len(record.cpim),
            accepted=record.accepted,
        )
        self._seen[digest] = obj
        self.objects.append(obj)
        try:
            message = CpimMessage.from_bytes(record.cpim)
        except ParseError as exc:
            self._flag(obj, "unparsable_cpim", "warning", f"not a CPIM object: {exc}")
            return
        if obj.time is None:
            try:
                obj.time = message.datetime
            except (ParseError, InvalidArgumentError):
                obj.time = None
        content_type = message.content_type or "?"
        obj.content_type = content_type
        base = content_type.split(";", 1)[0].strip().lower()
        try:
            self._read(obj, message, base)
        except (ParseError, InvalidArgumentError) as exc:  # pragma: no cover - defensive
            self._flag(obj, "unparsable", "warning", str(exc))

    def _headers(self, obj: ObjectView, message: CpimMessage) -> bytes | None:
        """The era and epoch authenticator headers (flagged when missing or malformed)."""
        try:
            era_text = message.header("Era-ID", NS_MLS)
            authenticator = message.header_base64("Epoch-Authenticator", NS_MLS, max_length=44)
        except ParseError as exc:
            self._flag(obj, "bad_mls_header", "warning", f"malformed mls. header: {exc}")
            return None
        if era_text is None or authenticator is None:
            self._flag(
                obj,
                "missing_mls_header",
                "warning",
                "mls.Era-ID or mls.Epoch-Authenticator missing (receivers drop it)",
            )
        if era_text is not None:
            if era_text.isdigit() and len(era_text) < 11:
                obj.era = int(era_text)
                self._see_era(obj, obj.era)
            else:
                self._flag(obj, "bad_mls_header", "warning", "mls.Era-ID is not a number")
        if authenticator is not None and len(authenticator) != 32:
            self._flag(obj, "bad_mls_header", "warning", "mls.Epoch-Authenticator not 32 bytes")
            return None
        return authenticator

    def _see_era(self, obj: ObjectView, era: int) -> None:
        if era not in self.eras:
            self.eras.append(era)
        if self._era is not None and era != self._era:
            if era < self._era:
                self._flag(obj, "era_went_back", "warning", f"era {era} after era {self._era}")
            # A new era is a new MLS group under the same group id: epochs start again.
            self._expected = None
            self._leaves = None
        self._era = era

    def _read(self, obj: ObjectView, message: CpimMessage, base: str) -> None:
        if base == CONTENT_TYPE_MLS_FT:
            obj.kind, obj.protection, obj.detail = "subject/icon", "encrypted", "Annex C ciphertext"
            return
        if base in _MLS_BODY_TYPES:
            authenticator = self._headers(obj, message)
            self._read_mls(obj, message.body, authenticator, signed_receipt=False)
            return
        obj.kind = _kind_of_clear(base)
        if obj.kind == "receipt":
            try:
                signature = message.header_base64(
                    "MLS-Derived-Content-Signature", NS_MLS, max_length=1 << 20
                )
            except ParseError:
                signature = None
            if signature is not None:
                authenticator = self._headers(obj, message)
                self._read_mls(obj, signature, authenticator, signed_receipt=True)
                return
        obj.detail = f"{base} in the clear"
        if self._mls_seen and self.ended_at_epoch is None:
            self._flag(
                obj,
                f"clear_{obj.kind.replace('/', '_')}",
                "downgrade",
                f"{obj.kind} in the clear ({base}) in an MLS conversation",
            )

    def _read_mls(
        self,
        obj: ObjectView,
        body: bytes,
        authenticator: bytes | None,
        *,
        signed_receipt: bool,
    ) -> None:
        try:
            info = _native.inspect_message(body)
        except ParseError as exc:
            obj.kind = "receipt" if signed_receipt else "control"
            obj.protection = "clear" if signed_receipt else "signed"
            self._flag(obj, "unparsable_mls", "warning", f"not an MLS message: {exc}")
            return
        wire = info.wire_format
        self._mls_seen = True
        obj.wire_format = {1: "PublicMessage", 2: "PrivateMessage", 3: "Welcome"}.get(
            wire, {4: "GroupInfo", 5: "KeyPackage"}.get(wire, str(wire))
        )
        if info.group_id is not None:
            try:
                gid = info.group_id.decode("utf-8")
            except UnicodeDecodeError:
                gid = info.group_id.hex()
            if gid not in self.group_ids:
                self.group_ids.append(gid)
                if len(self.group_ids) > 1:
                    self._flag(obj, "group_id_changed", "warning", f"a second MLS group id: {gid}")
        obj.epoch = info.epoch
        if wire == _WIRE_WELCOME:
            obj.kind, obj.protection = "control", "encrypted"
            self.welcome_sizes.append(len(body))
            self.welcome_recipients.append(info.welcome_secrets or 0)
            obj.detail = f"Welcome to {info.welcome_secrets} new member(s), {len(body)} B"
            return
        if wire == _WIRE_GROUP_INFO:
            obj.kind, obj.protection = "control", "signed"
            self._read_group_info(obj, info)
            return
        if wire not in (_WIRE_PUBLIC, _WIRE_PRIVATE) or info.epoch is None:
            obj.kind, obj.protection = "control", "signed"
            obj.detail = f"{obj.wire_format} (not expected here)"
            return
        epoch = info.epoch
        self._see_epoch(obj, epoch)
        if authenticator is not None:
            state = self._epochs.setdefault((self._era, epoch), _Epoch())
            if state.authenticator is None:
                state.authenticator = authenticator
            elif state.authenticator != authenticator:
                self._flag(
                    obj,
                    "authenticator_changed",
                    "warning",
                    f"the epoch authenticator of epoch {epoch} changed without a commit"
                    f" (now {base64.b64encode(authenticator).decode()[:12]}...)",
                )
                state.authenticator = authenticator
        content = info.content_type
        if wire == _WIRE_PRIVATE:
            obj.protection = "encrypted"
            if content == _APPLICATION:
                obj.kind = "receipt" if signed_receipt else "message"
                obj.detail = f"PrivateMessage, {info.content_length} B of ciphertext"
                return
            obj.kind = "control"
            what = "commit" if content == _COMMIT else "proposal"
            obj.detail = f"{what} in a PrivateMessage"
            self._flag(
                obj,
                f"{what}_in_private_message",
                "warning",
                f"a {what} inside a PrivateMessage (RCC.16 sends handshakes as PublicMessage;"
                " the server cannot arbitrate it)",
            )
            if content == _COMMIT:
                self._count_commit(obj, epoch)
            return
        # PublicMessage: authenticated, content visible.
        obj.protection = "signed"
        self._check_sender(obj, info)
        if content == _APPLICATION:
            obj.kind = "receipt" if signed_receipt else "message"
            obj.detail = f"application message as PublicMessage ({info.content_length} B visible)"
            self._flag(
                obj,
                "application_as_public_message",
                "downgrade",
                "an application message sent as PublicMessage: its content is readable",
            )
            return
        if content == _PROPOSAL:
            names = [proposal_name(p.proposal_type) for p in info.proposals]
            obj.kind = "receipt" if signed_receipt else "control"
            obj.detail = f"proposal {', '.join(names)}"
            for name in names:
                key = "proposal " + name
                self.handshakes[key] = self.handshakes.get(key, 0) + 1
            return
        obj.kind = "control"
        self.handshakes["commit"] = self.handshakes.get("commit", 0) + 1
        self._count_commit(obj, epoch)
        self._read_commit(obj, info, epoch)

    def _see_epoch(self, obj: ObjectView, epoch: int) -> None:
        if self.first_epoch is None:
            self.first_epoch = epoch
        if self.last_epoch is None or epoch > self.last_epoch:
            self.last_epoch = epoch
        if self._expected is None:
            # The first message of the group (or of a new era): the tree is known when
            # the trace starts at the group's creation.
            self._expected = epoch
            self._leaves = {} if epoch == 0 else None
        elif epoch > self._expected:
            missing = (
                f"epoch {self._expected}"
                if epoch == self._expected + 1
                else f"epochs {self._expected}-{epoch - 1}"
            )
            self._flag(
                obj,
                "skipped_epoch",
                "warning",
                f"a message of epoch {epoch}, but no commit seen for {missing}",
            )
            self._expected = epoch
            self._leaves = None  # leaves may have changed unseen

    def _count_commit(self, obj: ObjectView, epoch: int) -> None:
        self.commits_per_epoch[epoch] = self.commits_per_epoch.get(epoch, 0) + 1
        state = self._epochs.setdefault((self._era, epoch), _Epoch())
        state.commits += 1
        if not obj.accepted:
            self.rejected_commits += 1
            return
        state.accepted += 1
        if self._expected is not None and epoch + 1 > self._expected:
            self._expected = epoch + 1

    def _check_sender(self, obj: ObjectView, info: _native.InspectedMessage) -> None:
        if info.sender_type != _SENDER_MEMBER or self._leaves is None:
            return
        leaf = info.sender_index
        if leaf is None:  # pragma: no cover - a member sender always has a leaf
            return
        if not self._leaves and info.epoch == 0:
            self._leaves[leaf] = "?"  # the creator
        elif leaf not in self._leaves:
            self._flag(
                obj,
                "leaf_without_add",
                "warning",
                f"leaf {leaf} sends, but no Add or external join put a member there",
            )
            self._leaves[leaf] = "?"

    def _read_commit(self, obj: ObjectView, info: _native.InspectedMessage, epoch: int) -> None:
        names = [proposal_name(p.proposal_type) for p in info.proposals]
        parts: list[str] = []
        if info.sender_type == _SENDER_NEW_MEMBER_COMMIT:
            who = _identity(info.path_credential) or "?"
            parts.append(f"external commit by {who}")
            self._flag(
                obj,
                "external_commit",
                "warning",
                f"an external commit at epoch {epoch}: {who} joined without a Welcome",
            )
        elif info.sender_type == _SENDER_EXTERNAL:
            parts.append("commit from an external sender")
        summary = Counter(names)
        if summary:
            parts.append(", ".join(f"{n} x{c}" if c > 1 else n for n, c in summary.items()))
        if info.proposal_refs:
            parts.append(f"{len(info.proposal_refs)} by reference")
        parts.append("path" if info.has_path else "no path")
        if not obj.accepted:
            parts.append("rejected by the focus")
        added: list[str] = []
        removed: list[int] = []
        for proposal in info.proposals:
            if proposal.proposal_type == _ADD:
                added.append(_identity(proposal.credential) or "?")
            elif proposal.proposal_type == _REMOVE and proposal.removed is not None:
                removed.append(proposal.removed)
            elif proposal.proposal_type == _GCE:
                self._read_extensions(obj, proposal.extensions, epoch)
        if added:
            parts.append("adds " + ", ".join(added))
            for who in added:
                if who not in self.participants:
                    self.participants.append(who)
        if removed:
            parts.append("removes leaf " + ", ".join(map(str, removed)))
        obj.detail = "commit: " + "; ".join(parts)
        if not obj.accepted or self._leaves is None:
            return
        # RFC 9420 §12.3: removes first, then adds (and an external joiner) take the
        # leftmost free leaves.
        for leaf in removed:
            self._leaves.pop(leaf, None)
        joiners = added + (
            [_identity(info.path_credential) or "?"]
            if info.sender_type == _SENDER_NEW_MEMBER_COMMIT
            else []
        )
        for who in joiners:
            leaf = 0
            while leaf in self._leaves:
                leaf += 1
            self._leaves[leaf] = who

    def _read_extensions(
        self, obj: ObjectView, extensions: list[tuple[int, bytes]], epoch: int
    ) -> None:
        types = dict(extensions)
        if profile.EXT_END_MLS in types and self.ended_at_epoch is None:
            self.ended_at_epoch = epoch
            self._flag(
                obj,
                "end_mls",
                "downgrade",
                f"end_mls (0xF002) committed at epoch {epoch}: the conversation is no longer"
                " end-to-end encrypted",
            )
        era = types.get(profile.EXT_ERA)
        if era is not None:
            value = _era_value(era)
            if value is not None and self._era is not None and value != self._era:
                self._flag(
                    obj,
                    "era_changed_by_commit",
                    "warning",
                    f"a commit changes the era from {self._era} to {value} (RCC.16: an era"
                    " never changes within a group)",
                )

    def _read_group_info(self, obj: ObjectView, info: _native.InspectedMessage) -> None:
        extensions = dict(info.group_context_extensions)
        leaves = info.tree_credentials
        obj.detail = f"GroupInfo at epoch {info.epoch}" + (
            f", {len(leaves)} leaves" if leaves is not None else ""
        )
        if profile.EXT_END_MLS in extensions and self.ended_at_epoch is None:
            self.ended_at_epoch = info.epoch
            self._flag(obj, "end_mls", "downgrade", "a GroupInfo with end_mls (0xF002)")
        if leaves is not None and self._leaves is not None and len(leaves) > len(self._leaves):
            self._flag(
                obj,
                "leaf_without_add",
                "warning",
                f"the GroupInfo tree has {len(leaves)} leaves; Adds and joins account for"
                f" {len(self._leaves)}",
            )


@dataclass
class AuditReport:
    """The audit of a whole trace: one report per conversation, in order of first
    appearance, the records read and the lines or files skipped."""

    conversations: list[ConversationReport] = field(default_factory=list)
    records: int = 0
    issues: list[TraceIssue] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready document (for ``--json``)."""
        return {
            "records": self.records,
            "skipped": [{"source": i.source, "message": i.message} for i in self.issues],
            "conversations": [c.to_json() for c in self.conversations],
        }


def audit(
    records: Iterable[TraceRecord | TraceIssue],
    *,
    on_record: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit trace records (from :func:`~rcs_mls.audit.trace.read_trace`), in order.

    Never raises on the content of a record: what cannot be read is an anomaly of its
    conversation, or a :class:`TraceIssue` of the report. ``on_record`` is called with the
    number of records read so far, after each one.
    """
    report = AuditReport()
    by_id: dict[str, ConversationReport] = {}
    for item in records:
        if isinstance(item, TraceIssue):
            report.issues.append(item)
            continue
        conversation = by_id.get(item.conversation)
        if conversation is None:
            conversation = ConversationReport(item.conversation)
            by_id[item.conversation] = conversation
            report.conversations.append(conversation)
        conversation.add(item)
        report.records += 1
        if on_record is not None:
            on_record(report.records)
    return report
