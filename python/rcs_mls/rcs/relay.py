"""An in-process delivery service and conversation focus, for tests and the demo.

RCC.16 conversations go through a server: the RCS messaging server fans every message out
to the devices of every participant, keeps the latest GroupInfo (for external joins and
self-heal), and, as the "conversation focus", accepts exactly one commit per epoch: a
member whose commit loses gets a rejection (``incorrect-epoch``), processes the winner's
commit, which it receives like everyone else, and tries again (RCC.16 §8). The
:class:`Relay` here does that in memory, and doubles as the File Transfer content server
(:meth:`Relay.upload`, :meth:`Relay.download`).

It never decrypts: it reads the CPIM envelope and, for arbitration, the clear header of
the MLS PublicMessage (group id, epoch). It trusts the ``added`` / ``removed``
participants its members declare for a commit (a real focus would read them from the
PublicMessage commit), so it is a test double, not a server.

Every message that crosses it is recorded as a :class:`WireRecord` (sizes and content
types, never content), and passed to an optional observer, which the demo prints.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rcs_mls import _native
from rcs_mls.exceptions import GroupStateError, InvalidArgumentError, ParseError
from rcs_mls.rcs.conversation import Conversation, Event, Outgoing
from rcs_mls.rcs.cpim import CONTENT_TYPE_MLS_FT, NS_MLS, CpimMessage
from rcs_mls.rcs.imdn import MlsServerFailureReason

__all__ = [
    "CommitVerdict",
    "Delivery",
    "Device",
    "Relay",
    "WireRecord",
    "submit_commit",
]

_URL_PREFIX = "https://content.relay.invalid/"
_METADATA_KINDS = ("subject", "icon")


@dataclass
class Device:
    """One registered device of a participant, with its inbox."""

    number: str
    name: str
    inbox: deque[Delivery] = field(default_factory=deque, repr=False)


@dataclass(frozen=True)
class Delivery:
    """A message waiting in a device's inbox: the CPIM object for one conversation."""

    group_id: str
    cpim: bytes = field(repr=False)
    sender: str
    kind: str


@dataclass(frozen=True)
class WireRecord:
    """What crossed the relay: never content, only its size and type.

    ``mls_wire_format`` is the MLS wire format of the body (``PrivateMessage``,
    ``PublicMessage``, ``Welcome``), or None for a body that is not an MLS message.
    """

    sender: str
    group_id: str
    kind: str
    content_type: str
    size: int
    body_size: int
    mls_wire_format: str | None
    recipients: int
    accepted: bool = True


@dataclass(frozen=True)
class CommitVerdict:
    """The focus's answer to a commit: accepted, or rejected with the epoch it is at."""

    accepted: bool
    epoch: int
    reason: MlsServerFailureReason | None = None


@dataclass
class _Group:
    epoch: int
    members: set[str]
    era: int = 1
    group_info: bytes | None = None
    metadata: dict[str, Delivery] = field(default_factory=dict)


_WIRE_FORMATS = {1: "PublicMessage", 2: "PrivateMessage", 3: "Welcome", 4: "GroupInfo"}


def _era_header(cpim: bytes) -> int:
    """The mls.Era-ID a commit's sender wrote (the focus arbitrates per era)."""
    value = CpimMessage.from_bytes(cpim).header("Era-ID", NS_MLS)
    if value is None or not value.isdigit():
        raise ParseError("a commit without a valid mls.Era-ID")
    return int(value)


