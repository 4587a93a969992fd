"""Tests of IMDN documents (RFC 5438) and the RCC.16 MLS failure reasons."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcs_mls.exceptions import ImdnParseError, InvalidArgumentError
from rcs_mls.rcs.imdn import (
    Imdn,
    ImdnStatus,
    MlsClientFailureReason,
    MlsServerFailureReason,
    NotificationType,
)

WHEN = dt.datetime(2008, 4, 4, 12, 16, 49, tzinfo=dt.timezone(dt.timedelta(hours=-5)))

# RFC 5438 §7.2.1.1, as the RFC lays it out (note the wrapped start tag).
RFC5438_DELIVERY = b"""<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
  <message-id>34jk324j</message-id>
  <datetime>2008-04-04T12:16:49-05:00</datetime>
  <recipient-uri>im:bob@example.com</recipient-uri>
  <original-recipient-uri
    >im:bob@example.com</original-recipient-uri>
  <subject>Weekly sales report</subject>
  <delivery-notification>
     <status>
        <delivered/>
     </status>
  </delivery-notification>
</imdn>
"""

# RFC 5438 §7.2.1.2.
RFC5438_DISPLAY = b"""<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
  <message-id>34jk324j</message-id>
  <datetime>2008-04-04T12:16:49-05:00</datetime>
  <recipient-uri>im:bob@example.com</recipient-uri>
  <original-recipient-uri
    >im:bob@example.com</original-recipient-uri>
  <subject>Weekly sales report</subject>
  <display-notification>
     <status>
        <displayed/>
     </status>
  </display-notification>
</imdn>
"""

# RFC 5438 §7.2.1.3.
RFC5438_PROCESSING = b"""<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
  <message-id>34jk324j</message-id>
  <datetime>2008-04-04T12:16:49-05:00</datetime>
  <recipient-uri>im:bob@example.com</recipient-uri>
  <original-recipient-uri
    >im:bob@example.com</original-recipient-uri>
  <subject>Weekly sales report</subject>
  <processing-notification>
     <status>
        <processed/>
     </status>
  </processing-notification>
