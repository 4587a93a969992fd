"""The adversary test suite's harness (its fixtures are in conftest.py): honest devices
on an in-process relay, and the tools each attacker of docs/threat-model.md has.

* The **delivery service** (the relay, the conversation focus) sees every CPIM object,
  holds every GroupInfo, and may drop, reorder, replay and inject: :func:`inject` hands
  crafted CPIM straight to an honest member, as the server delivering it would, with the
  mls. headers it has seen on other traffic (:func:`server_cpim`).
* A **malicious member** holds a real device and certificate, and drives its MLS group
  directly (``Group`` methods), around the checks :class:`Conversation` applies to its
  own commits.
* **Another implementation** (the mls-rs peer) builds what this package refuses to
  build, such as a key package whose certificate does not carry its signature key.

Every attack test asserts that the attack fails (a ``Rejected`` event naming the reason,
or an exception) and that the honest members are still in step afterwards: same epoch,
same epoch authenticator, and they can still exchange messages (:func:`still_in_step`).
"""

from __future__ import annotations

import base64
import itertools

from rcs_mls import Client, Credential, SignatureKeyPair
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import Conversation, Event, Rejected, TextMessage
from rcs_mls.rcs.cpim import CpimHeader, CpimMessage, MimeHeader
from rcs_mls.rcs.credentials import TestCertificateAuthority
from tests.rcs.test_conversation import ALICE, BOB, CAROL, DAVE, Dev, Net, rcs_client

__all__ = [
    "ALICE",
    "BOB",
    "CAROL",
    "DAVE",
    "MALLORY",
    "Dev",
    "Net",
    "assert_rejected",
    "device_keys",
    "forge_cpim",
    "inject",
    "raw_client",
    "rcs_client",
    "server_cpim",
    "still_in_step",
]

#: A number that is never a participant: the attacker's own.
MALLORY = "+15550100666"

_ids = itertools.count()


def device_keys(ca: TestCertificateAuthority, number: str) -> tuple[SignatureKeyPair, list[bytes]]:
    """A fresh P-256 key and a valid device certificate chain for it."""
    keys = SignatureKeyPair.generate(profile.SUITE)
    return keys, ca.issue_device_certificate(number, keys.public_key)


def forge_cpim(
    body: bytes,
    content_type: str = "message/mls-rcs-client",
    *,
    era: int,
    authenticator: bytes,
    message_id: str | None = None,
) -> bytes:
    """A CPIM object with RCC.16's headers (RCC16.md §3), written from the profile text,
    as anyone on the path can write one."""
    headers = (
        CpimHeader("From", "<sip:anonymous@anonymous.invalid>"),
        CpimHeader("To", "<sip:anonymous@anonymous.invalid>"),
        CpimHeader("NS", "imdn <urn:ietf:params:imdn>"),
        CpimHeader("NS", "mls <http://www.gsma.com/rcs/mls>"),
        CpimHeader("imdn.Message-ID", message_id or f"MxAttack{next(_ids):016d}"),
        CpimHeader("DateTime", "2026-12-02T10:00:00.000Z"),
        CpimHeader("mls.Era-ID", str(era)),
        CpimHeader("mls.Epoch-Authenticator", base64.b64encode(authenticator).decode("ascii")),
    )
    return CpimMessage(headers, (MimeHeader("Content-Type", content_type),), body).to_bytes()


def server_cpim(
    conv: Conversation,
    body: bytes,
    content_type: str = "message/mls-rcs-client",
    *,
    message_id: str | None = None,
    authenticator: bytes | None = None,
) -> bytes:
    """A CPIM object as the delivery service writes it for ``conv``: the era and the
    current epoch authenticator it has seen on other traffic."""
    auth = conv.epoch_authenticator if authenticator is None else authenticator
    era = conv.era
    assert era is not None
    return forge_cpim(body, content_type, era=era, authenticator=auth, message_id=message_id)


def three(net: Net) -> tuple[Dev, Dev, Dev, Conversation, Conversation, Conversation]:
    """Alice, Bob and Carol in group chat ``grp`` (leaves 0, 1, 2), created by Alice:
    ``(alice, bob, carol, alice's, bob's, carol's conversation)``."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    conv = alice.start([bob, carol], group_id="grp")
    return alice, bob, carol, conv, bob.convs["grp"], carol.convs["grp"]


def inject(conv: Conversation, body: bytes, content_type: str = "message/mls-rcs-client") -> Event:
    """The delivery service hands ``body`` to one honest member."""
    return conv.receive(server_cpim(conv, body, content_type))


def assert_rejected(event: Event, reason: str) -> Rejected:
    """``event`` is a Rejected whose reason mentions ``reason``."""
    assert isinstance(event, Rejected), event
    assert reason in event.reason, event.reason
    return event


def still_in_step(*devices: tuple[Dev, Conversation]) -> None:
    """The honest members agree on the epoch and its authenticator, and each one's
    message reaches every other one."""
    first = devices[0][1]
    for _dev, conv in devices[1:]:
        assert conv.epoch == first.epoch
        assert conv.epoch_authenticator == first.epoch_authenticator
    for dev, conv in devices:
        text = f"still here, {dev.name} at epoch {conv.epoch}"
        sent = conv.send_text(text)
        for other, other_conv in devices:
            if other is dev:
                continue
            event = other_conv.receive(sent.cpim)
            assert isinstance(event, TextMessage), event
            assert event.text == text and event.sender == dev.number


def raw_client(credential: Credential, keys: SignatureKeyPair) -> Client:
    """A client built like an RCS device, for attackers that use this package."""
    return Client(
        credential,
        keys,
        profile.SUITE,
        extension_types=list(profile.CLIENT_EXTENSION_TYPES),
        proposal_types=list(profile.CLIENT_PROPOSAL_TYPES),
    )
