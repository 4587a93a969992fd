"""XML reading and writing shared by the XML formats of this package (private).

:mod:`rcs_mls.rcs.imdn` (RFC 5438), :mod:`rcs_mls.rcs.iscomposing` (RFC 3994) and
:mod:`rcs_mls.rcs.file_transfer` (RCC.07 File Transfer over HTTP) read their documents
through :func:`_parse_xml`, which refuses, in this order and before the XML parser sees
anything: a document over :data:`MAX_XML_DOCUMENT_SIZE` bytes, anything but UTF-8,
characters XML forbids, any document type or entity declaration (so no external entities
and no entity expansion), and a declared encoding other than UTF-8.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from rcs_mls.exceptions import InvalidArgumentError, ParseError

__all__ = ["MAX_XML_DOCUMENT_SIZE"]

#: The largest XML document accepted, in bytes, checked before the document is decoded or
#: parsed. An IMDN or an isComposing document is under 1 KiB and a File Transfer over
#: HTTP descriptor (two ``file-info``, URLs, the ``<mls-file>`` base64) a few KiB; 64 KiB
#: leaves room for vendor extension elements while keeping a hostile document cheap.
MAX_XML_DOCUMENT_SIZE = 64 * 1024

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_FORBIDDEN_MARKUP = ("<!doctype", "<!entity")
_ENCODING_RE = re.compile(r"""\ufeff?<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
# Characters XML 1.0 can carry (§2.2).
_XML_ILLEGAL_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _parse_xml(data: object, error: type[ParseError], root: str) -> ET.Element:
    """Parse a UTF-8 XML document whose root element is ``root`` (``{ns}local``).

    Refuses a document over :data:`MAX_XML_DOCUMENT_SIZE` bytes before anything else.
    Refuses DOCTYPE and ENTITY declarations before parsing, which rules out external
    entities and entity expansion; refuses any declared encoding other than UTF-8. The
    checked text, not the bytes, goes to the parser, so the parser cannot read the
    document in another encoding (UTF-16 without a BOM, say) than the one checked; and
    characters XML forbids (NUL among them) are refused first.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise error("an XML document must be bytes")
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    if size > MAX_XML_DOCUMENT_SIZE:
        raise error(
            f"XML document of {size} bytes, more than {MAX_XML_DOCUMENT_SIZE}"
            " (MAX_XML_DOCUMENT_SIZE)"
        )
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error("XML document is not UTF-8") from exc
    if _XML_ILLEGAL_RE.search(text):
        raise error("XML document holds a character XML forbids")
    lowered = text.lower()
    if any(marker in lowered for marker in _FORBIDDEN_MARKUP):
        raise error("DOCTYPE and ENTITY declarations are not accepted")
    declared = _ENCODING_RE.match(text)
    if declared is not None and declared.group(1).lower() not in ("utf-8", "utf8"):
        raise error(f"unsupported XML encoding {declared.group(1)[:20]!r}")
    try:
        element = ET.fromstring(text)
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise error(f"malformed XML: {exc}") from exc
    if element.tag != root:
        raise error(f"unexpected root element {str(element.tag)[:80]!r}")
    return element


def _blank(text: str | None) -> bool:
    return text is None or not text.strip(" \t\r\n")


def _children(element: ET.Element, namespace: str, error: type[ParseError]) -> list[ET.Element]:
    """The children of ``element`` in ``namespace``; foreign ones are skipped, text refused."""
    if not _blank(element.text) or not all(_blank(child.tail) for child in element):
        raise error(f"unexpected text in {_local(element)}")
    prefix = f"{{{namespace}}}"
    return [child for child in element if str(child.tag).startswith(prefix)]


def _local(element: ET.Element) -> str:
    return str(element.tag).rpartition("}")[2]


def _text(element: ET.Element, error: type[ParseError], *, strip: bool = True) -> str:
    """The text of a simple element: no child elements at all."""
    if len(element):
        raise error(f"element {_local(element)} must hold text only")
    text = element.text or ""
    return text.strip(" \t\r\n") if strip else text


def _unique(
    children: list[ET.Element], allowed: set[str], error: type[ParseError]
) -> dict[str, ET.Element]:
    """Index ``children`` by local name; refuse unknown or repeated ones."""
    found: dict[str, ET.Element] = {}
    for child in children:
        name = _local(child)
        if name not in allowed:
            raise error(f"unexpected element {name[:80]!r}")
        if name in found:
            raise error(f"element {name} repeated")
        found[name] = child
    return found


def _check_xml_text(value: object, what: str, *, token: bool = False) -> str:
    """Check that ``value`` is a str XML can carry; a token has no surrounding whitespace."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a str, not {type(value).__name__}")
    if _XML_ILLEGAL_RE.search(value):
        raise InvalidArgumentError(f"{what} holds a character XML cannot carry")
    if token and (not value or value != value.strip(" \t\r\n")):
        raise InvalidArgumentError(f"{what} must be non-empty without surrounding whitespace")
    return value


def _escape_text(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _escape_attribute(value: str) -> str:
    return _escape_text(value).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")
