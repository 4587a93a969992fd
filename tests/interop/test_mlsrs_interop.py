"""Live interoperability with mls-rs (AWS), the MLS stack of deployed RCS clients.

Each test drives members of one group from both implementations: ours (rcs_mls, on
OpenMLS) in process, and mls-rs in the peer binary of ``interop/mls-rs-peer`` (built once per
session). Every commit is followed by a check that all members agree on the epoch and the
epoch authenticator. A failure names the step and the side that failed.

The peer needs ``cargo``: without it the tests skip, except under CI (``CI=true``) where
they fail.
"""

from __future__ import annotations

import abc
import os
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import pytest

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    Group,
    GroupConfig,
    KeyPackage,
    ProposalMessage,
    ProposalType,
    SignatureKeyPair,
    StagedCommit,
)
from rcs_mls.interop.mlsrs import (
    MlsRsApplication,
    MlsRsClient,
    MlsRsCommit,
    MlsRsGroup,
    MlsRsPeer,
    MlsRsProposal,
)

Side = Literal["ours", "mls-rs"]
SIDES: tuple[Side, Side] = ("ours", "mls-rs")
SUITES = [
    pytest.param(Ciphersuite(1), id="suite1-x25519"),
    pytest.param(Ciphersuite(2), id="suite2-p256"),
]
EXPORTER_LABEL = "rcs-mls interop"


def other(side: Side) -> Side:
    return "mls-rs" if side == "ours" else "ours"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(params=SUITES)
def suite(request: pytest.FixtureRequest) -> Ciphersuite:
    value: Ciphersuite = request.param
    return value


# ---------------------------------------------------------------- one API over both sides


@dataclass
class Received:
    """A processed message, whichever implementation processed it."""

    kind: Literal["application", "proposal", "commit"]
    plaintext: bytes = b""
    authenticated_data: bytes = b""
    sender: int | None = None
    proposal_type: int | None = None
    proposal_ref: bytes | None = None
    removed_leaf_index: int | None = None
    added_identity: bytes | None = None
    sender_identity: bytes | None = None  # of an application message, where reported
    # commits: what they did (sorted), as each implementation reports it
    added: tuple[bytes, ...] = ()
    removed: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    removed_self: bool = False
    has_path: bool | None = None

    def effect(self) -> tuple[tuple[bytes, ...], tuple[int, ...], tuple[int, ...]]:
        return self.added, self.removed, self.updated


class Party(abc.ABC):
    """One client of either implementation, and its view of the group once it is in one."""

    side: Side

    def __init__(self, name: str) -> None:
        self.name = name
        self.leaf_index = -1

    @property
    def identity(self) -> bytes:
        return self.name.encode()

    def __repr__(self) -> str:
        return f"{self.name}({self.side}, leaf {self.leaf_index})"

    @contextmanager
    def _step(self, step: str) -> Iterator[None]:
        """Name the step and the side of any failure below."""
        try:
            yield
        except AssertionError:
            raise
        except Exception as e:
            if self.side == "mls-rs":  # MlsRsPeerError names the side and the step
                raise AssertionError(str(e)) from e
            raise AssertionError(
                f"our side (rcs_mls): {step} by {self.name} failed: {type(e).__name__}: {e}"
            ) from e

    # each operation names its step; commits stay pending until merge_own()
    @abc.abstractmethod
    def key_package(self, step: str) -> bytes: ...
    @abc.abstractmethod
    def create_group(self, step: str) -> None: ...
    @abc.abstractmethod
    def join(self, welcome: bytes, step: str, ratchet_tree: bytes | None = None) -> None: ...
    @abc.abstractmethod
    def external_join(
        self, group_info: bytes, step: str, ratchet_tree: bytes | None = None
    ) -> bytes: ...
    @abc.abstractmethod
    def encrypt(self, plaintext: bytes, authenticated_data: bytes, step: str) -> bytes: ...
    @abc.abstractmethod
    def receive(self, message: bytes, step: str) -> Received: ...
    @abc.abstractmethod
    def add(self, key_packages: list[bytes], step: str) -> tuple[bytes, bytes | None]: ...
    @abc.abstractmethod
    def remove(self, leaves: list[int], step: str) -> bytes: ...
    @abc.abstractmethod
    def update(self, step: str) -> bytes: ...
    @abc.abstractmethod
    def commit_pending(self, step: str) -> tuple[bytes, bytes | None]: ...
    @abc.abstractmethod
    def merge_own(self, step: str) -> None: ...
    @abc.abstractmethod
    def propose_add(self, key_package: bytes, step: str) -> bytes: ...
    @abc.abstractmethod
    def propose_remove(self, leaf: int, step: str) -> bytes: ...
    @abc.abstractmethod
    def propose_update(self, step: str) -> bytes: ...
    @abc.abstractmethod
    def group_info(self, step: str, with_ratchet_tree: bool = True) -> bytes: ...
    @abc.abstractmethod
    def ratchet_tree(self, step: str) -> bytes: ...
    @abc.abstractmethod
    def leave(self, step: str) -> bytes:
        """Propose one's own removal (a Remove proposal by reference)."""

    @abc.abstractmethod
    def epoch(self, step: str) -> int: ...
    @abc.abstractmethod
    def epoch_authenticator(self, step: str) -> bytes: ...
    @abc.abstractmethod
    def export_secret(self, label: str, context: bytes, length: int, step: str) -> bytes: ...
    @abc.abstractmethod
    def roster(self, step: str) -> dict[int, bytes]: ...
    @abc.abstractmethod
    def leave_group(self) -> None: ...


