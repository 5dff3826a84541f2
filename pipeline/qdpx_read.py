"""REFI-QDA import: a `.qdpx` project (from autocode, or from a QDA tool after correction)
back to coding records, one per text source, for one coder or several.

- A code maps to a category by the id its name starts with (`1.A.2 Operations …`), else
  by its name (`Operations …`, any case); a coding of any other code is an error naming
  the code, or is skipped with a warning when `skip_unknown`.
- A selection coded with a quote category is a quote: the text at its span in the source
  (its `name` instead when the name is found at exactly that span: the coder's wording as
  exported, `...` and all); its Description is the quote's note.
- A selection coded with a tool category is a tool named by its Description's first line
  (the second is the note), else by the text at its span; a coding of a whole source names
  its tool in the note it refers to.
- The profile is the source's value of "Profile (CODER)", else of "Profile"; the reasoning
  is the note the source refers to, without its autocode review notes.
- An entry belongs to the user who created its coding (else its selection); with one user
  (or none) in the file everything is read.
"""

from __future__ import annotations

import zipfile
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from xml.etree import ElementTree as ET

from pipeline.ads import AD_SUFFIXES
from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.goldmd import render
from pipeline.grounding import locate
from pipeline.qdpx import OFFSET_LINES, PROFILE, REVIEW_HEADING, profile_variable
from pipeline.record import Coding, Quote, Tool, one_line
from pipeline.store import atomic_write_text


def local(element: ET.Element) -> str:
    """A tag without its namespace (tools write QDA-XML 1.0 under differing URNs)."""
    return element.tag.rsplit("}", 1)[-1]


def children(element: ET.Element, tag: str) -> list[ET.Element]:
    return [child for child in element if local(child) == tag]


def child_text(element: ET.Element, tag: str) -> str | None:
    found = children(element, tag)
    return found[0].text if found and found[0].text is not None else None


# --------------------------------------------------------------------------- reading


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


# -------------------------------------------------------------------------- mapping


def norm_guid(value: str | None) -> str | None:
    return value.strip("{}").lower() if value else None


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
        g: (e.get("name", ""), code_category(e.get("name", ""), book) if
            e.get("isCodable", "true") != "false" else None)
        for g, e in named("Code").items()
    }  # fmt: skip
    return Index(
        users={g: e.get("name") or g for g, e in named("User").items()},
        codes=codes,
        variables={g: e.get("name", "") for g, e in named("Variable").items()},
        notes=named("Note"),
        case_values=_case_values(root),
    )


def choose_users(idx: Index, wanted: list[str], path: str) -> set[str] | None:
    """The guids of the chosen users; None reads everything (one user, or none, in the file)."""
    if not wanted:
        if len(idx.users) <= 1:
            return None
        names = ", ".join(sorted(idx.users.values()))
        raise InputError(f"{path}: {len(idx.users)} coders in this file ({names}); "
                         "choose one with --coder NAME")  # fmt: skip
    chosen = set()
    for name in wanted:
        hits = [g for g, n in idx.users.items() if n == name] or [
            g for g, n in idx.users.items() if n.casefold() == name.casefold()
        ]
        if not hits:
            names = ", ".join(sorted(idx.users.values())) or "none"
            raise InputError(f"{path}: no coder {name!r} in this file (coders: {names})")
        chosen.update(hits)
    return chosen


# ------------------------------------------------------------------------ positions


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


def recorded_offsets(root: ET.Element) -> str:
    """The unit an autocode export recorded; anything else counts code points, as
    QualCoder does (a QDA tool that re-exports writes its own positions)."""
    if (root.get("origin") or "").startswith("autocode"):
        description = child_text(root, "Description") or ""
        for offsets, line in OFFSET_LINES.items():
            if line in description:
                return offsets
    return "codepoints"


def split_entry(text: str) -> tuple[str, str | None]:
    """A tool's Description or note: the name, then an optional note line."""
    name, _, note = text.strip().partition("\n")
    return one_line(name), one_line(note) or None


def quote_text(name: str | None, span: tuple[int, int], text: str) -> str:
    """The exported wording where it still grounds to exactly this span, else the span."""
    if name and locate(name, text)[0] == span:
        return name
    return text[span[0] : span[1]]


# -------------------------------------------------------------------------- sources


def ad_id_of(name: str) -> str:
    """A source's ad id: its name, without a file suffix a QDA tool may have added."""
    stem, dot, suffix = name.strip().rpartition(".")
    return stem if dot and f".{suffix.lower()}" in AD_SUFFIXES and stem else name.strip()


