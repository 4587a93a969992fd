"""RCC.16 framing for the mls-rs peer's side of the interop tests, written from
``../shared/RCC16.md`` and independent of ``rcs_mls.rcs.*`` (so that one misunderstanding
of the profile cannot hide on both sides of a test).

* :func:`cpim` / :func:`parse_cpim`: the ``message/cpim`` object (RFC 3862) with the
  ``imdn.`` and ``mls.`` headers of RCC16.md §3;
* :func:`secret_payload` / :func:`parse_secret_payload`: the SecretPayload frame (§4);
* :func:`application_aad`: the authenticated data of application messages (§5);
* :func:`signed_receipt_content` and :func:`imdn_xml`: signed receipts (§7). RCC16.md says
  only that the ``rcs_signature`` proposal's authenticated data carries "the signed
  content"; the layout is the one deployed clients compute (the LineageOS client's
  ``VerifiableDerivedContent``, read as a source of facts): the header of the application
  AAD (version, the receipt's own message id, era), a type byte (1 delivery, 2 display),
  the RCC.16 §7.6.3 ``VerifiableDeliveryImdn`` / ``VerifiableDisplayImdn`` struct (which
  names the reported message), and the absent resend component ``0x00``.
"""

from __future__ import annotations

import base64
import secrets
import string
import struct
from dataclasses import dataclass

CRLF = b"\r\n"
NS_IMDN = "urn:ietf:params:imdn"
NS_MLS = "http://www.gsma.com/rcs/mls"
ANONYMOUS = "<sip:anonymous@anonymous.invalid>"

MLS = "message/mls"
MLS_RCS_CLIENT = "message/mls-rcs-client"
MLS_RCS_SERVER = "message/mls-rcs-server"
IMDN = "message/imdn+xml"
TEXT_PLAIN = "text/plain;charset=UTF-8"

SUITE = 0x0002
EXT_ERA = 0xF001
EXT_REQUIRED_CAPABILITIES = 0x0003
RCS_EXTENSIONS = (0xF001, 0xF002, 0xF003, 0xF004, 0xF005, 0xF006, 0xF007)
# RCC16.md §2: continuity token / its commitment, for a group re-created in a new era.
CONTINUITY_EXTENSIONS = (0xF010, 0xF011)
RCS_PROPOSALS = (0xF002, 0xF003, 0xF004)
PROPOSAL_RCS_SIGNATURE = 0xF002
PROPOSAL_SELF_REMOVE = 0xF003
PROPOSAL_SERVER_REMOVE = 0xF004

# RCC.16 §7.6.3: VerifiableDerivedContentVersion, and the status enums.
DERIVED_CONTENT_VERSION = 1
DELIVERY_DELIVERED = 1
DISPLAY_DISPLAYED = 1
RECEIPT_TYPE_DELIVERY = 1
RECEIPT_TYPE_DISPLAY = 2


def era_bytes(era: int = 1) -> bytes:
    """The ``era`` extension (0xF001): a bare big-endian uint32."""
    return struct.pack(">I", era)


