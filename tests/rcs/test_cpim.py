"""Tests of the CPIM format (RFC 3862) and the RCC.16 CPIM headers."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcs_mls.exceptions import CpimParseError, InvalidArgumentError, ParseError
from rcs_mls.rcs.cpim import (
    CONTENT_TYPE_MLS,
    HEADER_IMDN_MESSAGE_ID,
    HEADER_MLS_EPOCH_AUTHENTICATOR,
    HEADER_MLS_ERA_ID,
    NS_IMDN,
    NS_MLS,
    CpimAddress,
    CpimHeader,
    CpimMessage,
    MimeHeader,
    format_datetime,
    parse_datetime,
)

# RFC 3862 §6 (the "m:" MIME header and its blank line belong to the transport).
RFC3862_EXAMPLE = (
    b"From: MR SANDERS <im:piglet@100akerwood.com>\r\n"
    b"To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n"
    b"DateTime: 2000-12-13T13:40:00-08:00\r\n"
    b"Subject: the weather will be fine today\r\n"
    b"Subject:;lang=fr beau temps prevu pour aujourd'hui\r\n"
    b"NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
    b"Require: MyFeatures.VitalMessageOption\r\n"
    b"MyFeatures.VitalMessageOption: Confirmation-requested\r\n"
    b"MyFeatures.WackyMessageOption: Use-silly-font\r\n"
    b"\r\n"
    b"Content-type: text/xml; charset=utf-8\r\n"
    b"Content-ID: <1234567890@foo.com>\r\n"
    b"\r\n"
    b"<body>\r\n"
    b"Here is the text of my message.\r\n"
    b"</body>\r\n"
)

EPOCH_AUTHENTICATOR = bytes(range(32))
MLS_BODY = b"\x00\x01\x00\x02\r\n\r\n\xff\x00binary MLSMessage"


def rcc16_example(body: bytes = MLS_BODY) -> bytes:
    """The CPIM object of RCC.16 §7.9 carrying an MLS application message."""
    return (
        b"From: <sip:anonymous@anonymous.invalid>\r\n"
        b"To: <sip:anonymous@anonymous.invalid>\r\n"
        b"NS: imdn <urn:ietf:params:imdn>\r\n"
        b"NS: mls <http://www.gsma.com/rcs/mls>\r\n"
        b"imdn.Message-ID: Mx3q0b1c2d3e4f5g6h7i8j9k\r\n"
        b"DateTime: 2026-05-12T10:00:00.000Z\r\n"
        b"imdn.Disposition-Notification: positive-delivery, negative-delivery, display\r\n"
        b"mls.Era-ID: 1\r\n"
        b"mls.Epoch-Authenticator: " + base64.b64encode(EPOCH_AUTHENTICATOR) + b"\r\n"
        b"\r\n"
        b"Content-Type: message/mls\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"\r\n" + body
    )


# --- known inputs ----------------------------------------------------------------------------


def test_rfc3862_example_parses() -> None:
    message = CpimMessage.from_bytes(RFC3862_EXAMPLE)
    assert message.sender == CpimAddress("im:piglet@100akerwood.com", "MR SANDERS")
    assert message.recipients == (CpimAddress("im:eeyore@100akerwood.com", "Depressed Donkey"),)
    assert message.datetime == dt.datetime(
        2000, 12, 13, 13, 40, tzinfo=dt.timezone(dt.timedelta(hours=-8))
    )
    assert message.headers("Subject") == (
        "the weather will be fine today",
        "beau temps prevu pour aujourd'hui",
    )
    assert [h.lang for h in message.message_headers if h.name == "Subject"] == [None, "fr"]
    assert message.namespaces == {"MyFeatures": "mid:MessageFeatures@id.foo.com"}
    assert message.header("Require") == "MyFeatures.VitalMessageOption"
    assert message.header("VitalMessageOption", "mid:MessageFeatures@id.foo.com") == (
        "Confirmation-requested"
    )
    assert message.header("MyFeatures.WackyMessageOption") == "Use-silly-font"
    assert message.content_type == "text/xml; charset=utf-8"
    assert message.content_header("content-id") == "<1234567890@foo.com>"
    assert message.body == b"<body>\r\nHere is the text of my message.\r\n</body>\r\n"


def test_rfc3862_example_serialises_with_content_length() -> None:
    message = CpimMessage.from_bytes(RFC3862_EXAMPLE)
    expected = RFC3862_EXAMPLE.replace(
        b"charset=utf-8\r\n", b"charset=utf-8\r\nContent-Length: 50\r\n", 1
    )
    assert message.to_bytes() == expected
    assert CpimMessage.from_bytes(expected) == message


def test_rfc3862_namespace_example() -> None:
    # RFC 3862 §3.4: a header block declaring and using a namespace.
    data = (
        b"From: Alice <im:alice@example.com>\r\n"
        b"To: Bob <im:bob@example.com>\r\n"
        b"DateTime: 2000-12-13T13:40:00-08:00\r\n"
        b"Subject: the weather will be fine today\r\n"
        b"NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
        b"Require: MyFeatures.VitalMessageOption\r\n"
        b"MyFeatures.VitalMessageOption: Confirmation-requested\r\n"
        b"MyFeatures.WackyMessageOption: Use-silly-font\r\n"
        b"\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
    )
    message = CpimMessage.from_bytes(data)
    assert message.body == b""
    assert [h.prefix for h in message.message_headers][-2:] == ["MyFeatures", "MyFeatures"]
    assert message.message_headers[-1].local_name == "WackyMessageOption"


def test_rfc5438_imdn_request_in_cpim() -> None:
    # RFC 5438 §9: a message asking for delivery and display notifications.
    data = (
        b"From: Alice <im:alice@example.com>\r\n"
        b"To: Bob <im:bob@example.com>\r\n"
        b"NS: imdn <urn:ietf:params:imdn>\r\n"
        b"imdn.Message-ID: 34jk324j\r\n"
        b"DateTime: 2006-04-04T12:16:49-05:00\r\n"
        b"imdn.Disposition-Notification: positive-delivery, display\r\n"
        b"\r\n"
        b"Content-type: text/plain\r\n"
        b"Content-length: 11\r\n"
        b"\r\n"
        b"Hello World"
    )
    message = CpimMessage.from_bytes(data)
    assert message.header(HEADER_IMDN_MESSAGE_ID) == "34jk324j"
    assert message.header("Message-ID", NS_IMDN) == "34jk324j"
    assert message.header("imdn.Disposition-Notification") == "positive-delivery, display"
    assert message.body == b"Hello World"
    assert message.content_header("Content-Length") is None


def test_rcc16_example() -> None:
    message = CpimMessage.from_bytes(rcc16_example())
    assert message.content_type == CONTENT_TYPE_MLS
    assert message.body == MLS_BODY
    assert message.header(HEADER_MLS_ERA_ID) == "1"
    authenticator = message.header(HEADER_MLS_EPOCH_AUTHENTICATOR)
    assert authenticator is not None
    assert base64.b64decode(authenticator, validate=True) == EPOCH_AUTHENTICATOR
    assert message.header("Era-ID", NS_MLS) == "1"
    assert message.header(HEADER_IMDN_MESSAGE_ID) == "Mx3q0b1c2d3e4f5g6h7i8j9k"
    assert message.datetime == dt.datetime(2026, 5, 12, 10, tzinfo=dt.UTC)
    assert message.to_bytes() == rcc16_example()


def test_namespace_lookup_follows_the_declared_uri() -> None:
    data = rcc16_example().replace(b"NS: mls ", b"NS: gsma ").replace(b"\nmls.", b"\ngsma.")
    message = CpimMessage.from_bytes(data)
    assert message.header(HEADER_MLS_ERA_ID) is None
    assert message.header("gsma.Era-ID") == "1"
    assert message.header("Era-ID", NS_MLS) == "1"
    assert message.headers("Era-ID", NS_IMDN) == ()


def test_default_namespace_lookup() -> None:
    message = CpimMessage.from_bytes(RFC3862_EXAMPLE)
    assert message.headers("Subject", "urn:ietf:params:cpim-headers:")[0].startswith("the")


def test_header_names_are_case_sensitive() -> None:
    message = CpimMessage.from_bytes(RFC3862_EXAMPLE)
    assert message.header("from") is None
    assert message.header("From") is not None


def test_header_refuses_an_ambiguous_single_value() -> None:
    message = CpimMessage.from_bytes(RFC3862_EXAMPLE)
    with pytest.raises(CpimParseError):
        message.header("Subject")


def test_declaration_after_use_is_accepted() -> None:
    data = b"imdn.Message-ID: x\r\nNS: imdn <urn:ietf:params:imdn>\r\n\r\n\r\n"
    assert CpimMessage.from_bytes(data).header("Message-ID", NS_IMDN) == "x"


def test_empty_value_and_quoted_parameter() -> None:
    data = b'Subject:;lang=en;x="a \\"b\\" c" \r\nSubject: \r\n\r\n\r\n'
    message = CpimMessage.from_bytes(data)
    assert message.message_headers[0].parameters == (("lang", "en"), ("x", '"a \\"b\\" c"'))
    assert message.message_headers[0].value == ""
    assert CpimMessage.from_bytes(message.to_bytes()) == message


def test_utf8_values_and_binary_body() -> None:
    body = bytes(range(256)) * 3
    message = CpimMessage(
        (CpimHeader("Subject", "Grüße 😀", (("lang", "de"),)),),
        (MimeHeader("Content-Type", "application/octet-stream"),),
        body,
    )
    data = message.to_bytes()
    assert "Subject:;lang=de Grüße 😀\r\n".encode() in data
    assert CpimMessage.from_bytes(data) == message
    assert CpimMessage.from_bytes(bytearray(data)) == message
    assert CpimMessage.from_bytes(memoryview(data)) == message


def test_content_length_goes_last_without_content_type() -> None:
    message = CpimMessage((), (MimeHeader("Content-ID", "<a@b>"),), b"xy")
    assert message.to_bytes() == b"\r\nContent-ID: <a@b>\r\nContent-Length: 2\r\n\r\nxy"


# --- malformed input ------------------------------------------------------------------------

MALFORMED = {
    "undeclared prefix": b"imdn.Message-ID: x\r\n\r\n\r\n",
    "undeclared prefix, other namespace": rcc16_example().replace(b"NS: mls", b"NS: xyz"),
    "conflicting declarations": b"NS: a <urn:x>\r\nNS: a <urn:y>\r\n\r\n\r\n",
    "bad NS value": b"NS: a urn:x\r\n\r\n\r\n",
    "no space before value": b"From:<sip:a@b>\r\n\r\n\r\n",
    "no colon": b"From <sip:a@b>\r\n\r\n\r\n",
    "bad name": b"Fr@m: x\r\n\r\n\r\n",
    "two dots": b"NS: a <urn:x>\r\na.b.c: x\r\n\r\n\r\n",
    "empty name": b": x\r\n\r\n\r\n",
    "bad parameter": b"Subject:;lang fr\r\n\r\n\r\n",
    "control character": b"Subject: a\x01b\r\n\r\n\r\n",
    "tab in value": b"Subject: a\tb\r\n\r\n\r\n",
    "bare LF": b"Subject: a\nb\r\n\r\n\r\n",
    "bare CR": b"Subject: a\rb\r\n\r\n\r\n",
    "LF line endings": RFC3862_EXAMPLE.replace(b"\r\n", b"\n"),
    "no blank line": b"Subject: a\r\n",
    "no content blank line": b"Subject: a\r\n\r\nContent-Type: text/plain\r\n",
    "bad UTF-8": b"Subject: \xff\xfe\r\n\r\n\r\n",
    "From repeated": b"From: <a:b>\r\nFrom: <a:c>\r\n\r\n\r\n",
    "From not an address": b"From: alice\r\n\r\n\r\n",
    "To not an address": b"To: <a:b> <c:d>\r\n\r\n\r\n",
    "DateTime repeated": (
        b"DateTime: 2000-12-13T13:40:00Z\r\nDateTime: 2000-12-13T13:40:00Z\r\n\r\n\r\n"
    ),
    "bad DateTime": b"DateTime: 2000-13-13T13:40:00Z\r\n\r\n\r\n",
    "DateTime without zone": b"DateTime: 2000-12-13T13:40:00\r\n\r\n\r\n",
    "folded content header": b"\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n\r\n",
    "content header without colon": b"\r\nContent-Type text/plain\r\n\r\n",
    "content header with control": b"\r\nContent-Type: text/\x00plain\r\n\r\n",
    "truncated body": rcc16_example()[:-1],
    "bytes after body": rcc16_example() + b"\r\n",
    "bad Content-Length": rcc16_example().replace(b"Content-Length: ", b"Content-Length: +"),
    "huge Content-Length": b"\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
    "Content-Length repeated": b"\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
    "Content-Length not ASCII digits": b"\r\nContent-Length: \xd9\xa1\r\n\r\nx",
    "empty": b"",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_is_refused(data: bytes) -> None:
    with pytest.raises(CpimParseError):
        CpimMessage.from_bytes(data)


@pytest.mark.parametrize("data", ["From: <a:b>\r\n\r\n\r\n", None, 42, ["x"]])
def test_non_bytes_are_refused(data: object) -> None:
    with pytest.raises(CpimParseError):
        CpimMessage.from_bytes(data)  # type: ignore[arg-type]


def test_parse_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        CpimMessage.from_bytes(b"x")


# --- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "parameters"),
    [
        ("Bad Name", "v", ()),
        ("a.b.c", "v", ()),
        ("Subject", "line\r\nbreak", ()),
        ("Subject", "v", (("lang", "two words"),)),
        ("Subject", "v", (("la ng", "fr"),)),
        ("Subject", "v", (("lang",),)),
    ],
)
def test_invalid_header_is_refused(
    name: str, value: str, parameters: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(InvalidArgumentError):
        CpimHeader(name, value, parameters)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"message_headers": (CpimHeader("imdn.Message-ID", "x"),)},
        {"message_headers": (), "content_headers": (MimeHeader("Content-Length", "3"),)},
        {"message_headers": (), "body": "text"},
        {"message_headers": "From: <a:b>"},
        {"message_headers": (("From", "<a:b>"),)},
        {"message_headers": 5},
        {"message_headers": (CpimHeader("DateTime", "yesterday"),)},
    ],
)
def test_invalid_message_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        CpimMessage(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [("Content Type", "x"), ("Content-Type", " x"), ("Content-Type", "a\r\nb"), ("", "x")],
)
def test_invalid_mime_header_is_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidArgumentError):
        MimeHeader(name, value)


def test_address_forms() -> None:
    assert CpimAddress.parse("<tel:+15551234>") == CpimAddress("tel:+15551234")
    assert CpimAddress.parse('"Alice A." <sip:a@b>').display_name == '"Alice A."'
    assert str(CpimAddress("sip:a@b", "Alice")) == "Alice <sip:a@b>"
    with pytest.raises(CpimParseError):
        CpimAddress.parse("sip:a@b")
    with pytest.raises(InvalidArgumentError):
        CpimAddress("sip:a b")


# --- RFC 3339 date-times -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-12T10:00:00.000Z", dt.datetime(2026, 5, 12, 10, tzinfo=dt.UTC)),
        ("2026-05-12t10:00:00z", dt.datetime(2026, 5, 12, 10, tzinfo=dt.UTC)),
        (
            "2008-04-04T12:16:49-05:00",
            dt.datetime(2008, 4, 4, 12, 16, 49, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        ),
        (
            "2003-01-27T10:43:00.1234567+05:30",
            dt.datetime(
                2003, 1, 27, 10, 43, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5.5))
            ),
        ),
    ],
)
def test_parse_datetime(text: str, expected: dt.datetime) -> None:
    assert parse_datetime(text) == expected
    assert parse_datetime(text).utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-12 10:00:00Z",
        "2026-05-12T10:00:00",
        "2026-02-30T10:00:00Z",
        "2026-05-12T24:00:00Z",
        "2026-05-12T10:00:60Z",
        "2026-05-12T10:00:00+24:00",
        "2026-05-12",
        "\uff12\uff10\uff12\uff16-05-12T10:00:00Z",
    ],
)
def test_parse_datetime_refuses(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_datetime(text)


def test_format_datetime() -> None:
    utc = dt.datetime(2026, 5, 12, 10, tzinfo=dt.UTC)
    assert format_datetime(utc) == "2026-05-12T10:00:00.000Z"
    minus = dt.timezone(-dt.timedelta(hours=5, minutes=30))
    assert format_datetime(utc.replace(microsecond=5, tzinfo=minus)) == (
        "2026-05-12T10:00:00.000005-05:30"
    )
    with pytest.raises(InvalidArgumentError):
        format_datetime(dt.datetime(2026, 5, 12))
    with pytest.raises(InvalidArgumentError):
        format_datetime(utc.replace(tzinfo=dt.timezone(dt.timedelta(seconds=30))))


# --- properties -----------------------------------------------------------------------------

_NAMECHARS = "!#$%&'*+-^_`|~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
names = st.text(alphabet=_NAMECHARS, min_size=1, max_size=12).filter(
    lambda n: n not in ("From", "To", "cc", "DateTime", "NS")
)
values = st.text(
    alphabet=st.characters(
        exclude_categories=["Cs"], exclude_characters=[chr(c) for c in range(32)] + ["\x7f"]
    ),
    max_size=40,
)
mime_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30
).map(str.strip)
mime_names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
    min_size=1,
    max_size=20,
).filter(lambda n: n.lower() != "content-length")
datetimes = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [
            dt.UTC,
            dt.timezone(dt.timedelta(hours=-8)),
            dt.timezone(dt.timedelta(hours=5, minutes=45)),
        ]
    ),
)


@st.composite
def messages(draw: st.DrawFn) -> CpimMessage:
    prefixes = draw(st.lists(names, max_size=3, unique=True))
    headers = [CpimHeader("NS", f"{p} <urn:test:{i}>") for i, p in enumerate(prefixes)]
    for _ in range(draw(st.integers(0, 6))):
        prefix = draw(st.sampled_from([None, *prefixes]))
        name = draw(names)
        lang = draw(st.sampled_from([(), (("lang", "fr"),), (("x", '"q w"'),)]))
        full = name if prefix is None else f"{prefix}.{name}"
        headers.insert(draw(st.integers(0, len(headers))), CpimHeader(full, draw(values), lang))
    if draw(st.booleans()):
        headers.append(CpimHeader("From", "<sip:alice@example.com>"))
    if draw(st.booleans()):
        headers.append(CpimHeader("DateTime", format_datetime(draw(datetimes))))
    content = [MimeHeader(n, v) for n, v in draw(st.lists(st.tuples(mime_names, mime_values)))]
    return CpimMessage(tuple(headers), tuple(content), draw(st.binary(max_size=100)))


@settings(max_examples=200, deadline=None)
@given(messages())
def test_round_trip(message: CpimMessage) -> None:
    data = message.to_bytes()
    assert CpimMessage.from_bytes(data) == message
    assert CpimMessage.from_bytes(data).to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(datetimes)
def test_datetime_round_trip(value: dt.datetime) -> None:
    parsed = parse_datetime(format_datetime(value))
    assert parsed == value
    assert parsed.utcoffset() == value.utcoffset()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_cpim_errors(data: bytes) -> None:
    try:
        message = CpimMessage.from_bytes(data)
    except CpimParseError:
        return
    assert CpimMessage.from_bytes(message.to_bytes()) == message


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_messages_raise_only_cpim_errors(data: st.DataObject) -> None:
    original = bytearray(rcc16_example())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(original) - 1))
        original[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(original)))
    try:
        CpimMessage.from_bytes(bytes(original[:cut]))
    except ParseError as exc:
        assert isinstance(exc, CpimParseError)
