"""CPIM messages (RFC 3862), the envelope of every RCS chat message.

An RCS message travels as a ``message/cpim`` object (RFC 3862 §2): a block of message
headers, a blank line, an encapsulated MIME entity (its headers, a blank line, its body).
GSMA RCC.16 puts the MLS message in that body and adds headers in the ``mls`` namespace
(RCC.16 §7.9): ``mls.Era-ID`` and ``mls.Epoch-Authenticator`` on every MLS body,
``mls.Original-Message-ID`` on resends, ``mls.MLS-Derived-Content-Signature`` on signed
receipts.

What this module checks, after RFC 3862 §3:

- header names are ``[prefix "."] Name`` over the NAMECHAR set (§3.6), and compared
  case-sensitively (the ABNF marks each header name as case-sensitive);
- header parameters (``Subject:;lang=fr ...``, §3.3) are tokens, numbers or quoted strings,
  followed by exactly one space and the value;
- values hold no control characters; escape sequences (§2.3) are kept as written;
- every prefix is declared by an ``NS`` header (§3.4), and no prefix is declared twice
  with two different URIs; a declaration may appear anywhere in the block;
- ``From`` and ``DateTime`` appear at most once (§4.1, §4.4); ``From``, ``To`` and ``cc``
  hold ``[Formal-name] <URI>``; ``DateTime`` is an RFC 3339 date-time;
- lines end in CRLF; bare CR or LF and header folding are refused;
- the encapsulated ``Content-Length`` (RFC 2045 headers, case-insensitive names), when
  present, is exactly the number of bytes that follow the blank line;
- the input stays within the parser limits: at most :data:`MAX_CPIM_HEADERS` headers in
  each header block, header lines of at most :data:`MAX_CPIM_LINE_LENGTH` bytes and a body
  of at most :data:`MAX_CPIM_BODY_SIZE` bytes. They are checked while the input is read,
  before any header object is built, so hostile input fails fast (RFC 3862 sets no
  limits; these are generous for real traffic).

``CpimMessage.to_bytes`` always writes ``Content-Length`` (after ``Content-Type``),
computed from the body. Headers keep their order through a round trip.

The RFC 3339 date-time helpers here (:func:`parse_datetime`, :func:`format_datetime`) are
shared by the other RCS formats (IMDN, isComposing, File Transfer over HTTP).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from rcs_mls.exceptions import CpimParseError, InvalidArgumentError, ParseError

__all__ = [
    "CONTENT_TYPE_CPIM",
    "CONTENT_TYPE_MLS",
    "CONTENT_TYPE_MLS_FT",
    "CONTENT_TYPE_MLS_RCS_CLIENT",
    "CONTENT_TYPE_MLS_RCS_FILE_INFO",
    "CONTENT_TYPE_MLS_RCS_SERVER",
    "DEFAULT_NAMESPACE",
    "HEADER_IMDN_DISPOSITION_NOTIFICATION",
    "HEADER_IMDN_MESSAGE_ID",
    "HEADER_MLS_DERIVED_CONTENT_SIGNATURE",
    "HEADER_MLS_EPOCH_AUTHENTICATOR",
    "HEADER_MLS_ERA_ID",
    "HEADER_MLS_ORIGINAL_MESSAGE_ID",
    "MAX_BASE64_HEADER_LENGTH",
    "MAX_CPIM_BODY_SIZE",
    "MAX_CPIM_HEADERS",
    "MAX_CPIM_LINE_LENGTH",
    "NS_IMDN",
    "NS_MLS",
    "CpimAddress",
    "CpimHeader",
    "CpimMessage",
    "MimeHeader",
    "format_datetime",
    "parse_datetime",
    "read_mime_headers",
]

#: The MIME type of a CPIM object (RFC 3862 §7).
CONTENT_TYPE_CPIM = "message/cpim"

# Inner content types of RCC.16 §7.9 (as deployed).
#: An MLS application message (PrivateMessage).
CONTENT_TYPE_MLS = "message/mls"
#: Client control: commit, proposal, Welcome.
CONTENT_TYPE_MLS_RCS_CLIENT = "message/mls-rcs-client"
#: Server control.
CONTENT_TYPE_MLS_RCS_SERVER = "message/mls-rcs-server"
#: File key delivery (a FileInfo protobuf, RCC.16 §7.8.1).
CONTENT_TYPE_MLS_RCS_FILE_INFO = "message/mls-rcs-file-info"
#: An encrypted file transfer (and encrypted group subject or icon).
CONTENT_TYPE_MLS_FT = "message/mls-ft"

#: The namespace of header names without a prefix (RFC 3862 §3.4).
DEFAULT_NAMESPACE = "urn:ietf:params:cpim-headers:"
#: The IMDN header namespace (RFC 5438 §4), conventionally prefixed ``imdn``.
NS_IMDN = "urn:ietf:params:imdn"
#: The RCC.16 MLS header namespace, conventionally prefixed ``mls``.
NS_MLS = "http://www.gsma.com/rcs/mls"

HEADER_IMDN_MESSAGE_ID = "imdn.Message-ID"
HEADER_IMDN_DISPOSITION_NOTIFICATION = "imdn.Disposition-Notification"
#: The era (RCC.16 extension 0xF001), decimal; required on an MLS body.
HEADER_MLS_ERA_ID = "mls.Era-ID"
#: Standard base64 of the 32-byte RFC 9420 epoch authenticator; required on an MLS body.
HEADER_MLS_EPOCH_AUTHENTICATOR = "mls.Epoch-Authenticator"
#: The message id a resend replaces.
HEADER_MLS_ORIGINAL_MESSAGE_ID = "mls.Original-Message-ID"
#: Base64 of the ``rcs_signature`` PublicMessage that signs a receipt (RCC.16 §7.6.2).
HEADER_MLS_DERIVED_CONTENT_SIGNATURE = "mls.MLS-Derived-Content-Signature"

# --- parser limits ---------------------------------------------------------------------------
# RFC 3862 bounds nothing. Without limits, 200,000 one-line headers (1.2 MB) cost seconds
# of parsing; with them, hostile input is refused after reading at most one header block's
# worth of lines, before any header object is built.

#: The most header lines accepted in one header block: the CPIM message headers, and
#: separately the MIME headers of the encapsulated entity (and of the SecretPayload entity,
#: read by :func:`read_mime_headers` as well). An RCS message has about a dozen (From, To,
#: DateTime, NS, ``imdn.*``, ``mls.*``); 1000 leaves room for any extension.
MAX_CPIM_HEADERS = 1000
#: The longest header line accepted, in bytes, without its CRLF. The longest line this
#: package writes is ``mls.MLS-Derived-Content-Signature``, the base64 of a signed
#: PublicMessage (under 1 KiB); URIs and display names are far shorter. 16 KiB.
MAX_CPIM_LINE_LENGTH = 16 * 1024
#: The largest encapsulated body accepted, in bytes. The body is one MLS message (or an
#: encrypted group icon); the largest are the Welcome and the add commit of a large group,
#: about 30 to 40 KB per 100 members in this package's benchmarks, so about 2 MB for 5000
#: members. 32 MiB is more than ten times that.
MAX_CPIM_BODY_SIZE = 32 * 1024 * 1024
#: The longest base64 header value :meth:`CpimMessage.header_base64` decodes, in
#: characters: ``mls.Epoch-Authenticator`` is 44, ``mls.MLS-Derived-Content-Signature``
#: (a signed PublicMessage) well under 1 KiB. 8 KiB, checked before decoding.
MAX_BASE64_HEADER_LENGTH = 8 * 1024

# The most bytes two header blocks at their limits can take: with the body limit, the
# largest input worth reading at all.
_MAX_HEADER_BLOCK = MAX_CPIM_HEADERS * (MAX_CPIM_LINE_LENGTH + 2) + 2
_MAX_CPIM_SIZE = 2 * _MAX_HEADER_BLOCK + MAX_CPIM_BODY_SIZE

_CRLF = b"\r\n"

# RFC 3862 §3.6: NAMECHAR = %x21 / %x23-27 / %x2a-2b / %x2d / %x5e-60 / %x7c / %x7e
#                           / ALPHA / DIGIT
_NAMECHARS = r"!#$%&'*+\-^_`|~A-Za-z0-9"
_NAME = rf"[{_NAMECHARS}]+"
_HEADER_NAME_RE = re.compile(rf"(?:({_NAME})\.)?({_NAME})")
# TOKENCHAR = %x21 / %x23-27 / %x2a-2b / %x2d-2e / %x30-39 / %x41-5a / %x5e-7a / %x7c / %x7e
_TOKEN = r"[!#$%&'*+\-.0-9A-Z^_`a-z|~]+"
# String = DQUOTE *( Str-char / Escape ) DQUOTE, Escape as in §2.3.
_QUOTED = r'"(?:[^"\\\x00-\x1f\x7f]|\\(?:u[0-9A-Fa-f]{4}|[btnfr"\'\\]))*"'
_PARAM_RE = re.compile(rf";({_NAME})=({_TOKEN}|{_QUOTED})")
_PARAM_VALUE_RE = re.compile(rf"{_TOKEN}|{_QUOTED}")
_NAME_RE = re.compile(_NAME)
# UCS-no-CTL: anything but C0 controls and DEL.
_CTL_RE = re.compile(r"[\x00-\x1f\x7f]")
# NS value: [ Name-prefix SP ] "<" URI ">"
_NS_VALUE_RE = re.compile(rf"(?:({_NAME}) )?<([^<>\x00-\x20\x7f]+)>")
# From / To / cc value: [ Formal-name ] "<" URI ">", Formal-name = 1*( Token SP ) / String
_ADDRESS_RE = re.compile(rf"(?:((?:{_TOKEN} )+)|({_QUOTED}) ?)?<([^<>\x00-\x20\x7f]+)>")
# RFC 5322 field-name: printable ASCII except colon.
_MIME_NAME_RE = re.compile(r"[!-9;-~]+")
_MIME_VALUE_BAD_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTENT_LENGTH_RE = re.compile(r"[0-9]{1,20}")

_SINGLE_HEADERS = ("From", "DateTime")
_ADDRESS_HEADERS = ("From", "To", "cc")


# --- RFC 3339 date-times -------------------------------------------------------------------

_RFC3339_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_datetime(text: str) -> dt.datetime:
    """Parse an RFC 3339 ``date-time`` (RFC 3862 §4.4, RFC 5438 §7, RFC 3994 §5).

    Fractions of a second beyond microseconds are truncated; ``-00:00`` reads as UTC.
    The result always carries its UTC offset.

    Raises:
        InvalidArgumentError: ``text`` is not an RFC 3339 date-time.
    """
    if not isinstance(text, str):
        raise InvalidArgumentError("a date-time must be a str")
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise InvalidArgumentError(f"not an RFC 3339 date-time: {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    microsecond = int((fraction + "000000")[:6])
    if match.group(8) is not None:
        offset = dt.timedelta(0)
    else:
        off_hours, off_minutes = int(match.group(10)), int(match.group(11))
        if off_hours > 23 or off_minutes > 59:
            raise InvalidArgumentError(f"bad UTC offset in {text!r}")
        offset = dt.timedelta(hours=off_hours, minutes=off_minutes)
        if match.group(9) == "-":
            offset = -offset
    try:
        return dt.datetime(
            year, month, day, hour, minute, second, microsecond, tzinfo=dt.timezone(offset)
        )
    except ValueError as exc:
        raise InvalidArgumentError(f"not a valid date-time: {text!r}") from exc


def format_datetime(value: dt.datetime) -> str:
    """Format an aware datetime as RFC 3339, with milliseconds (as RCS clients write them).

    UTC is written ``Z``; microseconds are kept when they are not whole milliseconds.

    Raises:
        InvalidArgumentError: ``value`` is naive or its UTC offset is not whole minutes.
    """
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentError("a date-time must be a datetime.datetime")
    offset = value.utcoffset()
    if offset is None:
        raise InvalidArgumentError("a date-time must carry a UTC offset (naive datetime)")
    if offset % dt.timedelta(minutes=1):
        raise InvalidArgumentError("RFC 3339 offsets are whole minutes")
    if value.microsecond % 1000 == 0:
        fraction = f"{value.microsecond // 1000:03d}"
    else:
        fraction = f"{value.microsecond:06d}"
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{fraction}"
    )
    if not offset:
        return text + "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(offset) // dt.timedelta(minutes=1)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


# --- headers ---------------------------------------------------------------------------------


_T = TypeVar("_T")


def _as_tuple(value: object, item_type: type[_T], what: str) -> tuple[_T, ...]:
    """``value`` as a tuple whose items are all ``item_type``, or InvalidArgumentError."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{what} must be a sequence")
    items = tuple(value)
    if not all(isinstance(item, item_type) for item in items):
        raise InvalidArgumentError(f"{what} must hold {item_type.__name__} items")
    return items


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a str, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class CpimHeader:
    """One CPIM message header (RFC 3862 §3): ``name:;param=value value``.

    ``name`` is as written on the wire, prefix included (``imdn.Message-ID``).
    ``parameters`` are ``(name, value)`` pairs; a quoted value keeps its quotes.

    Raises:
        InvalidArgumentError: the name, a parameter or the value is not valid CPIM.
    """

    name: str
    value: str
    parameters: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        name = _require_str(self.name, "a header name")
        value = _require_str(self.value, "a header value")
        if _HEADER_NAME_RE.fullmatch(name) is None:
            raise InvalidArgumentError(f"not a CPIM header name: {name!r}")
        if _CTL_RE.search(value):
            raise InvalidArgumentError(f"control character in the value of {name}")
        params = _as_tuple(self.parameters, tuple, "parameters")
        for pair in params:
            if len(pair) != 2 or not all(isinstance(part, str) for part in pair):
                raise InvalidArgumentError("parameters must be (name, value) pairs of str")
            key, val = pair
            if _NAME_RE.fullmatch(key) is None or _PARAM_VALUE_RE.fullmatch(val) is None:
                raise InvalidArgumentError(f"not a CPIM header parameter: {key}={val}")
        object.__setattr__(self, "parameters", params)

    @property
    def prefix(self) -> str | None:
        """The namespace prefix (``imdn`` in ``imdn.Message-ID``), or None."""
        prefix, _, rest = self.name.partition(".")
        return prefix if rest else None

    @property
    def local_name(self) -> str:
        """The name without its prefix (``Message-ID`` in ``imdn.Message-ID``)."""
        return self.name.rpartition(".")[2]

    @property
    def lang(self) -> str | None:
        """The ``lang`` parameter (RFC 3862 §3.3), or None."""
        for key, val in self.parameters:
            if key == "lang":
                return val
        return None

    def _encode(self) -> str:
        params = "".join(f";{key}={val}" for key, val in self.parameters)
        return f"{self.name}:{params} {self.value}"

    @classmethod
    def _decode(cls, line: str) -> CpimHeader:
        name, colon, rest = line.partition(":")
        if not colon:
            raise CpimParseError(f"header line without a colon: {line[:60]!r}")
        params: list[tuple[str, str]] = []
        pos = 0
        while rest.startswith(";", pos):
            match = _PARAM_RE.match(rest, pos)
            if match is None:
                raise CpimParseError(f"bad parameter in header {name[:60]!r}")
            params.append((match.group(1), match.group(2)))
            pos = match.end()
        if not rest.startswith(" ", pos):
            raise CpimParseError(f"header {name[:60]!r}: a single space must precede the value")
        try:
            return cls(name, rest[pos + 1 :], tuple(params))
        except InvalidArgumentError as exc:
            raise CpimParseError(str(exc)) from exc


