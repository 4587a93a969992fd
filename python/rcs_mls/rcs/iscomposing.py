"""Is-composing indications (RFC 3994), ``application/im-iscomposing+xml``.

A typing indicator (RFC 3994 §3): ``state`` is ``active`` while the user composes and
``idle`` otherwise; ``lastactive`` (RFC 3339) says when the user was last active;
``contenttype`` what is being composed (a MIME type or a top-level type such as
``audio``); ``refresh`` in how many seconds an active state expires unless refreshed.
In an RCC.16 encrypted conversation the document travels inside MLS like any other
payload.

Parsing follows the schema of RFC 3994 §5: a root ``isComposing`` in the namespace
``urn:ietf:params:xml:ns:im-iscomposing``, ``state`` required and exactly ``active`` or
``idle``, the other elements optional, none repeated or unknown, ``refresh`` a positive
integer. Elements in other namespaces are extension points and are skipped. The XML is
read as in :mod:`rcs_mls.rcs.imdn` (at most :data:`MAX_XML_DOCUMENT_SIZE` bytes, no DOCTYPE, no
entities, UTF-8 only).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from rcs_mls.exceptions import InvalidArgumentError, IsComposingParseError
from rcs_mls.rcs._xml import (
    _XML_DECLARATION,
    MAX_XML_DOCUMENT_SIZE,
    _check_xml_text,
    _children,
    _escape_text,
    _parse_xml,
    _text,
    _unique,
)
from rcs_mls.rcs.cpim import format_datetime, parse_datetime

__all__ = [
    "CONTENT_TYPE_ISCOMPOSING",
    "MAX_REFRESH",
    "MAX_XML_DOCUMENT_SIZE",
    "NS_ISCOMPOSING",
    "ComposingState",
    "IsComposing",
]

#: The MIME type of an is-composing document (RFC 3994 §8.1).
CONTENT_TYPE_ISCOMPOSING = "application/im-iscomposing+xml"
#: The XML namespace (RFC 3994 §8.2).
NS_ISCOMPOSING = "urn:ietf:params:xml:ns:im-iscomposing"
#: The largest ``refresh`` accepted, in seconds. RFC 3994 sets no bound (a positive
#: integer); this package takes the signed 32-bit range that implementations store.
MAX_REFRESH = 2**31 - 1

_ROOT = f"{{{NS_ISCOMPOSING}}}isComposing"
_CHILDREN = {"state", "lastactive", "contenttype", "refresh"}
_REFRESH_RE = re.compile(r"[0-9]{1,10}")


class ComposingState(enum.Enum):
    """The composition state (RFC 3994 §3)."""

    ACTIVE = "active"
    IDLE = "idle"


@dataclass(frozen=True)
class IsComposing:
    """An is-composing indication (RFC 3994 §5).

    Raises:
        InvalidArgumentError: ``state`` is not a ComposingState, ``last_active`` is naive,
            ``content_type`` is empty or padded, or ``refresh`` is not in
            ``1..MAX_REFRESH``.
    """

    state: ComposingState
    last_active: dt.datetime | None = None
    content_type: str | None = None
    refresh: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.state, ComposingState):
            raise InvalidArgumentError("state must be a ComposingState")
        if self.last_active is not None:
            format_datetime(self.last_active)
        if self.content_type is not None:
            _check_xml_text(self.content_type, "content_type", token=True)
        if self.refresh is not None and (
            not isinstance(self.refresh, int)
            or isinstance(self.refresh, bool)
            or not 1 <= self.refresh <= MAX_REFRESH
        ):
            raise InvalidArgumentError(f"refresh must be 1..{MAX_REFRESH} seconds")

    def to_bytes(self) -> bytes:
        """Encode as a UTF-8 ``application/im-iscomposing+xml`` document."""
        parts = [
            _XML_DECLARATION,
            f'<isComposing xmlns="{NS_ISCOMPOSING}">',
            f"<state>{self.state.value}</state>",
        ]
        if self.last_active is not None:
            parts.append(f"<lastactive>{format_datetime(self.last_active)}</lastactive>")
        if self.content_type is not None:
            parts.append(f"<contenttype>{_escape_text(self.content_type)}</contenttype>")
        if self.refresh is not None:
            parts.append(f"<refresh>{self.refresh}</refresh>")
        parts.append("</isComposing>")
        return "".join(parts).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> IsComposing:
        """Decode an ``application/im-iscomposing+xml`` document.

        Raises:
            IsComposingParseError: over :data:`MAX_XML_DOCUMENT_SIZE` bytes, not UTF-8 XML,
                a DOCTYPE or entity declaration, or not the RFC 3994 §5 structure described
                in the module docstring.
        """
        error = IsComposingParseError
        root = _parse_xml(data, error, _ROOT)
        found = _unique(_children(root, NS_ISCOMPOSING, error), _CHILDREN, error)
        if "state" not in found:
            raise IsComposingParseError("isComposing without state")
        text = _text(found["state"], error)
        try:
            state = ComposingState(text)
        except ValueError as exc:
            raise IsComposingParseError("state must be active or idle") from exc
        refresh: int | None = None
        if "refresh" in found:
            text = _text(found["refresh"], error)
            if _REFRESH_RE.fullmatch(text) is None:
                raise IsComposingParseError(f"refresh is not a number: {text[:20]!r}")
            refresh = int(text)
        try:
            return cls(
                state=state,
                last_active=(
                    parse_datetime(_text(found["lastactive"], error))
                    if "lastactive" in found
                    else None
                ),
                content_type=(
                    _text(found["contenttype"], error) if "contenttype" in found else None
                ),
                refresh=refresh,
            )
        except InvalidArgumentError as exc:
            raise IsComposingParseError(str(exc)) from exc