class Ours(Party):
    side: Side = "ours"

    def __init__(self, name: str, suite: Ciphersuite, config: GroupConfig | None = None) -> None:
        super().__init__(name)
        self.config = config or GroupConfig()
        self.client = Client(
            Credential.basic(self.identity), SignatureKeyPair.generate(suite), suite
        )
        self._group: Group | None = None

    @property
    def group(self) -> Group:
        assert self._group is not None, f"{self!r} is in no group"
        return self._group

    def _joined(self, group: Group) -> None:
        self._group = group
        self.leaf_index = group.own_leaf_index

    def key_package(self, step: str) -> bytes:
        with self._step(step):
            return self.client.generate_key_package().to_bytes()

    def create_group(self, step: str) -> None:
        with self._step(step):
            self._joined(self.client.create_group(self.config))

    def join(self, welcome: bytes, step: str, ratchet_tree: bytes | None = None) -> None:
        with self._step(step):
            self._joined(
                self.client.join_group(welcome, ratchet_tree=ratchet_tree, config=self.config)
            )

    def external_join(
        self, group_info: bytes, step: str, ratchet_tree: bytes | None = None
    ) -> bytes:
        with self._step(step):
            group, result = self.client.join_by_external_commit(
                group_info, ratchet_tree=ratchet_tree, config=self.config
            )
            if group.has_pending_commit:  # OpenMLS 0.9 applies it at once
                group.merge_pending_commit()
            self._joined(group)
            return result.commit

    def encrypt(self, plaintext: bytes, authenticated_data: bytes, step: str) -> bytes:
        with self._step(step):
            return self.group.encrypt(plaintext, authenticated_data=authenticated_data)

    def receive(self, message: bytes, step: str) -> Received:
        with self._step(step):
            r = self.group.process_message(message)
            if isinstance(r, ApplicationMessage):
                return Received(
                    "application",
                    r.plaintext,
                    r.authenticated_data,
                    r.sender_leaf_index,
                    sender_identity=r.sender_identity,
                )
            if isinstance(r, ProposalMessage):
                return Received(
                    "proposal",
                    authenticated_data=r.authenticated_data,
                    sender=r.sender_leaf_index,
                    proposal_type=r.proposal_type,
                    proposal_ref=r.proposal_ref,
                    removed_leaf_index=r.removed_leaf_index,
                    added_identity=r.added_identity,
                )
            assert isinstance(r, StagedCommit)
            self.group.merge_staged_commit(r)
            return Received(
                "commit",
                authenticated_data=r.authenticated_data,
                sender=r.sender_leaf_index,
                added=tuple(sorted(m.identity for m in r.added)),
                removed=tuple(sorted(r.removed)),
                # our `updated` also lists the committer when its path changed its leaf; keep
                # update proposals only (a committer never commits its own, RFC 9420 §12.2)
                updated=tuple(
                    sorted(u for u in r.updated if not (r.has_path and u == r.sender_leaf_index))
                ),
                removed_self=r.self_removed,
                has_path=r.has_path,
            )

    def add(self, key_packages: list[bytes], step: str) -> tuple[bytes, bytes | None]:
        with self._step(step):
            res = self.group.add_members([KeyPackage.from_bytes(k) for k in key_packages])
            return res.commit, res.welcome

    def remove(self, leaves: list[int], step: str) -> bytes:
        with self._step(step):
            return self.group.remove_members(leaves).commit

    def update(self, step: str) -> bytes:
        with self._step(step):
            return self.group.self_update().commit

    def commit_pending(self, step: str) -> tuple[bytes, bytes | None]:
        with self._step(step):
            res = self.group.commit_pending_proposals()
            return res.commit, res.welcome

    def merge_own(self, step: str) -> None:
        with self._step(step):
            self.group.merge_pending_commit()

    def propose_add(self, key_package: bytes, step: str) -> bytes:
        with self._step(step):
            return self.group.propose_add(KeyPackage.from_bytes(key_package))

    def propose_remove(self, leaf: int, step: str) -> bytes:
        with self._step(step):
            return self.group.propose_remove(leaf)

    def propose_update(self, step: str) -> bytes:
        with self._step(step):
            return self.group.propose_self_update()

    def group_info(self, step: str, with_ratchet_tree: bool = True) -> bytes:
        with self._step(step):
            return self.group.export_group_info(with_ratchet_tree=with_ratchet_tree)

    def ratchet_tree(self, step: str) -> bytes:
        with self._step(step):
            return self.group.export_ratchet_tree()

    def leave(self, step: str) -> bytes:
        with self._step(step):
            return self.group.leave()

    def epoch(self, step: str) -> int:
        with self._step(step):
            return self.group.epoch

    def epoch_authenticator(self, step: str) -> bytes:
        with self._step(step):
            return self.group.epoch_authenticator

    def export_secret(self, label: str, context: bytes, length: int, step: str) -> bytes:
        with self._step(step):
            return self.group.export_secret(label, context, length)

    def roster(self, step: str) -> dict[int, bytes]:
        with self._step(step):
            return {m.leaf_index: m.identity for m in self.group.members()}

    def leave_group(self) -> None:
        self._group = None
        self.leaf_index = -1


