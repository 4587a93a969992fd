"""One adapter per MLS library: the benchmarked operations behind one interface.

Every adapter speaks wire bytes where a message travels (commits, Welcomes, application
messages), so serialisation and parsing are part of each measured operation, as they are
for a user. Key packages are passed as each library's parsed object (a delivery service
hands out bytes, but every library parses and validates them before an add).

The peers are optional: an adapter whose library is not installed (or cannot run on this
Python) raises :class:`Unavailable` from :meth:`Adapter.check`, and the benchmark reports
it instead of measuring. They are imported with :func:`importlib.import_module`, so this
module type-checks without them.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import sys
import time
from abc import ABC, abstractmethod
from typing import Any


class Unavailable(Exception):
    """The library cannot be measured here (not installed, wrong Python version)."""


class Unsupported(Exception):
    """The library does not offer this operation."""


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class Adapter(ABC):
    """The operations measured, for one library and one ciphersuite.

    Handles (clients, key packages, groups) are the library's own objects or small
    wrappers around them; the benchmark only passes them back to the same adapter.
    The benchmark's committer is always the group's creator, at leaf 0.
    """

    #: Library name as shown in the tables.
    library: str
    #: Its distribution name on PyPI (for the version).
    distribution: str
    #: The RFC 9420 ciphersuite.
    suite: int

    @property
    def label(self) -> str:
        return f"{self.library} 0x{self.suite:04x}"

    def version(self) -> str:
        return _version(self.distribution)

    def check(self) -> None:  # noqa: B027 (optional hook: most adapters need nothing)
        """Raise :class:`Unavailable` when the library cannot be measured here."""

    @abstractmethod
    def client(self, name: bytes) -> Any: ...

    @abstractmethod
    def key_package(self, client: Any) -> Any: ...

    @abstractmethod
    def create_group(self, client: Any) -> Any: ...

    @abstractmethod
    def add(self, group: Any, key_packages: list[Any]) -> tuple[bytes, bytes]:
        """Add members in one commit and merge it: (commit, Welcome) bytes."""

    @abstractmethod
    def join(self, client: Any, welcome: bytes) -> Any:
        """Join from a Welcome (the ratchet tree travels in it)."""

    @abstractmethod
    def self_update(self, group: Any) -> bytes:
        """A commit with an update path (fresh leaf keys), merged: its bytes."""

    @abstractmethod
    def remove(self, group: Any, leaf_index: int, member: Any) -> bytes:
        """Remove the member at `leaf_index` (whose client is `member`), merged."""

    @abstractmethod
    def process_commit(self, group: Any, commit: bytes) -> None:
        """Process a commit from the member at leaf 0 and merge it."""

    @abstractmethod
    def encrypt(self, group: Any, plaintext: bytes) -> bytes: ...

    @abstractmethod
    def decrypt(self, group: Any, message: bytes) -> bytes: ...


# --- rcs-mls (this package) ------------------------------------------------------------


class RcsMls(Adapter):
    library = "rcs-mls"
    distribution = "rcs-mls"

    def __init__(self, suite: int) -> None:
        self.suite = suite
        self._m: Any = importlib.import_module("rcs_mls")
        self._suite = self._m.Ciphersuite(suite)

    def client(self, name: bytes) -> Any:
        m = self._m
        return m.Client(
            m.Credential.basic(name), m.SignatureKeyPair.generate(self._suite), self._suite
        )

    def key_package(self, client: Any) -> Any:
        return client.generate_key_package()

    def create_group(self, client: Any) -> Any:
        return client.create_group()

    def add(self, group: Any, key_packages: list[Any]) -> tuple[bytes, bytes]:
        result = group.add_members(key_packages)
        group.merge_pending_commit()
        return bytes(result.commit), bytes(result.welcome)

    def join(self, client: Any, welcome: bytes) -> Any:
        return client.join_group(welcome)

    def self_update(self, group: Any) -> bytes:
        commit = bytes(group.self_update().commit)
        group.merge_pending_commit()
        return commit

    def remove(self, group: Any, leaf_index: int, member: Any) -> bytes:
        commit = bytes(group.remove_members([leaf_index]).commit)
        group.merge_pending_commit()
        return commit

    def process_commit(self, group: Any, commit: bytes) -> None:
        group.merge_staged_commit(group.process_message(commit))

    def encrypt(self, group: Any, plaintext: bytes) -> bytes:
        return bytes(group.encrypt(plaintext))

    def decrypt(self, group: Any, message: bytes) -> bytes:
        return bytes(group.process_message(message).plaintext)


# --- rfc9420 (pure Python) -------------------------------------------------------------


class _Handshake(bytes):
    """A commit's bytes, carrying the proposal messages that must reach the other
    members before it (rfc9420 commits Add and Remove proposals by reference).
    ``len()`` is the commit's size alone."""

    proposals: list[bytes]


