"""Drive an mls-rs (AWS) peer for live interoperability tests.

The peer is the small Rust binary in ``interop/mls-rs-peer`` (built with :func:`build_peer`,
not shipped in the wheel). :class:`MlsRsPeer` starts it and talks JSON lines to it: one
request, one response. Every method mirrors one op of the peer; every failure on the
mls-rs side raises :class:`MlsRsPeerError` naming the step, e.g.
``mls-rs side: process commit (group 7 at epoch 3) failed: ...``.

Protocol (all binary values are lower-case hex; handles are integers)::

    -> {"op": "create_client", "identity": hex, "suite": 1, "encrypt_handshake": true}
    <- {"result": {"client": 1}}            or  {"error": "create_client: ..."}

Commits the peer creates (:meth:`MlsRsPeer.add`, ``remove``, ``update``,
``commit_pending``) stay pending until :meth:`MlsRsPeer.apply_pending_commit` (or
``apply=True``), like our ``merge_pending_commit``; commits the peer *receives* through
:meth:`MlsRsPeer.process` are applied at once (mls-rs semantics). Handshake messages are
PrivateMessage unless the client was created with ``encrypt_handshake=False``; incoming
messages of both wire formats are accepted. Welcomes carry the ratchet tree unless the
client was created with ``ratchet_tree_extension=False``; GroupInfos carry it unless asked
not to.

Forgeries, for adversary tests. The peer builds, correctly signed, what this package's own
API refuses to build:

* ``create_client(..., x509_chain=[leaf_der, ...])``: an X.509 credential holding these
  certificates whatever the client's signature key is (a fresh key unless
  ``signature_secret_key`` is given), so a key package, an external commit or an UpdatePath
  of that client names someone else's certificate;
* ``update(group, new_x509_chain=...)`` / ``propose_update(group, new_x509_chain=...)``: the
  member's new leaf carries another certificate (and, with ``new_signature_secret_key``,
  another key);
* ``external_join(..., remove_leaf=i)``: an external commit that also removes leaf ``i``.

Such clients use a deliberately permissive identity provider in the peer: every credential
is valid, every identity change and every external-commit successor too. ``extension_types``
and ``proposal_types`` advertise extra types in the leaf capabilities (e.g. RCC.16's), so the
peer can join groups made with :meth:`rcs_mls.rcs.conversation.Conversation.group_config`.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Self

__all__ = [
    "PEER_CRATE_DIR",
    "find_peer_crate",
    "InteropError",
    "MlsRsApplication",
    "MlsRsBuildError",
    "MlsRsClient",
    "MlsRsCommit",
    "MlsRsCommitOutput",
    "MlsRsGroup",
    "MlsRsGroupState",
    "MlsRsMember",
    "MlsRsPeer",
    "MlsRsPeerError",
    "MlsRsProposal",
    "MlsRsProposalSummary",
    "MlsRsReceived",
    "MlsRsVerifiedProposal",
    "build_peer",
]

#: Where the peer's Cargo crate lives in a source checkout (``<repo>/interop/mls-rs-peer``),
#: relative to this file for an editable install.
PEER_CRATE_DIR: Final = Path(__file__).resolve().parents[3] / "interop" / "mls-rs-peer"


def find_peer_crate() -> Path:
    """The peer crate: ``$RCS_MLS_MLSRS_PEER_CRATE``, else next to an editable install,
    else ``interop/mls-rs-peer`` in the current directory or one of its parents (the
    package may be installed as a wheel while the tests run from a checkout)."""
    env = os.environ.get("RCS_MLS_MLSRS_PEER_CRATE")
    if env:
        return Path(env)
    candidates = [PEER_CRATE_DIR]
    cwd = Path.cwd().resolve()
    candidates += [d / "interop" / "mls-rs-peer" for d in (cwd, *cwd.parents)]
    for c in candidates:
        if (c / "Cargo.toml").is_file():
            return c
    return PEER_CRATE_DIR


_BINARY_NAME: Final = "mls-rs-peer" + (".exe" if sys.platform == "win32" else "")
_DEFAULT_TIMEOUT: Final = 60.0

_Json = dict[str, Any]


class InteropError(Exception):
    """Base class of the errors raised by the interop drivers."""


class MlsRsBuildError(InteropError):
    """The mls-rs peer could not be built (no cargo, no crate, or a failed build)."""


class MlsRsPeerError(InteropError):
    """The mls-rs peer reported an error, died, or answered something unexpected."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"mls-rs side: {step} failed: {detail}")
        self.step = step
        self.detail = detail