class Theirs(Party):
    side: Side = "mls-rs"

    def __init__(
        self,
        name: str,
        suite: Ciphersuite,
        peer: MlsRsPeer,
        *,
        encrypt_handshake: bool = True,
        ratchet_tree_extension: bool = True,
        padding: str = "none",
    ) -> None:
        super().__init__(name)
        self.peer = peer
        self.client: MlsRsClient = peer.create_client(
            self.identity,
            int(suite),
            encrypt_handshake=encrypt_handshake,
            ratchet_tree_extension=ratchet_tree_extension,
            padding=padding,
        )
        self._group: MlsRsGroup | None = None

    @property
    def group(self) -> MlsRsGroup:
        assert self._group is not None, f"{self!r} is in no group"
        return self._group

    def _joined(self, group: MlsRsGroup) -> None:
        self._group = group
        self.leaf_index = self.peer.state(group).own_leaf_index

    def key_package(self, step: str) -> bytes:
        with self._step(step):
            return self.peer.key_package(self.client, step=step)

    def create_group(self, step: str) -> None:
        with self._step(step):
            self._joined(self.peer.create_group(self.client, step=step))

    def join(self, welcome: bytes, step: str, ratchet_tree: bytes | None = None) -> None:
        with self._step(step):
            self._joined(self.peer.join(self.client, welcome, ratchet_tree, step=step))

    def external_join(
        self, group_info: bytes, step: str, ratchet_tree: bytes | None = None
    ) -> bytes:
        with self._step(step):
            group, commit = self.peer.external_join(
                self.client, group_info, ratchet_tree, step=step
            )
            self._joined(group)
            return commit

    def encrypt(self, plaintext: bytes, authenticated_data: bytes, step: str) -> bytes:
        with self._step(step):
            return self.peer.encrypt(self.group, plaintext, authenticated_data, step=step)

    def receive(self, message: bytes, step: str) -> Received:
        with self._step(step):
            r = self.peer.process(self.group, message, step=step)
            if isinstance(r, MlsRsApplication):
                return Received("application", r.plaintext, r.authenticated_data, r.sender)
            if isinstance(r, MlsRsProposal):
                return Received(
                    "proposal",
                    authenticated_data=r.authenticated_data,
                    sender=r.sender,
                    proposal_type=r.proposal_type,
                    proposal_ref=r.proposal_ref,
                    removed_leaf_index=r.removed_leaf_index,
                    added_identity=r.added_identity,
                )
            assert isinstance(r, MlsRsCommit)
            ps = r.proposals
            return Received(
                "commit",
                authenticated_data=r.authenticated_data,
                sender=None if r.is_external else r.committer,
                added=tuple(sorted(p.added_identity or b"" for p in ps if p.proposal_type == 1)),
                removed=tuple(
                    sorted(p.removed_leaf_index or 0 for p in ps if p.proposal_type == 3)
                ),
                updated=tuple(sorted(p.sender or 0 for p in ps if p.proposal_type == 2)),
                removed_self=r.removed_self,
            )

    def add(self, key_packages: list[bytes], step: str) -> tuple[bytes, bytes | None]:
        with self._step(step):
            out = self.peer.add(self.group, key_packages, step=step)
            return out.commit, out.welcome

    def remove(self, leaves: list[int], step: str) -> bytes:
        with self._step(step):
            return self.peer.remove(self.group, leaves, step=step).commit

    def update(self, step: str) -> bytes:
        with self._step(step):
            out = self.peer.update(self.group, step=step)
            assert out.has_path, f"mls-rs side: {step}: the update commit has no UpdatePath"
            return out.commit

    def commit_pending(self, step: str) -> tuple[bytes, bytes | None]:
        with self._step(step):
            out = self.peer.commit_pending(self.group, step=step)
            return out.commit, out.welcome

    def merge_own(self, step: str) -> None:
        with self._step(step):
            self.peer.apply_pending_commit(self.group, step=step)

    def propose_add(self, key_package: bytes, step: str) -> bytes:
        with self._step(step):
            return self.peer.propose_add(self.group, key_package, step=step)

    def propose_remove(self, leaf: int, step: str) -> bytes:
        with self._step(step):
            return self.peer.propose_remove(self.group, leaf, step=step)

    def propose_update(self, step: str) -> bytes:
        with self._step(step):
            return self.peer.propose_update(self.group, step=step)

    def group_info(self, step: str, with_ratchet_tree: bool = True) -> bytes:
        with self._step(step):
            return self.peer.group_info(self.group, with_ratchet_tree=with_ratchet_tree, step=step)

    def ratchet_tree(self, step: str) -> bytes:
        with self._step(step):
            return self.peer.ratchet_tree(self.group, step=step)

    def leave(self, step: str) -> bytes:
        with self._step(step):
            return self.peer.propose_remove(self.group, self.leaf_index, step=step)

    def epoch(self, step: str) -> int:
        with self._step(step):
            return self.peer.epoch(self.group, step=step)

    def epoch_authenticator(self, step: str) -> bytes:
        with self._step(step):
            return self.peer.epoch_authenticator(self.group, step=step)

    def export_secret(self, label: str, context: bytes, length: int, step: str) -> bytes:
        with self._step(step):
            return self.peer.export_secret(self.group, label, context, length, step=step)

    def roster(self, step: str) -> dict[int, bytes]:
        with self._step(step):
            return {m.leaf_index: m.identity for m in self.peer.roster(self.group, step=step)}

    def leave_group(self) -> None:
        if self._group is not None:
            self.peer.drop_group(self._group)
        self._group = None
        self.leaf_index = -1


@dataclass
class World:
    """Makes parties of either side for one suite and one peer."""

    suite: Ciphersuite
    peer: MlsRsPeer
    ours_config: GroupConfig = field(default_factory=GroupConfig)
    theirs_encrypt_handshake: bool = True
    theirs_ratchet_tree_extension: bool = True
    theirs_padding: str = "none"
    counter: int = 0

    def party(self, side: Side, name: str | None = None) -> Party:
        self.counter += 1
        name = name or f"{'ours' if side == 'ours' else 'rs'}-{self.counter}"
        if side == "ours":
            return Ours(name, self.suite, self.ours_config)
        return Theirs(
            name,
            self.suite,
            self.peer,
            encrypt_handshake=self.theirs_encrypt_handshake,
            ratchet_tree_extension=self.theirs_ratchet_tree_extension,
            padding=self.theirs_padding,
        )


