"""The QDA-XML 1.0 format as autocode writes and reads it: the namespace, stable GUIDs,
elements, a tool's text, and positions in code points or UTF-16 code units."""

from __future__ import annotations

import re
import uuid
from bisect import bisect_left
from itertools import accumulate
from xml.etree import ElementTree as ET

from pipeline.record import one_line

NS = "urn:QDA-XML:project:1.0"
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:autocode:refi-qda")
OFFSETS = ("codepoints", "utf16")
OFFSET_LINES = {
    "codepoints": "Positions: Unicode code points",
    "utf16": "Positions: UTF-16 code units",
}
PROFILE = "Profile"
REASONING = "Reasoning"
REVIEW_HEADING = "Review notes (autocode):"
PROJECT_FILE = "project.qde"
SOURCES_DIR = "sources"
# Characters XML 1.0 cannot hold; they are dropped from names and notes (never from ads).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
ET.register_namespace("", NS)


def guid(*key: str) -> str:
    """A GUID that depends only on `key`, so an export is reproducible."""
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(key)))


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def node(tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """An element of the project's namespace; values are made XML-safe."""
    element = ET.Element(q(tag), {k: NOT_XML.sub("", v) for k, v in attrs.items()})
    if text is not None:
        element.text = NOT_XML.sub("", text)
    return element


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = node(tag, text, **attrs)
    parent.append(child)
    return child


def local(element: ET.Element) -> str:
    """A tag without its namespace (tools write QDA-XML 1.0 under differing URNs)."""
    return element.tag.rsplit("}", 1)[-1]


def children(element: ET.Element, tag: str) -> list[ET.Element]:
    return [child for child in element if local(child) == tag]


def child_text(element: ET.Element, tag: str) -> str | None:
    found = children(element, tag)
    return found[0].text if found and found[0].text is not None else None


def norm_guid(value: str | None) -> str | None:
    return value.strip("{}").lower() if value else None


def profile_variable(coder: str, several: bool) -> str:
    return f"{PROFILE} ({coder})" if several else PROFILE


def reasoning_label(coder: str, several: bool) -> str:
    """The label of a coder's reasoning line in a source's description."""
    return f"{REASONING} ({coder})" if several else REASONING


def entry_text(name: str, note: str | None) -> str:
    """A tool as a Description or note: its name, then its note on a second line."""
    return f"{name}\n{note}" if note else name


def split_entry(text: str) -> tuple[str, str | None]:
    """A tool's Description or note: the name, then an optional note line."""
    name, _, note = text.strip().partition("\n")
    return one_line(name), one_line(note) or None


# ------------------------------------------------------------------- positions


def to_offset(text: str, index: int, offsets: str) -> int:
    """A Python string index (code points) as a position in the chosen unit."""
    if offsets == "utf16":
        return len(text[:index].encode("utf-16-le")) // 2
    return index


def index_of(text: str, offsets: str):
    """A function from a position in the file's unit to a Python string index, or None
    when the position is not one (past the end, or inside a UTF-16 surrogate pair)."""
    if offsets == "codepoints":
        return lambda pos: pos if 0 <= pos <= len(text) else None
    units = list(accumulate((2 if ord(ch) > 0xFFFF else 1 for ch in text), initial=0))

    def convert(pos: int) -> int | None:
        i = bisect_left(units, pos)
        return i if i < len(units) and units[i] == pos else None

    return convert