class Relay:
    """An in-memory RCS messaging server and conversation focus (see the module doc)."""

    def __init__(
        self,
        *,
        observer: Callable[[WireRecord], None] | None = None,
        storage: str | os.PathLike[str] | None = None,
    ) -> None:
        """``observer`` sees every :class:`WireRecord`; ``storage`` is the directory of
        uploaded files (a fresh temporary directory, removed by :meth:`close`, if None)."""
        self._devices: dict[str, list[Device]] = {}
        self._groups: dict[str, _Group] = {}
        self._observer = observer
        self._own_storage = storage is None
        self._storage = Path(tempfile.mkdtemp(prefix="rcs-relay-") if storage is None else storage)
        self._storage.mkdir(parents=True, exist_ok=True)
        self._uploads = itertools.count(1)
        self.records: list[WireRecord] = []

    def close(self) -> None:
        """Remove the uploaded files (when the relay made their directory)."""
        if self._own_storage:
            shutil.rmtree(self._storage, ignore_errors=True)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- devices and groups ------------------------------------------------------------

    def register(self, number: str, name: str) -> Device:
        """Register a device of participant ``number``."""
        device = Device(number, name)
        self._devices.setdefault(number, []).append(device)
        return device

    def members(self, group_id: str) -> set[str]:
        """The participants of a conversation, as the focus knows them."""
        group = self._groups.get(group_id)
        return set() if group is None else set(group.members)

    def epoch(self, group_id: str) -> int | None:
        """The epoch the focus holds for a conversation (None: unknown conversation)."""
        group = self._groups.get(group_id)
        return None if group is None else group.epoch

    def group_info(self, group_id: str) -> bytes | None:
        """The latest GroupInfo published for a conversation."""
        group = self._groups.get(group_id)
        return None if group is None else group.group_info

    def group_metadata(self, group_id: str) -> list[bytes]:
        """The latest encrypted subject and icon (CPIM objects), for a device that just
        joined: the conversation focus keeps them, as it keeps an RCS group's subject."""
        group = self._groups.get(group_id)
        return [] if group is None else [d.cpim for d in group.metadata.values()]

    def publish_group_info(self, group_id: str, group_info: bytes) -> None:
        """Store a conversation's GroupInfo (after each accepted commit).

        Raises:
            InvalidArgumentError: an unknown conversation, or bytes that are not a
                GroupInfo.
        """
        group = self._groups.get(group_id)
        if group is None:
            raise InvalidArgumentError(f"unknown conversation {group_id}")
        try:
            wire_format = _native.rcs_message_info(group_info)[0]
        except ParseError:
            wire_format = 0
        if wire_format != 4:
            raise InvalidArgumentError("not a GroupInfo")
        group.group_info = bytes(group_info)

    # --- traffic ------------------------------------------------------------------------

    def fetch(self, device: Device, group_id: str | None = None) -> list[Delivery]:
        """Take the messages waiting for ``device`` (only those of ``group_id``, if given)."""
        taken: list[Delivery] = []
        kept: deque[Delivery] = deque()
        for delivery in device.inbox:
            (taken if group_id is None or delivery.group_id == group_id else kept).append(delivery)
        device.inbox = kept
        return taken

    def _devices_of(self, numbers: set[str], exclude: Device) -> Iterator[Device]:
        for number in sorted(numbers):
            for device in self._devices.get(number, ()):
                if device is not exclude:
                    yield device

    def _record(
        self, sender: Device, group_id: str, outgoing: Outgoing, recipients: int, accepted: bool
    ) -> None:
        body = CpimMessage.from_bytes(outgoing.cpim).body
        try:
            wire_format: str | None = _WIRE_FORMATS.get(_native.rcs_message_info(body)[0])
        except ParseError:
            wire_format = None
        record = WireRecord(
            sender=sender.name,
            group_id=group_id,
            kind=outgoing.kind,
            content_type=outgoing.content_type,
            size=len(outgoing.cpim),
            body_size=len(body),
            mls_wire_format=wire_format,
            recipients=recipients,
            accepted=accepted,
        )
        self.records.append(record)
        if self._observer is not None:
            self._observer(record)

    def _fan_out(self, sender: Device, group_id: str, outgoing: Outgoing, numbers: set[str]) -> int:
        delivery = Delivery(group_id, outgoing.cpim, sender.name, outgoing.kind)
        count = 0
        for device in self._devices_of(numbers, sender):
            device.inbox.append(delivery)
            count += 1
        return count

    def submit(self, sender: Device, group_id: str, outgoing: Outgoing) -> CommitVerdict | None:
        """Take one message from ``sender`` for conversation ``group_id``.

        A commit is arbitrated (the returned verdict says whether it won its epoch) and,
        when accepted, fanned out to every device of every participant but the sender's,
        removed participants included, added ones not (they join from the Welcome). A
        Welcome goes to every device of its recipients (a device that is not in it cannot
        join from it and drops it). Anything else goes to every other device of the
        participants; the encrypted subject and icon are also kept for
        :meth:`group_metadata`. Returns None for what is not a commit.

        Raises:
            GroupStateError: the sender is not a participant of an existing conversation.
            ParseError: a commit whose body is not an MLS PublicMessage.
        """
        group = self._groups.get(group_id)
        if outgoing.kind == "commit":
            return self._submit_commit(sender, group_id, group, outgoing)
        if group is None or sender.number not in group.members:
            raise GroupStateError(f"{sender.number} is not in conversation {group_id}")
        if outgoing.kind == "welcome":
            targets = set(outgoing.recipients or ())
            count = self._fan_out(sender, group_id, outgoing, targets)
            self._record(sender, group_id, outgoing, count, True)
            return None
        count = self._fan_out(sender, group_id, outgoing, group.members)
        if outgoing.kind in _METADATA_KINDS and outgoing.content_type == CONTENT_TYPE_MLS_FT:
            group.metadata[outgoing.kind] = Delivery(
                group_id, outgoing.cpim, sender.name, outgoing.kind
            )
        self._record(sender, group_id, outgoing, count, True)
        return None

    def _submit_commit(
        self, sender: Device, group_id: str, group: _Group | None, outgoing: Outgoing
    ) -> CommitVerdict:
        body = CpimMessage.from_bytes(outgoing.cpim).body
        wire_format, _gid, epoch, _content = _native.rcs_message_info(body)
        if wire_format != 1 or epoch is None:
            raise ParseError("a commit travels as an MLS PublicMessage")
        era = _era_header(outgoing.cpim)
        if group is None:
            # A new conversation: its creator's first commit defines it.
            group = _Group(epoch=epoch, members={sender.number}, era=era)
            self._groups[group_id] = group
        if sender.number not in group.members:
            raise GroupStateError(f"{sender.number} is not in conversation {group_id}")
        if era > group.era:
            # A participant re-creates the conversation as a new MLS group (a new era):
            # its first commit starts the new group, as for a new conversation.
            group.era, group.epoch, group.group_info = era, epoch, None
            group.members = {sender.number}
        elif era < group.era:
            self._record(sender, group_id, outgoing, 0, False)
            return CommitVerdict(False, group.epoch, MlsServerFailureReason.INCORRECT_ERA)
        if epoch != group.epoch:
            self._record(sender, group_id, outgoing, 0, False)
            return CommitVerdict(False, group.epoch, MlsServerFailureReason.INCORRECT_EPOCH)
        group.epoch += 1
        # The members before the commit (the removed ones too) process it; the added ones
        # join from its Welcome.
        count = self._fan_out(sender, group_id, outgoing, group.members)
        group.members |= set(outgoing.added)
        group.members -= set(outgoing.removed)
        self._record(sender, group_id, outgoing, count, True)
        return CommitVerdict(True, group.epoch)

    # --- the content server (File Transfer over HTTP) ----------------------------------

    def upload(self, src: str | os.PathLike[str]) -> str:
        """Store a file (an encrypted one: the server never sees plaintext); its URL."""
        name = f"f{next(self._uploads)}"
        shutil.copyfile(src, self._storage / name)
        return _URL_PREFIX + name

    def download(self, url: str, dst: str | os.PathLike[str]) -> int:
        """Copy an uploaded file to ``dst``; returns its size.

        Raises:
            InvalidArgumentError: not a URL of this relay.
        """
        if not url.startswith(_URL_PREFIX):
            raise InvalidArgumentError(f"not a URL of this relay: {url}")
        path = self._storage / url[len(_URL_PREFIX) :]
        if path.parent != self._storage or not path.is_file():
            raise InvalidArgumentError(f"no such file: {url}")
        shutil.copyfile(path, dst)
        return path.stat().st_size

    def path_of(self, url: str) -> Path:
        """Where the relay keeps an uploaded file (for tests that tamper with it).

        Raises:
            InvalidArgumentError: not a URL of this relay.
        """
        if not url.startswith(_URL_PREFIX):
            raise InvalidArgumentError(f"not a URL of this relay: {url}")
        return self._storage / url[len(_URL_PREFIX) :]