# ---------------------------------------------------------------- helpers


def deliver(message: bytes, receivers: Sequence[Party], step: str) -> list[Received]:
    return [r.receive(message, f"{step}: process") for r in receivers]


Effect = tuple[tuple[bytes, ...], tuple[int, ...], tuple[int, ...]]


def effect(
    added: Sequence[Party] = (), removed: Sequence[Party] = (), updated: Sequence[Party] = ()
) -> Effect:
    """What a commit should report: (added identities, removed leaves, updated leaves)."""
    return (
        tuple(sorted(p.identity for p in added)),
        tuple(sorted(p.leaf_index for p in removed)),
        tuple(sorted(p.leaf_index for p in updated)),
    )


def expect_commit(
    results: Sequence[Received],
    receivers: Sequence[Party],
    step: str,
    expected: Effect | None = None,
) -> None:
    """Every receiver got a commit, and all report the same adds, removes and updates
    (``expected`` when given) and the same committer."""
    for party, r in zip(receivers, results, strict=True):
        assert r.kind == "commit", (
            f"{party.side} side: {step}: {party.name} got a {r.kind}, expected a commit"
        )
        if expected is not None:
            assert r.effect() == expected, (
                f"{party.side} side: {step}: {party!r} reports commit effect "
                f"(added, removed, updated) = {r.effect()}, expected {expected}"
            )
    for party, r in zip(receivers[1:], results[1:], strict=True):
        ref, ref_party = results[0], receivers[0]
        assert r.effect() == ref.effect(), (
            f"{step}: {party!r} reports commit effect {r.effect()}, {ref_party!r} {ref.effect()}"
        )
        if r.sender is not None and ref.sender is not None:
            assert r.sender == ref.sender, (
                f"{step}: {party!r} reports committer {r.sender}, {ref_party!r} {ref.sender}"
            )


def check_sync(parties: Sequence[Party], step: str) -> int:
    """All parties at the same epoch with the same epoch authenticator; returns the epoch."""
    first = parties[0]
    epoch = first.epoch(f"{step}: read epoch")
    auth = first.epoch_authenticator(f"{step}: read epoch authenticator")
    for p in parties[1:]:
        e = p.epoch(f"{step}: read epoch")
        assert e == epoch, f"{step}: epochs differ: {p!r} is at {e}, {first!r} at {epoch}"
        a = p.epoch_authenticator(f"{step}: read epoch authenticator")
        assert a == auth, (
            f"{step}: epoch authenticators differ at epoch {epoch}: "
            f"{p!r} has {a.hex()}, {first!r} has {auth.hex()}"
        )
    return epoch


def check_roster(parties: Sequence[Party], step: str) -> None:
    expected = {p.leaf_index: p.identity for p in parties}
    for p in parties:
        roster = p.roster(f"{step}: roster")
        assert roster == expected, f"{step}: {p!r} sees roster {roster}, expected {expected}"


def commit_and_distribute(
    committer: Party,
    members: Sequence[Party],
    output: tuple[bytes, bytes | None],
    step: str,
    joiners: Sequence[Party] = (),
    expected: Effect | None = None,
) -> list[Received]:
    """Merge `committer`'s new commit `output` (commit, welcome), deliver it to the other
    members, and welcome the joiners."""
    commit, welcome = output
    committer.merge_own(f"{step}: merge own commit")
    receivers = [m for m in members if m is not committer]
    results = deliver(commit, receivers, step)
    expect_commit(results, receivers, step, expected)
    if joiners:
        assert welcome is not None, f"{committer.side} side: {step}: the commit has no Welcome"
        for j in joiners:
            j.join(welcome, f"{step}: join from Welcome")
    return results


def make_group(world: World, creator: Party, others: Sequence[Party], step: str) -> list[Party]:
    """`creator` creates a group and adds `others` in one commit."""
    creator.create_group(f"{step}: create group")
    kps = [o.key_package(f"{step}: key package") for o in others]
    commit_and_distribute(
        creator, [creator], creator.add(kps, f"{step}: add"), step, joiners=others
    )
    members = [creator, *others]
    check_sync(members, step)
    check_roster(members, step)
    return members


PUBLIC_MESSAGE, PRIVATE_MESSAGE = 1, 2  # RFC 9420 WireFormat


def assert_wire_format(message: bytes, expected: int, sender: Party, step: str) -> None:
    """An MLSMessage starts with version (2 bytes) then wire_format (2 bytes)."""
    wire_format = int.from_bytes(message[2:4], "big")
    assert wire_format == expected, (
        f"{sender.side} side: {step}: {sender!r} sent wire format {wire_format}, "
        f"expected {expected}"
    )