</imdn>
"""

FAILED_TO_DECRYPT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<imdn xmlns="urn:ietf:params:xml:ns:imdn">'
    b"<message-id>Mx3q0b1c2d3e4f5g6h7i8j9k</message-id>"
    b"<datetime>2026-05-12T10:00:01.000Z</datetime>"
    b"<delivery-notification><status><failed>"
    b"<mls-client-failure-reason><failed-to-decrypt/></mls-client-failure-reason>"
    b"</failed></status></delivery-notification></imdn>"
)


@pytest.mark.parametrize(
    ("data", "kind", "status"),
    [
        (RFC5438_DELIVERY, NotificationType.DELIVERY, ImdnStatus.DELIVERED),
        (RFC5438_DISPLAY, NotificationType.DISPLAY, ImdnStatus.DISPLAYED),
        (RFC5438_PROCESSING, NotificationType.PROCESSING, ImdnStatus.PROCESSED),
    ],
)
def test_rfc5438_examples(data: bytes, kind: NotificationType, status: ImdnStatus) -> None:
    imdn = Imdn.from_bytes(data)
    assert imdn == Imdn(
        message_id="34jk324j",
        datetime=WHEN,
        notification=kind,
        status=status,
        recipient_uri="im:bob@example.com",
        original_recipient_uri="im:bob@example.com",
        subject="Weekly sales report",
    )
    assert imdn.datetime.utcoffset() == dt.timedelta(hours=-5)
    assert imdn.failure_reason is None
    assert Imdn.from_bytes(imdn.to_bytes()) == imdn


def test_minimal_rfc5438_document() -> None:
    data = (
        b'<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>a</message-id>'
        b"<datetime>2008-04-04T12:16:49Z</datetime>"
        b"<delivery-notification><status><forbidden/></status></delivery-notification></imdn>"
    )
    imdn = Imdn.from_bytes(data)
    assert imdn.status is ImdnStatus.FORBIDDEN
    assert imdn.recipient_uri is None and imdn.subject is None


def test_rcc16_failed_to_decrypt_known_bytes() -> None:
    imdn = Imdn(
        message_id="Mx3q0b1c2d3e4f5g6h7i8j9k",
        datetime=dt.datetime(2026, 5, 12, 10, 0, 1, tzinfo=dt.UTC),
        notification=NotificationType.DELIVERY,
        status=ImdnStatus.FAILED,
        client_failure_reason=MlsClientFailureReason.FAILED_TO_DECRYPT,
    )
    assert imdn.to_bytes() == FAILED_TO_DECRYPT
    assert Imdn.from_bytes(FAILED_TO_DECRYPT) == imdn
    assert imdn.failure_reason is MlsClientFailureReason.FAILED_TO_DECRYPT


@pytest.mark.parametrize(
    ("reason", "code", "element"),
    [
        (MlsClientFailureReason.MESSAGE_FROM_NON_MEMBER, 1, "message-from-non-member"),
        (MlsClientFailureReason.INVALID_CREDENTIAL, 2, "invalid-credential"),
        (MlsClientFailureReason.INVALID_COMMIT, 3, "invalid-commit"),
        (MlsClientFailureReason.FAILED_TO_DECRYPT, 4, "failed-to-decrypt"),
        (MlsClientFailureReason.COMMIT_IN_PRIVATEMESSAGE, 5, "commit-in-privatemessage"),
    ],
)
def test_client_failure_reasons(reason: MlsClientFailureReason, code: int, element: str) -> None:
    assert reason == code
    assert reason.element == element
    data = FAILED_TO_DECRYPT.replace(b"failed-to-decrypt", element.encode())
    assert Imdn.from_bytes(data).client_failure_reason is reason


@pytest.mark.parametrize("reason", list(MlsServerFailureReason))
def test_server_failure_reasons(reason: MlsServerFailureReason) -> None:
    imdn = Imdn(
        "id-1",
        WHEN,
        NotificationType.DELIVERY,
        ImdnStatus.FAILED,
        server_failure_reason=reason,
    )
    data = imdn.to_bytes()
    wrapped = f"<mls-server-failure-reason><{reason.element}/></mls-server-failure-reason>"
    assert f"<failed>{wrapped}</failed>".encode() in data
    assert Imdn.from_bytes(data) == imdn
    assert imdn.failure_reason is reason


def test_failed_without_reason() -> None:
    data = FAILED_TO_DECRYPT.replace(
        b"<failed><mls-client-failure-reason><failed-to-decrypt/></mls-client-failure-reason>"
        b"</failed>",
        b"<failed/>",
    )
    imdn = Imdn.from_bytes(data)
    assert imdn.status is ImdnStatus.FAILED and imdn.failure_reason is None


def test_foreign_namespace_elements_are_skipped() -> None:
    data = RFC5438_DELIVERY.replace(
        b"<subject>",
        b'<x:ext xmlns:x="urn:example:ext"><x:deep>any</x:deep></x:ext><subject>',
    ).replace(b"<delivered/>", b'<delivered/><y:note xmlns:y="urn:example:y">hi</y:note>')
    assert Imdn.from_bytes(data) == Imdn.from_bytes(RFC5438_DELIVERY)


def test_byte_order_mark_is_accepted() -> None:
    assert Imdn.from_bytes(b"\xef\xbb\xbf" + FAILED_TO_DECRYPT) == Imdn.from_bytes(
        FAILED_TO_DECRYPT
    )


def test_prefixed_imdn_namespace_and_escapes() -> None:
    data = (
        b"<?xml version='1.0' encoding='utf-8'?>"
        b'<i:imdn xmlns:i="urn:ietf:params:xml:ns:imdn"><i:message-id>a&amp;b</i:message-id>'
        b"<i:datetime>2008-04-04T12:16:49Z</i:datetime><i:subject> &lt;hi&gt;&#13;</i:subject>"
        b"<i:display-notification><i:status><i:error/></i:status></i:display-notification>"
        b"</i:imdn>"
    )
    imdn = Imdn.from_bytes(data)
    assert imdn.message_id == "a&b"
    assert imdn.subject == " <hi>\r"
    assert Imdn.from_bytes(imdn.to_bytes()) == imdn


def _swap(old: bytes, new: bytes) -> bytes:
    assert old in FAILED_TO_DECRYPT
    return FAILED_TO_DECRYPT.replace(old, new)


MALFORMED = {
    "not XML": b"not xml at all",
    "empty": b"",
    "truncated": FAILED_TO_DECRYPT[:-7],
    "doctype": b"<!DOCTYPE imdn>" + FAILED_TO_DECRYPT[39:],
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE imdn [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>&xxe;</message-id></imdn>'
    ),
    "billion laughs": (
        b'<?xml version="1.0"?><!doctype lolz [<!entity lol "lol">'
        b'<!entity lol2 "&lol;&lol;&lol;&lol;">]><imdn>&lol2;</imdn>'
    ),
    "undefined entity": _swap(b"Mx3q", b"&nbsp;Mx3q"),
    "UTF-16": FAILED_TO_DECRYPT.decode().replace("UTF-8", "UTF-16").encode("utf-16"),
    # Valid UTF-8 (ASCII and NULs), which an encoding-sniffing parser would read as UTF-16,
    # DOCTYPE included: the text is checked and parsed as UTF-8, and NUL is refused.
    "UTF-16LE without BOM, with DOCTYPE": (
        '<!DOCTYPE imdn [<!ENTITY x "y">]>' + FAILED_TO_DECRYPT[39:].decode()
    ).encode("utf-16-le"),
    "UTF-7 declared": (
        b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE imdn+AD4-' + FAILED_TO_DECRYPT[39:]
    ),
    "NUL character": _swap(b"Mx3q", b"\x00Mx3q"),
    "BOM then DOCTYPE": b"\xef\xbb\xbf<!DOCTYPE imdn>" + FAILED_TO_DECRYPT[39:],
    "latin-1 declared": _swap(b"UTF-8", b"ISO-8859-1"),
    "bad UTF-8": _swap(b"Mx3q", b"\xff\xfeMx3q"),
    "wrong namespace": _swap(b"urn:ietf:params:xml:ns:imdn", b"urn:example"),
    "no namespace": _swap(b' xmlns="urn:ietf:params:xml:ns:imdn"', b""),
    "wrong root": b'<imdx xmlns="urn:ietf:params:xml:ns:imdn"/>',
    "no message-id": _swap(b"<message-id>Mx3q0b1c2d3e4f5g6h7i8j9k</message-id>", b""),
    "empty message-id": _swap(b"Mx3q0b1c2d3e4f5g6h7i8j9k", b" "),
    "no datetime": _swap(b"<datetime>2026-05-12T10:00:01.000Z</datetime>", b""),
    "bad datetime": _swap(b"2026-05-12T10:00:01.000Z", b"yesterday"),
    "naive datetime": _swap(b"2026-05-12T10:00:01.000Z", b"2026-05-12T10:00:01"),
    "repeated message-id": _swap(b"<datetime>", b"<message-id>x</message-id><datetime>"),
    "unknown element": _swap(b"<datetime>", b"<foo/><datetime>"),
    "element with children": _swap(b"Mx3q0b1c2d3e4f5g6h7i8j9k", b"<b>x</b>"),
    "stray text": _swap(b"<datetime>", b"junk<datetime>"),
    "no notification": _swap(FAILED_TO_DECRYPT[FAILED_TO_DECRYPT.index(b"<delivery") : -7], b""),
    "two notifications": _swap(
        b"</imdn>",
        b"<display-notification><status><displayed/></status></display-notification></imdn>",
    ),
    "no status": b'<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>a</message-id>'
    b"<datetime>2008-04-04T12:16:49Z</datetime><delivery-notification>"
    b"<delivered/></delivery-notification></imdn>",
    "empty status": _swap(
        b"<status><failed><mls-client-failure-reason><failed-to-decrypt/>"
        b"</mls-client-failure-reason></failed></status>",
        b"<status/>",
    ),
    "two status values": _swap(b"<status><failed>", b"<status><delivered/><failed>"),
    "status not allowed": _swap(
        b"<failed><mls-client-failure-reason><failed-to-decrypt/></mls-client-failure-reason>"
        b"</failed>",
        b"<displayed/>",
    ),
    "unknown status": _swap(
        b"<failed><mls-client-failure-reason><failed-to-decrypt/></mls-client-failure-reason>"
        b"</failed>",
        b"<exploded/>",
    ),
    "reason on delivered": _swap(b"<failed>", b"<delivered>").replace(
        b"</failed>", b"</delivered>"
    ),
    "unknown client reason": _swap(b"failed-to-decrypt", b"failure-to-decrypt"),
    "server reason in client wrapper": _swap(b"failed-to-decrypt", b"incorrect-era"),
    "two reasons": _swap(b"<failed-to-decrypt/>", b"<failed-to-decrypt/><invalid-commit/>"),
    "both wrappers": _swap(
        b"</failed>",
        b"<mls-server-failure-reason><incorrect-era/></mls-server-failure-reason></failed>",
    ),
    "empty wrapper": _swap(b"<failed-to-decrypt/>", b""),
    "reason with content": _swap(
        b"<failed-to-decrypt/>", b"<failed-to-decrypt>x</failed-to-decrypt>"
    ),
    "unknown wrapper": _swap(b"mls-client-failure-reason", b"mls-other-failure-reason"),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_documents_are_refused(data: bytes) -> None:
    with pytest.raises(ImdnParseError):
        Imdn.from_bytes(data)


@pytest.mark.parametrize("data", [FAILED_TO_DECRYPT.decode(), None, 1, [b"x"]])
def test_non_bytes_are_refused(data: object) -> None:
    with pytest.raises(ImdnParseError):
        Imdn.from_bytes(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"message_id": ""},
        {"message_id": " padded"},
        {"message_id": "nul\x00"},
        {"message_id": 5},
        {"datetime": dt.datetime(2026, 1, 1)},
        {"datetime": "2026-01-01T00:00:00Z"},
        {"notification": "delivery-notification"},
        {"status": ImdnStatus.DISPLAYED},
        {"status": "delivered"},
        {"recipient_uri": ""},
        {"subject": "\ufffe"},
        {"client_failure_reason": MlsClientFailureReason.INVALID_COMMIT},
        {"server_failure_reason": MlsServerFailureReason.INCORRECT_ERA},
        {"status": ImdnStatus.FAILED, "client_failure_reason": 4},
        {
            "status": ImdnStatus.FAILED,
            "client_failure_reason": MlsClientFailureReason.INVALID_COMMIT,
            "server_failure_reason": MlsServerFailureReason.INVALID_COMMIT,
        },
    ],
)
def test_bad_arguments(changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "message_id": "id",
        "datetime": WHEN,
        "notification": NotificationType.DELIVERY,
        "status": ImdnStatus.DELIVERED,
    }
    arguments.update(changes)
    with pytest.raises(InvalidArgumentError):
        Imdn(**arguments)  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------

xml_text = st.text(
    alphabet=st.characters(
        exclude_categories=["Cs"],
        exclude_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"]
        + ["\ufffe", "\uffff"],
    ),
    max_size=30,
)
tokens = xml_text.map(lambda s: s.strip(" \t\r\n")).filter(bool)
datetimes = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))]),
)


@st.composite
def imdns(draw: st.DrawFn) -> Imdn:
    kind = draw(st.sampled_from(list(NotificationType)))
    status = draw(st.sampled_from(sorted(_allowed(kind), key=lambda s: s.value)))
    client = server = None
    if kind is NotificationType.DELIVERY and status is ImdnStatus.FAILED:
        choice = draw(st.integers(0, 2))
        if choice == 1:
            client = draw(st.sampled_from(list(MlsClientFailureReason)))
        elif choice == 2:
            server = draw(st.sampled_from(list(MlsServerFailureReason)))
    return Imdn(
        message_id=draw(tokens),
        datetime=draw(datetimes),
        notification=kind,
        status=status,
        recipient_uri=draw(st.none() | tokens),
        original_recipient_uri=draw(st.none() | tokens),
        subject=draw(st.none() | xml_text),
        client_failure_reason=client,
        server_failure_reason=server,
    )


def _allowed(kind: NotificationType) -> set[ImdnStatus]:
    common = {ImdnStatus.FORBIDDEN, ImdnStatus.ERROR}
    return (
        common
        | {
            NotificationType.DELIVERY: {ImdnStatus.DELIVERED, ImdnStatus.FAILED},
            NotificationType.DISPLAY: {ImdnStatus.DISPLAYED},
            NotificationType.PROCESSING: {ImdnStatus.PROCESSED, ImdnStatus.STORED},
        }[kind]
    )


@settings(max_examples=200, deadline=None)
@given(imdns())
def test_round_trip(imdn: Imdn) -> None:
    data = imdn.to_bytes()
    assert Imdn.from_bytes(data) == imdn
    assert Imdn.from_bytes(data).to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_imdn_errors(data: bytes) -> None:
    with contextlib.suppress(ImdnParseError):
        Imdn.from_bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_documents_raise_only_imdn_errors(data: st.DataObject) -> None:
    document = bytearray(FAILED_TO_DECRYPT)
    for _ in range(data.draw(st.integers(1, 3))):
        document[data.draw(st.integers(0, len(document) - 1))] = data.draw(
            st.sampled_from(b"<>/&;'\"=x \x00\xff")
        )
    with contextlib.suppress(ImdnParseError):
        Imdn.from_bytes(bytes(document))
