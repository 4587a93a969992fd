"""Command line: ``python -m rcs_mls demo`` runs an RCS (GSMA RCC.16) demo conversation.

Three devices (Alice, Bob, Carol: X.509 ``tel:`` credentials from a throwaway CA, each
with its own SQLite store in a temporary directory) talk through an in-process relay: a
1:1 chat with typing, text and signed receipts, then a group chat with a subject, an add,
a 10 MiB encrypted file, a race of two commits for one epoch, a remove, and the end of
the 1:1. Every line marked ``relay`` is what crosses the wire (content type, MLS wire
format, size); every line marked with a device name is what that device reads after
decryption. The demo checks that no plaintext crosses the wire.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rcs_mls import (
    OPENMLS_VERSION,
    Client,
    Credential,
    SignatureKeyPair,
    __version__,
    versions,
)
from rcs_mls.audit.cli import add_arguments as add_audit_arguments
from rcs_mls.audit.cli import run as run_audit
from rcs_mls.audit.trace import TraceWriter, TracingRelay
from rcs_mls.exceptions import RcsMlsError
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import (
    CommitApplied,
    Conversation,
    ConversationEnded,
    Event,
    FailureReport,
    FileKeyReceived,
    FileOffer,
    IconChange,
    LeaveRequest,
    MembershipChange,
    Outgoing,
    Receipt,
    Rejected,
    SubjectChange,
    TextMessage,
    Typing,
)
from rcs_mls.rcs.credentials import TestCertificateAuthority
from rcs_mls.rcs.imdn import ImdnStatus
from rcs_mls.rcs.relay import Delivery, Device, Relay, WireRecord, submit_commit

__all__ = ["DemoResult", "main", "run_demo"]

MIB = 1024 * 1024
_NUMBERS = {"alice": "+15550100001", "bob": "+15550100002", "carol": "+15550100003"}
_GROUP_ID = "rcs-group-7f3e2a"
# What a body that is not an MLS message is, by content type.
_BODY_LABELS = {"message/imdn+xml": "IMDN+signature", "message/mls-ft": "Annex C"}


@dataclass
class DemoResult:
    """What the demo saw: the events each device read, and what crossed the relay."""

    events: dict[str, list[Event]] = field(default_factory=dict)
    records: list[WireRecord] = field(default_factory=list)
    one_to_one: str = ""
    group: str = _GROUP_ID
    file_sha256: str = ""
    file_read: dict[str, str] = field(default_factory=dict)


@dataclass
class _Device:
    name: str
    number: str
    client: Client
    relay_device: Device
    conversations: dict[str, Conversation] = field(default_factory=dict)


def _describe(event: Event, names: dict[str, str]) -> str:
    who = names.get(event.sender or "", event.sender or "?")
    if isinstance(event, TextMessage):
        return f"{who} says {event.text!r}"
    if isinstance(event, Typing):
        return f"{who} is {'typing' if event.active else 'idle'}"
    if isinstance(event, FailureReport):
        reason = event.reason.element if event.reason is not None else "no reason"
        return f"{who} could not read {event.reported_message_id} ({reason})"
    if isinstance(event, Receipt):
        signed = "signed" if event.signed else "encrypted"
        return f"{who}: {event.status.value} {event.reported_message_id} ({signed} receipt)"
    if isinstance(event, FileKeyReceived):
        return f"{who} sent a file key (FileInfo)"
    if isinstance(event, FileOffer):
        size = event.metadata.encryption_info.file_length_hint
        return f"{who} offers {event.file_name!r} ({event.content_type}, {size} bytes)"
    if isinstance(event, SubjectChange):
        return f"subject is {event.subject!r} (commitment 0xF006 checked)"
    if isinstance(event, IconChange):
        return f"icon is {len(event.icon)} bytes (commitment 0xF004 checked)"
    if isinstance(event, MembershipChange):
        added = ", ".join(names.get(n, n) for n in event.added) or "-"
        removed = ", ".join(names.get(n, n) for n in event.removed) or "-"
        note = " (this device was removed)" if event.removed_self else ""
        return f"{who} committed epoch {event.epoch}: added {added}, removed {removed}{note}"
    if isinstance(event, LeaveRequest):
        return f"{who} asks to leave"
    if isinstance(event, ConversationEnded):
        return f"{who} ended encryption (end_mls)"
    if isinstance(event, CommitApplied):
        return f"{who} committed epoch {event.epoch}"
    if isinstance(event, Rejected):
        return f"REJECTED: {event.reason}"
    return repr(event)  # pragma: no cover - every event type is listed above


class _Demo:
    def __init__(
        self,
        out: Callable[[str], None],
        workdir: Path,
        file_size: int,
        trace: TraceWriter | None = None,
    ) -> None:
        self.out = out
        self.workdir = workdir
        self.file_size = file_size
        self.result = DemoResult()
        self.secrets: list[bytes] = []
        self.relay = (
            Relay(observer=self._wire, storage=workdir / "content")
            if trace is None
            else TracingRelay(trace, observer=self._wire, storage=workdir / "content")
        )
        self.ca = TestCertificateAuthority.generate(name="rcs-mls demo CA")
        self.anchors = [self.ca.certificate_der]
        self.devices = {name: self._device(name, number) for name, number in _NUMBERS.items()}
        self.names = {d.number: d.name for d in self.devices.values()}

    def _device(self, name: str, number: str) -> _Device:
        keys = SignatureKeyPair.generate(profile.SUITE)
        chain = self.ca.issue_device_certificate(number, keys.public_key)
        client = Client.open(
            self.workdir / f"{name}.sqlite",
            Credential.x509(chain),
            keys,
            profile.SUITE,
            extension_types=list(profile.CLIENT_EXTENSION_TYPES),
            proposal_types=list(profile.CLIENT_PROPOSAL_TYPES),
        )
        self.result.events[name] = []
        return _Device(name, number, client, self.relay.register(number, name))

    # --- the wire ---------------------------------------------------------------------

    def _wire(self, record: WireRecord) -> None:
        self.result.records.append(record)
        verdict = "" if record.accepted else "  REJECTED (incorrect-epoch)"
        wire_format = record.mls_wire_format or _BODY_LABELS.get(record.content_type, "?")
        self.out(
            f"   relay  {record.sender:<6}-> {record.recipients} device(s)  "
            f"{record.content_type:<24}{wire_format:<15}{record.size:>9} B  "
            f"{record.kind}{verdict}"
        )

    def send(self, device: _Device, group_id: str, outgoing: Outgoing) -> None:
        self._check_clear(outgoing.cpim)
        self.relay.submit(device.relay_device, group_id, outgoing)

    def _check_clear(self, data: bytes) -> None:
        for secret in self.secrets:
            if secret in data:
                raise AssertionError(f"plaintext crossed the wire: {secret[:20]!r}")

    def commit(
        self, device: _Device, conversation: Conversation, make: Callable[[], Outgoing]
    ) -> None:
        def checked() -> Outgoing:
            outgoing = make()
            self._check_clear(outgoing.cpim)
            return outgoing

        follow_ups = submit_commit(
            self.relay,
            device.relay_device,
            conversation,
            checked,
            on_event=lambda _d, event: self._read(device, event),
        )
        for outgoing in follow_ups:
            self._check_clear(outgoing.cpim)

    # --- reading ----------------------------------------------------------------------

    def _read(self, device: _Device, event: Event) -> None:
        self.result.events[device.name].append(event)
        self.out(f"   {device.name:<6} reads  {_describe(event, self.names)}")

    def deliver(self, *names: str) -> None:
        for name in names:
            device = self.devices[name]
            for delivery in self.relay.fetch(device.relay_device):
                self._deliver_one(device, delivery)

    def _deliver_one(self, device: _Device, delivery: Delivery) -> None:
        conversation = device.conversations.get(delivery.group_id)
        if Conversation.is_welcome(delivery.cpim):
            if conversation is not None:
                return
            try:
                conversation = Conversation.join(
                    device.client, delivery.cpim, trust_anchors=self.anchors
                )
            except RcsMlsError:
                return  # a Welcome for another device of this participant
            device.conversations[delivery.group_id] = conversation
            kind = "1:1" if conversation.is_one_to_one else "group"
            self.out(
                f"   {device.name:<6} joins  {kind} {delivery.group_id} "
                f"(era {conversation.era}, epoch {conversation.epoch})"
            )
            for data in self.relay.group_metadata(delivery.group_id):
                self._read(device, conversation.receive(data))
            return
        if conversation is None:
            return  # traffic of a conversation this device is not in
        event = conversation.receive(delivery.cpim)
        self._read(device, event)
        if isinstance(event, FileOffer):
            self._download(device, conversation, event)

    def _download(self, device: _Device, conversation: Conversation, offer: FileOffer) -> None:
        encrypted = self.workdir / f"{device.name}-download.bin"
        plain = self.workdir / f"{device.name}-{offer.file_name}"
        self.relay.download(offer.descriptor.file.url, encrypted)
        conversation.decrypt_file(offer, encrypted, plain)
        digest = _sha256(plain)
        self.result.file_read[device.name] = digest
        ok = "matches" if digest == self.result.file_sha256 else "DIFFERS"
        self.out(
            f"   {device.name:<6} reads  {offer.file_name}: {plain.stat().st_size} bytes, "
            f"SHA-256 {digest[:16]}... {ok}"
        )

    # --- the story --------------------------------------------------------------------

    def run(self) -> DemoResult:
        alice, bob, carol = (self.devices[n] for n in ("alice", "bob", "carol"))
        self.out(
            f"rcs-mls {__version__} on OpenMLS {OPENMLS_VERSION}: an RCS conversation "
            f"end-to-end encrypted the GSMA RCC.16 way (ciphersuite 0x0002)"
        )
        for d in (alice, bob, carol):
            self.out(f"   {d.name:<6} {d.number}  X.509 tel: credential, SQLite store")

        self.out("\n1. Alice starts a 1:1 chat with Bob")
        texts = [b"Hi Bob, this is end-to-end encrypted.", b"Hello Alice!"]
        self.secrets += texts
        one, commit = Conversation.start(
            alice.client, [bob.client.generate_key_package()], trust_anchors=self.anchors
        )
        alice.conversations[one.group_id] = one
        self.result.one_to_one = one.group_id
        self.commit(alice, one, lambda: commit)
        self.deliver("bob")
        self.send(alice, one.group_id, one.send_typing())
        sent = one.send_text(texts[0].decode())
        self.send(alice, one.group_id, sent)
        self.deliver("bob")
        bob_one = bob.conversations[one.group_id]
        self.send(bob, one.group_id, bob_one.send_receipt(sent.message_id))
        self.send(bob, one.group_id, bob_one.send_receipt(sent.message_id, ImdnStatus.DISPLAYED))
        self.send(bob, one.group_id, bob_one.send_text(texts[1].decode()))
        self.deliver("alice")

        self.out("\n2. Alice creates a group chat with Bob and names it")
        subject = "Weekend hike"
        self.secrets.append(subject.encode())
        group, commit = Conversation.start(
            alice.client,
            [bob.client.generate_key_package()],
            group_id=_GROUP_ID,
            trust_anchors=self.anchors,
        )
        alice.conversations[group.group_id] = group
        self.commit(alice, group, lambda: commit)
        self.deliver("bob")
        self.commit(alice, group, lambda: group.set_subject(subject))
        self.deliver("bob")

        self.out("\n3. Alice adds Carol (the subject key rides in the Welcome only)")
        self.commit(
            alice, group, lambda: group.add_participants([carol.client.generate_key_package()])
        )
        self.deliver("bob", "carol")
        greeting = b"Welcome, Carol."
        self.secrets.append(greeting)
        self.send(alice, group.group_id, group.send_text(greeting.decode()))
        self.deliver("bob", "carol")

        self.out(f"\n4. Bob sends a {self.file_size // MIB} MiB file (Annex C, streamed)")
        source = self.workdir / "trip-photos.zip"
        with source.open("wb") as handle:
            handle.write(os.urandom(self.file_size))
        self.result.file_sha256 = _sha256(source)
        self.secrets.append(source.read_bytes()[:64])
        bob_group = bob.conversations[group.group_id]
        encrypted = self.workdir / "upload.bin"
        key = bob_group.encrypt_file(source, encrypted, "trip-photos.zip")
        self._check_clear(encrypted.read_bytes()[:4096])
        url = self.relay.upload(encrypted)
        self.out(f"   relay  bob   -> content server  {encrypted.stat().st_size} B of ciphertext")
        key_message, descriptor = bob_group.send_file(
            key,
            file_name="trip-photos.zip",
            content_type="application/zip",
            url=url,
            size=encrypted.stat().st_size,
        )
        self.send(bob, group.group_id, key_message)
        self.send(bob, group.group_id, descriptor)
        self.deliver("alice", "carol")
        carol_group = carol.conversations[group.group_id]
        self.send(carol, group.group_id, carol_group.send_receipt(descriptor.message_id))
        self.deliver("bob", "alice")

        self.out("\n5. Bob and Carol commit in the same epoch: the relay takes one")
        bob_update, carol_update = bob_group.update_keys(), carol_group.update_keys()
        won = self.relay.submit(bob.relay_device, group.group_id, bob_update)
        lost = self.relay.submit(carol.relay_device, group.group_id, carol_update)
        if won is None or lost is None or not won.accepted or lost.accepted:
            raise AssertionError("the relay must accept exactly one commit per epoch")
        bob_group.commit_accepted()
        self.relay.publish_group_info(group.group_id, bob_group.group_info())
        carol_group.commit_rejected()
        self.deliver("alice", "carol")
        self.out("   carol  re-based on Bob's commit; she retries")
        self.commit(carol, carol_group, carol_group.update_keys)
        self.deliver("alice", "bob")

        self.out("\n6. Carol is typing; Alice removes Bob (every device of his, one commit)")
        self.send(carol, group.group_id, carol_group.send_typing())
        self.deliver("alice", "bob")
        self.commit(alice, group, lambda: group.remove_participant(bob.number))
        self.deliver("bob", "carol")
        farewell = b"Just the two of us now."
        self.secrets.append(farewell)
        self.send(alice, group.group_id, group.send_text(farewell.decode()))
        self.deliver("bob", "carol")

        self.out("\n7. Alice ends the 1:1 (end_mls)")
        self.commit(alice, one, one.end)
        self.deliver("bob")

        same = group.epoch_authenticator == carol_group.epoch_authenticator
        self.out(
            f"\n{len(self.result.records)} messages crossed the relay, no content in clear "
            "(a signed receipt shows its message id and status, as RCC.16 has it); "
            f"Alice and Carol agree on epoch {group.epoch}: {same}"
        )
        if not same:
            raise AssertionError("the group members disagree")
        return self.result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_demo(
    out: Callable[[str], None] = print,
    *,
    file_size: int = 10 * MIB,
    workdir: str | os.PathLike[str] | None = None,
    trace: str | os.PathLike[str] | None = None,
) -> DemoResult:
    """Run the demo (see the module docstring); returns what each device read.

    ``workdir`` holds the SQLite stores and files (a temporary directory, removed at the
    end, when None). ``trace``: a file to write every CPIM object the relay receives to,
    as a JSON-lines trace (``python -m rcs_mls audit`` reads it; see docs/audit.md).

    Raises:
        AssertionError: plaintext crossed the wire, or the members disagree.
    """
    writer = None if trace is None else TraceWriter.open(trace)
    try:
        if workdir is not None:
            return _Demo(out, Path(workdir), file_size, writer).run()
        with tempfile.TemporaryDirectory(prefix="rcs-mls-demo-") as tmp:
            return _Demo(out, Path(tmp), file_size, writer).run()
    finally:
        if writer is not None:
            writer.close()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``python -m rcs_mls`` command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m rcs_mls", description=__doc__)
    parser.add_argument(
        "--version",
        action="version",
        version=str(versions()),
        help="print the versions of rcs-mls, OpenMLS and aws-lc-rs, and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the RCS demo conversation")
    demo.add_argument(
        "--file-size", type=int, default=10, help="size of the file sent, in MiB (default 10)"
    )
    demo.add_argument(
        "--trace", metavar="FILE", help="write the relay's traffic as a JSON-lines trace"
    )
    audit = sub.add_parser(
        "audit", help="which conversations of a server trace are really end-to-end encrypted"
    )
    add_audit_arguments(audit)
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(file_size=args.file_size * MIB, trace=args.trace)
        return 0
    if args.command == "audit":
        return run_audit(args)
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