# ------------------------------------------------------------------------------ build


@functools.cache
def build_peer(crate_dir: Path | None = None, *, release: bool = True) -> Path:
    """Build the peer once per process with ``cargo build`` and return the binary's path.

    ``RCS_MLS_MLSRS_PEER`` may name an already-built binary to use instead. The crate's
    own ``target/`` directory is used whatever ``CARGO_TARGET_DIR`` says, and
    ``--locked`` is passed when the crate has a ``Cargo.lock``. Set
    ``CARGO_BUILD_JOBS`` to bound the build's parallelism.
    """
    prebuilt = os.environ.get("RCS_MLS_MLSRS_PEER")
    if prebuilt:
        path = Path(prebuilt)
        if not path.is_file():
            raise MlsRsBuildError(f"RCS_MLS_MLSRS_PEER={prebuilt!r} is not a file")
        return path
    crate = (crate_dir or find_peer_crate()).resolve()
    if not (crate / "Cargo.toml").is_file():
        raise MlsRsBuildError(
            f"mls-rs peer crate not found at {crate} (needs a source checkout of rcs-mls)"
        )
    target_dir = crate / "target"
    cmd = [
        os.environ.get("CARGO", "cargo"),
        "build",
        "--quiet",
        "--manifest-path",
        str(crate / "Cargo.toml"),
        "--target-dir",
        str(target_dir),
    ]
    if release:
        cmd.append("--release")
    if (crate / "Cargo.lock").is_file():
        cmd.append("--locked")
    try:
        proc = subprocess.run(cmd, cwd=crate, capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise MlsRsBuildError(f"cannot build the mls-rs peer: {cmd[0]!r} not found ({e})") from e
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-40:])
        raise MlsRsBuildError(
            f"building the mls-rs peer failed ({' '.join(cmd)} exited {proc.returncode}):\n{tail}"
        )
    binary = target_dir / ("release" if release else "debug") / _BINARY_NAME
    if not binary.is_file():
        raise MlsRsBuildError(f"cargo succeeded but {binary} does not exist")
    return binary


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class MlsRsClient:
    """A client (identity, signature key, ciphersuite) living in the peer.

    ``identity`` is the basic credential's identity, or only a label (used in error
    messages) for a client with ``certificates`` (an X.509 credential, leaf first).
    ``signature_key`` is the client's signature public key (for suite 2, the 65-byte
    uncompressed P-256 point)."""

    handle: int
    identity: bytes
    suite: int
    signature_key: bytes = b""
    certificates: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class MlsRsGroup:
    """One client's view of a group, living in the peer."""

    handle: int
    client: MlsRsClient
    group_id: bytes


@dataclass(frozen=True, slots=True)
class MlsRsGroupState:
    epoch: int
    group_id: bytes
    own_leaf_index: int
    cipher_suite: int
    has_pending_commit: bool
    commit_required: bool


@dataclass(frozen=True, slots=True)
class MlsRsMember:
    """A member as the peer sees it: ``identity`` is the basic identity or, for an X.509
    credential (``credential_type`` 2), the leaf certificate (DER)."""

    leaf_index: int
    identity: bytes
    credential_type: int = 1
    certificates: tuple[bytes, ...] = ()
    signature_key: bytes = b""


@dataclass(frozen=True, slots=True)
class MlsRsCommitOutput:
    """What a commit the peer made produced; ``epoch`` is the group's epoch afterwards
    (unchanged unless the commit was applied)."""

    commit: bytes
    welcome: bytes | None
    has_path: bool
    epoch: int


@dataclass(frozen=True, slots=True)
class MlsRsApplication:
    """A decrypted application message; ``generation`` is the sender generation in its
    decrypted sender data (the key generation mls-rs decrypted it with)."""

    plaintext: bytes
    authenticated_data: bytes
    sender: int
    epoch: int
    generation: int | None = None


