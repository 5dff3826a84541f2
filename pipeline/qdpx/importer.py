"""REFI-QDA import: a `.qdpx` project (from autocode, or from a QDA tool after correction)
back to coding records, one per text source, for one coder or several.

- A code maps to a category by the id its name starts with (`<id> <name>`), else
  by its name (any case); a coding of any other code is an error naming
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

from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from pipeline.ads import AD_SUFFIXES
from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.goldmd.render import render
from pipeline.grounding import locate
from pipeline.qdpx.format import (
    PROFILE,
    REASONING,
    REVIEW_HEADING,
    child_text,
    children,
    index_of,
    local,
    norm_guid,
    profile_variable,
    split_entry,
)
from pipeline.qdpx.read import Project, choose_users, index, recorded_offsets
from pipeline.record import Coding, Quote, Tool, one_line
from pipeline.store import atomic_write_text


def quote_text(name: str | None, span: tuple[int, int], text: str) -> str:
    """The exported wording where it still grounds to exactly this span, else the span."""
    if name and locate(name, text)[0] == span:
        return name
    return text[span[0] : span[1]]


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

    def __init__(
        self,
        project: Project,
        book: Codebook,
        users: list[str] | None,
        offsets: str,
        skip_unknown: bool,
    ):
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
        if span is None:
            return
        description = child_text(sel, "Description")
        for cat in filter(None, (self.category(coding, where) for coding in codings)):
            into.touched = True
            if self.book.part_of[cat].kind == "quotes":
                passage = quote_text(sel.get("name"), span, text)
                note = one_line(description or "") or None
                into.quotes.append(Quote(category=cat, text=passage, note=note, span=span))
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
        names = [self.idx.users[g] for g in self.users]
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
        """The note attached to the source, of the first chosen user that has one; else the
        reasoning line of the source's description (what a QDA program that drops notes keeps,
        QualCoder as the source's memo)."""
        from_notes = self.reasoning_note(source)
        if from_notes is not None:
            return from_notes
        labels = [n.replace(PROFILE, REASONING, 1) for n in self.profile_names()]
        return next((r for label in labels if (r := described(source, label))), None)

    def reasoning_note(self, source: ET.Element) -> str | None:
        found: dict[str | None, str] = {}
        for ref in children(source, "NoteRef"):
            note = self.idx.notes.get(norm_guid(ref.get("targetGUID")) or "")
            text = self.note_text(ref.get("targetGUID"))
            if note is not None and text and self.owned(note):
                found.setdefault(norm_guid(note.get("creatingUser")), text)
        order = [*(self.users or []), *found]
        text = next((found[user] for user in order if user in found), None)
        if text is None:
            return None
        return one_line(text.split(REVIEW_HEADING)[0]) or None

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
            ad_id=ad_id_of(name),
            title=described(source, "Title"),
            organisation=described(source, "Organisation"),
            profile=profile,
            reasoning=reasoning,
            quotes=sorted(quotes, key=lambda q: (order[q.category], q.span or (0, 0))),
            tools=sorted(tools, key=lambda t: order[t.category]),
        )


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
    problems += [
        f"{where}: code {name!r} is not a codebook category (rename it `<id> <name>` "
        "or pass --skip-unknown)"
        for name, where in reader.unknown.items()
    ]
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