def check_exporters(parties: Sequence[Party], step: str) -> None:
    for context, length in ((b"", 32), (b"ctx", 16), (bytes(range(40)), 64)):
        secrets = {p.name: p.export_secret(EXPORTER_LABEL, context, length, step) for p in parties}
        values = set(secrets.values())
        assert len(values) == 1, f"{step}: exporter secrets differ ({length} bytes): {secrets}"
        assert len(values.pop()) == length


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("creator_side", SIDES)
def test_join_by_welcome(suite: Ciphersuite, peer: MlsRsPeer, creator_side: Side) -> None:
    """One side creates the group and adds a member of the other, then one of each at once."""
    w = World(suite, peer)
    creator = w.party(creator_side)
    joiner = w.party(other(creator_side))
    members = make_group(w, creator, [joiner], "add the other side's member")
    check_exporters(members, "after the first add")
    # one Welcome processed by both implementations
    new = [w.party("ours"), w.party("mls-rs")]
    kps = [p.key_package("mixed add: key package") for p in new]
    commit_and_distribute(
        creator,
        members,
        creator.add(kps, "mixed add"),
        "mixed add",
        joiners=new,
        expected=effect(added=new),
    )
    members += new
    check_sync(members, "mixed add")
    check_roster(members, "mixed add")
    check_exporters(members, "mixed add")


@pytest.mark.parametrize("sender_side", SIDES)
def test_application_messages(suite: Ciphersuite, peer: MlsRsPeer, sender_side: Side) -> None:
    w = World(suite, peer)
    sender = w.party(sender_side)
    receivers = [w.party(other(sender_side)), w.party(sender_side)]
    make_group(w, sender, receivers, "setup")
    cases = [
        (b"hello", b"ad"),
        (b"", b""),
        (b"no authenticated data", b""),
        (bytes(range(256)) * 40, b"\x00" * 100),
    ]
    for i, (plaintext, ad) in enumerate(cases):
        step = f"message {i} from {sender.name}"
        wire = sender.encrypt(plaintext, ad, step + ": encrypt")
        for r, got in zip(receivers, deliver(wire, receivers, step), strict=True):
            assert got.kind == "application", f"{r.side} side: {step}: got a {got.kind}"
            assert got.plaintext == plaintext, f"{r.side} side: {step}: wrong plaintext"
            assert got.authenticated_data == ad, f"{r.side} side: {step}: wrong authenticated data"
            assert got.sender == sender.leaf_index, f"{r.side} side: {step}: wrong sender leaf"
            assert got.sender_identity in (None, sender.identity), (
                f"{r.side} side: {step}: wrong sender identity {got.sender_identity!r}"
            )
    # out of order within the tolerance
    wires = [sender.encrypt(f"m{i}".encode(), b"", f"burst {i}: encrypt") for i in range(4)]
    for i in reversed(range(4)):
        for r, got in zip(receivers, deliver(wires[i], receivers, f"burst {i}"), strict=True):
            assert got.plaintext == f"m{i}".encode(), f"{r.side} side: burst {i} out of order"


@pytest.mark.parametrize("committer_side", SIDES)
def test_add(suite: Ciphersuite, peer: MlsRsPeer, committer_side: Side) -> None:
    w = World(suite, peer)
    a = w.party(other(committer_side))
    committer = w.party(committer_side)
    members = make_group(w, a, [committer], "setup")
    for round_, side in enumerate((other(committer_side), committer_side)):
        step = f"add round {round_}: {committer_side} adds a {side} member"
        joiner = w.party(side)
        kp = joiner.key_package(step + ": key package")
        commit_and_distribute(
            committer,
            members,
            committer.add([kp], step),
            step,
            joiners=[joiner],
            expected=effect(added=[joiner]),
        )
        members.append(joiner)
        check_sync(members, step)
        check_roster(members, step)
    # the newest member can talk to everyone
    newest = members[-1]
    wire = newest.encrypt(b"hi all", b"ad", "newest member: encrypt")
    for r, got in zip(members[:-1], deliver(wire, members[:-1], "newest member"), strict=True):
        assert got.plaintext == b"hi all", f"{r.side} side: the newest member's message"


@pytest.mark.parametrize("committer_side", SIDES)
def test_remove(suite: Ciphersuite, peer: MlsRsPeer, committer_side: Side) -> None:
    w = World(suite, peer)
    committer = w.party(committer_side)
    victim_other = w.party(other(committer_side))
    victim_same = w.party(committer_side)
    staying = w.party(other(committer_side))
    members = make_group(w, committer, [victim_other, victim_same, staying], "setup")
    for victim in (victim_other, victim_same):
        step = f"{committer.name} ({committer_side}) removes {victim!r}"
        commit = committer.remove([victim.leaf_index], step)
        expected = effect(removed=[victim])
        committer.merge_own(step + ": merge own commit")
        # the removed member learns it was removed
        got = victim.receive(commit, step + ": removed member processes")
        assert got.kind == "commit" and got.removed_self, (
            f"{victim.side} side: {step}: the removed member does not see its removal"
        )
        victim.leave_group()
        members.remove(victim)
        receivers = [m for m in members if m is not committer]
        expect_commit(deliver(commit, receivers, step), receivers, step, expected)
        check_sync(members, step)
        check_roster(members, step)
    check_exporters(members, "after removals")


@pytest.mark.parametrize("committer_side", SIDES)
def test_self_update(suite: Ciphersuite, peer: MlsRsPeer, committer_side: Side) -> None:
    w = World(suite, peer)
    creator = w.party(other(committer_side))
    committer = w.party(committer_side)
    third = w.party(other(committer_side))
    members = make_group(w, creator, [committer, third], "setup")
    before = committer.epoch_authenticator("before update")
    for i in range(3):
        step = f"self-update {i} by {committer!r}"
        results = commit_and_distribute(
            committer, members, (committer.update(step), None), step, expected=effect()
        )
        for party, r in zip([m for m in members if m is not committer], results, strict=True):
            if r.has_path is not None:
                assert r.has_path, f"{party.side} side: {step}: no UpdatePath seen"
        check_sync(members, step)
    assert committer.epoch_authenticator("after update") != before
    wire = committer.encrypt(b"after update", b"", "message after update")
    for got in deliver(wire, [creator, third], "message after update"):
        assert got.plaintext == b"after update"
    check_exporters(members, "after updates")