@dataclass(frozen=True, slots=True)
class MlsRsProposalSummary:
    """A proposal a commit applied. ``sender`` is a member's leaf, ``external_sender`` an
    index in the group's external_senders; ``source`` is ``value``, ``reference`` or
    ``local`` (injected by the peer's rules, e.g. the Remove of a ServerRemove); ``data``
    is a custom proposal's payload."""

    proposal_type: int
    sender: int | None
    removed_leaf_index: int | None
    added_identity: bytes | None
    external_sender: int | None = None
    source: str | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class MlsRsProposal:
    proposal_type: int
    sender: int | None
    proposal_ref: bytes
    authenticated_data: bytes
    removed_leaf_index: int | None
    added_identity: bytes | None
    external_sender: int | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class MlsRsVerifiedProposal:
    """A custom proposal mls-rs's ``validate_custom_proposal`` verified (membership tag and
    signature, in the current or a kept past epoch)."""

    authenticated_data: bytes
    sender: int | None
    epoch: int


@dataclass(frozen=True, slots=True)
class MlsRsCommit:
    """A commit the peer processed and applied."""

    epoch: int
    committer: int
    is_external: bool
    removed_self: bool
    proposals: tuple[MlsRsProposalSummary, ...]
    authenticated_data: bytes


MlsRsReceived = MlsRsApplication | MlsRsProposal | MlsRsCommit


def _hex(data: bytes | bytearray | memoryview) -> str:
    return bytes(data).hex()


def _unhex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MlsRsPeerError(what, f"the peer answered a non-string: {value!r}")
    return bytes.fromhex(value)


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MlsRsPeerError(what, f"the peer answered a non-integer: {value!r}")
    return value


def _opt_int(value: Any, what: str) -> int | None:
    return None if value is None else _int(value, what)


def _opt_unhex(value: Any, what: str) -> bytes | None:
    return None if value is None else _unhex(value, what)


def _opt_hex_list(values: Sequence[bytes] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"{what} must be a sequence of DER certificates, not a single value")
    out = [_hex(v) for v in values]
    if not out:
        raise ValueError(f"{what} must hold at least the leaf certificate")
    return out


def _opt_u16_list(values: Iterable[int] | None, what: str) -> list[int] | None:
    if values is None:
        return None
    out = [int(v) for v in values]
    for v in out:
        if not 0 <= v <= 0xFFFF:
            raise ValueError(f"{what}: {v} is not a 16-bit type")
    return out


def _proposal_summary(p: _Json, what: str) -> MlsRsProposalSummary:
    return MlsRsProposalSummary(
        proposal_type=_int(p["proposal_type"], what),
        sender=_opt_int(p.get("sender"), what),
        removed_leaf_index=_opt_int(p.get("removed_leaf_index"), what),
        added_identity=_opt_unhex(p.get("added_identity"), what),
        external_sender=_opt_int(p.get("external_sender"), what),
        source=None if p.get("source") is None else str(p["source"]),
        data=_opt_unhex(p.get("data"), what),
    )


def _new_identity_fields(
    new_x509_chain: Sequence[bytes] | None, new_signature_secret_key: bytes | None
) -> _Json:
    return {
        "new_x509_chain": _opt_hex_list(new_x509_chain, "new_x509_chain"),
        "new_signature_secret_key": (
            None if new_signature_secret_key is None else _hex(new_signature_secret_key)
        ),
    }


# ------------------------------------------------------------------------------ the peer


