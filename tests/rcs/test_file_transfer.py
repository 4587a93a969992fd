"""Tests of File Transfer over HTTP descriptors (GSMA RCC.07) and the RCC.16 MLS marker."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcs_mls.exceptions import FileTransferParseError, InvalidArgumentError
from rcs_mls.rcs.file_transfer import (
    ENCRYPTED_FILE_NAME,
    FileDisposition,
    FileTransferDescriptor,
    FileTransferInfo,
)

UNTIL = dt.datetime(2017, 4, 25, 12, 17, 7, tzinfo=dt.UTC)

# The RCC.07 §3.2.5 shape: a thumbnail and the file.
RCC07_EXAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp">
  <file-info type="thumbnail">
    <file-size>7427</file-size>
    <content-type>image/jpeg</content-type>
    <data url="https://ftcontentserver.rcs.mnc001.mcc208.pub.3gppnetwork.org/t/abc"
          until="2017-04-25T12:17:07Z"/>
  </file-info>
  <file-info type="file" file-disposition="attachment">
    <file-size>183524</file-size>
    <file-name>DSC00002.JPG</file-name>
    <content-type>image/jpeg</content-type>
    <data url="https://ftcontentserver.rcs.mnc001.mcc208.pub.3gppnetwork.org/f/abc?a=1&amp;b=2"
          until="2017-04-25T12:17:07Z"/>
  </file-info>
</file>
"""

# An audio message (RCC.07): playing-length in the rram namespace.
AUDIO_EXAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp"
      xmlns:am="urn:gsma:params:xml:ns:rcs:rcs:rram">
  <file-info type="file" file-disposition="render">
    <file-size>20480</file-size>
    <file-name>voice.amr</file-name>
    <content-type>audio/amr</content-type>
    <am:playing-length>12</am:playing-length>
    <data url="https://ft.example.com/v/1" until="2026-05-19T10:00:00Z"/>
  </file-info>