def described(source: ET.Element, label: str) -> str | None:
    for line in (child_text(source, "Description") or "").splitlines():
        if line.startswith(f"{label}: "):
            return one_line(line.removeprefix(f"{label}: ")) or None
    return None


@dataclass
class _Entries:
    """One source's entries for the chosen coders, and whether any was theirs."""

    quotes: list[Quote] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    touched: bool = False


class _Reader:
    """Reads every source of a project for the chosen users, gathering all problems."""

    def __init__(self, project: Project, book: Codebook, users: set[str] | None,
                 offsets: str, skip_unknown: bool):  # fmt: skip
        self.project, self.book, self.users = project, book, users
        self.offsets, self.skip_unknown = offsets, skip_unknown
        self.idx = index(project.root, book)
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.unknown: dict[str, str] = {}

    def owned(self, *elements: ET.Element) -> bool:
        """Whether an entry is the chosen users': its first element naming a creator decides."""
        if self.users is None:
            return True
        for element in elements:
            user = norm_guid(element.get("creatingUser"))
            if user:
                return user in self.users
        return False

    def category(self, coding: ET.Element, where: str) -> str | None:
        refs = children(coding, "CodeRef")
        target = norm_guid(refs[0].get("targetGUID")) if refs else None
        name, cat = self.idx.codes.get(target or "", (target or "(no code)", None))
        if cat is None and self.skip_unknown:
            self.warnings.append(f"{where}: skipped a coding of {name!r}, not a codebook category")
        elif cat is None:
            self.unknown.setdefault(name, where)
        return cat

    def note_text(self, note_guid: str | None) -> str | None:
        note = self.idx.notes.get(norm_guid(note_guid) or "")
        if note is None:
            return None
        return child_text(note, "PlainTextContent") or self.project.texts.get(
            norm_guid(note.get("guid")) or ""
        )

    def span(self, sel: ET.Element, text: str, where: str) -> tuple[int, int] | None:
        convert = index_of(text, self.offsets)
        try:
            start, end = (convert(int(sel.get(k, ""))) for k in ("startPosition", "endPosition"))
        except ValueError:
            start = end = None
        if start is None or end is None or start >= end or not text[start:end].strip():
            self.problems.append(
                f"{where}: selection {sel.get('startPosition')}–{sel.get('endPosition')} is not "
                f"a passage of the source ({len(text)} characters; positions in {self.offsets})"
            )
            return None
        return start, end

    def selection(self, sel: ET.Element, text: str, where: str, into: _Entries) -> None:
        codings = [c for c in children(sel, "Coding") if self.owned(c, sel)]
        span = self.span(sel, text, where) if codings else None
        for coding in codings if span else []:
            cat = self.category(coding, where)
            if cat is None:
                continue
            into.touched = True
            description = child_text(sel, "Description")
            if self.book.part_of[cat].kind == "quotes":
                note = one_line(description or "") or None
                into.quotes.append(
                    Quote(
                        category=cat,
                        text=quote_text(sel.get("name"), span, text),
                        note=note,
                        span=span,
                        grounding="exact",
                    )
                )
            else:
                name, note = split_entry(description or text[span[0] : span[1]])
                into.tools.append(Tool(category=cat, name=name, note=note))

    def whole_source(self, coding: ET.Element, where: str, into: _Entries) -> None:
        cat = self.category(coding, where) if self.owned(coding) else None
        if cat is None:
            return
        into.touched = True
        if self.book.part_of[cat].kind == "quotes":
            self.warnings.append(
                f"{where}: skipped a coding of the whole source with {cat}, "
                "a quote category (code a passage instead)"
            )
            return
        refs = children(coding, "NoteRef")
        entry = self.note_text(refs[0].get("targetGUID")) if refs else None
        if not entry or not entry.strip():
            self.problems.append(
                f"{where}: a coding of the whole source with {cat} names no "
                "tool (give it a note holding the tool's name)"
            )
            return
        name, note = split_entry(entry)
        into.tools.append(Tool(category=cat, name=name, note=note))

    def profile_names(self) -> list[str]:
        if self.users is None:
            extra = [n for n in self.idx.variables.values() if n.startswith(f"{PROFILE} (")]
            return [PROFILE, *sorted(extra)]
        names = [self.idx.users[g] for g in sorted(self.users)]
        return [profile_variable(n, several=True) for n in names] + [PROFILE]

    def profile(self, source: ET.Element, where: str) -> str | None:
        values = children(source, "VariableValue")
        values += self.idx.case_values.get(norm_guid(source.get("guid")) or "", [])
        found: dict[str, str] = {}
        for value in values:
            refs = children(value, "VariableRef")
            var = (
                self.idx.variables.get(norm_guid(refs[0].get("targetGUID")) or "") if refs else None
            )
            text = child_text(value, "TextValue")
            if var and text and text.strip():
                found.setdefault(var, one_line(text))
        profile = next((found[n] for n in self.profile_names() if n in found), None)
        if profile and profile not in self.book.profile_names:
            self.problems.append(f"{where}: profile {profile!r} is not in the codebook")
        return profile

    def reasoning(self, source: ET.Element) -> str | None:
        for ref in children(source, "NoteRef"):
            note = self.idx.notes.get(norm_guid(ref.get("targetGUID")) or "")
            text = self.note_text(ref.get("targetGUID")) if note is not None else None
            if text and self.owned(note):
                return one_line(text.split(REVIEW_HEADING)[0]) or None
        return None

    def source(self, source: ET.Element) -> Coding | None:
        """The chosen users' coding of one source; None when nothing in it is theirs."""
        name = source.get("name") or source.get("guid") or "?"
        where = f"{self.project.path}: source {name!r}"
        text = self.project.texts.get(norm_guid(source.get("guid")) or "", "")
        entries = _Entries()
        for sel in children(source, "PlainTextSelection"):
            self.selection(sel, text, where, entries)
        for coding in children(source, "Coding"):
            self.whole_source(coding, where, entries)
        profile, reasoning = self.profile(source, where), self.reasoning(source)
        if not (entries.touched or profile or reasoning or self.users is None):
            return None
        order = {cat_id: i for i, cat_id in enumerate(self.book.categories)}
        quotes = {(q.category, q.text): q for q in reversed(entries.quotes)}.values()
        tools = {(t.category, t.name): t for t in reversed(entries.tools)}.values()
        return Coding(
            ad_id=ad_id_of(name), title=described(source, "Title"),
            organisation=described(source, "Organisation"), profile=profile,
            reasoning=reasoning,
            quotes=sorted(quotes, key=lambda q: (order[q.category], q.span or (0, 0))),
            tools=sorted(tools, key=lambda t: order[t.category]),
        )  # fmt: skip