@pytest.mark.parametrize("kind", ["add", "remove", "update", "leave"])
@pytest.mark.parametrize("proposer_side", SIDES)
def test_proposal_by_reference(
    suite: Ciphersuite, peer: MlsRsPeer, proposer_side: Side, kind: str
) -> None:
    """A proposal from one side, committed by reference by the other side."""
    w = World(suite, peer)
    proposer = w.party(proposer_side)
    committer = w.party(other(proposer_side))
    watcher_same = w.party(proposer_side)
    watcher_other = w.party(other(proposer_side))
    members = make_group(w, proposer, [committer, watcher_same, watcher_other], "setup")
    step = f"{kind} proposal by {proposer!r}"
    joiners: list[Party] = []
    removed: Party | None = None
    if kind == "add":
        joiner = w.party(other(proposer_side))
        joiners.append(joiner)
        proposal = proposer.propose_add(joiner.key_package(step + ": key package"), step)
        expected_type, expected = ProposalType.ADD, effect(added=[joiner])
    elif kind == "remove":
        removed = watcher_other
        proposal = proposer.propose_remove(removed.leaf_index, step)
        expected_type, expected = ProposalType.REMOVE, effect(removed=[removed])
    elif kind == "leave":  # the proposer asks to be removed
        removed = proposer
        proposal = proposer.leave(step)
        expected_type, expected = ProposalType.REMOVE, effect(removed=[removed])
    else:
        proposal = proposer.propose_update(step)
        expected_type, expected = ProposalType.UPDATE, effect(updated=[proposer])
    receivers = [m for m in members if m is not proposer]
    refs = {}
    for party, got in zip(receivers, deliver(proposal, receivers, step), strict=True):
        assert got.kind == "proposal", f"{party.side} side: {step}: got a {got.kind}"
        assert got.proposal_type == expected_type, f"{party.side} side: {step}: wrong type"
        assert got.sender == proposer.leaf_index, f"{party.side} side: {step}: wrong sender"
        if removed is not None:
            assert got.removed_leaf_index == removed.leaf_index, (
                f"{party.side} side: {step}: wrong removed leaf {got.removed_leaf_index}"
            )
        if joiners:
            assert got.added_identity == joiners[0].identity, (
                f"{party.side} side: {step}: wrong added identity {got.added_identity!r}"
            )
        refs[party.name] = got.proposal_ref
    assert len(set(refs.values())) == 1, f"{step}: proposal references differ: {refs}"

    cstep = f"{committer!r} commits the {kind} proposal of {proposer!r}"
    commit, welcome = committer.commit_pending(cstep)
    committer.merge_own(cstep + ": merge own commit")
    if removed is not None:
        got = removed.receive(commit, cstep + ": removed member processes")
        assert got.removed_self, f"{removed.side} side: {cstep}: removal not seen"
        removed.leave_group()
        members.remove(removed)
    rest = [m for m in members if m is not committer]
    expect_commit(deliver(commit, rest, cstep), rest, cstep, expected)
    for j in joiners:
        assert welcome is not None, f"{committer.side} side: {cstep}: no Welcome"
        j.join(welcome, cstep + ": join")
        members.append(j)
    check_sync(members, cstep)
    check_roster(members, cstep)
    check_exporters(members, cstep)


@pytest.mark.parametrize("joiner_side", SIDES)
def test_external_join(suite: Ciphersuite, peer: MlsRsPeer, joiner_side: Side) -> None:
    """A member joins the other implementation's group from its GroupInfo."""
    w = World(suite, peer)
    owner = w.party(other(joiner_side))
    second = w.party(joiner_side)
    members = make_group(w, owner, [second], "setup")
    for source in (owner, second):
        joiner = w.party(joiner_side)
        step = f"{joiner!r} joins by external commit from {source!r}'s GroupInfo"
        info = source.group_info(step + ": export GroupInfo")
        commit = joiner.external_join(info, step)
        expect_commit(deliver(commit, members, step), members, step)
        members.append(joiner)
        check_sync(members, step)
        check_roster(members, step)
        wire = joiner.encrypt(b"joined", b"x", step + ": first message")
        for got in deliver(wire, members[:-1], step + ": first message"):
            assert got.plaintext == b"joined"
    check_exporters(members, "after external joins")


@pytest.mark.parametrize(
    ("ours_public", "theirs_encrypt"),
    [(False, True), (True, False), (True, True), (False, False)],
    ids=["both-private", "both-public", "ours-public", "theirs-public"],
)
def test_handshake_wire_formats(
    suite: Ciphersuite, peer: MlsRsPeer, ours_public: bool, theirs_encrypt: bool
) -> None:
    """Proposals and commits as PublicMessage or PrivateMessage, in both directions."""
    w = World(
        suite,
        peer,
        ours_config=GroupConfig(public_handshake=ours_public),
        theirs_encrypt_handshake=theirs_encrypt,
    )
    expected = {
        "ours": PUBLIC_MESSAGE if ours_public else PRIVATE_MESSAGE,
        "mls-rs": PRIVATE_MESSAGE if theirs_encrypt else PUBLIC_MESSAGE,
    }
    a, b, c, d = w.party("ours"), w.party("mls-rs"), w.party("ours"), w.party("mls-rs")
    members = make_group(w, a, [b, c, d], "setup")
    for proposer, committer in ((a, b), (b, a), (d, c), (c, d)):
        step = f"update proposal by {proposer!r}, committed by {committer!r}"
        prop = proposer.propose_update(step)
        assert_wire_format(prop, expected[proposer.side], proposer, step)
        deliver(prop, [m for m in members if m is not proposer], step)
        output = committer.commit_pending(step)
        assert_wire_format(output[0], expected[committer.side], committer, step)
        commit_and_distribute(committer, members, output, step)
        check_sync(members, step)
    for committer in members:
        step = f"self-update by {committer!r}"
        commit = committer.update(step)
        assert_wire_format(commit, expected[committer.side], committer, step)
        commit_and_distribute(committer, members, (commit, None), step)
        check_sync(members, step)
    for sender in members:
        step = f"application message by {sender!r}"
        wire = sender.encrypt(b"private anyway", b"", step)
        assert_wire_format(wire, PRIVATE_MESSAGE, sender, step)
        for got in deliver(wire, [m for m in members if m is not sender], step):
            assert got.plaintext == b"private anyway"