def _handshake(commit: bytes, proposals: list[bytes]) -> _Handshake:
    out = _Handshake(commit)
    out.proposals = proposals
    return out


@dataclasses.dataclass
class _Rfc9420Client:
    identity: bytes
    crypto: Any
    signing_key: bytes
    public_key: bytes
    # The last key package made and its HPKE init private key (the joiner needs both).
    key_package: Any = None
    init_private: bytes = b""


@dataclasses.dataclass
class _Rfc9420Group:
    session: Any
    client: _Rfc9420Client


class Rfc9420(Adapter):
    """rfc9420 (PyPI), through its ``MLSGroupSession`` API.

    It has no key package generator: one is built the way its own tests do (leaf node
    and key package signed with ``sign_with_label``). Adds and removes are proposals
    committed by reference, so the other members process the proposal messages, then
    the commit (both timed as processing). Application messages are signed
    (``protect_application(..., signing_key=)``) as RFC 9420 §6.1 requires; without a
    key the library sends them unsigned.
    """

    library = "rfc9420"
    distribution = "rfc9420"

    def __init__(self, suite: int) -> None:
        self.suite = suite

    def check(self) -> None:
        try:
            self._r: Any = importlib.import_module("rfc9420")
            self._session: Any = importlib.import_module("rfc9420.api.session")
            self._kp: Any = importlib.import_module("rfc9420.messages.key_packages")
            self._ds: Any = importlib.import_module("rfc9420.messages.data_structures")
            self._ext: Any = importlib.import_module("rfc9420.extensions.extensions")
            self._ser: Any = importlib.import_module("cryptography.hazmat.primitives.serialization")
            self._ec: Any = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")
            self._ed: Any = importlib.import_module(
                "cryptography.hazmat.primitives.asymmetric.ed25519"
            )
        except ImportError as e:
            raise Unavailable(f"not installed ({e.name})") from e
        self._config = self._r.GroupConfig(
            crypto_provider=self._r.DefaultCryptoProvider(suite_id=self.suite),
            storage_provider=self._r.MemoryStorageProvider(),
        )
        self._caps = self._ext.build_capabilities_data([self.suite], [], include_grease=False)
        self._cipher_suite = self._ds.CipherSuite.deserialize(self.suite.to_bytes(2, "big"))

    def _signature_key(self) -> tuple[bytes, bytes]:
        ser = self._ser
        if self.suite in (1, 3):
            ed = self._ed.Ed25519PrivateKey.generate()
            return ed.private_bytes_raw(), ed.public_key().public_bytes_raw()
        ec = self._ec.generate_private_key(self._ec.SECP256R1())
        private = ec.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        public = ec.public_key().public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)
        return private, public

    def client(self, name: bytes) -> Any:
        crypto = self._r.DefaultCryptoProvider(suite_id=self.suite)
        private, public = self._signature_key()
        return _Rfc9420Client(name, crypto, private, public)

    def key_package(self, client: Any) -> Any:
        c: _Rfc9420Client = client
        kp, ds = self._kp, self._ds
        _leaf_private, leaf_public = c.crypto.generate_key_pair()
        init_private, init_public = c.crypto.generate_key_pair()
        now = int(time.time())
        leaf = kp.LeafNode(
            encryption_key=leaf_public,
            signature_key=c.public_key,
            credential=ds.Credential(identity=c.identity, public_key=c.public_key),
            capabilities=self._caps,
            leaf_node_source=kp.LeafNodeSource.KEY_PACKAGE,
            lifetime_not_before=now - 3600,
            lifetime_not_after=now + 28 * 86400,
        )
        signature = c.crypto.sign_with_label(c.signing_key, b"LeafNodeTBS", leaf.tbs_serialize())
        leaf = dataclasses.replace(leaf, signature=signature)
        package = kp.KeyPackage(
            cipher_suite=self._cipher_suite,
            init_key=init_public,
            leaf_node=leaf,
            extensions=[],
        )
        signature = c.crypto.sign_with_label(
            c.signing_key, b"KeyPackageTBS", package.tbs_serialize()
        )
        package = dataclasses.replace(package, signature=ds.Signature(signature))
        c.key_package, c.init_private = package, init_private
        return package

    def create_group(self, client: Any) -> Any:
        c: _Rfc9420Client = client
        package = self.key_package(c)
        session = self._session.MLSGroupSession.create_with_config(
            self._config, b"bench-" + c.identity, package
        )
        return _Rfc9420Group(session, c)

    def add(self, group: Any, key_packages: list[Any]) -> tuple[bytes, bytes]:
        g: _Rfc9420Group = group
        s, key, own = g.session, g.client.signing_key, g.session.own_leaf_index
        proposals = []
        for package in key_packages:
            proposals.append(bytes(s.add_member(package, key)))
            s.process_proposal(proposals[-1], own)
        commit, welcomes = s.commit(key)
        return _handshake(bytes(commit), proposals), bytes(welcomes[0].serialize())

    def join(self, client: Any, welcome: bytes) -> Any:
        c: _Rfc9420Client = client
        session = self._session.MLSGroupSession.join_from_welcome_with_config(
            self._config,
            self._ds.Welcome.deserialize(welcome),
            c.init_private,
            key_package=c.key_package,
        )
        return _Rfc9420Group(session, c)

    def self_update(self, group: Any) -> bytes:
        g: _Rfc9420Group = group
        # An empty commit carries an update path (RFC 9420 §12.4).
        commit, _ = g.session.commit(g.client.signing_key)
        return bytes(commit)

    def remove(self, group: Any, leaf_index: int, member: Any) -> bytes:
        g: _Rfc9420Group = group
        s, key = g.session, g.client.signing_key
        proposal = bytes(s.remove_member(leaf_index, key))
        s.process_proposal(proposal, s.own_leaf_index)
        commit, _ = s.commit(key)
        return _handshake(bytes(commit), [proposal])

    def process_commit(self, group: Any, commit: bytes) -> None:
        g: _Rfc9420Group = group
        for proposal in getattr(commit, "proposals", ()):
            g.session.process_proposal(proposal, 0)
        g.session.apply_commit(commit, 0)

    def encrypt(self, group: Any, plaintext: bytes) -> bytes:
        g: _Rfc9420Group = group
        return bytes(g.session.protect_application(plaintext, signing_key=g.client.signing_key))

    def decrypt(self, group: Any, message: bytes) -> bytes:
        g: _Rfc9420Group = group
        _sender, plaintext = g.session.unprotect_application(message)
        return bytes(plaintext)