def _check_ids(codings: list[Coding], path: str) -> list[str]:
    problems, seen = [], set()
    for coding in codings:
        ad_id = coding.ad_id
        if not ad_id or ad_id.startswith(".") or any(c in ad_id for c in "/\\\0"):
            problems.append(f"{path}: source name {ad_id!r} cannot name a gold file")
        elif ad_id in seen:
            problems.append(f"{path}: two sources are named {ad_id!r}")
        seen.add(ad_id)
    return problems


@dataclass
class Imported:
    """The codings read from a project, and what was skipped on the way."""

    codings: list[Coding]
    warnings: list[str]


def import_codings(
    project: Project,
    book: Codebook,
    coders: list[str] | None = None,
    offsets: str | None = None,
    skip_unknown: bool = False,
) -> Imported:
    """One coding per text source for the chosen coders; every problem raises together.

    `offsets` None takes the unit an autocode export recorded, else code points."""
    reader = _Reader(project, book, None, offsets or recorded_offsets(project.root), skip_unknown)
    reader.users = choose_users(reader.idx, list(coders or []), project.path)
    sources = [e for e in project.root.iter() if local(e) == "TextSource"]
    read = [reader.source(source) for source in sources]
    codings = [c for c in read if c is not None]
    problems = reader.problems + _check_ids(codings, project.path)
    problems += [f"{where}: code {name!r} is not a codebook category (rename it `<id> <name>` "
                 "or pass --skip-unknown)" for name, where in reader.unknown.items()]  # fmt: skip
    if problems:
        raise InputError("\n".join(problems))
    return Imported(codings, reader.warnings)


def write_gold_files(codings: list[Coding], book: Codebook, out: Path) -> list[Path]:
    """One gold Markdown file per coding, `OUT/<ad id>.md`, each written atomically."""
    written = []
    for coding in codings:
        target = Path(out) / f"{coding.ad_id}.md"
        atomic_write_text(target, render(coding, book))
        written.append(target)
    return written