def message_id() -> str:
    """An ``imdn.Message-ID`` like deployed ones: ``Mx`` and 22 letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "Mx" + "".join(secrets.choice(alphabet) for _ in range(22))


# --- RFC 9420 §2.1.2 variable-length integers -------------------------------------------------


def varint(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return struct.pack(">H", 0x4000 | n)
    if n < 1 << 30:
        return struct.pack(">I", 0x80000000 | n)
    raise ValueError("too long for an MLS varint")


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    prefix = data[pos] >> 6
    if prefix == 0:
        return data[pos] & 0x3F, pos + 1
    if prefix == 1:
        return struct.unpack_from(">H", data, pos)[0] & 0x3FFF, pos + 2
    if prefix == 2:
        return struct.unpack_from(">I", data, pos)[0] & 0x3FFFFFFF, pos + 4
    raise ValueError("invalid MLS varint prefix")


def opaque(value: bytes) -> bytes:
    return varint(len(value)) + value


# --- CPIM (RFC 3862), RCC16.md §3 ------------------------------------------------------------


@dataclass(frozen=True)
class Cpim:
    headers: list[tuple[str, str]]
    content_headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        assert len(values) <= 1, f"header {name} repeated"
        return values[0] if values else None

    @property
    def content_type(self) -> str | None:
        values = [v for n, v in self.content_headers if n.lower() == "content-type"]
        return values[0] if values else None

    @property
    def message_id(self) -> str:
        value = self.header("imdn.Message-ID")
        assert value is not None, "no imdn.Message-ID"
        return value

    @property
    def era(self) -> int:
        value = self.header("mls.Era-ID")
        assert value is not None and value.isdigit(), f"bad mls.Era-ID {value!r}"
        return int(value)

    @property
    def epoch_authenticator(self) -> bytes:
        value = self.header("mls.Epoch-Authenticator")
        assert value is not None, "no mls.Epoch-Authenticator"
        raw = base64.b64decode(value, validate=True)
        assert len(raw) == 32
        return raw


def cpim(
    body: bytes,
    content_type: str,
    *,
    era: int,
    epoch_authenticator: bytes,
    msg_id: str | None = None,
    disposition: str | None = "positive-delivery, negative-delivery, display",
    extra: list[tuple[str, str]] | None = None,
    content_disposition: str | None = None,
) -> tuple[bytes, str]:
    """A ``message/cpim`` object as RCC16.md §3 shows it; returns it and its message id."""
    mid = msg_id or message_id()
    headers = [
        ("From", ANONYMOUS),
        ("To", ANONYMOUS),
        ("NS", f"imdn <{NS_IMDN}>"),
        ("NS", f"mls <{NS_MLS}>"),
        ("imdn.Message-ID", mid),
        ("DateTime", "2026-05-12T10:00:00.000Z"),
    ]
    if disposition is not None:
        headers.append(("imdn.Disposition-Notification", disposition))
    headers += [
        ("mls.Era-ID", str(era)),
        ("mls.Epoch-Authenticator", base64.b64encode(epoch_authenticator).decode("ascii")),
        *(extra or []),
    ]
    content = [("Content-Type", content_type)]
    if content_disposition is not None:
        content.append(("Content-Disposition", content_disposition))
    content.append(("Content-Length", str(len(body))))
    out = b"".join(f"{n}: {v}".encode() + CRLF for n, v in headers) + CRLF
    out += b"".join(f"{n}: {v}".encode() + CRLF for n, v in content) + CRLF
    return out + body, mid


def _header_block(block: bytes) -> list[tuple[str, str]]:
    out = []
    for line in block.split(CRLF):
        name, sep, value = line.decode("utf-8").partition(":")
        assert sep, f"not a header line: {line!r}"
        out.append((name.strip(), value.strip()))
    return out


def parse_cpim(data: bytes) -> Cpim:
    """Parse a ``message/cpim`` object: message headers, content headers, body."""
    head, sep, rest = data.partition(CRLF + CRLF)
    assert sep, "no end of the CPIM message headers"
    content, sep, body = rest.partition(CRLF + CRLF)
    assert sep, "no end of the CPIM content headers"
    content_headers = _header_block(content)
    lengths = [v for n, v in content_headers if n.lower() == "content-length"]
    if lengths:
        assert int(lengths[0]) == len(body), "Content-Length disagrees with the body"
    return Cpim(_header_block(head), content_headers, body)


# --- SecretPayload (RCC16.md §4) and the application AAD (§5) --------------------------------


def secret_payload(generation: int, content_type: str, body: bytes) -> bytes:
    entity = (
        f"\r\nContent-Type: {content_type}\r\nContent-Disposition: inline\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return struct.pack(">HHI", 1, 1, generation) + varint(len(entity)) + entity


@dataclass(frozen=True)
class Payload:
    generation: int
    content_type: str
    body: bytes


def parse_secret_payload(data: bytes) -> Payload:
    version, payload_type, generation = struct.unpack_from(">HHI", data, 0)
    assert (version, payload_type) == (1, 1), (version, payload_type)
    length, pos = read_varint(data, 8)
    entity = data[pos:]
    assert len(entity) == length, "SecretPayload length disagrees"
    head, sep, body = entity.partition(CRLF + CRLF)
    assert sep, "no end of the payload's MIME headers"
    headers = dict(_header_block(head.removeprefix(CRLF)))
    assert int(headers["Content-Length"]) == len(body)
    return Payload(generation, headers["Content-Type"], body)


def application_aad(msg_id: str, era: int) -> bytes:
    """RCC16.md §5: version 1, the message id, the era, an absent resend component."""
    return struct.pack(">H", 1) + opaque(msg_id.encode("ascii")) + struct.pack(">I", era) + b"\0"


# --- signed receipts (RCC16.md §7) -----------------------------------------------------------


def imdn_xml(reported_id: str, *, display: bool = False) -> bytes:
    """An IMDN (RFC 5438) delivery (``delivered``) or display (``displayed``) notification."""
    kind, status = ("display", "displayed") if display else ("delivery", "delivered")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<imdn xmlns="urn:ietf:params:xml:ns:imdn">'
        f"<message-id>{reported_id}</message-id>"
        "<datetime>2026-05-12T10:00:01.000Z</datetime>"
        f"<{kind}-notification><status><{status}/></status></{kind}-notification>"
        "</imdn>"
    ).encode()


def signed_receipt_content(receipt_id: str, era: int, reported_id: str, *, display: bool) -> bytes:
    """What an ``rcs_signature`` proposal's authenticated data carries for a positive
    delivery or display receipt (see the module docstring)."""
    if display:
        inner = struct.pack(">HH", DERIVED_CONTENT_VERSION, DISPLAY_DISPLAYED)
        inner += opaque(reported_id.encode())
        kind = RECEIPT_TYPE_DISPLAY
    else:
        inner = struct.pack(">HH", DERIVED_CONTENT_VERSION, DELIVERY_DELIVERED)
        inner += opaque(reported_id.encode()) + struct.pack(">H", 0)  # no failure reason
        kind = RECEIPT_TYPE_DELIVERY
    head = struct.pack(">H", DERIVED_CONTENT_VERSION) + opaque(receipt_id.encode("ascii"))
    return head + struct.pack(">IB", era, kind) + inner + b"\0"


def receipt_cpim(
    imdn: bytes, signature: bytes, *, era: int, epoch_authenticator: bytes, receipt_id: str
) -> bytes:
    """A signed receipt: the IMDN as body, the ``rcs_signature`` PublicMessage in
    ``mls.MLS-Derived-Content-Signature``."""
    data, _ = cpim(
        imdn,
        IMDN,
        era=era,
        epoch_authenticator=epoch_authenticator,
        msg_id=receipt_id,
        disposition=None,
        extra=[("mls.MLS-Derived-Content-Signature", base64.b64encode(signature).decode())],
        content_disposition="notification",
    )
    return data