# --- agentvault-mls-rs-uniffi (AWS mls-rs through UniFFI) ------------------------------


class MlsRs(Adapter):
    """mls-rs through its UniFFI Python binding (`agentvault-mls-rs-uniffi`).

    The binding offers one suite (``CURVE25519_AES128``, 0x0001). Its commits are applied
    by processing them (``process_incoming_message`` of one's own commit).
    """

    library = "mls-rs (uniffi)"
    distribution = "agentvault-mls-rs-uniffi"
    suite = 1

    def check(self) -> None:
        try:
            self._m: Any = importlib.import_module("mls_rs_uniffi")
        except ImportError as e:
            raise Unavailable(f"not installed ({e.name})") from e

    def client(self, name: bytes) -> Any:
        m = self._m
        keys = m.generate_signature_keypair(m.CipherSuite.CURVE25519_AES128)
        return m.Client(name, keys, m.client_config_default())

    def key_package(self, client: Any) -> Any:
        return client.generate_key_package_message()

    def create_group(self, client: Any) -> Any:
        return client.create_group(None)

    def _merge(self, group: Any, out: Any) -> bytes:
        group.process_incoming_message(out.commit_message)
        return bytes(out.commit_message.to_bytes())

    def add(self, group: Any, key_packages: list[Any]) -> tuple[bytes, bytes]:
        out = group.add_members(key_packages)
        return self._merge(group, out), bytes(out.welcome_message.to_bytes())

    def join(self, client: Any, welcome: bytes) -> Any:
        return client.join_group(None, self._m.Message.from_bytes(welcome)).group

    def self_update(self, group: Any) -> bytes:
        return self._merge(group, group.commit())

    def remove(self, group: Any, leaf_index: int, member: Any) -> bytes:
        return self._merge(group, group.remove_members([member.signing_identity()]))

    def process_commit(self, group: Any, commit: bytes) -> None:
        group.process_incoming_message(self._m.Message.from_bytes(commit))

    def encrypt(self, group: Any, plaintext: bytes) -> bytes:
        return bytes(group.encrypt_application_message(plaintext).to_bytes())

    def decrypt(self, group: Any, message: bytes) -> bytes:
        received = group.process_incoming_message(self._m.Message.from_bytes(message))
        return bytes(received.data)


# --- pure-mls (pure Python, Python 3.12+) ----------------------------------------------


