"""Reading a `.qdpx` file: its project XML, the text of every source and note, and the
users, codes, variables and notes by GUID; which users an import reads."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.qdpx.format import OFFSET_LINES, child_text, children, local, norm_guid
from pipeline.record import one_line


@dataclass
class Project:
    """A parsed .qdpx: the QDA-XML root and the text of each text source by its guid."""

    path: str
    root: ET.Element
    texts: dict[str, str]


def _member(archive: zipfile.ZipFile, path: str, plain_path: str) -> str:
    """A source file's zip member: `internal://X` lives in sources/ (or Sources/)."""
    if not plain_path.startswith("internal://"):
        raise InputError(f"{path}: source text {plain_path!r} is not inside the .qdpx")
    wanted = f"sources/{plain_path.removeprefix('internal://')}".lower()
    for name in archive.namelist():
        if name.lower() == wanted:
            return name
    raise InputError(f"{path}: {plain_path} is missing from the .qdpx")


def _source_texts(archive: zipfile.ZipFile, root: ET.Element, path: str) -> dict[str, str]:
    texts = {}
    for source in root.iter():
        if local(source) not in ("TextSource", "Note") or source.get("guid") is None:
            continue
        inline = child_text(source, "PlainTextContent")
        plain = source.get("plainTextPath")
        if inline is None and plain:
            raw = archive.read(_member(archive, path, plain))
            try:
                inline = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: {plain} is not UTF-8 (byte {exc.start})") from None
        if inline is not None:
            texts[norm_guid(source.get("guid")) or ""] = inline
    return texts


def read_qdpx(path: Path) -> Project:
    """Open a .qdpx and parse its project; every problem names the file."""
    try:
        with zipfile.ZipFile(path) as archive:
            qde = [n for n in archive.namelist() if n.lower().endswith(".qde") and "/" not in n]
            if not qde:
                raise InputError(f"{path}: no project .qde file in this .qdpx")
            root = ET.fromstring(archive.read(qde[0]))
            return Project(str(path), root, _source_texts(archive, root, str(path)))
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a .qdpx file (not a zip archive)") from None
    except ET.ParseError as exc:
        raise InputError(f"{path}: project XML is not well-formed: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def code_category(name: str, book: Codebook) -> str | None:
    """The category a code stands for: by the id its name starts with, else by name."""
    first = name.split(maxsplit=1)[0].rstrip(".:") if name.strip() else ""
    if first in book.categories:
        return first
    wanted = one_line(name).casefold()
    for cat in book.categories.values():
        if wanted in (cat.name.casefold(), f"{cat.id} {cat.name}".casefold()):
            return cat.id
    return None


@dataclass
class Index:
    """The project's users, codes, variables and notes by guid."""

    users: dict[str, str]
    codes: dict[str, tuple[str, str | None]]  # guid -> (code name, category or None)
    variables: dict[str, str]
    notes: dict[str, ET.Element]
    case_values: dict[str, list[ET.Element]]  # source guid -> VariableValues of its cases


def _case_values(root: ET.Element) -> dict[str, list[ET.Element]]:
    """Variable values that tools keep on Cases rather than on the source itself."""
    found: dict[str, list[ET.Element]] = {}
    for case in (e for e in root.iter() if local(e) == "Case"):
        for ref in children(case, "SourceRef"):
            key = norm_guid(ref.get("targetGUID")) or ""
            found.setdefault(key, []).extend(children(case, "VariableValue"))
    return found


def index(root: ET.Element, book: Codebook) -> Index:
    by_tag: dict[str, list[ET.Element]] = {}
    for element in root.iter():
        by_tag.setdefault(local(element), []).append(element)

    def named(tag: str) -> dict[str, ET.Element]:
        return {norm_guid(e.get("guid")) or "": e for e in by_tag.get(tag, [])}

    codes = {
        g: (
            e.get("name", ""),
            code_category(e.get("name", ""), book)
            if e.get("isCodable", "true") != "false"
            else None,
        )
        for g, e in named("Code").items()
    }
    return Index(
        users={g: e.get("name") or g for g, e in named("User").items()},
        codes=codes,
        variables={g: e.get("name", "") for g, e in named("Variable").items()},
        notes=named("Note"),
        case_values=_case_values(root),
    )


def choose_users(idx: Index, wanted: list[str], path: str) -> list[str] | None:
    """The guids of the chosen users, in the order named; None reads everything (one user,
    or none, in the file)."""
    if not wanted:
        if len(idx.users) <= 1:
            return None
        names = ", ".join(sorted(idx.users.values()))
        raise InputError(
            f"{path}: {len(idx.users)} coders in this file ({names}); choose one with --coder NAME"
        )
    chosen: list[str] = []
    for name in wanted:
        hits = [g for g, n in idx.users.items() if n == name] or [
            g for g, n in idx.users.items() if n.casefold() == name.casefold()
        ]
        if not hits:
            names = ", ".join(sorted(idx.users.values())) or "none"
            raise InputError(f"{path}: no coder {name!r} in this file (coders: {names})")
        chosen += [g for g in hits if g not in chosen]
    return chosen


def recorded_offsets(root: ET.Element) -> str:
    """The unit an autocode export recorded; anything else counts code points, as
    QualCoder does (a QDA tool that re-exports writes its own positions)."""
    if (root.get("origin") or "").startswith("autocode"):
        description = child_text(root, "Description") or ""
        for offsets, line in OFFSET_LINES.items():
            if line in description:
                return offsets
    return "codepoints"