def submit_commit(
    relay: Relay,
    device: Device,
    conversation: Conversation,
    make_commit: Callable[[], Outgoing],
    *,
    on_event: Callable[[Delivery, Event], None] | None = None,
    attempts: int = 3,
) -> list[Outgoing]:
    """Make a commit, have the focus arbitrate it, and re-base and retry when it loses.

    On acceptance the commit is merged, the new GroupInfo is published and the follow-up
    messages (Welcome, subject or icon key and ciphertext) are sent; they are returned. On
    rejection the pending commit is dropped, the messages waiting for ``device`` in this
    conversation (the winner's commit among them) are processed (each event is passed to
    ``on_event``), and the commit is made again.

    Raises:
        GroupStateError: the commit lost ``attempts`` times.
    """
    group_id = conversation.group_id
    for _ in range(attempts):
        commit = make_commit()
        verdict = relay.submit(device, group_id, commit)
        if verdict is not None and verdict.accepted:
            follow_ups = conversation.commit_accepted()
            relay.publish_group_info(group_id, conversation.group_info())
            for outgoing in follow_ups:
                relay.submit(device, group_id, outgoing)
            return follow_ups
        conversation.commit_rejected()
        for delivery in relay.fetch(device, group_id):
            event = conversation.receive(delivery.cpim)
            if on_event is not None:
                on_event(delivery, event)
    raise GroupStateError(f"the commit lost {attempts} times")
