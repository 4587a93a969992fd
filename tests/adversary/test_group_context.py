"""GroupContext changes under attack: a malicious member commits, through its raw MLS
group, extension changes that :class:`Conversation` would never make (``end_mls`` in a
group chat, withdrawing ``end_mls``, a new era, new external senders, new required
capabilities, an extension no member may set) or adds a third participant to a 1:1.

Members may change only the subject and icon commitments and the metadata-keys flag
(:func:`rcs_mls.rcs.membership._review_extensions`); ``end_mls`` may be added in a 1:1
only, and never withdrawn (docs/threat-model.md, rows G1-G11).
"""

from __future__ import annotations

import pytest

from rcs_mls import Credential, GroupConfig, SignatureKeyPair
from rcs_mls.exceptions import GroupStateError, InvalidArgumentError, RcsMlsError
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import (
    CommitApplied,
    Conversation,
    ConversationEnded,
    FailureReport,
    FileKeyReceived,
    MetadataKeysRequested,
    Outgoing,
    SubjectChange,
)
from rcs_mls.rcs.cpim import CONTENT_TYPE_MLS_RCS_CLIENT
from rcs_mls.rcs.imdn import MlsClientFailureReason
from rcs_mls.rcs.payload import encode_varint
from tests.adversary.harness import (
    ALICE,
    BOB,
    CAROL,
    MALLORY,
    Dev,
    Net,
    assert_rejected,
    inject,
    server_cpim,
    still_in_step,
    three,
)

_EXT_REQUIRED_CAPABILITIES = 0x0003
_EXT_EXTERNAL_SENDERS = 0x0005

Extensions = list[tuple[int, bytes]]


def _pair(net: Net) -> tuple[Dev, Dev, Conversation, Conversation]:
    """Alice and Bob in a 1:1."""
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob])
    return alice, bob, conv, bob.convs[conv.group_id]


def _raw_commit(attacker: Conversation, extensions: Extensions) -> bytes:
    """The malicious member's commit of ``extensions``, made by its raw group (no check of
    :class:`Conversation`); its own pending commit is dropped again."""
    result = attacker.group.commit(group_context_extensions=extensions)
    attacker.group.clear_pending_commit()
    return result.commit


def _submit(attacker: Dev, conv: Conversation, commit: bytes) -> None:
    """The malicious member submits a raw commit to the focus, which (unable to read what
    it changes) accepts it and fans it out."""
    message_id = f"MxMalicious{conv.epoch:013d}"
    outgoing = Outgoing(
        server_cpim(conv, commit, message_id=message_id),
        message_id,
        CONTENT_TYPE_MLS_RCS_CLIENT,
        "commit",
        conv.epoch,
    )
    verdict = attacker.net.relay.submit(attacker.device, conv.group_id, outgoing)
    assert verdict is not None and verdict.accepted


def _replace(extensions: Extensions, ext_type: int, data: bytes | None) -> Extensions:
    out = [(t, d) for t, d in extensions if t != ext_type]
    return out if data is None else [*out, (ext_type, data)]


def _required_capabilities(extension_types: list[int]) -> bytes:
    """RequiredCapabilities: extension_types<V>, proposal_types<V>, credential_types<V>."""
    types = b"".join(t.to_bytes(2, "big") for t in extension_types)
    return encode_varint(len(types)) + types + b"\x00\x00"


def _same_epoch(*convs: Conversation) -> None:
    first = convs[0]
    for conv in convs[1:]:
        assert conv.epoch == first.epoch
        assert conv.epoch_authenticator == first.epoch_authenticator


# --- end_mls -------------------------------------------------------------------------------


