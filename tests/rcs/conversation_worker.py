"""A separate process for the conversation persistence tests: it opens a device's SQLite
store, loads one conversation, reads the CPIM objects given as files, and prints one JSON
line per event (python -m tests.rcs.conversation_worker STORE GROUP_ID ANCHOR FILE...)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rcs_mls import Client
from rcs_mls.rcs.conversation import Conversation, FileOffer, TextMessage


def main(argv: list[str]) -> int:
    if argv[0] == "--stream":
        return stream(argv[1:])
    store, group_id, anchor, *files = argv
    client = Client.open(store)
    conversation = Conversation.load(client, group_id, trust_anchors=[Path(anchor).read_bytes()])
    out: list[dict[str, object]] = [
        {"recovered": type(e).__name__} for e in conversation.recovered_events
    ]
    for name in files:
        event = conversation.receive(Path(name).read_bytes())
        line: dict[str, object] = {"event": type(event).__name__}
        if isinstance(event, TextMessage):
            line["text"] = event.text
        if isinstance(event, FileOffer):
            encrypted = Path(name).with_suffix(".bin")
            plain = Path(name).with_suffix(".out")
            conversation.decrypt_file(event, encrypted, plain)
            line["file"] = plain.read_text()
        out.append(line)
    out.append({"subject": conversation.subject, "stored": Conversation.list_stored(client)})
    leaves = conversation.commit_leaves()
    out.append({"leave_commit": None if leaves is None else leaves.removed})
    for line in out:
        print(json.dumps(line))
    return 0


def stream(argv: list[str]) -> int:
    """Read CPIM files one by one, printing each index once it was received (the crash
    test kills this process at a random moment)."""
    store, group_id, anchor, *files = argv
    client = Client.open(store)
    conversation = Conversation.load(client, group_id, trust_anchors=[Path(anchor).read_bytes()])
    for index, name in enumerate(files):
        conversation.receive(Path(name).read_bytes())
        print(index, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