@pytest.mark.parametrize("creator_side", SIDES)
def test_out_of_band_ratchet_tree(suite: Ciphersuite, peer: MlsRsPeer, creator_side: Side) -> None:
    """Without the ratchet_tree extension: Welcome and GroupInfo, tree passed out of band."""
    w = World(
        suite,
        peer,
        ours_config=GroupConfig(use_ratchet_tree_extension=False),
        theirs_ratchet_tree_extension=False,
    )
    creator = w.party(creator_side)
    joiner = w.party(other(creator_side))
    step = f"{creator!r} adds {joiner!r}, tree out of band"
    creator.create_group(step + ": create group")
    kp = joiner.key_package(step + ": key package")
    commit, welcome = creator.add([kp], step)
    creator.merge_own(step + ": merge own commit")
    assert welcome is not None, f"{creator.side} side: {step}: no Welcome"
    tree = creator.ratchet_tree(step + ": export ratchet tree")
    joiner.join(welcome, step + ": join", ratchet_tree=tree)
    members = [creator, joiner]
    check_sync(members, step)
    check_roster(members, step)
    for source in (creator, joiner):
        late = w.party(other(source.side))
        xstep = f"{late!r} joins from {source!r}'s GroupInfo without tree"
        info = source.group_info(xstep + ": GroupInfo", with_ratchet_tree=False)
        tree = source.ratchet_tree(xstep + ": export ratchet tree")
        commit = late.external_join(info, xstep, ratchet_tree=tree)
        expect_commit(deliver(commit, members, xstep), members, xstep)
        members.append(late)
        check_sync(members, xstep)
        check_roster(members, xstep)


@pytest.mark.parametrize("padding", ["padme", "step"])
def test_padded_messages(suite: Ciphersuite, peer: MlsRsPeer, padding: str) -> None:
    """PrivateMessages padded by mls-rs (padme, step function) and by us (padding_size)."""
    w = World(suite, peer, ours_config=GroupConfig(padding_size=64), theirs_padding=padding)
    ours, theirs = w.party("ours"), w.party("mls-rs")
    members = make_group(w, theirs, [ours], "setup")
    for size in (0, 1, 63, 64, 65, 1000):
        plaintext = bytes([size % 251]) * size
        for sender, receiver in ((theirs, ours), (ours, theirs)):
            step = f"{size}-byte message from {sender!r}"
            got = receiver.receive(sender.encrypt(plaintext, b"ad", step + ": encrypt"), step)
            assert got.plaintext == plaintext, f"{receiver.side} side: {step}: wrong plaintext"
    for committer in members:  # padded handshake messages too
        step = f"padded self-update by {committer!r}"
        commit_and_distribute(committer, members, (committer.update(step), None), step)
        check_sync(members, step)


@pytest.mark.parametrize("sender_side", SIDES)
def test_late_application_message(suite: Ciphersuite, peer: MlsRsPeer, sender_side: Side) -> None:
    """A message of the previous epoch, delivered after the next commit (past epochs kept)."""
    w = World(suite, peer, ours_config=GroupConfig(max_past_epochs=3))
    sender = w.party(sender_side)
    receiver = w.party(other(sender_side))
    committer = w.party(sender_side)
    members = make_group(w, sender, [receiver, committer], "setup")
    step = f"late message from {sender!r}"
    wire = sender.encrypt(b"sent at the old epoch", b"late", step + ": encrypt")
    commit_and_distribute(committer, members, (committer.update(step), None), step + ": update")
    check_sync(members, step)
    got = receiver.receive(wire, step + ": process after the commit")
    assert got.plaintext == b"sent at the old epoch", f"{receiver.side} side: {step}"
    assert got.authenticated_data == b"late"


# ---------------------------------------------------------------- mixed group, random operations


RANDOM_EPOCHS = 50
RANDOM_GROUP_SIZE = 20