class MlsRsPeer:
    """A running mls-rs peer process. Use as a context manager, or call :meth:`close`."""

    def __init__(self, binary: Path | None = None, *, timeout: float = _DEFAULT_TIMEOUT) -> None:
        self.binary = binary if binary is not None else build_peer()
        self.timeout = timeout
        self._dead: str | None = None  # why the peer cannot be used any more
        self._closed = False
        # Lives as long as the peer process; closed in close().
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [str(self.binary)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    # -- lifecycle

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask the peer to exit, then make sure it has."""
        proc = self._proc
        if self._closed:
            return
        self._closed = True
        try:
            if proc.poll() is None and self._dead is None and proc.stdin is not None:
                proc.stdin.write(b'{"op": "shutdown"}\n')
                proc.stdin.flush()
        except OSError:
            pass
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        self._stderr.close()
        self._dead = self._dead or "the peer was closed"

    def _read_stdout(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        for line in stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
        return f"; peer stderr: {text[-2000:]}" if text else ""

    # -- transport

    def request(self, op: str, step: str | None = None, /, **fields: Any) -> _Json:
        """Send one request and return its ``result`` object; raise on ``error``."""
        what = step or op
        if self._dead is not None:
            raise MlsRsPeerError(what, f"the peer is not running ({self._dead})")
        payload = json.dumps({"op": op, **fields}, separators=(",", ":")).encode() + b"\n"
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(payload)
            stdin.flush()
        except OSError as e:
            self._dead = f"writing to it failed: {e}"
            raise MlsRsPeerError(what, self._dead + self._stderr_tail()) from e
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self._dead = f"no answer within {self.timeout} s"
            self._proc.kill()
            raise MlsRsPeerError(what, self._dead) from None
        if line is None:
            code = self._proc.wait()
            self._dead = f"the peer exited with status {code}"
            raise MlsRsPeerError(what, self._dead + self._stderr_tail())
        try:
            answer = json.loads(line)
        except json.JSONDecodeError as e:
            raise MlsRsPeerError(what, f"the peer answered non-JSON {line[:200]!r}") from e
        if not isinstance(answer, dict):
            raise MlsRsPeerError(what, f"the peer answered {answer!r}")
        if "error" in answer:
            raise MlsRsPeerError(what, str(answer["error"]))
        result = answer.get("result")
        if not isinstance(result, dict):
            raise MlsRsPeerError(what, f"the peer answered {answer!r}")
        return result

    def _group_request(self, op: str, group: MlsRsGroup, step: str | None, **fields: Any) -> _Json:
        try:
            return self.request(op, step, group=group.handle, **fields)
        except MlsRsPeerError as e:
            if self._dead is not None:
                raise
            try:
                epoch = _int(self.request("epoch", group=group.handle)["epoch"], "epoch")
            except MlsRsPeerError:
                raise e from None
            where = f"{step or op} ({group.client.identity!r}, group {group.handle}, epoch {epoch})"
            raise MlsRsPeerError(where, e.detail) from None

    # -- clients and groups

    def ping(self) -> None:
        self.request("ping")

    def create_client(
        self,
        identity: bytes,
        suite: int,
        *,
        encrypt_handshake: bool = True,
        ratchet_tree_extension: bool = True,
        padding: str = "none",
        x509_chain: Sequence[bytes] | None = None,
        signature_secret_key: bytes | None = None,
        extension_types: Iterable[int] | None = None,
        proposal_types: Iterable[int] | None = None,
        permissive_identity: bool | None = None,
        rcc16: bool = False,
    ) -> MlsRsClient:
        """A client with a basic credential for ``identity``, or an X.509 one.

        ``encrypt_handshake``: send proposals and commits as PrivateMessage (else
        PublicMessage). ``ratchet_tree_extension``: put the ratchet tree in Welcomes (else
        pass :meth:`ratchet_tree` out of band). ``padding`` of PrivateMessages: ``none``,
        ``padme`` or ``step``.

        ``x509_chain`` (DER certificates, leaf first): the credential is an MLS X.509
        credential holding exactly these certificates, *whatever the signature key is*;
        ``identity`` is then only a label. Nothing checks that the leaf certificate
        certifies the client's key: that is the forgery.

        ``signature_secret_key``: the signature private key (for suite 2 the 32-byte
        big-endian P-256 scalar, as
        :func:`rcs_mls.rcs.credentials.generate_signature_key_pair` returns it; for the
        Ed25519 suites the 64 bytes seed || public key). Default: a fresh key. Give the key
        the certificate certifies to make an *honest* X.509 client.

        ``extension_types`` / ``proposal_types``: extra types advertised in the leaf
        capabilities (and key packages), e.g. ``profile.CLIENT_EXTENSION_TYPES`` and
        ``profile.CLIENT_PROPOSAL_TYPES`` to join RCC.16 groups.

        ``permissive_identity`` (default: true with ``x509_chain``): the peer's identity
        provider for this client accepts every credential, every credential change and every
        external-commit successor (a deliberately malicious, test-only provider); false is
        mls-rs's basic provider (basic credentials only).

        ``rcc16``: the client's MLS rules do what deployed RCC.16 clients on mls-rs do with
        the GSMA proposals: a ServerRemove (0xF004) committed by reference removes its leaf,
        an ``rcs_signature`` (0xF002) is never committed.
        """
        chain = _opt_hex_list(x509_chain, "x509_chain")
        r = self.request(
            "create_client",
            f"create client {identity!r} for suite {suite}",
            identity=_hex(identity),
            suite=int(suite),
            encrypt_handshake=encrypt_handshake,
            ratchet_tree_extension=ratchet_tree_extension,
            padding=padding,
            x509_chain=chain,
            signature_secret_key=(
                None if signature_secret_key is None else _hex(signature_secret_key)
            ),
            extension_types=_opt_u16_list(extension_types, "extension_types"),
            proposal_types=_opt_u16_list(proposal_types, "proposal_types"),
            permissive_identity=permissive_identity,
            rcc16=rcc16,
        )
        return MlsRsClient(
            _int(r["client"], "create_client"),
            bytes(identity),
            int(suite),
            signature_key=_unhex(r["signature_key"], "create_client"),
            certificates=tuple(bytes(c) for c in x509_chain) if x509_chain is not None else (),
        )

    def key_package(
        self, client: MlsRsClient, *, last_resort: bool = False, step: str | None = None
    ) -> bytes:
        """A fresh KeyPackage as MLSMessage bytes; ``last_resort`` adds the last_resort
        extension (0x000A), so that joining with it does not use it up."""
        r = self.request(
            "key_package",
            step or f"key package of {client.identity!r}",
            client=client.handle,
            last_resort=last_resort,
        )
        return _unhex(r["key_package"], "key_package")

    def create_group(
        self,
        client: MlsRsClient,
        group_id: bytes | None = None,
        *,
        extensions: Iterable[tuple[int, bytes]] = (),
        required_extensions: Iterable[int] | None = None,
        required_proposals: Iterable[int] | None = None,
        external_senders: Iterable[tuple[bytes | Sequence[bytes], bytes]] = (),
        step: str | None = None,
    ) -> MlsRsGroup:
        """A group with these GroupContext extensions: raw ``(type, data)`` pairs, a
        RequiredCapabilities extension when ``required_extensions`` or
        ``required_proposals`` is given, and an external_senders extension listing
        ``(credential, signature public key)`` pairs (the credential: a basic identity as
        bytes, or an X.509 chain as a sequence of DER certificates)."""
        senders: list[_Json] = []
        for credential, key in external_senders:
            if isinstance(credential, (bytes, bytearray)):
                senders.append({"identity": _hex(credential), "signature_key": _hex(key)})
            else:
                chain = _opt_hex_list(credential, "external_senders")
                senders.append({"x509_chain": chain, "signature_key": _hex(key)})
        r = self.request(
            "create_group",
            step or f"create group by {client.identity!r}",
            client=client.handle,
            group_id=None if group_id is None else _hex(group_id),
            extensions=[[int(t), _hex(d)] for t, d in extensions],
            required_extensions=_opt_u16_list(required_extensions, "required_extensions"),
            required_proposals=_opt_u16_list(required_proposals, "required_proposals"),
            external_senders=senders or None,
        )
        return MlsRsGroup(
            _int(r["group"], "create_group"), client, _unhex(r["group_id"], "create_group")
        )

    def join(
        self,
        client: MlsRsClient,
        welcome: bytes,
        ratchet_tree: bytes | None = None,
        *,
        step: str | None = None,
    ) -> MlsRsGroup:
        """Join from a Welcome; the tree comes from the Welcome unless given out of band."""
        r = self.request(
            "join",
            step or f"join from Welcome by {client.identity!r}",
            client=client.handle,
            welcome=_hex(welcome),
            ratchet_tree=None if ratchet_tree is None else _hex(ratchet_tree),
        )
        return MlsRsGroup(_int(r["group"], "join"), client, _unhex(r["group_id"], "join"))

    def external_join(
        self,
        client: MlsRsClient,
        group_info: bytes,
        ratchet_tree: bytes | None = None,
        *,
        authenticated_data: bytes = b"",
        remove_leaf: int | None = None,
        step: str | None = None,
    ) -> tuple[MlsRsGroup, bytes]:
        """Join by external commit; returns the group (already at the new epoch) and the
        commit to send to the members (always a PublicMessage).

        ``remove_leaf``: the commit also removes that leaf (a resync, RFC 9420 §12.4.3.2);
        the peer of a client with a permissive identity lets it remove anyone."""
        r = self.request(
            "external_join",
            step or f"external join by {client.identity!r}",
            client=client.handle,
            group_info=_hex(group_info),
            ratchet_tree=None if ratchet_tree is None else _hex(ratchet_tree),
            authenticated_data=_hex(authenticated_data),
            remove_leaf=remove_leaf,
        )
        group = MlsRsGroup(
            _int(r["group"], "external_join"), client, _unhex(r["group_id"], "external_join")
        )
        return group, _unhex(r["commit"], "external_join")

    def drop_group(self, group: MlsRsGroup) -> None:
        self._group_request("drop_group", group, None)

    # -- messages

    def encrypt(
        self,
        group: MlsRsGroup,
        plaintext: bytes,
        authenticated_data: bytes = b"",
        *,
        step: str | None = None,
    ) -> bytes:
        r = self._group_request(
            "encrypt",
            group,
            step,
            plaintext=_hex(plaintext),
            authenticated_data=_hex(authenticated_data),
        )
        return _unhex(r["message"], "encrypt")

    def encrypt_with_generation(
        self,
        group: MlsRsGroup,
        plaintext: bytes,
        authenticated_data: bytes = b"",
        *,
        step: str | None = None,
    ) -> tuple[bytes, int]:
        """Encrypt; also return the sender generation mls-rs encrypted the message with."""
        r = self._group_request(
            "encrypt",
            group,
            step,
            plaintext=_hex(plaintext),
            authenticated_data=_hex(authenticated_data),
        )
        return _unhex(r["message"], "encrypt"), _int(r["generation"], "encrypt")

    def next_generation(self, group: MlsRsGroup, *, step: str | None = None) -> int:
        """The sender generation of this member's next application message (mls-rs's
        ``peek_next_key_generation``)."""
        r = self._group_request("next_generation", group, step)
        return _int(r["generation"], "next_generation")

    def process(
        self, group: MlsRsGroup, message: bytes, *, step: str | None = None
    ) -> MlsRsReceived:
        """Process a message; a commit is applied at once."""
        r = self._group_request("process", group, step, message=_hex(message))
        kind = r.get("type")
        what = step or "process"
        if kind == "application":
            return MlsRsApplication(
                plaintext=_unhex(r["plaintext"], what),
                authenticated_data=_unhex(r["authenticated_data"], what),
                sender=_int(r["sender"], what),
                epoch=_int(r["epoch"], what),
                generation=_opt_int(r.get("generation"), what),
            )
        if kind == "proposal":
            return MlsRsProposal(
                proposal_type=_int(r["proposal_type"], what),
                sender=_opt_int(r.get("sender"), what),
                proposal_ref=_unhex(r["proposal_ref"], what),
                authenticated_data=_unhex(r["authenticated_data"], what),
                removed_leaf_index=_opt_int(r.get("removed_leaf_index"), what),
                added_identity=_opt_unhex(r.get("added_identity"), what),
                external_sender=_opt_int(r.get("external_sender"), what),
                data=_opt_unhex(r.get("data"), what),
            )
        if kind == "commit":
            return MlsRsCommit(
                epoch=_int(r["epoch"], what),
                committer=_int(r["committer"], what),
                is_external=bool(r["is_external"]),
                removed_self=bool(r["removed_self"]),
                proposals=tuple(_proposal_summary(p, what) for p in r["proposals"]),
                authenticated_data=_unhex(r["authenticated_data"], what),
            )
        raise MlsRsPeerError(what, f"unexpected message type {kind!r}")

    # -- commits (pending until applied) and proposals

    def _commit_output(self, r: _Json, what: str) -> MlsRsCommitOutput:
        return MlsRsCommitOutput(
            commit=_unhex(r["commit"], what),
            welcome=_opt_unhex(r.get("welcome"), what),
            has_path=bool(r["has_path"]),
            epoch=_int(r["epoch"], what),
        )

    def add(
        self,
        group: MlsRsGroup,
        key_packages: Iterable[bytes],
        *,
        apply: bool = False,
        step: str | None = None,
    ) -> MlsRsCommitOutput:
        r = self._group_request(
            "add", group, step, key_packages=[_hex(k) for k in key_packages], apply=apply
        )
        return self._commit_output(r, step or "add")

    def remove(
        self,
        group: MlsRsGroup,
        leaves: Sequence[int],
        *,
        apply: bool = False,
        step: str | None = None,
    ) -> MlsRsCommitOutput:
        r = self._group_request("remove", group, step, leaves=list(leaves), apply=apply)
        return self._commit_output(r, step or "remove")

    def update(
        self,
        group: MlsRsGroup,
        *,
        apply: bool = False,
        new_x509_chain: Sequence[bytes] | None = None,
        new_signature_secret_key: bytes | None = None,
        step: str | None = None,
    ) -> MlsRsCommitOutput:
        """A commit with an UpdatePath (and any pending proposals).

        ``new_x509_chain`` (DER, leaf first) and/or ``new_signature_secret_key`` (encoded as
        for :meth:`create_client`): the committer's new leaf carries that X.509 credential
        (else its current credential) and that key (else its current key), correctly
        signed; the peer accepts any such change for a client with a permissive identity.
        """
        r = self._group_request(
            "update",
            group,
            step,
            apply=apply,
            **_new_identity_fields(new_x509_chain, new_signature_secret_key),
        )
        return self._commit_output(r, step or "update")

    def commit_pending(
        self, group: MlsRsGroup, *, apply: bool = False, step: str | None = None
    ) -> MlsRsCommitOutput:
        """Commit the proposals received so far (by reference)."""
        r = self._group_request("commit_pending", group, step, apply=apply)
        return self._commit_output(r, step or "commit_pending")

    def apply_pending_commit(self, group: MlsRsGroup, *, step: str | None = None) -> int:
        """Apply the peer's own pending commit; returns the new epoch."""
        r = self._group_request("apply_pending_commit", group, step)
        return _int(r["epoch"], "apply_pending_commit")

    def clear_pending_commit(self, group: MlsRsGroup, *, step: str | None = None) -> None:
        self._group_request("clear_pending_commit", group, step)

    def propose_add(
        self, group: MlsRsGroup, key_package: bytes, *, step: str | None = None
    ) -> bytes:
        r = self._group_request("propose_add", group, step, key_package=_hex(key_package))
        return _unhex(r["proposal"], "propose_add")

    def propose_remove(self, group: MlsRsGroup, leaf: int, *, step: str | None = None) -> bytes:
        r = self._group_request("propose_remove", group, step, leaf=leaf)
        return _unhex(r["proposal"], "propose_remove")

    def propose_update(
        self,
        group: MlsRsGroup,
        *,
        new_x509_chain: Sequence[bytes] | None = None,
        new_signature_secret_key: bytes | None = None,
        step: str | None = None,
    ) -> bytes:
        """An Update proposal; with ``new_x509_chain`` / ``new_signature_secret_key`` its
        leaf carries that credential / key, as in :meth:`update`."""
        r = self._group_request(
            "propose_update",
            group,
            step,
            **_new_identity_fields(new_x509_chain, new_signature_secret_key),
        )
        return _unhex(r["proposal"], "propose_update")

    def self_remove(
        self, group: MlsRsGroup, *, authenticated_data: bytes = b"", step: str | None = None
    ) -> bytes:
        """A SelfRemove proposal (mls-rs's ``propose_self_remove``: type 0xF003, empty)."""
        r = self._group_request(
            "self_remove", group, step, authenticated_data=_hex(authenticated_data)
        )
        return _unhex(r["proposal"], "self_remove")

    def propose_custom(
        self,
        group: MlsRsGroup,
        proposal_type: int,
        data: bytes = b"",
        *,
        authenticated_data: bytes = b"",
        step: str | None = None,
    ) -> bytes:
        """A custom proposal (e.g. RCC.16's ``rcs_signature`` 0xF002 with the signed content
        as ``authenticated_data``); the peer's mls-rs encodes 0xF002 and 0xF004 bare."""
        r = self._group_request(
            "propose_custom",
            group,
            step,
            proposal_type=int(proposal_type),
            data=_hex(data),
            authenticated_data=_hex(authenticated_data),
        )
        return _unhex(r["proposal"], "propose_custom")

    def validate_custom_proposal(
        self,
        group: MlsRsGroup,
        message: bytes,
        proposal_type: int | None = None,
        *,
        step: str | None = None,
    ) -> MlsRsVerifiedProposal:
        """Verify a custom-proposal PublicMessage with mls-rs's ``validate_custom_proposal``
        (current epoch, or a kept past one); nothing is cached."""
        r = self._group_request(
            "validate_custom_proposal",
            group,
            step,
            message=_hex(message),
            proposal_type=None if proposal_type is None else int(proposal_type),
        )
        what = step or "validate_custom_proposal"
        return MlsRsVerifiedProposal(
            authenticated_data=_unhex(r["authenticated_data"], what),
            sender=_opt_int(r.get("sender"), what),
            epoch=_int(r["epoch"], what),
        )

    def external_proposal(
        self,
        group_info: bytes,
        *,
        suite: int,
        signature_secret_key: bytes,
        proposal_type: int,
        data: bytes = b"",
        identity: bytes | None = None,
        x509_chain: Sequence[bytes] | None = None,
        ratchet_tree: bytes | None = None,
        authenticated_data: bytes = b"",
        extension_types: Iterable[int] | None = None,
        proposal_types: Iterable[int] | None = None,
        step: str | None = None,
    ) -> bytes:
        """A custom proposal by an external sender (e.g. RCC.16's ServerRemove, 0xF004 with
        ``data`` the bare uint32 leaf), built by an mls-rs ``ExternalClient`` observing the
        group from ``group_info``. The sender (``identity`` or ``x509_chain``, with
        ``signature_secret_key``) must be listed in the group's external_senders."""
        r = self.request(
            "external_proposal",
            step or f"external proposal 0x{proposal_type:04x}",
            group_info=_hex(group_info),
            suite=int(suite),
            signature_secret_key=_hex(signature_secret_key),
            proposal_type=int(proposal_type),
            data=_hex(data),
            identity=None if identity is None else _hex(identity),
            x509_chain=_opt_hex_list(x509_chain, "x509_chain"),
            ratchet_tree=None if ratchet_tree is None else _hex(ratchet_tree),
            authenticated_data=_hex(authenticated_data),
            extension_types=_opt_u16_list(extension_types, "extension_types"),
            proposal_types=_opt_u16_list(proposal_types, "proposal_types"),
        )
        return _unhex(r["proposal"], "external_proposal")

    # -- group state

    def group_context_extensions(
        self, group: MlsRsGroup, *, step: str | None = None
    ) -> list[tuple[int, bytes]]:
        """The GroupContext extensions as ``(type, data)`` pairs."""
        r = self._group_request("group_context_extensions", group, step)
        return [
            (_int(t, "group_context_extensions"), _unhex(d, "group_context_extensions"))
            for t, d in r["extensions"]
        ]

    def group_info(
        self, group: MlsRsGroup, *, with_ratchet_tree: bool = True, step: str | None = None
    ) -> bytes:
        """A GroupInfo allowing external commits (external_pub), with the ratchet tree."""
        r = self._group_request("group_info", group, step, with_ratchet_tree=with_ratchet_tree)
        return _unhex(r["group_info"], "group_info")

    def ratchet_tree(self, group: MlsRsGroup, *, step: str | None = None) -> bytes:
        r = self._group_request("ratchet_tree", group, step)
        return _unhex(r["ratchet_tree"], "ratchet_tree")

    def epoch_authenticator(self, group: MlsRsGroup, *, step: str | None = None) -> bytes:
        r = self._group_request("epoch_authenticator", group, step)
        return _unhex(r["epoch_authenticator"], "epoch_authenticator")

    def export_secret(
        self,
        group: MlsRsGroup,
        label: str,
        context: bytes,
        length: int,
        *,
        step: str | None = None,
    ) -> bytes:
        r = self._group_request(
            "export_secret", group, step, label=label, context=_hex(context), length=length
        )
        return _unhex(r["secret"], "export_secret")

    def state(self, group: MlsRsGroup, *, step: str | None = None) -> MlsRsGroupState:
        r = self._group_request("state", group, step)
        what = step or "state"
        return MlsRsGroupState(
            epoch=_int(r["epoch"], what),
            group_id=_unhex(r["group_id"], what),
            own_leaf_index=_int(r["own_leaf_index"], what),
            cipher_suite=_int(r["cipher_suite"], what),
            has_pending_commit=bool(r["has_pending_commit"]),
            commit_required=bool(r["commit_required"]),
        )

    def epoch(self, group: MlsRsGroup, *, step: str | None = None) -> int:
        return self.state(group, step=step).epoch

    def roster(self, group: MlsRsGroup, *, step: str | None = None) -> list[MlsRsMember]:
        r = self._group_request("roster", group, step)
        return [
            MlsRsMember(
                _int(m["leaf_index"], "roster"),
                _unhex(m["identity"], "roster"),
                credential_type=_int(m["credential_type"], "roster"),
                certificates=tuple(_unhex(c, "roster") for c in m["certificates"]),
                signature_key=_unhex(m["signature_key"], "roster"),
            )
            for m in r["members"]
        ]
