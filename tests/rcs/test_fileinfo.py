"""Tests of the FileInfo protobuf (GSMA RCC.16 §7.8.1)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcs_mls.exceptions import FileInfoParseError, InvalidArgumentError
from rcs_mls.rcs.fileinfo import (
    HMAC_TAG_LENGTH,
    IV_LENGTH,
    KEY_LENGTH,
    FileEncryptionAlgorithm,
    FileEncryptionInfo,
    FileInfo,
    FileMetadata,
)

KEY = bytes(range(32))
IV = bytes(range(100, 112))
TAG = bytes(range(200, 232))


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    """One protobuf field, written by hand (single-byte tags and lengths only)."""
    tag = bytes([number << 3 | wire_type])
    if wire_type == 2:
        assert len(payload) < 128
        return tag + bytes([len(payload)]) + payload
    return tag + payload


def _encryption(hint: bytes | None = b"\x2c\x01\x00\x00", algorithm: int = 1) -> bytes:
    data = _field(1, 2, KEY) + _field(2, 2, IV) + _field(3, 2, TAG)
    if algorithm:
        data += _field(4, 0, bytes([algorithm]))
    if hint is not None:
        data += _field(5, 5, hint)
    return data


def _metadata(name: bytes = b"group_icon", content_type: bytes = b"image/png") -> bytes:
    return _field(1, 2, name) + _field(2, 2, content_type) + _field(3, 2, _encryption())


ICON_INFO = FileInfo(
    icon=FileMetadata(
        "group_icon", "image/png", FileEncryptionInfo(KEY, IV, TAG, file_length_hint=300)
    )
)
# FileInfo.icon = 4; FileMetadata 1, 2, 3; FileEncryptionInfo 1, 2, 3, algorithm = 4 as a
# varint, file_length_hint = 5 as fixed32 (little-endian), as deployed clients encode them.
ICON_BYTES = _field(4, 2, _metadata())


def test_known_bytes() -> None:
    assert ICON_INFO.to_bytes() == ICON_BYTES
    assert FileInfo.from_bytes(ICON_BYTES) == ICON_INFO
    assert ICON_BYTES[-5:] == b"\x2d\x2c\x01\x00\x00"


def test_each_slot_has_its_field_number() -> None:
    metadata = FileMetadata("holiday.jpg", "image/jpeg", FileEncryptionInfo(KEY, IV, TAG))
    for number, slot in enumerate(("file", "thumbnail", "subject", "icon"), start=1):
        data = FileInfo(**{slot: metadata}).to_bytes()
        assert data[0] == number << 3 | 2
        assert getattr(FileInfo.from_bytes(data), slot) == metadata


def test_file_and_thumbnail_together() -> None:
    info = FileInfo(
        file=FileMetadata(
            "holiday.jpg", "image/jpeg", FileEncryptionInfo(KEY, IV, TAG, file_length_hint=70000)
        ),
        thumbnail=FileMetadata("holiday-thumb.jpg", "image/jpeg", FileEncryptionInfo(TAG, IV, KEY)),
    )
    assert FileInfo.from_bytes(info.to_bytes()) == info


def test_sub_messages_round_trip() -> None:
    encryption = FileEncryptionInfo(KEY, IV, TAG, file_length_hint=0)
    assert encryption.to_bytes() == _encryption(hint=b"\x00\x00\x00\x00")
    assert FileEncryptionInfo.from_bytes(encryption.to_bytes()) == encryption
    metadata = FileMetadata("group_subject", "text/plain", encryption)
    assert FileMetadata.from_bytes(metadata.to_bytes()) == metadata


def test_absent_hint_and_unspecified_algorithm() -> None:
    data = _field(1, 2, _field(1, 2, b"f") + _field(3, 2, _encryption(hint=None, algorithm=0)))
    info = FileInfo.from_bytes(data)
    assert info.file is not None
    assert info.file.content_type == ""
    assert info.file.encryption_info.algorithm is FileEncryptionAlgorithm.UNSPECIFIED
    assert info.file.encryption_info.file_length_hint is None
    assert info.to_bytes() == data


def test_unspecified_algorithm_allows_other_sizes() -> None:
    encryption = FileEncryptionInfo(b"k", b"i", b"t", FileEncryptionAlgorithm.UNSPECIFIED)
    assert FileEncryptionInfo.from_bytes(encryption.to_bytes()) == encryption


def test_unknown_fields_are_ignored() -> None:
    data = ICON_BYTES + _field(9, 2, b"future") + _field(10, 0, b"\x01")
    assert FileInfo.from_bytes(data) == ICON_INFO


def test_key_is_not_in_repr() -> None:
    assert KEY.hex() not in repr(ICON_INFO)
    assert repr(KEY) not in repr(ICON_INFO)


MALFORMED = {
    "empty (no slot)": b"",
    "garbage": b"\xff\xff",
    "truncated": ICON_BYTES[:-1],
    "wrong wire type": _field(4, 0, b"\x01"),
    "no encryption_info": _field(1, 2, _field(1, 2, b"a.jpg")),
    "empty file_name": _field(1, 2, _field(2, 2, b"a/b") + _field(3, 2, _encryption())),
    "invalid UTF-8 name": _field(1, 2, _metadata(name=b"\xff\xfe")),
    "short key": _field(
        1,
        2,
        _field(1, 2, b"a") + _field(3, 2, _field(1, 2, b"short") + _encryption()[2 + KEY_LENGTH :]),
    ),
    "unknown algorithm": _field(1, 2, _field(1, 2, b"a") + _field(3, 2, _encryption(algorithm=7))),
    "long length": b"\x0a\xff\xff\xff\xff\x0f",
    "deeply nested unknown groups": b"\x4b" * 5000 + b"\x4c" * 5000,
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_is_refused(data: bytes) -> None:
    with pytest.raises(FileInfoParseError):
        FileInfo.from_bytes(data)


def test_sub_message_parse_errors() -> None:
    with pytest.raises(FileInfoParseError):
        FileEncryptionInfo.from_bytes(_encryption(algorithm=9))
    with pytest.raises(FileInfoParseError):
        FileEncryptionInfo.from_bytes(b"")
    with pytest.raises(FileInfoParseError):
        FileMetadata.from_bytes(_field(1, 2, b"a"))
    with pytest.raises(FileInfoParseError):
        FileMetadata.from_bytes(b"\x0a")


@pytest.mark.parametrize("data", ["", None, 7, [1]])
def test_non_bytes_are_refused(data: object) -> None:
    with pytest.raises(FileInfoParseError):
        FileInfo.from_bytes(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"key_material": b"short"},
        {"initialization_vector": b"\x00" * 16},
        {"hmac_tag": b""},
        {"key_material": "k" * 32},
        {"algorithm": 1},
        {"file_length_hint": -1},
        {"file_length_hint": 2**32},
        {"file_length_hint": 1.0},
        {"algorithm": FileEncryptionAlgorithm.UNSPECIFIED, "hmac_tag": b""},
    ],
)
def test_bad_encryption_arguments(changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "key_material": KEY,
        "initialization_vector": IV,
        "hmac_tag": TAG,
    }
    arguments.update(changes)
    with pytest.raises(InvalidArgumentError):
        FileEncryptionInfo(**arguments)  # type: ignore[arg-type]


def test_bad_metadata_and_info_arguments() -> None:
    encryption = FileEncryptionInfo(KEY, IV, TAG)
    for name, content_type, info in [
        ("", "a/b", encryption),
        (None, "a/b", encryption),
        ("a", None, encryption),
        ("a", "a/b", None),
        ("\ud800", "a/b", encryption),
    ]:
        with pytest.raises(InvalidArgumentError):
            FileMetadata(name, content_type, info)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        FileInfo()
    with pytest.raises(InvalidArgumentError):
        FileInfo(file=encryption)  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------

names = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
encryptions = st.builds(
    FileEncryptionInfo,
    key_material=st.binary(min_size=KEY_LENGTH, max_size=KEY_LENGTH),
    initialization_vector=st.binary(min_size=IV_LENGTH, max_size=IV_LENGTH),
    hmac_tag=st.binary(min_size=HMAC_TAG_LENGTH, max_size=HMAC_TAG_LENGTH),
    file_length_hint=st.none() | st.integers(0, 2**32 - 1),
) | st.builds(
    FileEncryptionInfo,
    key_material=st.binary(min_size=1, max_size=64),
    initialization_vector=st.binary(min_size=1, max_size=16),
    hmac_tag=st.binary(min_size=1, max_size=64),
    algorithm=st.just(FileEncryptionAlgorithm.UNSPECIFIED),
    file_length_hint=st.none() | st.integers(0, 2**32 - 1),
)
metadata = st.builds(
    FileMetadata,
    file_name=names,
    content_type=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30),
    encryption_info=encryptions,
)
file_infos = (
    st.tuples(*[st.none() | metadata] * 4)
    .filter(lambda slots: any(slot is not None for slot in slots))
    .map(lambda slots: FileInfo(*slots))
)


@settings(max_examples=200, deadline=None)
@given(file_infos)
def test_round_trip(info: FileInfo) -> None:
    data = info.to_bytes()
    assert FileInfo.from_bytes(data) == info
    assert FileInfo.from_bytes(data).to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_fileinfo_errors(data: bytes) -> None:
    for parse in (FileInfo.from_bytes, FileMetadata.from_bytes, FileEncryptionInfo.from_bytes):
        with contextlib.suppress(FileInfoParseError):
            parse(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_messages_raise_only_fileinfo_errors(data: st.DataObject) -> None:
    message = bytearray(ICON_BYTES)
    for _ in range(data.draw(st.integers(1, 3))):
        message[data.draw(st.integers(0, len(message) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(FileInfoParseError):
        FileInfo.from_bytes(bytes(message))