@dataclasses.dataclass
class _PureMlsClient:
    name: bytes
    signature: Any
    kem: Any


@dataclasses.dataclass
class _PureMlsGroup:
    # pure-mls groups are immutable: each operation returns the next epoch's group.
    state: Any


class _Commit(bytes):
    """A pure-mls commit's bytes, with the object: its ``GroupUpdate`` wire form (its
    own, not RFC 9420 framing) does not carry the group id, so the other member is
    handed the object."""

    update: Any


class PureMls(Adapter):
    """pure-mls (PyPI). It needs Python 3.12 or later, and adds one member per commit.
    Its key package uses the client's KEM key as both init and leaf key (as its CLI does).
    """

    library = "pure-mls"
    distribution = "pure-mls"
    suite = 1

    def check(self) -> None:
        if sys.version_info < (3, 12):
            raise Unavailable(
                f"needs Python >= 3.12 (this is {sys.version_info.major}."
                f"{sys.version_info.minor}.{sys.version_info.micro})"
            )
        try:
            self._g: Any = importlib.import_module("pure_mls.group")
            self._k: Any = importlib.import_module("pure_mls.keys")
            self._t: Any = importlib.import_module("pure_mls.tree")
        except ImportError as e:
            raise Unavailable(f"not installed ({e.name})") from e

    def client(self, name: bytes) -> Any:
        return _PureMlsClient(name, self._k.SignatureKey(), self._k.KemKey())

    def key_package(self, client: Any) -> Any:
        c: _PureMlsClient = client
        return self._t.KeyPackage.create(
            encryption_key=c.kem.public_bytes(),
            init_key_pub=c.kem.public_bytes(),
            signature_key=c.signature.public_bytes(),
            identity=c.name,
            sign_fn=c.signature.sign,
        )

    def create_group(self, client: Any) -> Any:
        c: _PureMlsClient = client
        return _PureMlsGroup(self._g.MLSGroup.create(b"bench", c.signature, c.kem))

    def add(self, group: Any, key_packages: list[Any]) -> tuple[bytes, bytes]:
        if len(key_packages) != 1:
            raise Unsupported("adds one member per commit")
        g: _PureMlsGroup = group
        g.state, welcome, update = g.state.add_member(key_packages[0])
        return self._commit(update), _to_bytes(welcome)

    @staticmethod
    def _commit(update: Any) -> bytes:
        out = _Commit(_to_bytes(update))
        out.update = update
        return out

    def join(self, client: Any, welcome: bytes) -> Any:
        c: _PureMlsClient = client
        return _PureMlsGroup(self._g.MLSGroup.join(welcome, c.signature, c.kem))

    def self_update(self, group: Any) -> bytes:
        g: _PureMlsGroup = group
        g.state, update = g.state.update_key()
        return self._commit(update)

    def remove(self, group: Any, leaf_index: int, member: Any) -> bytes:
        g: _PureMlsGroup = group
        g.state, update = g.state.remove_member(leaf_index)
        return self._commit(update)

    def process_commit(self, group: Any, commit: bytes) -> None:
        g: _PureMlsGroup = group
        update = getattr(commit, "update", None) or self._g.GroupUpdate.from_bytes(commit)
        g.state = g.state.process_update(update)

    def encrypt(self, group: Any, plaintext: bytes) -> bytes:
        g: _PureMlsGroup = group
        return bytes(g.state.encrypt_application_message(plaintext))

    def decrypt(self, group: Any, message: bytes) -> bytes:
        g: _PureMlsGroup = group
        return bytes(g.state.decrypt_application_message(message))


def _to_bytes(obj: Any) -> bytes:
    for name in ("to_bytes", "serialize"):
        fn = getattr(obj, name, None)
        if callable(fn):
            return bytes(fn())
    raise Unsupported(f"{type(obj).__name__} has no wire encoding")


#: Every library the benchmark knows, by the name `--libraries` takes, in table order.
ALL_LIBRARIES = ["rcs-mls", "rfc9420", "mls-rs", "pure-mls"]


def adapters(names: list[str]) -> list[Adapter]:
    """The adapters for these library names, in table order."""
    out: list[Adapter] = []
    for name in names:
        if name == "rcs-mls":
            out += [RcsMls(1), RcsMls(2)]
        elif name == "rfc9420":
            out += [Rfc9420(1), Rfc9420(2)]
        elif name == "mls-rs":
            out.append(MlsRs())
        elif name == "pure-mls":
            out.append(PureMls())
        else:
            raise ValueError(f"unknown library {name!r} (known: {', '.join(ALL_LIBRARIES)})")
    return out
