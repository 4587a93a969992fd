"""Tests of the SecretPayload frame, the application authenticated data and MLS varints."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcs_mls.exceptions import InvalidArgumentError, PayloadParseError
from rcs_mls.rcs.cpim import MimeHeader
from rcs_mls.rcs.payload import (
    MAX_VARINT,
    RESEND_PRESENT_TAG,
    ApplicationAad,
    SecretPayload,
    decode_varint,
    encode_varint,
)

# --- RFC 9420 §2.1.2 variable-length integers ----------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "value"),
    [
        # The examples of RFC 9420 §2.1.2.
        ("25", 37),
        ("7bbd", 15293),
        ("9d7f3e7d", 494878333),
        # Boundaries.
        ("00", 0),
        ("3f", 63),
        ("4040", 64),
        ("7fff", 16383),
        ("80004000", 16384),
        ("bfffffff", MAX_VARINT),
    ],
)
def test_varint_vectors(encoded: str, value: int) -> None:
    data = bytes.fromhex(encoded)
    assert decode_varint(data) == (value, len(data))
    assert decode_varint(b"\xaa" + data + b"\xbb", 1) == (value, len(data) + 1)
    if value != 37 or encoded == "25":
        assert encode_varint(value) == data


@pytest.mark.parametrize(
    "encoded",
    [
        "4025",  # 37 on two bytes
        "80000025",  # 37 on four bytes
        "80003fff",  # 16383 on four bytes
        "c000000000000000",  # the reserved 0b11 prefix (an 8-byte QUIC varint)
        "c0",
        "40",  # truncated
        "800000",
        "",
    ],
)
def test_varint_refusals(encoded: str) -> None:
    with pytest.raises(PayloadParseError):
        decode_varint(bytes.fromhex(encoded))


@pytest.mark.parametrize("value", [-1, MAX_VARINT + 1, 2**64, True, 1.0, "1"])
def test_varint_range(value: object) -> None:
    with pytest.raises(InvalidArgumentError):
        encode_varint(value)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_VARINT))
def test_varint_round_trip(value: int) -> None:
    encoded = encode_varint(value)
    assert len(encoded) == (1 if value < 64 else 2 if value < 16384 else 4)
    assert decode_varint(encoded) == (value, len(encoded))


# --- SecretPayload ---------------------------------------------------------------------------

HELLO_FRAME = (
    b"\x00\x01"  # version 1
    b"\x00\x01"  # payload type 1
    b"\x00\x00\x01\x02"  # generation 258
    b"\x40\x61"  # varint 97
    b"\r\nContent-Type: text/plain;charset=UTF-8\r\n"
    b"Content-Disposition: inline\r\n"
    b"Content-Length: 5\r\n\r\n"
    b"hello"
)


def test_secret_payload_known_bytes() -> None:
    payload = SecretPayload(258, "text/plain;charset=UTF-8", b"hello")
    assert payload.to_bytes() == HELLO_FRAME
    assert SecretPayload.from_bytes(HELLO_FRAME) == payload
    assert payload.header("content-length") == "5"
    assert payload.header("Content-Disposition") == "inline"


def test_secret_payload_extra_headers_and_binary_body() -> None:
    body = bytes(range(256)) + b"\r\n\r\n"
    payload = SecretPayload(
        0xFFFFFFFF,
        "image/jpeg",
        body,
        (MimeHeader("Content-Transfer-Encoding", "binary"), MimeHeader("X-Note", "a\tb")),
    )
    data = payload.to_bytes()
    assert b"inline\r\nContent-Transfer-Encoding: binary\r\nX-Note: a\tb\r\nContent-Length" in data
    parsed = SecretPayload.from_bytes(bytearray(data))
    assert parsed == payload
    assert parsed.header("x-note") == "a\tb"
    assert parsed.header("missing") is None


def test_secret_payload_long_body_uses_a_four_byte_length() -> None:
    payload = SecretPayload(1, "application/octet-stream", b"\x00" * 20000)
    data = payload.to_bytes()
    assert data[8] >> 6 == 0b10
    assert SecretPayload.from_bytes(data) == payload


def test_secret_payload_parses_other_header_order_and_spacing() -> None:
    entity = (
        b"\r\ncontent-length:2\r\nCONTENT-TYPE:   text/plain  \r\n"
        b"Content-Disposition: attachment\r\n\r\nhi"
    )
    data = b"\x00\x01\x00\x01\x00\x00\x00\x09" + encode_varint(len(entity)) + entity
    payload = SecretPayload.from_bytes(data)
    assert payload == SecretPayload(9, "text/plain", b"hi", (), "attachment")


def test_secret_payload_without_disposition_or_length() -> None:
    entity = b"\r\nContent-Type: text/plain\r\n\r\nhi"
    data = b"\x00\x01\x00\x01\x00\x00\x00\x00" + encode_varint(len(entity)) + entity
    assert SecretPayload.from_bytes(data) == SecretPayload(0, "text/plain", b"hi")


def _frame(entity: bytes, head: bytes = b"\x00\x01\x00\x01\x00\x00\x00\x01") -> bytes:
    return head + encode_varint(len(entity)) + entity


SECRET_MALFORMED = {
    "empty": b"",
    "truncated header": HELLO_FRAME[:7],
    "truncated varint": HELLO_FRAME[:9],
    "version 2": b"\x00\x02" + HELLO_FRAME[2:],
    "version 0": b"\x00\x00" + HELLO_FRAME[2:],
    "payload type 2": HELLO_FRAME[:2] + b"\x00\x02" + HELLO_FRAME[4:],
    "length too long": HELLO_FRAME[:8] + b"\x40\x62" + HELLO_FRAME[10:],
    "length too short": HELLO_FRAME[:8] + b"\x40\x60" + HELLO_FRAME[10:],
    "trailing byte": HELLO_FRAME + b"!",
    "truncated body": HELLO_FRAME[:-1],
    "non-minimal length": HELLO_FRAME[:8] + b"\x80\x00\x00\x61" + HELLO_FRAME[10:],
    "empty Content-Type": _frame(b"\r\nContent-Type:\r\n\r\n"),
    "no leading CRLF": _frame(b"Content-Type: text/plain\r\n\r\nhi"),
    "no Content-Type": _frame(b"\r\nContent-Disposition: inline\r\n\r\nhi"),
    "two Content-Types": _frame(b"\r\nContent-Type: a/b\r\nContent-Type: a/b\r\n\r\n"),
    "two Content-Lengths": _frame(
        b"\r\nContent-Type: a/b\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"
    ),
    "Content-Length mismatch": _frame(b"\r\nContent-Type: a/b\r\nContent-Length: 3\r\n\r\nhi"),
    "Content-Length not a number": _frame(
        b"\r\nContent-Type: a/b\r\nContent-Length: 0x2\r\n\r\nhi"
    ),
    "headers not terminated": _frame(b"\r\nContent-Type: a/b\r\n"),
    "bare LF": _frame(b"\r\nContent-Type: a/b\nX: y\r\n\r\n"),
    "folded header": _frame(b"\r\nContent-Type: a/b\r\n c\r\n\r\n"),
    "header without colon": _frame(b"\r\nContent-Type a/b\r\n\r\n"),
    "header not UTF-8": _frame(b"\r\nContent-Type: \xff\r\n\r\n"),
    "empty header name": _frame(b"\r\nContent-Type: a/b\r\n: x\r\n\r\n"),
}


@pytest.mark.parametrize("data", SECRET_MALFORMED.values(), ids=SECRET_MALFORMED.keys())
def test_secret_payload_malformed(data: bytes) -> None:
    with pytest.raises(PayloadParseError):
        SecretPayload.from_bytes(data)


@pytest.mark.parametrize("data", ["frame", None, 3, [0, 1]])
def test_secret_payload_non_bytes(data: object) -> None:
    with pytest.raises(PayloadParseError):
        SecretPayload.from_bytes(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"generation": -1},
        {"generation": 2**32},
        {"generation": True},
        {"generation": "1"},
        {"content_type": "text/plain\r\nX: y"},
        {"content_type": ""},
        {"content_type": b"text/plain"},
        {"body": "hello"},
        {"headers": (MimeHeader("Content-Length", "5"),)},
        {"headers": (MimeHeader("content-type", "a/b"),)},
        {"headers": (("X", "y"),)},
        {"headers": "X: y"},
        {"headers": 5},
        {"content_disposition": "inline\r\n"},
    ],
)
def test_secret_payload_bad_arguments(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"generation": 1, "content_type": "text/plain", "body": b""}
    arguments.update(kwargs)
    with pytest.raises(InvalidArgumentError):
        SecretPayload(**arguments)  # type: ignore[arg-type]


# --- authenticated data ----------------------------------------------------------------------

AAD_EXAMPLE = (
    b"\x00\x01"  # version 1
    b"\x18Mx3q0b1c2d3e4f5g6h7i8j9k"  # message_id<V>
    b"\x00\x00\x00\x01"  # era 1
    b"\x00"  # no resend component
)


def test_aad_known_bytes() -> None:
    aad = ApplicationAad("Mx3q0b1c2d3e4f5g6h7i8j9k", 1)
    assert aad.to_bytes() == AAD_EXAMPLE
    assert ApplicationAad.from_bytes(AAD_EXAMPLE) == aad
    assert ApplicationAad.from_bytes(memoryview(AAD_EXAMPLE)) == aad


def test_aad_long_message_id_and_max_era() -> None:
    aad = ApplicationAad("m" * 100, 0xFFFFFFFF)
    data = aad.to_bytes()
    assert data[2:4] == b"\x40\x64"
    assert data[-5:] == b"\xff\xff\xff\xff\x00"
    assert ApplicationAad.from_bytes(data) == aad


def test_aad_resend_component() -> None:
    component = b"\x00\x00\x00\x07\x02ab\x00\x01z"
    aad = ApplicationAad("new-id", 3, component)
    data = aad.to_bytes()
    assert data == b"\x00\x01\x06new-id\x00\x00\x00\x03" + bytes([RESEND_PRESENT_TAG]) + component
    assert ApplicationAad.from_bytes(data) == aad
    assert ApplicationAad.from_bytes(data[: -len(component)]) == ApplicationAad("new-id", 3, b"")


AAD_MALFORMED = {
    "empty": b"",
    "version only": b"\x00\x01",
    "version 2": b"\x00\x02" + AAD_EXAMPLE[2:],
    "no resend component": AAD_EXAMPLE[:-1],
    "truncated era": AAD_EXAMPLE[:-3],
    "truncated id": AAD_EXAMPLE[:10],
    "bytes after absent component": AAD_EXAMPLE + b"\x00",
    "unknown tag": AAD_EXAMPLE[:-1] + b"\x07",
    "empty message id": b"\x00\x01\x00\x00\x00\x00\x01\x00",
    "non-ASCII message id": b"\x00\x01\x02\xc3\xa9\x00\x00\x00\x01\x00",
    "space in message id": b"\x00\x01\x03a b\x00\x00\x00\x01\x00",
    "control in message id": b"\x00\x01\x01\x07\x00\x00\x00\x01\x00",
    "non-minimal length": b"\x00\x01\x40\x01a\x00\x00\x00\x01\x00",
}


@pytest.mark.parametrize("data", AAD_MALFORMED.values(), ids=AAD_MALFORMED.keys())
def test_aad_malformed(data: bytes) -> None:
    with pytest.raises(PayloadParseError):
        ApplicationAad.from_bytes(data)


@pytest.mark.parametrize(
    ("message_id", "era", "resend"),
    [
        ("", 1, None),
        ("é", 1, None),
        ("a b", 1, None),
        (b"id", 1, None),
        ("id", -1, None),
        ("id", 2**32, None),
        ("id", 1.5, None),
        ("id", 1, "resend"),
    ],
)
def test_aad_bad_arguments(message_id: object, era: object, resend: object) -> None:
    with pytest.raises(InvalidArgumentError):
        ApplicationAad(message_id, era, resend)  # type: ignore[arg-type]


def test_aad_non_bytes() -> None:
    with pytest.raises(PayloadParseError):
        ApplicationAad.from_bytes("\x00\x01")  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------

header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30
).map(str.strip)
extra_headers = st.lists(
    st.tuples(
        st.sampled_from(["X-A", "x-b", "Content-ID", "Content-Transfer-Encoding"]), header_values
    )
).map(lambda pairs: tuple(MimeHeader(n, v) for n, v in pairs))
secret_payloads = st.builds(
    SecretPayload,
    generation=st.integers(0, 0xFFFFFFFF),
    content_type=header_values.filter(bool),
    body=st.binary(max_size=300),
    headers=extra_headers,
    content_disposition=st.sampled_from(["inline", "attachment", "render"]),
)
message_ids = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)
aads = st.builds(
    ApplicationAad,
    message_id=message_ids,
    era=st.integers(0, 0xFFFFFFFF),
    resend=st.none() | st.binary(max_size=100),
)


@settings(max_examples=200, deadline=None)
@given(secret_payloads)
def test_secret_payload_round_trip(payload: SecretPayload) -> None:
    data = payload.to_bytes()
    assert SecretPayload.from_bytes(data) == payload
    assert SecretPayload.from_bytes(data).to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(aads)
def test_aad_round_trip(aad: ApplicationAad) -> None:
    data = aad.to_bytes()
    assert ApplicationAad.from_bytes(data) == aad
    assert ApplicationAad.from_bytes(data).to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_payload_errors(data: bytes) -> None:
    for parse in (SecretPayload.from_bytes, ApplicationAad.from_bytes):
        with contextlib.suppress(PayloadParseError):
            parse(data)
    with contextlib.suppress(PayloadParseError):
        decode_varint(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_frame_bodies_raise_only_payload_errors(entity: bytes) -> None:
    try:
        payload = SecretPayload.from_bytes(_frame(entity))
    except PayloadParseError:
        return
    assert SecretPayload.from_bytes(payload.to_bytes()) == payload


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 0xFFFFFFFF))
def test_arbitrary_aad_tails_raise_only_payload_errors(tail: bytes, era: int) -> None:
    data = b"\x00\x01\x02id" + era.to_bytes(4, "big") + tail
    try:
        aad = ApplicationAad.from_bytes(data)
    except PayloadParseError:
        return
    assert aad.to_bytes() == data