def test_end_mls_committed_in_a_group_chat(net: Net) -> None:
    """Malicious member: commits ``end_mls`` in a group chat through its raw group, to
    switch everyone to unencrypted messaging, and submits it to the focus."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    epoch = conv.epoch
    extensions = [*conv.group.extensions, (profile.EXT_END_MLS, profile.END_MLS_DATA)]
    _submit(carol, carol_conv, _raw_commit(carol_conv, extensions))
    events = [
        (device, device_conv, device.pump())
        for device, device_conv in (
            (alice, conv),
            (bob, bob_conv),
        )
    ]
    for device, device_conv, (event,) in events:
        event = assert_rejected(event, "end_mls")
        assert event.failure is MlsClientFailureReason.INVALID_COMMIT
        assert not device_conv.ended and device_conv.epoch == epoch
        # Reported once the application decides to (RCC.16: after self-heal).
        device.send(device_conv, device_conv.failure_report(event))
    bob.pump(), alice.pump()  # each other's reports
    reports = carol.pump()
    assert sorted(r.sender or "" for r in reports if isinstance(r, FailureReport)) == [ALICE, BOB]
    assert all(isinstance(r, FailureReport) and r.signed for r in reports)
    with pytest.raises(GroupStateError):
        conv.end()
    assert not conv.has_pending_commit
    still_in_step((alice, conv), (bob, bob_conv))


def test_end_in_a_one_to_one_is_honoured(net: Net) -> None:
    """Positive control: in a 1:1, ``Conversation.end()`` by Bob ends the conversation
    and Alice learns that Bob ended it."""
    alice, bob, conv, bob_conv = _pair(net)
    bob.commit(bob_conv, bob_conv.end)
    (event,) = alice.pump()
    assert isinstance(event, ConversationEnded) and event.sender == BOB
    assert conv.ended and bob_conv.ended
    _same_epoch(conv, bob_conv)


def test_end_mls_withdrawn_in_a_one_to_one(net: Net) -> None:
    """Malicious member: after Alice ended their 1:1, Bob commits the GroupContext
    without ``end_mls`` through his raw group, to resume encrypted messaging."""
    alice, bob, conv, bob_conv = _pair(net)
    alice.commit(conv, conv.end)
    (event,) = bob.pump()
    assert isinstance(event, ConversationEnded) and event.sender == ALICE
    epoch = conv.epoch
    withdrawn = _replace(bob_conv.group.extensions, profile.EXT_END_MLS, None)
    event = assert_rejected(inject(conv, _raw_commit(bob_conv, withdrawn)), "end_mls")
    assert "withdrawn" in event.reason
    # Changing its data is withdrawing it too.
    changed = _replace(bob_conv.group.extensions, profile.EXT_END_MLS, b"resume")
    assert_rejected(inject(conv, _raw_commit(bob_conv, changed)), "end_mls")
    assert conv.ended and conv.epoch == epoch
    _same_epoch(conv, bob_conv)
    with pytest.raises(GroupStateError):
        conv.send_text("still ended")


# --- extensions no member may change ---------------------------------------------------


def _new_era(extensions: Extensions) -> Extensions:
    return _replace(extensions, profile.EXT_ERA, (profile.ERA_INITIAL + 1).to_bytes(4, "big"))


def _no_era(extensions: Extensions) -> Extensions:
    # The era is also a required capability: dropping it keeps OpenMLS quiet.
    return _replace(extensions, profile.EXT_ERA, None)


def _external_sender(extensions: Extensions) -> Extensions:
    keys = SignatureKeyPair.generate(profile.SUITE)
    entry = encode_varint(len(keys.public_key)) + keys.public_key
    entry += Credential.basic(b"mallory's server").to_bytes()
    return [*extensions, (_EXT_EXTERNAL_SENDERS, encode_varint(len(entry)) + entry)]


def _more_capabilities(extensions: Extensions) -> Extensions:
    types = [*profile.REQUIRED_EXTENSIONS, profile.EXT_SUBJECT_KEY]
    return _replace(extensions, _EXT_REQUIRED_CAPABILITIES, _required_capabilities(types))


def _fewer_capabilities(extensions: Extensions) -> Extensions:
    types = [t for t in profile.REQUIRED_EXTENSIONS if t != profile.EXT_END_MLS]
    return _replace(extensions, _EXT_REQUIRED_CAPABILITIES, _required_capabilities(types))


_FORBIDDEN = {
    "era-advanced": (_new_era, "era"),
    "era-removed": (_no_era, "era"),
    "external-senders-added": (_external_sender, "external_senders"),
    "required-capabilities-widened": (_more_capabilities, "required_capabilities"),
    "required-capabilities-narrowed": (_fewer_capabilities, "required_capabilities"),
}


@pytest.mark.parametrize("change", sorted(_FORBIDDEN))
def test_forbidden_group_context_change(net: Net, change: str) -> None:
    """Malicious member: commits, through its raw group, a GroupContext change members may
    not make (a new era, its own external sender for ServerRemoves, other required
    capabilities)."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    mutate, name = _FORBIDDEN[change]
    commit = _raw_commit(carol_conv, mutate(list(carol_conv.group.extensions)))
    for device_conv in (conv, bob_conv):
        event = assert_rejected(inject(device_conv, commit), name)
        assert "may not change" in event.reason
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


