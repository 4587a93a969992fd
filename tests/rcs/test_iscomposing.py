"""Tests of is-composing indications (RFC 3994)."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcs_mls.exceptions import InvalidArgumentError, IsComposingParseError
from rcs_mls.rcs.iscomposing import MAX_REFRESH, ComposingState, IsComposing

# RFC 3994 §7: the user starts composing text.
RFC3994_ACTIVE = b"""<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing
  iscomposing.xsd">
  <state>active</state>
  <contenttype>text/plain</contenttype>
  <refresh>90</refresh>
</isComposing>
"""

# RFC 3994 §7: the user went idle after composing audio.
RFC3994_IDLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing
  iscomposing.xsd">
  <state>idle</state>
  <lastactive>2003-01-27T10:43:00Z</lastactive>
  <contenttype>audio</contenttype>
</isComposing>
"""


def test_rfc3994_active_example() -> None:
    indication = IsComposing.from_bytes(RFC3994_ACTIVE)
    assert indication == IsComposing(ComposingState.ACTIVE, None, "text/plain", 90)
    assert IsComposing.from_bytes(indication.to_bytes()) == indication


def test_rfc3994_idle_example() -> None:
    indication = IsComposing.from_bytes(RFC3994_IDLE)
    assert indication.state is ComposingState.IDLE
    assert indication.last_active == dt.datetime(2003, 1, 27, 10, 43, tzinfo=dt.UTC)
    assert indication.content_type == "audio"
    assert indication.refresh is None
    assert IsComposing.from_bytes(indication.to_bytes()) == indication


def test_known_bytes() -> None:
    indication = IsComposing(
        ComposingState.IDLE,
        dt.datetime(2026, 5, 12, 10, tzinfo=dt.UTC),
        "text/plain",
        60,
    )
    assert indication.to_bytes() == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
        b"<state>idle</state><lastactive>2026-05-12T10:00:00.000Z</lastactive>"
        b"<contenttype>text/plain</contenttype><refresh>60</refresh></isComposing>"
    )


def test_state_only_and_foreign_elements() -> None:
    data = (
        b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing" xmlns:v="urn:vendor">'
        b"<v:x>1</v:x><state> active </state><v:y/></isComposing>"
    )
    assert IsComposing.from_bytes(data) == IsComposing(ComposingState.ACTIVE)


def _swap(old: bytes, new: bytes) -> bytes:
    assert old in RFC3994_ACTIVE
    return RFC3994_ACTIVE.replace(old, new)


MALFORMED = {
    "empty": b"",
    "not XML": b"<isComposing",
    "doctype": b"<!DOCTYPE isComposing>" + RFC3994_ACTIVE[39:],
    "entity": _swap(b"<?xml", b'<!ENTITY e "x"><?xml'),
    "UTF-16": RFC3994_ACTIVE.decode().replace("UTF-8", "UTF-16").encode("utf-16-le"),
    "wrong namespace": _swap(b'xmlns="urn:ietf:params:xml:ns:im-iscomposing"', b'xmlns="urn:x"'),
    "wrong root": _swap(b"<isComposing", b"<iscomposing").replace(
        b"</isComposing>", b"</iscomposing>"
    ),
    "no state": _swap(b"<state>active</state>", b""),
    "unknown state": _swap(b"active", b"typing"),
    "state in capitals": _swap(b"active", b"ACTIVE"),
    "state repeated": _swap(b"<refresh>", b"<state>idle</state><refresh>"),
    "refresh zero": _swap(b"<refresh>90", b"<refresh>0"),
    "refresh negative": _swap(b"<refresh>90", b"<refresh>-90"),
    "refresh not a number": _swap(b"<refresh>90", b"<refresh>ninety"),
    "refresh too large": _swap(b"<refresh>90", b"<refresh>99999999999"),
    "refresh Unicode digits": _swap(b"<refresh>90", "<refresh>٩٠".encode()),
    "bad lastactive": _swap(b"<refresh>", b"<lastactive>now</lastactive><refresh>"),
    "empty contenttype": _swap(b"text/plain", b""),
    "unknown element": _swap(b"<refresh>", b"<mood>happy</mood><refresh>"),
    "stray text": _swap(b"<refresh>", b"text<refresh>"),
    "nested element": _swap(b"active", b"<b>active</b>"),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_documents_are_refused(data: bytes) -> None:
    with pytest.raises(IsComposingParseError):
        IsComposing.from_bytes(data)


@pytest.mark.parametrize("data", [RFC3994_ACTIVE.decode(), None, 0])
def test_non_bytes_are_refused(data: object) -> None:
    with pytest.raises(IsComposingParseError):
        IsComposing.from_bytes(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"state": "active"},
        {"last_active": dt.datetime(2026, 1, 1)},
        {"content_type": ""},
        {"content_type": " text/plain"},
        {"refresh": 0},
        {"refresh": MAX_REFRESH + 1},
        {"refresh": True},
        {"refresh": 1.5},
    ],
)
def test_bad_arguments(changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {"state": ComposingState.ACTIVE}
    arguments.update(changes)
    with pytest.raises(InvalidArgumentError):
        IsComposing(**arguments)  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------

indications = st.builds(
    IsComposing,
    state=st.sampled_from(list(ComposingState)),
    last_active=st.none()
    | st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.just(dt.UTC),
    ),
    content_type=st.none() | st.sampled_from(["text/plain", "audio", "image/jpeg", "a&b<c>"]),
    refresh=st.none() | st.integers(1, MAX_REFRESH),
)


@settings(max_examples=200, deadline=None)
@given(indications)
def test_round_trip(indication: IsComposing) -> None:
    data = indication.to_bytes()
    assert IsComposing.from_bytes(data) == indication
    assert IsComposing.from_bytes(data).to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_iscomposing_errors(data: bytes) -> None:
    with contextlib.suppress(IsComposingParseError):
        IsComposing.from_bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_element_text_raises_only_iscomposing_errors(text: str) -> None:
    for element in ("state", "refresh", "lastactive", "contenttype"):
        data = (
            '<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>idle</state>'
            f"<{element}>{text}</{element}></isComposing>"
        ).encode("utf-8", "surrogatepass")
        with contextlib.suppress(IsComposingParseError):
            IsComposing.from_bytes(data)
