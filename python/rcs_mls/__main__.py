"""Command line: ``python -m rcs_mls demo`` runs a demo conversation.

The demo shows, side by side, what crosses the wire (sizes and MLS wire formats,
never plaintext) and what each client reads after decryption.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rcs_mls import (
    OPENMLS_VERSION,
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    Group,
    GroupConfig,
    SignatureKeyPair,
    StagedCommit,
    __version__,
)

_WIRE_FORMATS = {
    1: "PublicMessage",
    2: "PrivateMessage",
    3: "Welcome",
    4: "GroupInfo",
    5: "KeyPackage",
}


def _wire_format(data: bytes) -> str:
    return _WIRE_FORMATS.get(int.from_bytes(data[2:4], "big"), "?")


class _Relay:
    """Prints what crosses the wire, and checks that no plaintext does."""

    def __init__(self, secrets: list[bytes]) -> None:
        self._secrets = secrets

    def send(self, sender: str, what: str, data: bytes) -> bytes:
        for s in self._secrets:
            assert s not in data, "plaintext crossed the wire"
        print(
            f"  wire  {sender:>6} -> relay  {_wire_format(data):<15} {len(data):>6} bytes  ({what})"
        )
        return data


def _read(name: str, group: Group, data: bytes) -> None:
    result = group.process_message(data)
    if isinstance(result, ApplicationMessage):
        text = result.plaintext.decode()
        sender = result.sender_identity.decode()
        print(f"  read  {name:>6}: {sender} says {text!r} (epoch {result.epoch})")
    elif isinstance(result, StagedCommit):
        added = [m.identity.decode() for m in result.added]
        print(
            f"  read  {name:>6}: commit by leaf {result.sender_leaf_index}: "
            f"added {added}, removed leaves {result.removed}, updated {result.updated}"
        )
        group.merge_staged_commit(result)


def demo(suite: Ciphersuite = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256) -> int:
    print(f"rcs-mls {__version__} on OpenMLS {OPENMLS_VERSION}; ciphersuite {suite.name}")
    texts = [b"Hi Bob, this is end-to-end encrypted.", b"Hello Alice!", b"Welcome, Carol."]
    relay = _Relay(texts)
    config = GroupConfig.rcs()
    clients = {
        name: Client(Credential.basic(name.encode()), SignatureKeyPair.generate(suite), suite)
        for name in ("alice", "bob", "carol")
    }
    alice, bob, carol = clients["alice"], clients["bob"], clients["carol"]

    print("\n1. Alice creates a group and adds Bob")
    kp = relay.send("bob", "key package", bob.generate_key_package().to_bytes())
    a = alice.create_group(config)
    from rcs_mls import KeyPackage

    result = a.add_members([KeyPackage.from_bytes(kp)])
    a.merge_pending_commit()
    assert result.welcome is not None
    b = bob.join_group(relay.send("alice", "welcome", result.welcome), config=config)
    print(f"  bob joined at epoch {b.epoch}; members {[m.identity.decode() for m in b.members()]}")

    print("\n2. They talk")
    _read("bob", b, relay.send("alice", "text", a.encrypt(texts[0])))
    _read("alice", a, relay.send("bob", "text", b.encrypt(texts[1])))

    print("\n3. Alice adds Carol")
    kp = relay.send("carol", "key package", carol.generate_key_package().to_bytes())
    result = a.add_members([KeyPackage.from_bytes(kp)])
    a.merge_pending_commit()
    _read("bob", b, relay.send("alice", "commit", result.commit))
    assert result.welcome is not None
    c = carol.join_group(relay.send("alice", "welcome", result.welcome), config=config)
    wire = relay.send("alice", "text", a.encrypt(texts[2]))
    _read("bob", b, wire)
    _read("carol", c, wire)

    print("\n4. Carol updates her keys, then Alice removes Bob")
    result = c.self_update()
    c.merge_pending_commit()
    wire = relay.send("carol", "commit", result.commit)
    _read("alice", a, wire)
    _read("bob", b, wire)
    result = a.remove_members([1])
    a.merge_pending_commit()
    wire = relay.send("alice", "commit", result.commit)
    _read("carol", c, wire)
    _read("bob", b, wire)
    print(f"  bob active: {b.is_active}; members now {[m.identity.decode() for m in a.members()]}")

    same = a.epoch_authenticator == c.epoch_authenticator
    print(f"\nalice and carol agree on epoch {a.epoch}: {same}")
    return 0 if same else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rcs_mls", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run a demo conversation")
    p.add_argument("--suite", type=lambda v: Ciphersuite(int(v, 0)), default=Ciphersuite(2))
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.suite)
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