def test_external_senders_changed_in_a_group_that_has_one(net: Net) -> None:
    """Malicious member: replaces the server's entry in ``external_senders`` by a key of
    its own (then it could sign ServerRemoves)."""
    server = SignatureKeyPair.generate(profile.SUITE)
    entry = encode_varint(len(server.public_key)) + server.public_key
    entry += Credential.basic(b"rcs-server").to_bytes()
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    base = Conversation.group_config()
    config = GroupConfig(
        public_handshake=True,
        max_past_epochs=base.max_past_epochs,
        required_extensions=base.required_extensions,
        group_context_extensions=[
            *base.group_context_extensions,
            (_EXT_EXTERNAL_SENDERS, encode_varint(len(entry)) + entry),
        ],
    )
    conv = Conversation(
        alice.client, alice.client.create_group(config, group_id=b"grp"), trust_anchors=net.anchors
    )
    alice.convs["grp"] = conv
    alice.commit(conv, lambda: conv.add_participants([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    carol_conv = carol.convs["grp"]
    extensions = _external_sender(
        _replace(carol_conv.group.extensions, _EXT_EXTERNAL_SENDERS, None)
    )
    commit = _raw_commit(carol_conv, extensions)
    for device_conv in (conv, bob.convs["grp"]):
        assert_rejected(inject(device_conv, commit), "external_senders")
    still_in_step((alice, conv), (bob, bob.convs["grp"]), (carol, carol_conv))


def test_an_extension_no_member_may_set(net: Net) -> None:
    """Malicious member: in a group whose required capabilities list the subject key
    extension (0xF005, a Welcome-only secret), commits one into the GroupContext."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    base = Conversation.group_config()
    config = GroupConfig(
        public_handshake=True,
        max_past_epochs=base.max_past_epochs,
        required_extensions=[
            *base.required_extensions,
            profile.EXT_SUBJECT_KEY,
            profile.EXT_METADATA_KEYS_REQUESTED,
        ],
        group_context_extensions=base.group_context_extensions,
    )
    conv = Conversation(
        alice.client, alice.client.create_group(config, group_id=b"grp"), trust_anchors=net.anchors
    )
    alice.convs["grp"] = conv
    alice.commit(conv, lambda: conv.add_participants([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    carol_conv, bob_conv = carol.convs["grp"], bob.convs["grp"]
    extensions = [*carol_conv.group.extensions, (profile.EXT_SUBJECT_KEY, b"\x01\x00")]
    commit = _raw_commit(carol_conv, extensions)
    for device_conv in (conv, bob_conv):
        assert_rejected(inject(device_conv, commit), f"0x{profile.EXT_SUBJECT_KEY:04x}")
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))
    # Positive control in the same group: the metadata-keys flag is a member's to set.
    flagged = [*carol_conv.group.extensions, (profile.EXT_METADATA_KEYS_REQUESTED, b"")]
    result = carol_conv.group.commit(group_context_extensions=flagged)
    carol_conv.group.merge_pending_commit()
    for device_conv in (conv, bob_conv):
        event = inject(device_conv, result.commit)
        assert isinstance(event, MetadataKeysRequested) and event.sender == CAROL
    _same_epoch(conv, bob_conv, carol_conv)


def test_subject_change_is_still_allowed(net: Net) -> None:
    """Positive control: a member changes the subject commitment (``set_subject``); the
    other members accept it and read the subject."""
    alice, bob, carol, conv, bob_conv, carol_conv = three(net)
    carol.commit(carol_conv, lambda: carol_conv.set_subject("Carol's plans"))
    for device, device_conv in ((alice, conv), (bob, bob_conv)):
        events = device.pump()
        assert [type(e) for e in events] == [CommitApplied, FileKeyReceived, SubjectChange]
        assert events[0].sender == CAROL
        assert device_conv.subject == "Carol's plans"
    still_in_step((alice, conv), (bob, bob_conv), (carol, carol_conv))


# --- a third participant in a 1:1 -----------------------------------------------------


def test_third_participant_added_to_a_one_to_one_by_raw_add(net: Net) -> None:
    """Malicious member: Bob adds Mallory to his 1:1 with Alice through his raw group
    (``Group.add_members``), to let a third party read it."""
    alice, bob, conv, bob_conv = _pair(net)
    mallory = net.dev("mallory", MALLORY)
    result = bob_conv.group.add_members([mallory.kp()])
    bob_conv.group.clear_pending_commit()
    assert_rejected(inject(conv, result.commit), "two participants")
    assert set(conv.participants) == {ALICE, BOB}
    still_in_step((alice, conv), (bob, bob_conv))


def test_add_participants_refuses_a_third_party_in_a_one_to_one(net: Net) -> None:
    """Honest API: ``add_participants`` of a third participant in a 1:1 raises before any
    commit is made."""
    alice, bob, conv, bob_conv = _pair(net)
    mallory = net.dev("mallory", MALLORY)
    with pytest.raises(InvalidArgumentError, match="two participants"):
        conv.add_participants([mallory.kp()])
    assert not conv.has_pending_commit
    still_in_step((alice, conv), (bob, bob_conv))


def test_welcome_into_a_one_to_one_with_three_participants(net: Net) -> None:
    """Malicious member: Bob adds Carol to his 1:1 with Alice through his raw group and
    sends Carol the Welcome; Carol must not join a "1:1" of three participants."""
    alice, bob, conv, bob_conv = _pair(net)
    carol = net.dev("carol", CAROL)
    result = bob_conv.group.add_members([carol.kp()])
    bob_conv.group.clear_pending_commit()
    assert result.welcome is not None
    welcome = server_cpim(bob_conv, result.welcome)
    with pytest.raises(RcsMlsError):
        Conversation.join(carol.client, welcome, trust_anchors=net.anchors)
    assert carol.client.list_groups() == []
    still_in_step((alice, conv), (bob, bob_conv))
