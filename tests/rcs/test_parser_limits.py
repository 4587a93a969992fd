"""The parser limits of the RCS formats (issue #11): each limit accepted at its value and
refused one past it with the format's ParseError, naming the limit; hostile inputs of about
1 MB refused. How fast they are refused is measured by ``python -m benches.rcs``, not here.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

import pytest
from benches.rcs import hostile_inputs

from rcs_mls.exceptions import (
    CpimParseError,
    FileTransferParseError,
    ImdnParseError,
    IsComposingParseError,
    ParseError,
    PayloadParseError,
)
from rcs_mls.rcs import cpim, file_transfer, imdn, iscomposing
from rcs_mls.rcs.cpim import (
    HEADER_MLS_DERIVED_CONTENT_SIGNATURE,
    HEADER_MLS_EPOCH_AUTHENTICATOR,
    MAX_BASE64_HEADER_LENGTH,
    MAX_CPIM_BODY_SIZE,
    MAX_CPIM_HEADERS,
    MAX_CPIM_LINE_LENGTH,
    NS_MLS,
    CpimHeader,
    CpimMessage,
    MimeHeader,
)
from rcs_mls.rcs.file_transfer import FileTransferDescriptor, FileTransferInfo
from rcs_mls.rcs.imdn import MAX_XML_DOCUMENT_SIZE, Imdn, ImdnStatus, NotificationType
from rcs_mls.rcs.iscomposing import ComposingState, IsComposing
from rcs_mls.rcs.payload import SecretPayload

WHEN = dt.datetime(2026, 5, 19, 10, 0, tzinfo=dt.UTC)
MLS_NS = b"NS: mls <http://www.gsma.com/rcs/mls>\r\n"


def _cpim(
    headers: bytes, content: bytes = b"Content-Type: message/mls\r\n", body: bytes = b""
) -> bytes:
    return headers + b"\r\n" + content + b"\r\n" + body


def _lines(count: int, line: bytes = b"Subject: x") -> bytes:
    return (line + b"\r\n") * count


# --- CPIM: header count ----------------------------------------------------------------------


def test_cpim_header_count_at_the_limit_is_accepted() -> None:
    message = CpimMessage.from_bytes(_cpim(_lines(MAX_CPIM_HEADERS)))
    assert len(message.message_headers) == MAX_CPIM_HEADERS
    assert message.headers("Subject") == ("x",) * MAX_CPIM_HEADERS


def test_cpim_header_count_past_the_limit_is_refused() -> None:
    with pytest.raises(CpimParseError, match="MAX_CPIM_HEADERS"):
        CpimMessage.from_bytes(_cpim(_lines(MAX_CPIM_HEADERS + 1)))


def test_mime_header_count_is_limited_too() -> None:
    content = _lines(MAX_CPIM_HEADERS - 1, b"X-Pad: 1") + b"Content-Type: text/plain\r\n"
    message = CpimMessage.from_bytes(_cpim(b"Subject: x\r\n", content, b"hi"))
    assert len(message.content_headers) == MAX_CPIM_HEADERS
    with pytest.raises(CpimParseError, match="MAX_CPIM_HEADERS"):
        CpimMessage.from_bytes(_cpim(b"Subject: x\r\n", b"X-Pad: 1\r\n" + content, b"hi"))


def test_200000_headers_are_refused() -> None:
    # The input of issue #11: 1.2 MB that took 1.7 s to parse into 200,000 headers.
    data = _cpim(_lines(200_000, b"To: <a>"))
    assert len(data) > 1_000_000
    with pytest.raises(CpimParseError, match="MAX_CPIM_HEADERS"):
        CpimMessage.from_bytes(data)


# --- CPIM: line length -----------------------------------------------------------------------


def _line_of(length: int, name: bytes = b"Subject") -> bytes:
    return name + b": " + b"x" * (length - len(name) - 2)


def test_cpim_line_at_the_limit_is_accepted() -> None:
    line = _line_of(MAX_CPIM_LINE_LENGTH)
    assert len(line) == MAX_CPIM_LINE_LENGTH
    message = CpimMessage.from_bytes(_cpim(line + b"\r\n"))
    assert message.header("Subject") == "x" * (MAX_CPIM_LINE_LENGTH - 9)


@pytest.mark.parametrize(
    "data",
    [
        _cpim(_line_of(MAX_CPIM_LINE_LENGTH + 1) + b"\r\n"),
        _cpim(b"Subject: x\r\n", _line_of(MAX_CPIM_LINE_LENGTH + 1, b"X-Pad") + b"\r\n"),
        # One unterminated 1 MB line, and one 1 MB base64 header value.
        b"Subject: " + b"x" * 1_000_000,
        _cpim(MLS_NS + b"mls.MLS-Derived-Content-Signature: " + b"QUFB" * 250_000 + b"\r\n"),
    ],
    ids=["message header", "MIME header", "1 MB unterminated", "1 MB base64 value"],
)
def test_cpim_line_past_the_limit_is_refused(data: bytes) -> None:
    with pytest.raises(CpimParseError, match="MAX_CPIM_LINE_LENGTH"):
        CpimMessage.from_bytes(data)


def test_short_unterminated_block_is_still_reported_as_such() -> None:
    with pytest.raises(CpimParseError, match="not terminated"):
        CpimMessage.from_bytes(b"Subject: " + b"x" * 100)


# --- CPIM: body size -------------------------------------------------------------------------


@pytest.mark.parametrize("content_length", [False, True])
def test_cpim_body_at_the_limit_is_accepted(content_length: bool) -> None:
    body = bytes(MAX_CPIM_BODY_SIZE)
    content = b"Content-Type: message/mls\r\n"
    if content_length:
        content += b"Content-Length: %d\r\n" % len(body)
    message = CpimMessage.from_bytes(_cpim(b"Subject: x\r\n", content, body))
    assert len(message.body) == MAX_CPIM_BODY_SIZE


@pytest.mark.parametrize("content_length", [False, True])
def test_cpim_body_past_the_limit_is_refused(content_length: bool) -> None:
    body = bytes(MAX_CPIM_BODY_SIZE + 1)
    content = b"Content-Type: message/mls\r\n"
    if content_length:
        content += b"Content-Length: %d\r\n" % len(body)
    with pytest.raises(CpimParseError, match="MAX_CPIM_BODY_SIZE"):
        CpimMessage.from_bytes(_cpim(b"Subject: x\r\n", content, body))


def test_input_too_large_for_any_valid_message_is_refused_before_reading() -> None:
    # Larger than two header blocks at their limits plus the largest body: refused on its
    # length alone (here without a single line end to find).
    size = 2 * MAX_CPIM_HEADERS * (MAX_CPIM_LINE_LENGTH + 2) + MAX_CPIM_BODY_SIZE + 5
    with pytest.raises(CpimParseError, match="MAX_CPIM_BODY_SIZE"):
        CpimMessage.from_bytes(memoryview(bytearray(size)))


# --- CPIM: base64 header values --------------------------------------------------------------


def _with(name: str, value: str) -> CpimMessage:
    return CpimMessage((CpimHeader("NS", f"mls <{NS_MLS}>"), CpimHeader(name, value)))


def test_header_base64_decodes_the_epoch_authenticator() -> None:
    raw = bytes(range(32))
    message = CpimMessage.from_bytes(
        _with(HEADER_MLS_EPOCH_AUTHENTICATOR, base64.b64encode(raw).decode()).to_bytes()
    )
    assert message.header_base64("Epoch-Authenticator", NS_MLS) == raw
    assert message.header_base64("Epoch-Authenticator", NS_MLS, max_length=44) == raw
    with pytest.raises(CpimParseError, match="max_length"):
        message.header_base64("Epoch-Authenticator", NS_MLS, max_length=40)
    assert message.header_base64("Era-ID", NS_MLS) is None


def test_header_base64_at_the_limit_is_accepted() -> None:
    value = "QUJD" * (MAX_BASE64_HEADER_LENGTH // 4)
    assert len(value) == MAX_BASE64_HEADER_LENGTH
    message = CpimMessage.from_bytes(_with(HEADER_MLS_DERIVED_CONTENT_SIGNATURE, value).to_bytes())
    decoded = message.header_base64("MLS-Derived-Content-Signature", NS_MLS)
    assert decoded == b"ABC" * (MAX_BASE64_HEADER_LENGTH // 4)


@pytest.mark.parametrize("length", [MAX_BASE64_HEADER_LENGTH + 4, 1_000_000])
def test_header_base64_past_the_limit_is_refused(length: int) -> None:
    # Built directly: the constructor has no limits, and a 1 MB value would not parse.
    message = _with(HEADER_MLS_DERIVED_CONTENT_SIGNATURE, "QUJD" * (length // 4))
    with pytest.raises(CpimParseError, match="MAX_BASE64_HEADER_LENGTH"):
        message.header_base64("MLS-Derived-Content-Signature", NS_MLS)


@pytest.mark.parametrize("value", ["QUJD=", "QU JD", "QUJ", "QUJD\u00e9"])
def test_header_base64_refuses_what_is_not_standard_base64(value: str) -> None:
    message = _with(HEADER_MLS_EPOCH_AUTHENTICATOR, value)
    with pytest.raises(CpimParseError, match="not base64"):
        message.header_base64("Epoch-Authenticator", NS_MLS)


def test_header_base64_refuses_a_repeated_header_and_a_bad_limit() -> None:
    message = CpimMessage(
        (
            CpimHeader("NS", f"mls <{NS_MLS}>"),
            CpimHeader(HEADER_MLS_EPOCH_AUTHENTICATOR, "QUJD"),
            CpimHeader(HEADER_MLS_EPOCH_AUTHENTICATOR, "QUJD"),
        )
    )
    with pytest.raises(CpimParseError, match="2 times"):
        message.header_base64("Epoch-Authenticator", NS_MLS)
    with pytest.raises(ValueError, match="max_length"):
        message.header_base64("Epoch-Authenticator", NS_MLS, max_length=0)


# --- SecretPayload (its MIME entity is read by the same header reader) -----------------------


def test_secret_payload_header_limits() -> None:
    extra = tuple(MimeHeader(f"X-Pad-{i}", "1") for i in range(MAX_CPIM_HEADERS - 3))
    frame = SecretPayload(1, "text/plain", b"hi", extra).to_bytes()
    assert len(SecretPayload.from_bytes(frame).headers) == MAX_CPIM_HEADERS - 3
    one_more = SecretPayload(1, "text/plain", b"hi", (*extra, MimeHeader("X-Pad", "1")))
    with pytest.raises(PayloadParseError, match="MAX_CPIM_HEADERS"):
        SecretPayload.from_bytes(one_more.to_bytes())
    long_line = SecretPayload(1, "text/plain", b"hi", (MimeHeader("X-Pad", "x" * 20_000),))
    with pytest.raises(PayloadParseError, match="MAX_CPIM_LINE_LENGTH"):
        SecretPayload.from_bytes(long_line.to_bytes())


# --- XML documents ---------------------------------------------------------------------------

XML_FORMATS: list[tuple[bytes, Callable[[bytes | memoryview], object], type[ParseError]]] = [
    (
        Imdn("Mx3q", WHEN, NotificationType.DELIVERY, ImdnStatus.DELIVERED).to_bytes(),
        Imdn.from_bytes,
        ImdnParseError,
    ),
    (
        IsComposing(ComposingState.ACTIVE, refresh=60).to_bytes(),
        IsComposing.from_bytes,
        IsComposingParseError,
    ),
    (
        FileTransferDescriptor(
            FileTransferInfo(1000, "image/jpeg", "https://ft.example.com/f", WHEN, "a.jpg")
        ).to_bytes(),
        FileTransferDescriptor.from_bytes,
        FileTransferParseError,
    ),
]
XML_IDS = ["imdn", "iscomposing", "file_transfer"]


def test_every_xml_format_exports_the_same_limit() -> None:
    assert imdn.MAX_XML_DOCUMENT_SIZE is MAX_XML_DOCUMENT_SIZE
    assert iscomposing.MAX_XML_DOCUMENT_SIZE is MAX_XML_DOCUMENT_SIZE
    assert file_transfer.MAX_XML_DOCUMENT_SIZE is MAX_XML_DOCUMENT_SIZE


@pytest.mark.parametrize(("document", "parse", "error"), XML_FORMATS, ids=XML_IDS)
def test_xml_at_the_limit_is_accepted(
    document: bytes, parse: Callable[[bytes | memoryview], object], error: type[ParseError]
) -> None:
    padded = document + b"\n" * (MAX_XML_DOCUMENT_SIZE - len(document))
    assert len(padded) == MAX_XML_DOCUMENT_SIZE
    assert parse(padded) == parse(document)


@pytest.mark.parametrize(("document", "parse", "error"), XML_FORMATS, ids=XML_IDS)
def test_xml_past_the_limit_is_refused(
    document: bytes, parse: Callable[[bytes | memoryview], object], error: type[ParseError]
) -> None:
    padded = document + b"\n" * (MAX_XML_DOCUMENT_SIZE + 1 - len(document))
    with pytest.raises(error, match="MAX_XML_DOCUMENT_SIZE"):
        parse(padded)
    with pytest.raises(error, match="MAX_XML_DOCUMENT_SIZE"):
        parse(memoryview(bytearray(padded)))


@pytest.mark.parametrize(
    "data",
    [
        # 1 MB of nesting, of one text node, and of entity references in a DTD.
        b'<imdn xmlns="urn:ietf:params:xml:ns:imdn">' + b"<a>" * 333_000 + b"</imdn>",
        b'<imdn xmlns="urn:ietf:params:xml:ns:imdn"><subject>'
        + b"x" * 1_000_000
        + b"</subject></imdn>",
        b'<!DOCTYPE imdn [<!ENTITY a "aaaaaaaaaa">]><imdn>' + b"&a;" * 333_000 + b"</imdn>",
    ],
    ids=["nesting", "text", "entities"],
)
def test_hostile_1mb_imdn_is_refused(data: bytes) -> None:
    assert len(data) > 999_000
    with pytest.raises(ImdnParseError, match="MAX_XML_DOCUMENT_SIZE"):
        Imdn.from_bytes(data)


def test_limits_are_consistent() -> None:
    # A base64 value at its limit fits on a header line with its name.
    assert MAX_BASE64_HEADER_LENGTH + len(HEADER_MLS_DERIVED_CONTENT_SIGNATURE) + 2 < (
        MAX_CPIM_LINE_LENGTH
    )
    assert cpim.MAX_CPIM_BODY_SIZE >= 16 * 1024 * 1024  # a Welcome of a large group


def test_the_benchmark_inputs_are_refused() -> None:
    # benches/rcs.py times these refusals; here, only that each one is refused.
    for name, size, refuse, ordinary in hostile_inputs():
        assert size >= 1_000_000, name
        with pytest.raises((CpimParseError, ImdnParseError), match="MAX_"):
            refuse()
        ordinary()
