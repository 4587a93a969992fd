"""Traces of the CPIM objects that crossed a server: reading and writing them.

A trace is either

- a **JSON-lines file**: one JSON object per line, UTF-8 (see ``docs/audit.md``)::

    {"time": "2026-05-12T10:00:00.000Z", "direction": "in", "conversation": "Weekend",
     "sender": "tel:+15550000001", "recipients": ["tel:+15550000002"],
     "cpim": "<standard base64 of the message/cpim bytes>", "accepted": true}

  ``direction`` is ``"in"`` (the server received the object from ``sender``) or
  ``"out"`` (the server delivered it to ``recipients``); ``conversation``, ``sender`` and
  ``recipients`` are what the server knows, not what the object claims; ``time`` is an
  RFC 3339 date-time (optional: the CPIM ``DateTime`` is used when absent); ``accepted``
  (optional, true by default) is the conversation focus's verdict on a commit. Other
  fields are ignored. Blank lines are skipped.
- a **directory of raw CPIM files** (``*.cpim``, or every regular file when there is no
  such file), read in sorted path order; the conversation is the MLS group id of the body
  when it has one, else the name of the file's subdirectory (``-`` at the top level); the
  sender is the CPIM ``From``.

A line or file that cannot be read becomes a :class:`TraceIssue` (with its line number or
path) and is skipped: reading a trace never fails on its content.

:class:`TraceWriter` writes the JSON-lines format; :class:`TracingRelay` is a
:class:`~rcs_mls.rcs.relay.Relay` that writes everything it receives to one (the demo's
``--trace``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rcs_mls import _native
from rcs_mls.exceptions import InvalidArgumentError, ParseError
from rcs_mls.rcs.conversation import Outgoing
from rcs_mls.rcs.cpim import MAX_CPIM_BODY_SIZE, CpimMessage, format_datetime, parse_datetime
from rcs_mls.rcs.relay import CommitVerdict, Device, Relay

__all__ = [
    "MAX_TRACE_LINE_LENGTH",
    "TraceIssue",
    "TraceParseError",
    "TraceRecord",
    "TraceWriter",
    "TracingRelay",
    "read_trace",
]

#: The longest trace line read (a CPIM object at the CPIM parser's body limit, in base64,
#: plus its JSON fields); a longer line is reported and skipped.
MAX_TRACE_LINE_LENGTH = (MAX_CPIM_BODY_SIZE * 4) // 3 + 1024 * 1024

_DIRECTIONS = ("in", "out")


class TraceParseError(ParseError):
    """A trace line or file that cannot be read (reported, then skipped)."""


@dataclass(frozen=True)
class TraceRecord:
    """One CPIM object seen by the server.

    ``source`` says where it was read (``"trace.jsonl:12"``, or a file path).
    """

    conversation: str
    sender: str
    cpim: bytes = field(repr=False)
    direction: str = "in"
    recipients: tuple[str, ...] = ()
    time: dt.datetime | None = None
    accepted: bool = True
    source: str = ""


@dataclass(frozen=True)
class TraceIssue:
    """A trace line or file that was skipped, and why."""

    source: str
    message: str


def _record_from_json(obj: object, source: str) -> TraceRecord:
    if not isinstance(obj, dict):
        raise TraceParseError("not a JSON object")
    missing = [k for k in ("direction", "conversation", "sender", "cpim") if k not in obj]
    if missing:
        raise TraceParseError(f"missing field(s): {', '.join(missing)}")
    direction, conversation, sender, data = (
        obj["direction"],
        obj["conversation"],
        obj["sender"],
        obj["cpim"],
    )
    if direction not in _DIRECTIONS:
        raise TraceParseError(f"direction must be 'in' or 'out', not {str(direction)[:20]!r}")
    for name, value in (("conversation", conversation), ("sender", sender), ("cpim", data)):
        if not isinstance(value, str):
            raise TraceParseError(f"{name} must be a string")
    recipients = obj.get("recipients", [])
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise TraceParseError("recipients must be a list of strings")
    accepted = obj.get("accepted", True)
    if not isinstance(accepted, bool):
        raise TraceParseError("accepted must be true or false")
    time: dt.datetime | None = None
    if obj.get("time") is not None:
        if not isinstance(obj["time"], str):
            raise TraceParseError("time must be an RFC 3339 string")
        try:
            time = parse_datetime(obj["time"])
        except (ParseError, InvalidArgumentError) as exc:
            raise TraceParseError(f"time: {exc}") from None
    try:
        if len(data) % 4:
            raise binascii.Error("length not a multiple of 4")
        cpim = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise TraceParseError("cpim is not standard base64") from None
    return TraceRecord(
        conversation=conversation,
        sender=sender,
        cpim=cpim,
        direction=direction,
        recipients=tuple(recipients),
        time=time,
        accepted=accepted,
        source=source,
    )


def _read_lines(
    path: Path, progress: Callable[[int, int], None] | None
) -> Iterator[TraceRecord | TraceIssue]:
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        number = 0
        while True:
            line = handle.readline(MAX_TRACE_LINE_LENGTH + 1)
            if not line:
                break
            number += 1
            done += len(line)
            source = f"{path.name}:{number}"
            if len(line) > MAX_TRACE_LINE_LENGTH and not line.endswith(b"\n"):
                # Skip the rest of an over-long line.
                while line and not line.endswith(b"\n"):
                    line = handle.readline(1 << 20)
                    done += len(line)
                yield TraceIssue(source, f"line longer than {MAX_TRACE_LINE_LENGTH} bytes")
                continue
            if progress is not None and number % 500 == 0:
                progress(done, total)
            if not line.strip():
                continue
            try:
                obj: Any = json.loads(line.decode("utf-8"))
                yield _record_from_json(obj, source)
            except UnicodeDecodeError:
                yield TraceIssue(source, "not UTF-8")
            except (ValueError, RecursionError) as exc:
                # json.JSONDecodeError and TraceParseError are both ValueErrors.
                yield TraceIssue(source, str(exc)[:200])
    if progress is not None:
        progress(total, total)


def _conversation_of_file(
    root: Path, path: Path, data: bytes
) -> tuple[str, str, dt.datetime | None]:
    """The conversation (the MLS group id, else the subdirectory), sender and time."""
    message = CpimMessage.from_bytes(data)
    group: str | None = None
    try:
        group_id = _native.rcs_message_info(message.body)[1]
    except ParseError:
        group_id = None
    if group_id is not None:
        try:
            group = group_id.decode("utf-8")
        except UnicodeDecodeError:
            group = group_id.hex()
    if group is None:
        parent = path.parent.relative_to(root)
        group = "-" if str(parent) == "." else str(parent)
    try:
        sender = message.sender
        time = message.datetime
    except (ParseError, InvalidArgumentError):
        sender, time = None, None
    return group, "" if sender is None else sender.uri, time


def _read_directory(
    root: Path, progress: Callable[[int, int], None] | None
) -> Iterator[TraceRecord | TraceIssue]:
    files = sorted(p for p in root.rglob("*.cpim") if p.is_file())
    if not files:
        files = sorted(p for p in root.rglob("*") if p.is_file())
    for number, path in enumerate(files, 1):
        source = str(path)
        if progress is not None and number % 500 == 0:
            progress(number, len(files))
        try:
            if path.stat().st_size > MAX_TRACE_LINE_LENGTH:
                yield TraceIssue(source, "file too large for a CPIM object")
                continue
            data = path.read_bytes()
            conversation, sender, time = _conversation_of_file(root, path, data)
        except OSError as exc:
            yield TraceIssue(source, f"cannot read: {exc.strerror or exc}")
            continue
        except ParseError as exc:
            yield TraceIssue(source, f"not a CPIM object: {exc}")
            continue
        yield TraceRecord(
            conversation=conversation, sender=sender, cpim=data, time=time, source=source
        )
    if progress is not None:
        progress(len(files), len(files))


def read_trace(
    path: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[TraceRecord | TraceIssue]:
    """Read a trace (a JSON-lines file or a directory of CPIM files, see the module doc).

    Yields each record in order, and a :class:`TraceIssue` for each line or file that was
    skipped. ``progress`` is called now and then with (done, total): bytes of a JSON-lines
    file, or files of a directory.

    Raises:
        InvalidArgumentError: ``path`` does not exist or cannot be opened.
    """
    root = Path(path)
    if root.is_dir():
        return _read_directory(root, progress)
    if not root.is_file():
        raise InvalidArgumentError(f"no such trace: {root}")
    try:
        with root.open("rb"):
            pass
    except OSError as exc:
        raise InvalidArgumentError(f"cannot open {root}: {exc.strerror or exc}") from None
    return _read_lines(root, progress)


class TraceWriter:
    """Writes trace records as JSON lines (the format :func:`read_trace` reads)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> TraceWriter:
        """A writer to a new file at ``path`` (replaced if it exists); :meth:`close` it."""
        return cls(Path(path).open("w", encoding="utf-8"))

    def write(
        self,
        *,
        conversation: str,
        sender: str,
        cpim: bytes,
        direction: str = "in",
        recipients: tuple[str, ...] | list[str] = (),
        time: dt.datetime | None = None,
        accepted: bool | None = None,
    ) -> None:
        """Write one record (``time`` defaults to now, UTC).

        Raises:
            InvalidArgumentError: ``direction`` is not ``"in"`` or ``"out"``.
        """
        if direction not in _DIRECTIONS:
            raise InvalidArgumentError(f"direction must be 'in' or 'out', not {direction!r}")
        record: dict[str, object] = {
            "time": format_datetime(time or dt.datetime.now(dt.UTC)),
            "direction": direction,
            "conversation": conversation,
            "sender": sender,
            "recipients": list(recipients),
            "cpim": base64.b64encode(cpim).decode("ascii"),
        }
        if accepted is not None:
            record["accepted"] = accepted
        self._stream.write(json.dumps(record) + "\n")

    def close(self) -> None:
        """Flush and close the stream."""
        self._stream.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tel(number: str) -> str:
    return number if ":" in number else f"tel:{number}"


class TracingRelay(Relay):
    """A :class:`~rcs_mls.rcs.relay.Relay` that writes every object it receives to a
    trace: direction ``in``, the sending participant, the participants it fans the object
    out to, and for commits the focus's verdict."""

    def __init__(self, trace: TraceWriter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._trace = trace

    def submit(self, sender: Device, group_id: str, outgoing: Outgoing) -> CommitVerdict | None:
        """As :meth:`Relay.submit`, and write the object to the trace."""
        before = self.members(group_id)
        verdict = super().submit(sender, group_id, outgoing)
        if outgoing.kind == "welcome":
            targets = set(outgoing.recipients or ())
        elif verdict is not None and not verdict.accepted:
            targets = set()
        else:
            targets = before | self.members(group_id) if verdict is None else before
        targets.discard(sender.number)
        self._trace.write(
            conversation=group_id,
            sender=_tel(sender.number),
            recipients=[_tel(n) for n in sorted(targets)],
            cpim=outgoing.cpim,
            accepted=None if verdict is None else verdict.accepted,
        )
        return verdict