</file>
"""

KEY_DELIVERY_REFERENCE = b"\x0a\x18Mx3q0b1c2d3e4f5g6h7i8j9k"

# How a deployed client writes an encrypted file: standalone declaration, a vendor
# extension element, then <mls-file> last.
ENCRYPTED_DEPLOYED = (
    b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>"
    b'<file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp" '
    b'xmlns:enc="urn:google:am-ftpush-xml-encryption">'
    b'<file-info type="file"><file-size>1040</file-size>'
    b"<file-name>encrypted_file</file-name><content-type>message/mls-ft</content-type>"
    b'<data url="https://ft.example.com/e/1" until="2026-05-19T10:00:00.000Z" /></file-info>'
    b"<enc:encrypted-data>AAAA</enc:encrypted-data>"
    b"<mls-file>" + base64.b64encode(KEY_DELIVERY_REFERENCE) + b"</mls-file></file>"
)


def test_rcc07_example() -> None:
    descriptor = FileTransferDescriptor.from_bytes(RCC07_EXAMPLE)
    assert descriptor.thumbnail == FileTransferInfo(
        size=7427,
        content_type="image/jpeg",
        url="https://ftcontentserver.rcs.mnc001.mcc208.pub.3gppnetwork.org/t/abc",
        until=UNTIL,
    )
    assert descriptor.file == FileTransferInfo(
        size=183524,
        content_type="image/jpeg",
        url="https://ftcontentserver.rcs.mnc001.mcc208.pub.3gppnetwork.org/f/abc?a=1&b=2",
        until=UNTIL,
        name="DSC00002.JPG",
        disposition=FileDisposition.ATTACHMENT,
    )
    assert not descriptor.is_mls_encrypted
    assert FileTransferDescriptor.from_bytes(descriptor.to_bytes()) == descriptor


def test_audio_example() -> None:
    descriptor = FileTransferDescriptor.from_bytes(AUDIO_EXAMPLE)
    assert descriptor.thumbnail is None
    assert descriptor.file.playing_length == 12
    assert descriptor.file.disposition is FileDisposition.RENDER
    data = descriptor.to_bytes()
    assert b'xmlns:am="urn:gsma:params:xml:ns:rcs:rcs:rram"' in data
    assert b"<am:playing-length>12</am:playing-length>" in data
    assert FileTransferDescriptor.from_bytes(data) == descriptor


def test_deployed_encrypted_descriptor() -> None:
    descriptor = FileTransferDescriptor.from_bytes(ENCRYPTED_DEPLOYED)
    assert descriptor.is_mls_encrypted
    assert descriptor.mls_file == KEY_DELIVERY_REFERENCE
    assert descriptor.file.name == ENCRYPTED_FILE_NAME
    assert descriptor.file.content_type == "message/mls-ft"
    assert FileTransferDescriptor.from_bytes(descriptor.to_bytes()) == descriptor


def test_encrypted_known_bytes() -> None:
    descriptor = FileTransferDescriptor(
        FileTransferInfo(
            1040,
            "message/mls-ft",
            "https://ft.example.com/e/1",
            dt.datetime(2026, 5, 19, 10, tzinfo=dt.UTC),
            ENCRYPTED_FILE_NAME,
        ),
        mls_file=b"\x01\x02\x03",
    )
    assert descriptor.to_bytes() == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp">'
        b'<file-info type="file"><file-size>1040</file-size>'
        b"<file-name>encrypted_file</file-name><content-type>message/mls-ft</content-type>"
        b'<data url="https://ft.example.com/e/1" until="2026-05-19T10:00:00.000Z"/>'
        b"</file-info><mls-file>AQID</mls-file></file>"
    )


def test_mls_file_base64_may_be_wrapped_or_empty() -> None:
    wrapped = ENCRYPTED_DEPLOYED.replace(b"<mls-file>Chh", b"<mls-file>\r\n Chh\n")
    assert FileTransferDescriptor.from_bytes(wrapped).mls_file == KEY_DELIVERY_REFERENCE
    empty = ENCRYPTED_DEPLOYED.split(b"<mls-file>")[0] + b"<mls-file/></file>"
    assert FileTransferDescriptor.from_bytes(empty).mls_file == b""


def test_order_of_file_infos_does_not_matter_and_until_is_optional() -> None:
    data = (
        b'<file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp">'
        b'<file-info type="file"><file-size>1</file-size><content-type>a/b</content-type>'
        b'<data url="u1"/></file-info>'
        b'<file-info type="thumbnail"><file-size>2</file-size><content-type>c/d</content-type>'
        b'<data url="u2"/></file-info></file>'
    )
    descriptor = FileTransferDescriptor.from_bytes(data)
    assert descriptor == FileTransferDescriptor(
        FileTransferInfo(1, "a/b", "u1"), FileTransferInfo(2, "c/d", "u2")
    )


def _swap(old: bytes, new: bytes, base: bytes = RCC07_EXAMPLE) -> bytes:
    assert old in base
    return base.replace(old, new)


MALFORMED = {
    "empty": b"",
    "not XML": b"<file",
    "doctype": b"<!DOCTYPE file>" + RCC07_EXAMPLE[39:],
    "wrong namespace": _swap(b"rcs:rcs:fthttp", b"rcs:rcs:ftsms"),
    "wrong root": _swap(b"<file ", b"<files ").replace(b"</file>", b"</files>"),
    "no file": RCC07_EXAMPLE[: RCC07_EXAMPLE.index(b'  <file-info type="file"')] + b"</file>",
    "no file-info at all": b'<file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp"/>',
    "two thumbnails": _swap(b'type="file" file-disposition="attachment"', b'type="thumbnail"'),
    "unknown type": _swap(b'type="thumbnail"', b'type="icon"'),
    "no type": _swap(b' type="thumbnail"', b""),
    "unknown disposition": _swap(b"attachment", b"inline"),
    "no file-size": _swap(b"<file-size>7427</file-size>", b""),
    "negative size": _swap(b"7427", b"-7427"),
    "size not a number": _swap(b"7427", b"7k"),
    "huge size": _swap(b"7427", b"9" * 30),
    "no content-type": _swap(
        b'<content-type>image/jpeg</content-type>\n    <data url="https://ftcontentserver.rcs.mnc001.mcc208.pub.3gppnetwork.org/t',
        b'<data url="https://ftcontentserver.rcs.mnc001.mcc208.pub.3gppnetwork.org/t',
    ),
    "no data": AUDIO_EXAMPLE[: AUDIO_EXAMPLE.index(b"    <data")] + b"</file-info></file>",
    "no url": _swap(
        b'<data url="https://ftcontentserver.rcs.mnc001.mcc208.pub.3gppnetwork.org/t/abc"', b"<data"
    ),
    "empty url": _swap(
        b'url="https://ftcontentserver.rcs.mnc001.mcc208.pub.3gppnetwork.org/t/abc"', b'url=""'
    ),
    "bad until": _swap(
        b'until="2017-04-25T12:17:07Z"/>\n  </file-info>\n  <file-info',
        b'until="soon"/>\n  </file-info>\n  <file-info',
    ),
    "data with content": _swap(
        b'until="2017-04-25T12:17:07Z"/>', b'until="2017-04-25T12:17:07Z">x</data>'
    ),
    "repeated file-name": _swap(
        b"<file-name>DSC00002.JPG</file-name>", b"<file-name>a</file-name><file-name>b</file-name>"
    ),
    "empty file-name": _swap(b"DSC00002.JPG", b""),
    "unknown element": _swap(b"</file>", b"<file-extra/></file>"),
    "stray text": _swap(b"</file>", b"text</file>"),
    "bad mls-file base64": _swap(b"<mls-file>Chh", b"<mls-file>*xh", ENCRYPTED_DEPLOYED),
    "mls-file padding wrong": _swap(b"</mls-file>", b"=</mls-file>", ENCRYPTED_DEPLOYED),
    "mls-file repeated": _swap(b"</file>", b"<mls-file>AQID</mls-file></file>", ENCRYPTED_DEPLOYED),
    "mls-file with a real name": _swap(b"encrypted_file", b"holiday.jpg", ENCRYPTED_DEPLOYED),
    "repeated playing-length": _swap(
        b"<am:playing-length>12</am:playing-length>",
        b"<am:playing-length>12</am:playing-length><am:playing-length>1</am:playing-length>",
        AUDIO_EXAMPLE,
    ),
    "bad playing-length": _swap(b">12<", b">1.5<", AUDIO_EXAMPLE),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_descriptors_are_refused(data: bytes) -> None:
    with pytest.raises(FileTransferParseError):
        FileTransferDescriptor.from_bytes(data)


@pytest.mark.parametrize("data", [RCC07_EXAMPLE.decode(), None, 1.0])
def test_non_bytes_are_refused(data: object) -> None:
    with pytest.raises(FileTransferParseError):
        FileTransferDescriptor.from_bytes(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"size": -1},
        {"size": 2**63},
        {"size": "1"},
        {"size": False},
        {"content_type": ""},
        {"url": " https://x"},
        {"url": 5},
        {"until": dt.datetime(2026, 1, 1)},
        {"name": ""},
        {"name": "a\x00b"},
        {"disposition": "render"},
        {"playing_length": -5},
    ],
)
def test_bad_info_arguments(changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {"size": 1, "content_type": "a/b", "url": "https://x"}
    arguments.update(changes)
    with pytest.raises(InvalidArgumentError):
        FileTransferInfo(**arguments)  # type: ignore[arg-type]


def test_bad_descriptor_arguments() -> None:
    info = FileTransferInfo(1, "a/b", "https://x", name="plain.jpg")
    with pytest.raises(InvalidArgumentError):
        FileTransferDescriptor(info, mls_file=b"x")
    with pytest.raises(InvalidArgumentError):
        FileTransferDescriptor(info, mls_file="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        FileTransferDescriptor("file")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        FileTransferDescriptor(info, thumbnail=info.url)  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------

xml_tokens = (
    st.text(
        alphabet=st.characters(
            exclude_categories=["Cs"],
            exclude_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"]
            + ["\ufffe", "\uffff"],
        ),
        min_size=1,
        max_size=30,
    )
    .map(lambda s: s.strip(" \t\r\n"))
    .filter(bool)
)
datetimes = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2))]),
)


def infos(name: st.SearchStrategy[str | None]) -> st.SearchStrategy[FileTransferInfo]:
    return st.builds(
        FileTransferInfo,
        size=st.integers(0, 2**63 - 1),
        content_type=xml_tokens,
        url=xml_tokens,
        until=st.none() | datetimes,
        name=name,
        disposition=st.none() | st.sampled_from(list(FileDisposition)),
        playing_length=st.none() | st.integers(0, 2**63 - 1),
    )


descriptors = st.builds(
    FileTransferDescriptor, infos(st.none() | xml_tokens), st.none() | infos(st.none())
) | st.builds(
    FileTransferDescriptor,
    infos(st.just(ENCRYPTED_FILE_NAME)),
    st.none() | infos(st.none()),
    st.binary(max_size=80),
)


@settings(max_examples=200, deadline=None)
@given(descriptors)
def test_round_trip(descriptor: FileTransferDescriptor) -> None:
    data = descriptor.to_bytes()
    assert FileTransferDescriptor.from_bytes(data) == descriptor
    assert FileTransferDescriptor.from_bytes(data).to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_file_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(FileTransferParseError):
        FileTransferDescriptor.from_bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.sampled_from(["file-size", "data", "mls-file", "file-name"]))
def test_arbitrary_field_text_raises_only_file_transfer_errors(text: str, field: str) -> None:
    if field == "data":
        old, new = b'url="u"', f'url="{text}"'.encode("utf-8", "surrogatepass")
    else:
        old, new = b"<x/>", f"<{field}>{text}</{field}>".encode("utf-8", "surrogatepass")
    data = (
        b'<file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp"><file-info type="file">'
        b'<file-size>1</file-size><content-type>a/b</content-type><data url="u"/>'
        b"<x/></file-info></file>"
    ).replace(old, new)
    with contextlib.suppress(FileTransferParseError):
        FileTransferDescriptor.from_bytes(data)