@dataclass(frozen=True)
class MimeHeader:
    """One MIME header of the encapsulated entity (RFC 2045), ``Name: value``.

    Names compare case-insensitively. The value carries no surrounding whitespace.

    Raises:
        InvalidArgumentError: the name or value cannot be written as a header line.
    """

    name: str
    value: str

    def __post_init__(self) -> None:
        name = _require_str(self.name, "a header name")
        value = _require_str(self.value, "a header value")
        if _MIME_NAME_RE.fullmatch(name) is None:
            raise InvalidArgumentError(f"not a MIME header name: {name!r}")
        if _MIME_VALUE_BAD_RE.search(value) or value != value.strip(" \t"):
            raise InvalidArgumentError(f"not a MIME header value for {name}: {value!r}")

    def _encode(self) -> str:
        return f"{self.name}: {self.value}"

    @classmethod
    def _decode(cls, line: str, error: type[ParseError]) -> MimeHeader:
        name, colon, value = line.partition(":")
        if not colon:
            raise error(f"header line without a colon: {line[:60]!r}")
        if line[:1] in (" ", "\t"):
            raise error("folded header lines are not accepted")
        try:
            return cls(name, value.strip(" \t"))
        except InvalidArgumentError as exc:
            raise error(str(exc)) from exc


def _read_header_lines(data: bytes, offset: int, error: type[ParseError]) -> tuple[list[str], int]:
    """Read CRLF-terminated UTF-8 lines up to an empty line; return them and the offset past it.

    At most :data:`MAX_CPIM_HEADERS` lines of at most :data:`MAX_CPIM_LINE_LENGTH` bytes:
    the search for a line's end never looks further than the limit, and the count is
    checked before a line is decoded.
    """
    lines: list[str] = []
    while True:
        end = data.find(_CRLF, offset, offset + MAX_CPIM_LINE_LENGTH + 2)
        if end < 0:
            if len(data) - offset > MAX_CPIM_LINE_LENGTH:
                raise error(
                    f"header line longer than {MAX_CPIM_LINE_LENGTH} bytes (MAX_CPIM_LINE_LENGTH)"
                )
            raise error("header block not terminated by an empty line")
        raw = data[offset:end]
        offset = end + 2
        if not raw:
            return lines, offset
        if len(lines) == MAX_CPIM_HEADERS:
            raise error(f"more than {MAX_CPIM_HEADERS} header lines in a block (MAX_CPIM_HEADERS)")
        if b"\r" in raw or b"\n" in raw:
            raise error("bare CR or LF in a header line")
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise error("header line is not UTF-8") from exc


