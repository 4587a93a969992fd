"""The plaintext of an RCS MLS application message and its authenticated data (GSMA RCC.16).

Two binary structures, in RFC 9420 TLS presentation language, as deployed by RCC.16 clients:

The **SecretPayload** frame (the content of every PrivateMessage, RCC.16 §7.5)::

    uint16  version = 1
    uint16  payload_type = 1            (a MIME entity)
    uint32  generation                  the MLS sender generation of this PrivateMessage
    varint  length                      RFC 9420 §2.1.2 variable-length integer
    a MIME entity:                      "\\r\\n" headers "\\r\\n" body, the headers being
        "Content-Type: ...\\r\\nContent-Disposition: inline\\r\\nContent-Length: n\\r\\n"

The receiver checks ``generation`` against the decrypted sender data (a defence against
in-group forgery, eprint 2025/554); that check belongs to the MLS layer, not to this parser.

The **authenticated data** of an application message (RCC.16 §7.5.3)::

    uint16  version = 1
    opaque  message_id<V>               ASCII, equal to the CPIM imdn.Message-ID
    uint32  era
            resend component            0x00 when absent

The layout of a present resend component (RCC.16 §10.3) is not known; see
:data:`RESEND_PRESENT_TAG` for the form chosen here.

Every constant that encodes a profile choice is a module-level name below, marked
[deployed] (seen on the wire by an implementation) or [guess] (inferred).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from rcs_mls.exceptions import InvalidArgumentError, PayloadParseError
from rcs_mls.rcs.cpim import MimeHeader, read_mime_headers

__all__ = [
    "AAD_VERSION",
    "CONTENT_DISPOSITION_INLINE",
    "ENTITY_PREFIX",
    "MAX_VARINT",
    "PAYLOAD_TYPE_MIME",
    "RESEND_ABSENT",
    "RESEND_PRESENT_TAG",
    "SECRET_PAYLOAD_VERSION",
    "ApplicationAad",
    "SecretPayload",
    "decode_varint",
    "encode_varint",
]

#: SecretPayload ``version`` [deployed].
SECRET_PAYLOAD_VERSION = 1
#: SecretPayload ``payload_type`` of a MIME entity, the only type known [deployed].
PAYLOAD_TYPE_MIME = 1
#: The leading bytes of the MIME entity: it starts with an empty line [deployed].
ENTITY_PREFIX = b"\r\n"
#: The ``Content-Disposition`` written into every SecretPayload [deployed].
CONTENT_DISPOSITION_INLINE = "inline"

#: Authenticated data ``version`` [deployed].
AAD_VERSION = 1
#: The resend component of an ordinary (not resent) message [deployed].
RESEND_ABSENT = 0x00
#: [guess] The first byte of a present resend component. The RCC.16 text calls the
#: component ``optional``, which RFC 9420 §2.1 (TLS ``optional<T>``) encodes as a presence
#: byte 0 or 1 followed by the value; so 0x01 here. (A reverse-engineering client infers
#: 0x02 instead: change this constant if that is confirmed.) The bytes after the tag are
#: carried verbatim in :attr:`ApplicationAad.resend` because the inner structure (seen as a
#: uint32 and three ``opaque<V>``) and its outer framing are not established.
RESEND_PRESENT_TAG = 0x01

#: The largest value an RFC 9420 variable-length integer holds (30 bits).
MAX_VARINT = (1 << 30) - 1
_UINT32_MAX = 0xFFFFFFFF

_HEADER = struct.Struct(">HHI")
_CONTENT_TYPE = "content-type"
_CONTENT_DISPOSITION = "content-disposition"
_CONTENT_LENGTH = "content-length"
_RESERVED = (_CONTENT_TYPE, _CONTENT_DISPOSITION, _CONTENT_LENGTH)
_CONTENT_LENGTH_RE = re.compile(r"[0-9]{1,20}")
# A message id is printable ASCII without spaces, so it can also be a CPIM header value.
_MESSAGE_ID_RE = re.compile(r"[!-~]+")


# --- RFC 9420 §2.1.2 variable-length integers ----------------------------------------------


def encode_varint(value: int) -> bytes:
    """Encode ``value`` as an RFC 9420 §2.1.2 variable-length integer (1, 2 or 4 bytes).

    Raises:
        InvalidArgumentError: ``value`` is not an int in ``0..MAX_VARINT``.
    """
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_VARINT:
        raise InvalidArgumentError(f"varint out of range: {value!r}")
    if value < 1 << 6:
        return bytes([value])
    if value < 1 << 14:
        return (value | 0x4000).to_bytes(2, "big")
    return (value | 0x80000000).to_bytes(4, "big")


def decode_varint(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int]:
    """Decode a variable-length integer at ``data[offset]``; return it and the next offset.

    The minimal encoding is required (RFC 9420 §2.1.2); the prefix ``0b11`` is invalid.

    Raises:
        PayloadParseError: truncated, reserved prefix, or not minimally encoded.
    """
    if offset >= len(data):
        raise PayloadParseError("truncated variable-length integer")
    first = data[offset]
    size = 1 << (first >> 6)
    if size == 8:
        raise PayloadParseError("variable-length integer with the reserved prefix 0b11")
    if offset + size > len(data):
        raise PayloadParseError("truncated variable-length integer")
    value = int.from_bytes(data[offset : offset + size], "big") & ((1 << (8 * size - 2)) - 1)
    if size > 1 and value < 1 << (8 * (size // 2) - 2):
        raise PayloadParseError("variable-length integer not minimally encoded")
    return value, offset + size


def _opaque(data: bytes) -> bytes:
    if len(data) > MAX_VARINT:
        raise InvalidArgumentError("opaque<V> longer than 2^30 - 1 bytes")
    return encode_varint(len(data)) + data


def _check_uint(value: object, bits: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise InvalidArgumentError(f"{what} must be a uint{bits}, not {value!r}")
    return value


def _as_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


# --- SecretPayload ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretPayload:
    """The SecretPayload frame: the plaintext of an RCS MLS application message.

    ``headers`` holds MIME headers other than Content-Type, Content-Disposition and
    Content-Length; ``to_bytes`` writes them after Content-Disposition, and computes
    Content-Length.

    Raises:
        InvalidArgumentError: ``generation`` is not a uint32, ``content_type`` is empty,
            ``content_type`` or ``content_disposition`` is not a valid header value,
            ``body`` is not bytes, or ``headers`` repeats one of the three headers this
            class writes itself.
    """

    generation: int
    content_type: str
    body: bytes = field(repr=False)
    headers: tuple[MimeHeader, ...] = ()
    content_disposition: str = CONTENT_DISPOSITION_INLINE

    def __post_init__(self) -> None:
        _check_uint(self.generation, 32, "generation")
        object.__setattr__(self, "body", _as_bytes(self.body, "body"))
        MimeHeader("Content-Type", self.content_type)
        if not self.content_type:
            raise InvalidArgumentError("content_type must not be empty")
        MimeHeader("Content-Disposition", self.content_disposition)
        if isinstance(self.headers, (str, bytes)):
            raise InvalidArgumentError("headers must be a sequence of MimeHeader")
        try:
            headers = tuple(self.headers)
        except TypeError as exc:
            raise InvalidArgumentError("headers must be a sequence of MimeHeader") from exc
        for header in headers:
            if not isinstance(header, MimeHeader):
                raise InvalidArgumentError("headers must be a sequence of MimeHeader")
            if header.name.lower() in _RESERVED:
                raise InvalidArgumentError(f"{header.name} is set by SecretPayload itself")
        object.__setattr__(self, "headers", headers)

    def header(self, name: str) -> str | None:
        """The first MIME header ``name`` (case-insensitive), including the three fixed ones."""
        lowered = name.lower()
        if lowered == _CONTENT_TYPE:
            return self.content_type
        if lowered == _CONTENT_DISPOSITION:
            return self.content_disposition
        if lowered == _CONTENT_LENGTH:
            return str(len(self.body))
        return next((h.value for h in self.headers if h.name.lower() == lowered), None)

    def _entity(self) -> bytes:
        lines = [
            MimeHeader("Content-Type", self.content_type),
            MimeHeader("Content-Disposition", self.content_disposition),
            *self.headers,
            MimeHeader("Content-Length", str(len(self.body))),
        ]
        head = "".join(h._encode() + "\r\n" for h in lines).encode("utf-8")
        return ENTITY_PREFIX + head + b"\r\n" + self.body

    def to_bytes(self) -> bytes:
        """Encode the frame.

        Raises:
            InvalidArgumentError: the entity is longer than a varint can describe.
        """
        return _HEADER.pack(SECRET_PAYLOAD_VERSION, PAYLOAD_TYPE_MIME, self.generation) + _opaque(
            self._entity()
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> SecretPayload:
        """Decode a frame; nothing may follow it.

        Raises:
            PayloadParseError: ``data`` is not bytes, the version or payload type is not 1,
                the length disagrees with the data, or the MIME entity is malformed (no
                leading CRLF, no Content-Type, a repeated Content-Type, Content-Disposition
                or Content-Length, a Content-Length that is not the body's length, or more
                header lines or a longer one than the CPIM limits allow:
                :data:`~rcs_mls.rcs.cpim.MAX_CPIM_HEADERS`,
                :data:`~rcs_mls.rcs.cpim.MAX_CPIM_LINE_LENGTH`).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise PayloadParseError("SecretPayload data must be bytes")
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise PayloadParseError("SecretPayload truncated")
        version, payload_type, generation = _HEADER.unpack_from(data)
        if version != SECRET_PAYLOAD_VERSION:
            raise PayloadParseError(f"unsupported SecretPayload version {version}")
        if payload_type != PAYLOAD_TYPE_MIME:
            raise PayloadParseError(f"unsupported SecretPayload payload type {payload_type}")
        length, offset = decode_varint(data, _HEADER.size)
        if offset + length != len(data):
            raise PayloadParseError("SecretPayload length disagrees with the data")
        entity = data[offset:]
        if not entity.startswith(ENTITY_PREFIX):
            raise PayloadParseError("the MIME entity must start with CRLF")
        headers, body_offset = read_mime_headers(entity, len(ENTITY_PREFIX), PayloadParseError)
        body = entity[body_offset:]

        fixed: dict[str, str] = {}
        extra: list[MimeHeader] = []
        for header in headers:
            lowered = header.name.lower()
            if lowered not in _RESERVED:
                extra.append(header)
            elif lowered in fixed:
                raise PayloadParseError(f"{header.name} repeated")
            else:
                fixed[lowered] = header.value
        if _CONTENT_TYPE not in fixed:
            raise PayloadParseError("SecretPayload without Content-Type")
        declared = fixed.get(_CONTENT_LENGTH)
        if declared is not None and (
            _CONTENT_LENGTH_RE.fullmatch(declared) is None or int(declared) != len(body)
        ):
            raise PayloadParseError("Content-Length is not the body's length")
        try:
            return cls(
                generation,
                fixed[_CONTENT_TYPE],
                body,
                tuple(extra),
                fixed.get(_CONTENT_DISPOSITION, CONTENT_DISPOSITION_INLINE),
            )
        except InvalidArgumentError as exc:
            raise PayloadParseError(str(exc)) from exc


