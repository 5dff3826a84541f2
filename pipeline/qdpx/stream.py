"""The .qdpx file written as it is built, in bounded memory, byte for byte as ElementTree
writes the whole project (`ET.indent`, then `ET.tostring` with its XML declaration).

Each element (a source, a note, the codebook) is indented at its depth and serialised on its
own, without the namespace declaration only the root carries; the separators between them are
the indentation `ET.indent` would have put there. The project file goes into the zip first,
so it is spooled to an unnamed temp file until the last source is written (its notes, which
follow the sources, to a second one, and the ad texts with their member names to a third),
then copied into the zip: a member is compressed as it is copied, so the XML never sits in
memory.
"""

from __future__ import annotations

import shutil
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

from pipeline.qdpx.format import NS, PROJECT_FILE

DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"
XMLNS = f' xmlns="{NS}"'
INDENT = "  "
COPY_CHUNK = 1 << 20
# zip entries dated 1980, so only the XML's own timestamps differ between two exports
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def fragment(element: ET.Element, level: int) -> str:
    """An element as it reads inside the indented project at depth `level` (the root is 0):
    its children indented from there, the default namespace declared by the root only."""
    ET.indent(element, space=INDENT, level=level)
    return ET.tostring(element, encoding="unicode").replace(XMLNS, "", 1)


def open_tag(element: ET.Element) -> str:
    """`<Project xmlns=… name=…>`: the root's start tag, attributes escaped by ElementTree."""
    empty = ET.tostring(element, encoding="unicode")  # `<Project … />`, it has no children yet
    return empty.removesuffix(" />") + ">"


def _encoded(text: str) -> bytes:
    # as ElementTree's UTF-8 writer: a lone surrogate becomes a character reference
    return text.encode("utf-8", "xmlcharrefreplace")


class ProjectStream:
    """project.qde in the making: the head, each source as it comes, its notes apart."""

    def __init__(self, xml: BinaryIO, notes: BinaryIO):
        self.xml, self._notes = xml, notes
        self.sources = self.notes = 0

    def _write(self, text: str) -> None:
        self.xml.write(_encoded(text))

    def head(self, project: ET.Element, children: list[ET.Element]) -> None:
        """The declaration, the root's start tag and the elements before the sources."""
        self._write(DECLARATION + open_tag(project))
        for child in children:
            self._write(f"\n{INDENT}{fragment(child, 1)}")

    def source(self, element: ET.Element) -> None:
        if not self.sources:
            self._write(f"\n{INDENT}<Sources>")
        self._write(f"\n{INDENT * 2}{fragment(element, 2)}")
        self.sources += 1

    def note(self, element: ET.Element) -> None:
        self._notes.write(_encoded(f"\n{INDENT * 2}{fragment(element, 2)}"))
        self.notes += 1

    def finish(self, description: ET.Element) -> None:
        """Close the sources, add the notes (if any) and the description, end the root."""
        self._write(f"\n{INDENT}</Sources>" if self.sources else f"\n{INDENT}<Sources />")
        if self.notes:
            self._write(f"\n{INDENT}<Notes>")
            self._notes.seek(0)
            shutil.copyfileobj(self._notes, self.xml, COPY_CHUNK)
            self._write(f"\n{INDENT}</Notes>")
        self._write(f"\n{INDENT}{fragment(description, 1)}\n</Project>")


def _member(name: str, size: int) -> zipfile.ZipInfo:
    """A deflated zip entry of `size` bytes; zipfile decides on ZIP64 from the size given,
    as it does for `writestr`."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size
    return info


class SourceTexts:
    """The sources' texts, each after its zip member name and size, until they follow the
    project file into the zip (nothing per source is kept in memory)."""

    HEAD = struct.Struct("<HQ")  # the name's length, the text's

    def __init__(self, spool: BinaryIO):
        self.spool, self.count = spool, 0

    def add(self, name: str, text: str) -> None:
        member, data = name.encode("utf-8"), text.encode("utf-8")
        self.spool.write(self.HEAD.pack(len(member), len(data)) + member + data)
        self.count += 1

    def members(self) -> Iterator[tuple[str, bytes]]:
        self.spool.seek(0)
        for _ in range(self.count):
            name_length, length = self.HEAD.unpack(self.spool.read(self.HEAD.size))
            yield self.spool.read(name_length).decode("utf-8"), self.spool.read(length)


def write_zip(path: Path, xml: BinaryIO, texts: SourceTexts) -> None:
    """The .qdpx zip: project.qde (from `xml`), then each source's text."""
    size = xml.seek(0, 2)
    xml.seek(0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(_member(PROJECT_FILE, size), "w") as dest:
            shutil.copyfileobj(xml, dest, COPY_CHUNK)
        for name, data in texts.members():
            with archive.open(_member(name, len(data)), "w") as dest:
                dest.write(data)