def read_mime_headers(
    data: bytes, offset: int, error: type[ParseError]
) -> tuple[tuple[MimeHeader, ...], int]:
    """Read MIME header lines from ``data[offset:]`` up to and including the empty line.

    Returns the headers and the offset of the first byte after the empty line.

    Raises:
        error: (the given ParseError subclass) the block is not terminated, a line is not
            UTF-8, contains a bare CR or LF, is folded, or is not ``Name: value``, or the
            block has more than :data:`MAX_CPIM_HEADERS` lines or a line longer than
            :data:`MAX_CPIM_LINE_LENGTH` bytes.
    """
    lines, offset = _read_header_lines(data, offset, error)
    return tuple(MimeHeader._decode(line, error) for line in lines), offset


@dataclass(frozen=True)
class CpimAddress:
    """A ``From``, ``To`` or ``cc`` value (RFC 3862 §4.1): ``[Formal-name] <URI>``.

    ``display_name`` is the formal name as written (quotes kept), or None.

    Raises:
        InvalidArgumentError: the URI or name cannot be written in that form.
    """

    uri: str
    display_name: str | None = None

    def __post_init__(self) -> None:
        _require_str(self.uri, "a URI")
        if self.display_name is not None:
            _require_str(self.display_name, "a display name")
        if _ADDRESS_RE.fullmatch(str(self)) is None:
            raise InvalidArgumentError(f"not a CPIM address: {str(self)!r}")

    def __str__(self) -> str:
        if self.display_name is None:
            return f"<{self.uri}>"
        return f"{self.display_name} <{self.uri}>"

    @classmethod
    def parse(cls, value: str) -> CpimAddress:
        """Parse ``[Formal-name] <URI>``.

        Raises:
            CpimParseError: ``value`` is not of that form.
        """
        if not isinstance(value, str):
            raise CpimParseError("an address must be a str")
        match = _ADDRESS_RE.fullmatch(value)
        if match is None:
            raise CpimParseError(f"not a CPIM address: {value[:80]!r}")
        tokens, quoted, uri = match.groups()
        name = tokens[:-1] if tokens else quoted
        return cls(uri, name)