# --- authenticated data ----------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationAad:
    """The authenticated data of an RCS MLS application message (RCC.16 §7.5.3).

    ``message_id`` is the CPIM ``imdn.Message-ID`` (printable ASCII); ``era`` the group's
    era (extension 0xF001), a uint32; ``resend`` the bytes of a present resend component
    after its tag (:data:`RESEND_PRESENT_TAG`), or None for an ordinary message.

    Raises:
        InvalidArgumentError: ``message_id`` is empty or not printable ASCII, ``era`` is
            not a uint32, or ``resend`` is not bytes.
    """

    message_id: str
    era: int
    resend: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.message_id, str) or not _MESSAGE_ID_RE.fullmatch(self.message_id):
            raise InvalidArgumentError(f"message_id must be printable ASCII: {self.message_id!r}")
        if len(self.message_id) > MAX_VARINT:
            raise InvalidArgumentError("message_id too long")
        _check_uint(self.era, 32, "era")
        if self.resend is not None:
            object.__setattr__(self, "resend", _as_bytes(self.resend, "resend"))

    def to_bytes(self) -> bytes:
        """Encode the authenticated data."""
        tail = (
            bytes([RESEND_ABSENT])
            if self.resend is None
            else bytes([RESEND_PRESENT_TAG]) + self.resend
        )
        return (
            AAD_VERSION.to_bytes(2, "big")
            + _opaque(self.message_id.encode("ascii"))
            + self.era.to_bytes(4, "big")
            + tail
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> ApplicationAad:
        """Decode authenticated data.

        Raises:
            PayloadParseError: ``data`` is not bytes, the version is not 1, a field is
                truncated, the message id is not printable ASCII, the resend component is
                missing or has an unknown tag, or bytes follow an absent component.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise PayloadParseError("authenticated data must be bytes")
        data = bytes(data)
        if len(data) < 2:
            raise PayloadParseError("authenticated data truncated")
        version = int.from_bytes(data[:2], "big")
        if version != AAD_VERSION:
            raise PayloadParseError(f"unsupported authenticated data version {version}")
        length, offset = decode_varint(data, 2)
        end = offset + length
        if end + 5 > len(data):
            raise PayloadParseError("authenticated data truncated")
        try:
            message_id = data[offset:end].decode("ascii")
        except UnicodeDecodeError as exc:
            raise PayloadParseError("message_id is not ASCII") from exc
        era = int.from_bytes(data[end : end + 4], "big")
        tag, rest = data[end + 4], data[end + 5 :]
        resend: bytes | None
        if tag == RESEND_ABSENT:
            if rest:
                raise PayloadParseError("bytes after the authenticated data")
            resend = None
        elif tag == RESEND_PRESENT_TAG:
            resend = rest
        else:
            raise PayloadParseError(f"unknown resend component tag 0x{tag:02x}")
        try:
            return cls(message_id, era, resend)
        except InvalidArgumentError as exc:
            raise PayloadParseError(str(exc)) from exc