def test_random_mixed_group(suite: Ciphersuite, peer: MlsRsPeer) -> None:
    """20 members (10 of each side), 50 epochs of seeded random operations."""
    seed = int(os.environ.get("RCS_MLS_INTEROP_SEED", "9420"))
    rng = random.Random(seed * 10 + int(suite))
    w = World(suite, peer)
    parties = [w.party(SIDES[i % 2]) for i in range(RANDOM_GROUP_SIZE)]
    rng.shuffle(parties)
    members = make_group(w, parties[0], parties[1:], f"seed {seed}: setup")
    log: list[str] = []
    min_size, max_size = RANDOM_GROUP_SIZE - 4, RANDOM_GROUP_SIZE + 4

    def commit_by(
        committer: Party,
        step: str,
        output: tuple[bytes, bytes | None],
        joiners: Sequence[Party] = (),
        removed: Sequence[Party] = (),
        updated: Sequence[Party] = (),
    ) -> None:
        commit, welcome = output
        expected = effect(added=joiners, removed=removed, updated=updated)
        committer.merge_own(f"{step}: merge own commit")
        for r in removed:
            got = r.receive(commit, f"{step}: removed member processes")
            assert got.removed_self, f"{r.side} side: {step}: {r!r} does not see its removal"
            r.leave_group()
            members.remove(r)
        rest = [m for m in members if m is not committer]
        expect_commit(deliver(commit, rest, step), rest, step, expected)
        for j in joiners:
            assert welcome is not None, f"{committer.side} side: {step}: no Welcome"
            j.join(welcome, f"{step}: join")
            members.append(j)

    all_ops = ["update", "proposal", "message", "external", "add", "remove"]
    forced_ops = rng.sample(all_ops, len(all_ops))  # every kind at least once, early
    forced_kinds = rng.sample(["add", "remove", "update"], 3)  # same for proposals
    counts: Counter[str] = Counter()
    epochs = 0
    while epochs < RANDOM_EPOCHS:
        ops = ["update", "proposal", "message"]
        if len(members) < max_size:
            ops += ["add", "external"]
        if len(members) > min_size:
            ops.append("remove")
        op = forced_ops.pop() if forced_ops else rng.choice(ops)
        counts[op] += 1
        actor = rng.choice(members)
        step = f"seed {seed}, epoch step {epochs + 1}: {op} by {actor!r}"
        log.append(step)
        try:
            if op == "message":
                ad = rng.randbytes(rng.randrange(0, 8))
                pt = rng.randbytes(rng.randrange(1, 200))
                wire = actor.encrypt(pt, ad, step + ": encrypt")
                rest = [m for m in members if m is not actor]
                for r, got in zip(rest, deliver(wire, rest, step), strict=True):
                    assert (got.plaintext, got.authenticated_data, got.sender) == (
                        pt,
                        ad,
                        actor.leaf_index,
                    ), f"{r.side} side: {step}: {r!r} decrypted something else"
                continue
            if op == "add":
                joiners = [w.party(rng.choice(SIDES)) for _ in range(rng.randint(1, 2))]
                kps = [j.key_package(step + ": key package") for j in joiners]
                step += f" (adds {joiners})"
                commit_by(actor, step, actor.add(kps, step), joiners=joiners)
            elif op == "remove":
                victim = rng.choice([m for m in members if m is not actor])
                step += f" (removes {victim!r})"
                commit_by(
                    actor, step, (actor.remove([victim.leaf_index], step), None), removed=[victim]
                )
            elif op == "update":
                commit_by(actor, step, (actor.update(step), None))
            elif op == "external":
                joiner = w.party(rng.choice(SIDES))
                step += f" ({joiner!r} joins from {actor!r}'s GroupInfo)"
                commit = joiner.external_join(actor.group_info(step + ": GroupInfo"), step)
                expect_commit(deliver(commit, members, step), members, step)
                members.append(joiner)
            else:  # one or two proposals by others, committed by the actor
                proposers = rng.sample([m for m in members if m is not actor], rng.randint(1, 2))
                joiners, removed, updaters = [], list[Party](), list[Party]()
                for p in proposers:
                    kinds = ["update"]
                    if len(members) + len(joiners) < max_size:
                        kinds.append("add")
                    candidates = [
                        m
                        for m in members
                        if m is not actor and m not in proposers and m not in removed
                    ]
                    if len(members) - len(removed) > min_size and candidates:
                        kinds.append("remove")
                    kind = rng.choice(kinds)
                    if forced_kinds and forced_kinds[-1] in kinds:
                        kind = forced_kinds.pop()
                    counts[f"{kind} proposal"] += 1
                    pstep = f"{step}: {kind} proposal by {p!r}"
                    if kind == "add":
                        j = w.party(rng.choice(SIDES))
                        joiners.append(j)
                        prop = p.propose_add(j.key_package(pstep + ": key package"), pstep)
                    elif kind == "remove":
                        v = rng.choice(candidates)
                        removed.append(v)
                        pstep += f" of {v!r}"
                        prop = p.propose_remove(v.leaf_index, pstep)
                    else:
                        updaters.append(p)
                        prop = p.propose_update(pstep)
                    log.append(pstep)
                    rest = [m for m in members if m is not p]
                    for r, got in zip(rest, deliver(prop, rest, pstep), strict=True):
                        assert got.kind == "proposal", f"{r.side} side: {pstep}: got {got.kind}"
                commit_by(
                    actor,
                    step + ": commit proposals",
                    actor.commit_pending(step),
                    joiners=joiners,
                    removed=removed,
                    updated=updaters,
                )
            epochs += 1
            check_sync(members, step)
        except AssertionError as e:
            recent = "\n  ".join(log[-8:])
            raise AssertionError(
                f"{e}\nrecent operations (RCS_MLS_INTEROP_SEED={seed}):\n  {recent}"
            ) from e
    check_roster(members, f"seed {seed}: final roster")
    check_exporters(members, f"seed {seed}: final exporters")
    sides = Counter(m.side for m in members)
    print(
        f"\nseed {seed}, suite {int(suite)}: {epochs} epochs, {dict(counts)}, final {dict(sides)}"
    )
    assert not forced_ops and not forced_kinds, f"operations not exercised: {counts}"
    assert set(sides) == {"ours", "mls-rs"}, f"the group lost one implementation: {members}"