def _namespaces(headers: Iterable[CpimHeader]) -> dict[str, str]:
    """Map each NS-declared prefix ('' for the default) to its URI; refuse conflicts."""
    declared: dict[str, str] = {}
    for header in headers:
        if header.name != "NS":
            continue
        match = _NS_VALUE_RE.fullmatch(header.value)
        if match is None:
            raise InvalidArgumentError(f"not an NS declaration: {header.value[:80]!r}")
        prefix, uri = match.group(1) or "", match.group(2)
        if declared.setdefault(prefix, uri) != uri:
            raise InvalidArgumentError(f"namespace prefix {prefix!r} declared twice")
    return declared


@dataclass(frozen=True)
class CpimMessage:
    """A ``message/cpim`` object (RFC 3862 §2).

    ``message_headers`` are the CPIM headers in order; ``content_headers`` the MIME headers
    of the encapsulated entity, except ``Content-Length``, which ``to_bytes`` computes;
    ``body`` the entity body, any bytes.

    Raises:
        InvalidArgumentError: a header is invalid, a prefix is undeclared or declared twice,
            ``From`` or ``DateTime`` is repeated or malformed, or ``content_headers`` has a
            ``Content-Length``.
    """

    message_headers: tuple[CpimHeader, ...]
    content_headers: tuple[MimeHeader, ...] = ()
    body: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.body, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError("body must be bytes")
        object.__setattr__(self, "body", bytes(self.body))
        headers = _as_tuple(self.message_headers, CpimHeader, "message_headers")
        content = _as_tuple(self.content_headers, MimeHeader, "content_headers")
        object.__setattr__(self, "message_headers", headers)
        object.__setattr__(self, "content_headers", content)

        declared = _namespaces(headers)
        for header in headers:
            if header.prefix is not None and header.prefix not in declared:
                raise InvalidArgumentError(f"undeclared namespace prefix in {header.name}")
        for name in _SINGLE_HEADERS:
            if sum(h.name == name for h in headers) > 1:
                raise InvalidArgumentError(f"{name} header repeated")
        for header in headers:
            if header.name in _ADDRESS_HEADERS and _ADDRESS_RE.fullmatch(header.value) is None:
                raise InvalidArgumentError(f"{header.name} is not [name] <URI>")
            if header.name == "DateTime":
                parse_datetime(header.value)
        if any(h.name.lower() == "content-length" for h in content):
            raise InvalidArgumentError("Content-Length is computed from the body")

    # --- accessors ---------------------------------------------------------------------------

    @property
    def namespaces(self) -> dict[str, str]:
        """The NS declarations: prefix (``''`` for the default namespace) to URI."""
        return _namespaces(self.message_headers)

    def _matching(self, name: str, namespace: str | None) -> list[CpimHeader]:
        if namespace is None:
            return [h for h in self.message_headers if h.name == name]
        declared = self.namespaces
        default = declared.get("", DEFAULT_NAMESPACE)
        return [
            h
            for h in self.message_headers
            if h.local_name == name
            and (default if h.prefix is None else declared[h.prefix]) == namespace
        ]

    def headers(self, name: str, namespace: str | None = None) -> tuple[str, ...]:
        """Every value of header ``name``, in order.

        Without ``namespace``, ``name`` is matched as written, case-sensitively
        (``"imdn.Message-ID"``). With ``namespace``, ``name`` is a local name and the prefix
        is resolved through the NS declarations, so ``headers("Era-ID", NS_MLS)`` finds the
        header whatever prefix the sender chose.
        """
        return tuple(h.value for h in self._matching(name, namespace))

    def header(self, name: str, namespace: str | None = None) -> str | None:
        """The value of header ``name`` (matched as in :meth:`headers`), or None if absent.

        Raises:
            CpimParseError: the header appears more than once, so a single value would be
                ambiguous (use :meth:`headers` for repeatable headers).
        """
        found = self._matching(name, namespace)
        if len(found) > 1:
            raise CpimParseError(f"header {name} appears {len(found)} times")
        return found[0].value if found else None

    def header_base64(
        self,
        name: str,
        namespace: str | None = None,
        *,
        max_length: int = MAX_BASE64_HEADER_LENGTH,
    ) -> bytes | None:
        """The value of header ``name`` (matched as in :meth:`header`) decoded from standard
        base64 (RFC 4648 §4, padded, nothing outside the alphabet), or None if absent.

        The length is checked before anything is decoded: ``max_length`` characters at most
        (:data:`MAX_BASE64_HEADER_LENGTH` unless given; a caller that knows the exact size,
        such as the 44 characters of ``mls.Epoch-Authenticator``, can pass it).

        Raises:
            CpimParseError: the header appears more than once, is longer than
                ``max_length`` characters, or is not standard base64.
            InvalidArgumentError: ``max_length`` is not a positive int.
        """
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise InvalidArgumentError(f"max_length must be a positive int, not {max_length!r}")
        value = self.header(name, namespace)
        if value is None:
            return None
        if len(value) > max_length:
            limit = (
                "MAX_BASE64_HEADER_LENGTH"
                if max_length == MAX_BASE64_HEADER_LENGTH
                else "max_length"
            )
            raise CpimParseError(
                f"header {name[:60]}: {len(value)} base64 characters, more than {max_length}"
                f" ({limit})"
            )
        try:
            # validate=True refuses characters outside the alphabet, but not stray padding.
            if len(value) % 4:
                raise binascii.Error("length not a multiple of 4")
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CpimParseError(f"header {name[:60]} is not base64") from exc

    def content_header(self, name: str) -> str | None:
        """The first encapsulated MIME header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for header in self.content_headers:
            if header.name.lower() == lowered:
                return header.value
        return None

    @property
    def content_type(self) -> str | None:
        """The encapsulated ``Content-Type`` value, or None."""
        return self.content_header("Content-Type")

    @property
    def sender(self) -> CpimAddress | None:
        """The ``From`` address, or None."""
        value = self.header("From")
        return None if value is None else CpimAddress.parse(value)

    @property
    def recipients(self) -> tuple[CpimAddress, ...]:
        """The ``To`` addresses, in order."""
        return tuple(CpimAddress.parse(v) for v in self.headers("To"))

    @property
    def datetime(self) -> dt.datetime | None:
        """The ``DateTime`` header, parsed, or None."""
        value = self.header("DateTime")
        return None if value is None else parse_datetime(value)

    # --- wire format -------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Encode as a ``message/cpim`` body, with a computed ``Content-Length``."""
        lines = [h._encode() for h in self.message_headers]
        lines.append("")
        length = MimeHeader("Content-Length", str(len(self.body)))
        content = list(self.content_headers)
        index = next(
            (i + 1 for i, h in enumerate(content) if h.name.lower() == "content-type"),
            len(content),
        )
        content.insert(index, length)
        lines.extend(h._encode() for h in content)
        lines.append("")
        return "\r\n".join(lines).encode("utf-8") + _CRLF + self.body

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> CpimMessage:
        """Decode a ``message/cpim`` body.

        Raises:
            CpimParseError: ``data`` is not bytes or is not a valid CPIM message (see the
                module docstring), its ``Content-Length`` disagrees with the body, or it
                is past a parser limit (:data:`MAX_CPIM_HEADERS`,
                :data:`MAX_CPIM_LINE_LENGTH`, :data:`MAX_CPIM_BODY_SIZE`).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise CpimParseError("CPIM data must be bytes")
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        if size > _MAX_CPIM_SIZE:
            raise CpimParseError(
                f"{size} bytes: a body over MAX_CPIM_BODY_SIZE ({MAX_CPIM_BODY_SIZE} bytes)"
            )
        data = bytes(data)
        lines, offset = _read_header_lines(data, 0, CpimParseError)
        headers = tuple(CpimHeader._decode(line) for line in lines)
        content, offset = read_mime_headers(data, offset, CpimParseError)
        if len(data) - offset > MAX_CPIM_BODY_SIZE:
            raise CpimParseError(
                f"body of {len(data) - offset} bytes, more than {MAX_CPIM_BODY_SIZE}"
                " (MAX_CPIM_BODY_SIZE)"
            )
        body = data[offset:]
        lengths = [h for h in content if h.name.lower() == "content-length"]
        if len(lengths) > 1:
            raise CpimParseError("Content-Length repeated")
        if lengths:
            if _CONTENT_LENGTH_RE.fullmatch(lengths[0].value) is None:
                raise CpimParseError(f"bad Content-Length: {lengths[0].value[:40]!r}")
            length = int(lengths[0].value)
            if length > len(body):
                raise CpimParseError(f"body truncated: {len(body)} of {length} bytes")
            if length < len(body):
                raise CpimParseError(f"{len(body) - length} bytes after the body")
        try:
            return cls(
                headers,
                tuple(h for h in content if h.name.lower() != "content-length"),
                body,
            )
        except InvalidArgumentError as exc:
            raise CpimParseError(str(exc)) from exc
