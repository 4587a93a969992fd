"""`python -m rcs_mls audit`: traces of this package's own conversations, through a tracing
relay, audited with no key; then each anomaly injected on purpose, one trace at a time."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from rcs_mls import Credential, GroupConfig, _native
from rcs_mls.__main__ import main, run_demo
from rcs_mls.audit import (
    AuditReport,
    ConversationReport,
    TraceIssue,
    TraceRecord,
    TraceWriter,
    TracingRelay,
    audit,
    audit_path,
    read_trace,
    render_html,
    render_json,
    render_text,
)
from rcs_mls.exceptions import InvalidArgumentError, ParseError
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import Conversation
from rcs_mls.rcs.cpim import CpimHeader, CpimMessage, MimeHeader
from rcs_mls.rcs.credentials import TestCertificateAuthority
from rcs_mls.rcs.imdn import Imdn, ImdnStatus, NotificationType
from rcs_mls.rcs.iscomposing import ComposingState, IsComposing
from tests.adversary.harness import device_keys, forge_cpim, raw_client, server_cpim
from tests.rcs.test_conversation import ALICE, BOB, CAROL, DAVE, Dev, Net


class TraceNet(Net):
    """The test network, its relay writing a JSON-lines trace."""

    def __init__(self, ca: TestCertificateAuthority, path: Path) -> None:
        super().__init__(ca)
        self.relay.close()
        self.path = path
        self.writer = TraceWriter.open(path)
        self.relay = TracingRelay(self.writer)

    def inject(self, conversation: str, cpim: bytes, sender: str = "tel:+15550100666") -> None:
        """The server saw ``cpim`` (from an attacker or a broken client)."""
        self.writer.write(conversation=conversation, sender=sender, cpim=cpim)

    def lines(self) -> list[str]:
        self.writer.close()
        return self.path.read_text().splitlines()

    def audit(self, lines: list[str] | None = None) -> AuditReport:
        data = self.lines() if lines is None else lines
        self.path.write_text("".join(line + "\n" for line in data))
        return audit_path(self.path)


@pytest.fixture
def tnet(ca: TestCertificateAuthority, tmp_path: Path) -> Iterator[TraceNet]:
    n = TraceNet(ca, tmp_path / "trace.jsonl")
    yield n
    n.writer.close()
    n.relay.close()


def _one(report: AuditReport, conversation: str) -> ConversationReport:
    (found,) = [c for c in report.conversations if c.conversation == conversation]
    return found


def _codes(c: ConversationReport) -> list[str]:
    return [a.code for a in c.anomalies]


def _group(tnet: TraceNet) -> tuple[Dev, Dev, Conversation, Conversation]:
    alice, bob = tnet.dev("alice", ALICE), tnet.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    return alice, bob, conv, bob.convs["grp"]


def _chat(alice: Dev, bob: Dev, conv: Conversation, bob_conv: Conversation) -> None:
    """Text, typing, a signed and an encrypted receipt, a file, a key update."""
    alice.send(conv, conv.send_typing())
    sent = conv.send_text("hello")
    alice.send(conv, sent)
    bob.pump()
    bob.send(bob_conv, bob_conv.send_receipt(sent.message_id))
    bob.send(bob_conv, bob_conv.send_receipt(sent.message_id, ImdnStatus.DISPLAYED, signed=False))
    alice.pump()
    bob.commit(bob_conv, bob_conv.update_keys)
    alice.pump()
    alice.send(conv, conv.send_text("after the update"))
    bob.pump()


# --- honest traffic -----------------------------------------------------------------------


def test_an_honest_group_is_e2ee(tnet: TraceNet) -> None:
    alice, bob, conv, bob_conv = _group(tnet)
    _chat(alice, bob, conv, bob_conv)
    carol = tnet.dev("carol", CAROL)
    alice.commit(conv, lambda: conv.add_participants([carol.kp()]))
    bob.pump()
    carol.pump()
    alice.commit(conv, lambda: conv.set_subject("Hike"))
    bob.pump()
    carol.pump()
    alice.commit(conv, lambda: conv.remove_participant(BOB))
    carol.pump()

    c = _one(tnet.audit(), "grp")
    assert c.anomalies == []
    assert c.status == "E2EE"
    assert c.verdict.startswith("E2EE: all ")
    counts = c.counts()
    # Typing, two texts, the encrypted receipt, the subject key: indistinguishable
    # PrivateMessages.
    assert counts["message"] == {"encrypted": 5, "signed": 0, "clear": 0}
    assert counts["receipt"] == {"encrypted": 0, "signed": 1, "clear": 0}
    assert counts["subject/icon"]["encrypted"] == 1
    assert counts["control"]["signed"] == 5  # five commits, as PublicMessage
    assert counts["control"]["encrypted"] == 2  # two Welcomes
    assert sum(counts[k]["clear"] for k in counts) == 0
    assert c.group_ids == ["grp"]
    assert c.eras == [1]
    assert (c.first_epoch, c.last_epoch) == (0, 4)
    assert c.commits_per_epoch == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1}
    assert c.welcome_recipients == [1, 1]
    assert all(size > 500 for size in c.welcome_sizes)
    assert c.handshakes["commit"] == 5
    assert c.handshakes["proposal rcs_signature"] == 1
    assert c.participants == [f"tel:{BOB}", f"tel:{CAROL}"]
    details = [o.detail for o in c.objects if o.detail.startswith("commit")]
    assert any("removes leaf 1" in d for d in details)
    assert any("GroupContextExtensions" in d for d in details)


def test_a_lost_commit_race_is_not_an_anomaly(tnet: TraceNet) -> None:
    alice, bob, conv, bob_conv = _group(tnet)
    a, b = conv.update_keys(), bob_conv.update_keys()
    assert tnet.relay.submit(alice.device, "grp", a).accepted  # type: ignore[union-attr]
    conv.commit_accepted()
    assert not tnet.relay.submit(bob.device, "grp", b).accepted  # type: ignore[union-attr]
    bob_conv.commit_rejected()
    bob.pump()
    bob.commit(bob_conv, bob_conv.update_keys)
    alice.pump()
    c = _one(tnet.audit(), "grp")
    assert c.anomalies == []
    assert c.commits_per_epoch == {0: 1, 1: 2, 2: 1}
    assert c.rejected_commits == 1


# --- each anomaly, injected on purpose ----------------------------------------------------


def test_end_mls_then_clear_text(tnet: TraceNet) -> None:
    alice, bob = tnet.dev("alice", ALICE), tnet.dev("bob", BOB)
    one = alice.start([bob])
    alice.send(one, one.send_text("encrypted"))
    alice.commit(one, one.end)
    bob.pump()
    report = tnet.audit(tnet.lines())
    c = _one(report, one.group_id)
    assert _codes(c) == ["end_mls"]
    assert c.status == "E2EE-ENDED"
    assert c.ended_at_epoch == 1
    assert c.verdict.startswith("E2EE until end_mls at epoch 1")

    # After end_mls the clients fall back to plain RCS: the audit says so.
    clear = forge_cpim(b"now in the clear", "text/plain", era=1, authenticator=bytes(32))
    lines = tnet.path.read_text().splitlines()
    lines.append(_line(one.group_id, clear))
    c = _one(tnet.audit(lines), one.group_id)
    assert c.status == "NOT-E2EE"
    assert "1 of 2 content objects in the clear (1 text)" in c.verdict
    assert "end_mls at epoch 1" in c.verdict


def _line(conversation: str, cpim: bytes, **fields: object) -> str:
    record = {
        "direction": "in",
        "conversation": conversation,
        "sender": "tel:+15550100666",
        "cpim": base64.b64encode(cpim).decode(),
        **fields,
    }
    return json.dumps(record)


def _public_application(group_id: bytes, epoch: int, leaf: int, data: bytes) -> bytes:
    """An application message framed as a PublicMessage (RFC 9420 §6.2), as a broken or
    malicious client would send it: OpenMLS never makes one."""

    def vl(b: bytes) -> bytes:
        assert len(b) < 64
        return bytes([len(b)]) + b

    return (
        b"\x00\x01\x00\x01"
        + vl(group_id)
        + epoch.to_bytes(8, "big")
        + b"\x01"
        + leaf.to_bytes(4, "big")
        + vl(b"")
        + b"\x01"
        + vl(data)
        + vl(os.urandom(60))
        + vl(os.urandom(32))
    )


def test_application_message_as_public_message(tnet: TraceNet) -> None:
    _alice, _bob, conv, _bob_conv = _group(tnet)
    body = _public_application(b"grp", conv.epoch, 0, b"readable by the server")
    tnet.inject("grp", server_cpim(conv, body, "message/mls"), f"tel:{ALICE}")
    c = _one(tnet.audit(), "grp")
    assert _codes(c) == ["application_as_public_message"]
    assert c.status == "NOT-E2EE"
    (bad,) = [o for o in c.objects if o.anomalies]
    assert (bad.kind, bad.protection, bad.wire_format) == ("message", "signed", "PublicMessage")


def test_commit_in_a_private_message(tnet: TraceNet, ca: TestCertificateAuthority) -> None:
    keys, chain = device_keys(ca, ALICE)
    alice = raw_client(Credential.x509(chain), keys)
    bob_keys, bob_chain = device_keys(ca, BOB)
    bob = raw_client(Credential.x509(bob_chain), bob_keys)
    group = alice.create_group(GroupConfig(public_handshake=False), group_id=b"private")
    result = group.add_members([bob.generate_key_package()])
    group.merge_pending_commit()
    auth = group.epoch_authenticator
    tnet.inject("private", forge_cpim(result.commit, era=1, authenticator=auth), f"tel:{ALICE}")
    update = group.self_update()
    tnet.inject("private", forge_cpim(update.commit, era=1, authenticator=auth), f"tel:{ALICE}")
    c = _one(tnet.audit(), "private")
    assert _codes(c) == ["commit_in_private_message", "commit_in_private_message"]
    assert c.status == "E2EE-ANOMALIES"
    assert c.commits_per_epoch == {0: 1, 1: 1}
    assert all(o.protection == "encrypted" for o in c.objects)


def test_external_commit(tnet: TraceNet, ca: TestCertificateAuthority) -> None:
    _alice, _bob, conv, _bob_conv = _group(tnet)
    keys, chain = device_keys(ca, DAVE)
    joiner = raw_client(Credential.x509(chain), keys)
    group_info = tnet.relay.group_info("grp")
    assert group_info is not None
    _joined, result = joiner.join_by_external_commit(group_info, config=Conversation.group_config())
    tnet.inject("grp", server_cpim(conv, result.commit), f"tel:{DAVE}")
    c = _one(tnet.audit(), "grp")
    assert _codes(c) == ["external_commit"]
    assert f"tel:{DAVE} joined without a Welcome" in c.anomalies[0].message
    assert c.status == "E2EE-ANOMALIES"


def test_skipped_epoch(tnet: TraceNet) -> None:
    alice, bob, conv, bob_conv = _group(tnet)
    _chat(alice, bob, conv, bob_conv)
    lines = tnet.lines()
    commits = [i for i, line in enumerate(lines) if '"accepted": true' in line]
    assert len(commits) == 2
    del lines[commits[1]]  # the server "lost" Bob's update
    c = _one(tnet.audit(lines), "grp")
    assert _codes(c) == ["skipped_epoch"]
    assert "no commit seen for epoch 1" in c.anomalies[0].message
    assert c.anomalies[0].epoch == 2


def _retag(line: str, change: object) -> str:
    record = json.loads(line)
    message = CpimMessage.from_bytes(base64.b64decode(record["cpim"]))
    record["cpim"] = base64.b64encode(change(message)).decode()  # type: ignore[operator]
    return json.dumps(record)


def test_epoch_authenticator_changed_without_a_commit(tnet: TraceNet) -> None:
    alice, _bob, conv, _bob_conv = _group(tnet)
    alice.send(conv, conv.send_text("one"))
    alice.send(conv, conv.send_text("two"))
    lines = tnet.lines()

    def forged(message: CpimMessage) -> bytes:
        headers = tuple(
            CpimHeader(h.name, base64.b64encode(b"\x01" * 32).decode())
            if h.name == "mls.Epoch-Authenticator"
            else h
            for h in message.message_headers
        )
        return CpimMessage(headers, message.content_headers, message.body).to_bytes()

    lines[-1] = _retag(lines[-1], forged)
    c = _one(tnet.audit(lines), "grp")
    assert _codes(c) == ["authenticator_changed"]
    assert c.anomalies[0].epoch == 1


def test_a_leaf_that_was_never_added(tnet: TraceNet) -> None:
    _alice, _bob, _conv, bob_conv = _group(tnet)
    commit = bob_conv.update_keys()
    message = CpimMessage.from_bytes(commit.cpim)
    body = bytearray(message.body)
    # version, wire format, group id <V> "grp", epoch, sender type: then the leaf index.
    offset = 4 + 1 + 3 + 8 + 1
    assert body[offset - 1] == 1 and body[offset : offset + 4] == b"\x00\x00\x00\x01"
    body[offset : offset + 4] = (7).to_bytes(4, "big")
    forged = CpimMessage(message.message_headers, message.content_headers, bytes(body))
    tnet.inject("grp", forged.to_bytes(), f"tel:{BOB}")
    c = _one(tnet.audit(), "grp")
    assert _codes(c) == ["leaf_without_add"]
    assert "leaf 7" in c.anomalies[0].message


def test_a_group_info_with_a_leaf_nobody_added(
    tnet: TraceNet, ca: TestCertificateAuthority
) -> None:
    """The server never saw Dave's external commit, but the GroupInfo it is handed has
    his leaf."""
    _alice, _bob, conv, _bob_conv = _group(tnet)
    keys, chain = device_keys(ca, DAVE)
    joiner = raw_client(Credential.x509(chain), keys)
    group_info = tnet.relay.group_info("grp")
    assert group_info is not None
    joined, _result = joiner.join_by_external_commit(group_info, config=Conversation.group_config())
    tnet.inject("grp", server_cpim(conv, joined.export_group_info(), "message/mls-rcs-server"))
    c = _one(tnet.audit(), "grp")
    assert _codes(c) == ["leaf_without_add"]
    assert "tree has 3 leaves; Adds and joins account for 2" in c.anomalies[0].message


def test_a_new_era_restarts_the_epochs_and_an_old_one_is_flagged(
    tnet: TraceNet, ca: TestCertificateAuthority
) -> None:
    alice, _bob, conv, _bob_conv = _group(tnet)
    alice.send(conv, conv.send_text("era 1"))
    # The group is re-created under the same group id, in era 2 (RCC.16 §2).
    keys, chain = device_keys(ca, ALICE)
    again = raw_client(Credential.x509(chain), keys)
    group = again.create_group(Conversation.group_config(), group_id=b"grp")
    result = group.add_members([tnet.dev("bob2", BOB).kp()])
    tnet.inject("grp", forge_cpim(result.commit, era=2, authenticator=group.epoch_authenticator))
    c = _one(tnet.audit(tnet.lines()), "grp")
    assert c.anomalies == []
    assert c.eras == [1, 2]
    assert c.commits_per_epoch == {0: 2}
    # A message of era 1 after era 2 began.
    stale = forge_cpim(result.commit, era=1, authenticator=group.epoch_authenticator)
    lines = [*tnet.path.read_text().splitlines(), _line("grp", stale)]
    assert "era_went_back" in _codes(_one(tnet.audit(lines), "grp"))


def test_receipts_and_typing_in_the_clear(tnet: TraceNet) -> None:
    alice, bob, conv, _bob_conv = _group(tnet)
    sent = conv.send_text("hi")
    alice.send(conv, sent)
    bob.pump()
    imdn = Imdn(
        message_id=sent.message_id,
        datetime=dt.datetime.now(dt.UTC),
        notification=NotificationType.DELIVERY,
        status=ImdnStatus.DELIVERED,
    )
    typing = IsComposing(ComposingState.ACTIVE)
    for content_type, body in (
        ("message/imdn+xml", imdn.to_bytes()),
        ("application/im-iscomposing+xml", typing.to_bytes()),
    ):
        headers = (
            CpimHeader("From", "<sip:anonymous@anonymous.invalid>"),
            CpimHeader("To", "<sip:anonymous@anonymous.invalid>"),
        )
        cpim = CpimMessage(headers, (MimeHeader("Content-Type", content_type),), body)
        tnet.inject("grp", cpim.to_bytes(), f"tel:{BOB}")
    c = _one(tnet.audit(), "grp")
    assert _codes(c) == ["clear_receipt", "clear_typing"]
    assert all(a.severity == "downgrade" for a in c.anomalies)
    assert c.status == "NOT-E2EE"
    assert "2 of 3 content objects in the clear (1 receipt, 1 typing)" in c.verdict


def test_a_conversation_without_mls(tnet: TraceNet) -> None:
    tnet.inject("plain", forge_cpim(b"hello", "text/plain", era=1, authenticator=bytes(32)))
    c = _one(tnet.audit(), "plain")
    assert c.anomalies == []  # nothing to compare with: just not E2EE
    assert c.verdict == "NOT E2EE: no MLS traffic; 1 objects rely on transport security only"


def test_garbage_objects_are_anomalies(tnet: TraceNet) -> None:
    _alice, _bob, conv, _bob_conv = _group(tnet)
    tnet.inject("grp", b"not CPIM at all")
    tnet.inject("grp", server_cpim(conv, b"\x00\x01\x00\x01\xff", "message/mls"))
    tnet.inject(
        "grp", forge_cpim(b"\x00\x01\x00\x02\x03grp", "message/mls", era=1, authenticator=b"x")
    )
    c = _one(tnet.audit(), "grp")
    assert _codes(c) == ["unparsable_cpim", "unparsable_mls", "bad_mls_header", "unparsable_mls"]


# --- the trace format ---------------------------------------------------------------------


def test_malformed_lines_are_reported_with_their_number_and_skipped(
    tnet: TraceNet, capsys: pytest.CaptureFixture[str]
) -> None:
    _alice, _bob, _conv, _bob_conv = _group(tnet)
    good = tnet.lines()
    bad = [
        "{not json",
        "[1, 2]",
        json.dumps({"direction": "in", "conversation": "grp"}),
        _line("grp", b"x", direction="sideways"),
        json.dumps({"direction": "in", "conversation": "grp", "sender": "s", "cpim": "!!"}),
        _line("grp", b"x", recipients="everyone"),
        _line("grp", b"x", time="yesterday"),
        _line("grp", b"x", accepted="yes"),
        "",
    ]
    lines = [good[0], *bad, *good[1:]]
    tnet.path.write_text("\n".join(lines) + "\n")
    with tnet.path.open("ab") as handle:
        handle.write(b"\xff\xfe not utf-8\n")
    report = audit_path(tnet.path)
    assert [i.source for i in report.issues] == [f"trace.jsonl:{n}" for n in (*range(2, 10), 12)]
    assert "missing field(s): sender, cpim" in report.issues[2].message
    assert report.records == len(good)
    assert _one(report, "grp").status == "E2EE"

    assert main(["audit", str(tnet.path)]) == 0
    captured = capsys.readouterr()
    assert "skipped trace.jsonl:2" in captured.err
    assert "verdict: E2EE: all" in captured.out


def test_a_missing_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidArgumentError):
        read_trace(tmp_path / "nope.jsonl")
    assert main(["audit", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such trace" in capsys.readouterr().err


def test_a_directory_of_cpim_files(tnet: TraceNet, tmp_path: Path) -> None:
    alice, bob, conv, bob_conv = _group(tnet)
    _chat(alice, bob, conv, bob_conv)
    lines = tnet.lines()
    folder = tmp_path / "cpim"
    folder.mkdir()
    for n, line in enumerate(lines):
        (folder / f"{n:04d}.cpim").write_bytes(base64.b64decode(json.loads(line)["cpim"]))
    (folder / "9999.cpim").write_bytes(b"garbage")
    report = audit_path(folder)
    assert [i.source.endswith("9999.cpim") for i in report.issues] == [True]
    from_lines = _one(tnet.audit(lines), "grp")
    # Without the server's metadata, Welcomes and signed receipts carry no group id of
    # their own (a Welcome's is encrypted): they form a conversation "-" of their own.
    c = _one(report, "grp")
    assert c.commits_per_epoch == from_lines.commits_per_epoch
    assert c.anomalies == []
    assert {o.kind for o in _one(report, "-").objects} == {"control", "receipt"}


def test_reading_records_in_memory() -> None:
    record = TraceRecord("c", "tel:+1", forge_cpim(b"x", "text/plain", era=1, authenticator=b""))
    report = audit([record, TraceIssue("t:1", "bad")])
    assert report.records == 1 and len(report.issues) == 1
    assert _one(report, "c").status == "NOT-E2EE"


def test_writer_refuses_a_bad_direction() -> None:
    with pytest.raises(InvalidArgumentError):
        TraceWriter(io.StringIO()).write(conversation="c", sender="s", cpim=b"", direction="up")


def test_delivered_copies_count_once(tnet: TraceNet) -> None:
    alice, _bob, conv, _bob_conv = _group(tnet)
    sent = conv.send_text("hi")
    alice.send(conv, sent)
    tnet.writer.write(
        conversation="grp",
        sender=f"tel:{ALICE}",
        cpim=sent.cpim,
        direction="out",
        recipients=[f"tel:{BOB}"],
    )
    c = _one(tnet.audit(), "grp")
    (text,) = [o for o in c.objects if o.kind == "message"]
    assert text.deliveries == 2


# --- the native reader: total on hostile bytes ---------------------------------------------


def test_inspect_message_never_crashes(tnet: TraceNet) -> None:
    _alice, _bob, _conv, _bob_conv = _group(tnet)
    samples = [
        CpimMessage.from_bytes(base64.b64decode(json.loads(line)["cpim"])).body
        for line in tnet.lines()
    ]
    for body in samples:
        for cut in range(0, len(body), max(1, len(body) // 200)):
            with contextlib.suppress(ParseError):
                _native.inspect_message(body[:cut])
        for i in range(0, len(body), max(1, len(body) // 300)):
            mutated = bytearray(body)
            mutated[i] ^= 0xFF
            with contextlib.suppress(ParseError):
                _native.inspect_message(bytes(mutated))


def test_inspect_message_reads_a_commit(tnet: TraceNet) -> None:
    alice, bob = tnet.dev("alice", ALICE), tnet.dev("bob", BOB)
    conv, commit = Conversation.start(
        alice.client, [bob.kp()], group_id="g2", trust_anchors=tnet.anchors
    )
    info = _native.inspect_message(CpimMessage.from_bytes(commit.cpim).body)
    assert (info.wire_format, info.group_id, info.epoch, info.content_type) == (1, b"g2", 0, 3)
    assert (info.sender_type, info.sender_index) == (1, 0)
    (add,) = info.proposals
    assert add.proposal_type == 1
    assert add.credential is not None
    assert Credential.from_bytes(add.credential).identity == f"tel:{BOB}".encode()
    group_info = _native.inspect_message(conv.group_info())
    assert group_info.wire_format == 4
    assert group_info.tree_credentials is not None and len(group_info.tree_credentials) == 1
    assert profile.EXT_ERA in dict(group_info.group_context_extensions)


# --- the demo's trace, the CLI and the reports ---------------------------------------------


@pytest.fixture(scope="module")
def demo_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo-trace.jsonl"
    run_demo(lambda _line: None, file_size=64 * 1024, trace=path)
    return path


def test_the_demo_trace(demo_trace: Path) -> None:
    report = audit_path(demo_trace)
    assert report.issues == []
    one, group = report.conversations
    assert group.conversation == "rcs-group-7f3e2a"
    assert group.status == "E2EE"
    assert group.rejected_commits == 1  # the race of step 5
    assert group.participants == [f"tel:{n}" for n in ("+15550100002", "+15550100003")]
    assert one.status == "E2EE-ENDED"
    assert _codes(one) == ["end_mls"]
    for c in report.conversations:
        assert sum(c.counts()[k]["clear"] for k in c.counts()) == 0


def test_the_cli_outputs(
    demo_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html_path = tmp_path / "report.html"
    assert main(["audit", str(demo_trace), "--html", str(html_path)]) == 1  # end_mls
    text = capsys.readouterr().out
    assert "verdict: E2EE: all" in text
    assert "verdict: E2EE until end_mls at epoch" in text
    assert "!! end_mls" in text

    assert main(["audit", str(demo_trace), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    statuses = [c["status"] for c in document["conversations"]]
    assert statuses == ["E2EE-ENDED", "E2EE"]
    assert document["conversations"][1]["mls"]["rejected_commits"] == 1

    page = html_path.read_text()
    assert page.count("<svg") >= 2
    for external in ("<script", "src=", "href=", "url(", "@import"):
        assert external not in page
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        ElementTree.fromstring(svg)  # each timeline is well-formed SVG
    assert page.count('class="verdict"') == 2
    report = audit_path(demo_trace)
    assert render_html(report) == render_html(report)
    assert render_text(report).count("verdict:") == 2
    assert json.loads(render_json(report)) == report.to_json()


def test_the_readme_shows_the_real_output(
    demo_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Auditing server traffic", 1)[1].split("\n## ", 1)[0]
    assert "python -m rcs_mls demo --trace demo.jsonl" in section
    assert "python -m rcs_mls audit demo.jsonl" in section
    excerpt = re.findall(r"```text\n(.*?)```", section, flags=re.S)[0]
    main(["audit", str(demo_trace)])
    real = capsys.readouterr().out.replace(demo_trace.name, "demo.jsonl")
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    # Every line of the excerpt is printed for the demo's trace (the 1:1 id is random,
    # the Welcome sizes vary by a few bytes with the certificates).
    sizes = re.compile(r"\d+ B \(")

    def normalise(text: str) -> str:
        return sizes.sub("N B (", uuid.sub("UUID", text))

    lines = set(normalise(real).splitlines())
    for line in normalise(excerpt).splitlines():
        if not line.startswith("HTML report"):
            assert line in lines, line


def test_progress_on_stderr(demo_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(demo_trace), "--progress", "always"]) == 1
    assert "audit: 100% of" in capsys.readouterr().err
