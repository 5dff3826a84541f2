"""REFI-QDA export: coding sets and their ads as one QDA-XML 1.0 project (a `.qdpx` file).

The project holds:
- the codebook as the CodeBook: each part and group a non-codable parent code, each
  category a codable code named `<id> <name>` with its definition, include and exclude
  as its Description;
- each ad as a TextSource whose text is `sources/<guid>.txt`, exactly the text the
  positions count in;
- each coding set as a User, and everything it coded created by that user:
  - a grounded quote is a PlainTextSelection at its span with one Coding of its category
    (a passage under two categories is two selections, one per entry, as in the coding
    record, so each keeps its own note in its Description);
  - a tool is a selection at its first whole-word occurrence in the ad, its name (and
    note) in the Description; a tool the ad does not name is a Coding of the whole
    source that points to a Note holding the name;
  - the profile is the source's value of the text variable "Profile" (with several coding
    sets, "Profile (CODER)", one variable per set);
  - the reasoning and the review notes are a Note the source refers to;
- provenance (autocode version, models, codebook, prompt hashes, date, positions) in the
  project Description.
GUIDs are uuid5 of stable keys, so exporting twice gives the same file but for timestamps.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from pipeline import __version__
from pipeline.ads import Ad
from pipeline.codebook import Category, Codebook
from pipeline.codings import coding_set_name, load_codings
from pipeline.errors import InputError
from pipeline.grounding import fold, fold_quote, ground
from pipeline.record import Coding, Quote
from pipeline.store import atomic_write_bytes

NS = "urn:QDA-XML:project:1.0"
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:autocode:refi-qda")
OFFSETS = ("codepoints", "utf16")
OFFSET_LINES = {
    "codepoints": "Positions: Unicode code points",
    "utf16": "Positions: UTF-16 code units",
}
PROFILE = "Profile"
REVIEW_HEADING = "Review notes (autocode):"
PROJECT_FILE = "project.qde"
SOURCES_DIR = "sources"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
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


def profile_variable(coder: str, several: bool) -> str:
    return f"{PROFILE} ({coder})" if several else PROFILE


def entry_text(name: str, note: str | None) -> str:
    """A tool as a Description or note: its name, then its note on a second line."""
    return f"{name}\n{note}" if note else name


# ------------------------------------------------------------------------ positions


def to_offset(text: str, index: int, offsets: str) -> int:
    """A Python string index (code points) as a position in the chosen unit."""
    if offsets == "utf16":
        return len(text[:index].encode("utf-16-le")) // 2
    return index


# --------------------------------------------------------------------------- inputs


@dataclass
class CodingSet:
    """One coding set as exported: its coder (a User) and where it came from."""

    coder: str
    codings: list[Coding]
    path: str


def model_of(codings: list[Coding]) -> str | None:
    """The one model that drafted every coding of a set, else None (gold, or mixed)."""
    models = {(c.provenance or {}).get("model") for c in codings}
    return models.pop() if len(models) == 1 else None


def load_coding_sets(
    paths: list[Path], named: list[tuple[str, Path]], book: Codebook
) -> list[CodingSet]:
    """The coding sets to export: each of `paths`, and each `--coder NAME=PATH`; a set is
    named by --coder, else by the one model that drafted it, else by its folder or file."""
    names = {Path(p).resolve(): name for name, p in named}
    given = {Path(p).resolve(): Path(p) for p in [*paths, *(p for _, p in named)]}
    sets = []
    for resolved, path in given.items():  # a set named twice (as CODINGS and --coder) is one
        codings = load_codings(path, book, prefer_records=True)
        coder = names.get(resolved) or model_of(codings) or coding_set_name(path)
        sets.append(CodingSet(coder, codings, str(path)))
    check_coders(sets)
    return sets


def check_coders(sets: list[CodingSet]) -> None:
    seen: dict[str, str] = {}
    for cset in sets:
        if cset.coder in seen:
            raise InputError(
                f"{cset.path}: coder name {cset.coder!r} is also the name of {seen[cset.coder]}; "
                f"name each set with --coder NAME=PATH"
            )
        seen[cset.coder] = cset.path


# ----------------------------------------------------------------------- codebook


def _category_code(parent: ET.Element, cat: Category, color: str) -> None:
    code = sub(parent, "Code", guid=guid("code", cat.id), name=f"{cat.id} {cat.name}",
               isCodable="true", color=color)  # fmt: skip
    description = f"{cat.definition}\n\nInclude: {cat.include}\n\nExclude: {cat.exclude}"
    sub(code, "Description", description)


def codebook_element(book: Codebook) -> ET.Element:
    """Parts and groups as non-codable codes, categories as codable `<id> <name>` codes."""
    codebook = ET.Element(q("CodeBook"))
    codes = sub(codebook, "Codes")
    colors = {cat_id: PALETTE[i % len(PALETTE)] for i, cat_id in enumerate(book.categories)}
    for part in book.parts:
        what = "quoted passages" if part.kind == "quotes" else "tool names"
        part_code = sub(codes, "Code", guid=guid("part", part.id), name=part.heading,
                        isCodable="false")  # fmt: skip
        sub(part_code, "Description", f"The codes of this part take {what}.")
        for group in part.groups:
            group_code = sub(part_code, "Code", guid=guid("group", part.id, group.title),
                             name=group.title, isCodable="false")  # fmt: skip
            for cat in group.categories:
                _category_code(group_code, cat, colors[cat.id])
        for cat in part.categories:
            _category_code(part_code, cat, colors[cat.id])
    return codebook


def variables_element(sets: list[CodingSet], book: Codebook) -> ET.Element:
    variables = ET.Element(q("Variables"))
    for cset in sets:
        name = profile_variable(cset.coder, len(sets) > 1)
        var = sub(variables, "Variable", guid=guid("variable", name), name=name,
                  typeOfVariable="Text")  # fmt: skip
        sub(var, "Description", f"Job profile assigned by {cset.coder}; one of: "
            + "; ".join(book.profile_names))  # fmt: skip
    return variables


# ------------------------------------------------------------------------- sources


@dataclass
class Summary:
    """What an export holds; the quotes it left out (not in their ad), and the codings (their
    ad was not given)."""

    sources: int = 0
    codes: int = 0
    users: int = 0
    selections: int = 0
    tool_selections: int = 0
    source_codings: int = 0
    not_exported: list[tuple[str, str, Quote]] = field(default_factory=list)
    without_ad: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Source:
    """What one coder put on one source, collected before the XML is written."""

    selections: list[tuple[tuple[int, int], int, ET.Element]] = field(default_factory=list)
    codings: list[ET.Element] = field(default_factory=list)
    note_refs: list[str] = field(default_factory=list)
    values: list[ET.Element] = field(default_factory=list)


def tool_span(name: str, ad_text: str, folded=None) -> tuple[int, int] | None:
    """First whole-word occurrence of a tool name, verbatim or after grounding's folding;
    without its parenthetical (`Azure (OpenAI)` → `Azure`) when the full name is absent."""
    bare = re.sub(r"\s*\([^)]*\)", "", name).strip()
    for candidate in dict.fromkeys([name, bare]):
        if not candidate:
            continue
        hit = re.search(rf"(?<!\w){re.escape(candidate)}(?!\w)", ad_text)
        if hit:
            return hit.span()
        needle = fold_quote(candidate)
        hay, origin = folded if folded is not None else fold(ad_text)
        hit = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", hay) if needle else None
        if hit:
            return origin[hit.start()], origin[hit.end() - 1] + 1
    return None


class _Builder:
    """Builds the project of one export: the Notes list and each source's entries."""

    def __init__(self, book: Codebook, offsets: str, created: str, several: bool):
        self.book, self.offsets, self.created, self.several = book, offsets, created, several
        self.notes: list[ET.Element] = []
        self.summary = Summary()
        self.order = {cat_id: i for i, cat_id in enumerate(book.categories)}

    def stamp(self, user: str) -> dict[str, str]:
        return {"creatingUser": guid("user", user), "creationDateTime": self.created}

    def selection(self, ad: Ad, user: str, key: tuple, span: tuple[int, int], category: str,
                  name: str, description: str | None) -> tuple:  # fmt: skip
        start, end = (to_offset(ad.text, i, self.offsets) for i in span)
        sel = node(
            "PlainTextSelection",
            guid=guid("selection", *key),
            name=name,
            startPosition=str(start),
            endPosition=str(end),
            **self.stamp(user),
        )
        if description:
            sub(sel, "Description", description)
        coding = sub(sel, "Coding", guid=guid("coding", *key), **self.stamp(user))
        sub(coding, "CodeRef", targetGUID=guid("code", category))
        return span, self.order[category], sel

    def note(self, key: tuple, user: str, name: str, text: str) -> str:
        note_guid = guid("note", *key)
        note = node("Note", guid=note_guid, name=name, **self.stamp(user))
        sub(note, "PlainTextContent", text)
        self.notes.append(note)
        return note_guid

    def quotes(self, ad: Ad, user: str, coding: Coding, into: _Source) -> None:
        for i, quote in enumerate(ground(coding, ad.text).quotes):
            if quote.span is None:
                self.summary.not_exported.append((user, ad.id, quote))
                continue
            key = (user, ad.id, "quote", str(i))
            into.selections.append(
                self.selection(ad, user, key, quote.span, quote.category, quote.text, quote.note)
            )
            self.summary.selections += 1

    def tools(self, ad: Ad, user: str, coding: Coding, into: _Source) -> None:
        folded = fold(ad.text) if coding.tools else None
        for i, tool in enumerate(coding.tools):
            key = (user, ad.id, "tool", str(i))
            span = tool_span(tool.name, ad.text, folded)
            text = entry_text(tool.name, tool.note)
            if span is not None:
                into.selections.append(
                    self.selection(ad, user, key, span, tool.category, tool.name, text)
                )
                self.summary.tool_selections += 1
                continue
            code = node("Coding", guid=guid("coding", *key), **self.stamp(user))
            sub(code, "CodeRef", targetGUID=guid("code", tool.category))
            sub(code, "NoteRef", targetGUID=self.note(key, user, tool.name, text))
            into.codings.append(code)
            self.summary.source_codings += 1

    def remarks(self, ad: Ad, user: str, coding: Coding, into: _Source) -> None:
        """The profile as a variable value; reasoning and review notes as one Note."""
        if coding.profile:
            value = node("VariableValue")
            name = profile_variable(user, self.several)
            sub(value, "VariableRef", targetGUID=guid("variable", name))
            sub(value, "TextValue", coding.profile)
            into.values.append(value)
        text = note_text(coding.reasoning, review_notes(coding))
        if text:
            key = (user, ad.id, "reasoning")
            into.note_refs.append(self.note(key, user, f"Reasoning: {ad.id} ({user})", text))


def review_notes(coding: Coding) -> list[str]:
    """A draft record's review notes: quotes dropped as not in the ad, fuzzy ones, warnings."""
    extra = coding.model_extra or {}
    notes = [f'Dropped, not found in the ad ({q["category"]}): "{q["text"]}"'
             for q in extra.get("ungrounded") or []]  # fmt: skip
    notes += [f'Fuzzy match, check the wording ({q.category}): "{q.text}"'
              for q in coding.quotes if q.grounding == "fuzzy"]  # fmt: skip
    return notes + [f"Warning: {w}" for w in extra.get("warnings") or []]


def note_text(reasoning: str | None, notes: list[str]) -> str:
    text = reasoning or ""
    if notes:
        text += f"\n\n{REVIEW_HEADING}\n" + "\n".join(f"- {n}" for n in notes)
    return text.strip()


def source_description(ad: Ad, codings: list[Coding]) -> str:
    title = next((c.title for c in codings if c.title), None) or ad.title
    org = next((c.organisation for c in codings if c.organisation), None) or ad.organisation
    lines = [f"Title: {title}" if title else "", f"Organisation: {org}" if org else ""]
    return "\n".join(line for line in lines if line) or f"Job ad {ad.id}"


def source_element(ad: Ad, entries: list[tuple[str, Coding]], builder: _Builder) -> ET.Element:
    """One TextSource with every coder's selections, codings, note refs and profile."""
    source_guid = guid("source", ad.id)
    source = node("TextSource", guid=source_guid, name=ad.id,
                  plainTextPath=f"internal://{source_guid}.txt",
                  creationDateTime=builder.created)  # fmt: skip
    sub(source, "Description", source_description(ad, [c for _, c in entries]))
    collected = _Source()
    for user, coding in entries:
        builder.quotes(ad, user, coding, collected)
        builder.tools(ad, user, coding, collected)
        builder.remarks(ad, user, coding, collected)
    # positions first, so a QDA tool lists the selections in reading order
    source.extend(sel for *_, sel in sorted(collected.selections, key=lambda s: (s[0], s[1])))
    source.extend(collected.codings)
    for note_guid in collected.note_refs:
        sub(source, "NoteRef", targetGUID=note_guid)
    source.extend(collected.values)
    return source


# ------------------------------------------------------------------------- project


def _coder_line(cset: CodingSet) -> str:
    """One coding set's provenance: where it came from and how its drafts were made."""
    keys = ("model", "backend", "prompt_sha256", "codebook_version", "codebook_sha256",
            "autocode_version")  # fmt: skip
    found = {
        k: sorted(
            {
                str(c.provenance[k])
                for c in cset.codings
                if c.provenance and c.provenance.get(k) is not None
            }
        )
        for k in keys
    }
    made = "; ".join(f"{k} {', '.join(v)}" for k, v in found.items() if v) or "hand-coded"
    return f"- {cset.coder}: {len(cset.codings)} ads from {cset.path}; {made}"


def project_description(sets: list[CodingSet], book: Codebook, offsets: str, created: str) -> str:
    return "\n".join([
        f"Exported by autocode {__version__} on {created}.",
        f"{OFFSET_LINES[offsets]} (autocode export --offsets {offsets}).",
        f"Codebook: {book.name}, version {book.version}, SHA-256 {book.sha256 or 'unknown'}.",
        "Coders (one user each):",
        *(_coder_line(cset) for cset in sets),
    ])  # fmt: skip


def _entries_by_ad(sets: list[CodingSet]) -> dict[str, list[tuple[str, Coding]]]:
    by_ad: dict[str, list[tuple[str, Coding]]] = {}
    for cset in sets:
        for coding in cset.codings:
            by_ad.setdefault(coding.ad_id, []).append((cset.coder, coding))
    return by_ad


def _without_ad(sets: list[CodingSet], ads: dict[str, Ad]) -> list[tuple[str, str]]:
    """(coder, ad id) of each coding whose ad is not among the ads: it cannot be placed."""
    missing = [(cset.coder, c.ad_id) for cset in sets for c in cset.codings if c.ad_id not in ads]
    if missing and len(missing) == sum(len(cset.codings) for cset in sets):
        raise InputError(f"none of the {len(missing)} coded ads is among the ads given")
    return missing


@dataclass
class Export:
    """A built project: the QDA-XML document, the source texts by zip member, a summary."""

    project: ET.Element
    texts: dict[str, str]
    summary: Summary


def build_project(
    sets: list[CodingSet], ads: dict[str, Ad], book: Codebook, offsets: str, created: str
) -> Export:
    """The QDA-XML project of the coding sets; `ads` must hold every coded ad."""
    if offsets not in OFFSETS:
        raise ValueError(f"offsets must be one of {OFFSETS}, not {offsets!r}")
    check_coders(sets)
    builder = _Builder(book, offsets, created, several=len(sets) > 1)
    by_ad = _entries_by_ad(sets)
    project = node("Project", name=f"autocode: {book.name}", origin=f"autocode {__version__}",
                   creationDateTime=created)  # fmt: skip
    if sets:
        project.set("creatingUserGUID", guid("user", sets[0].coder))
    users = sub(project, "Users")
    for cset in sets:
        sub(users, "User", guid=guid("user", cset.coder), name=cset.coder)
    project.append(codebook_element(book))
    if sets:
        project.append(variables_element(sets, book))
    sources, texts = sub(project, "Sources"), {}
    for ad_id in [ad_id for ad_id in ads if ad_id in by_ad]:
        source = source_element(ads[ad_id], by_ad[ad_id], builder)
        sources.append(source)
        texts[f"{SOURCES_DIR}/{source.get('guid')}.txt"] = ads[ad_id].text
    if builder.notes:
        sub(project, "Notes").extend(builder.notes)
    sub(project, "Description", project_description(sets, book, offsets, created))
    summary = builder.summary
    summary.sources, summary.users = len(texts), len(sets)
    summary.codes = len(book.categories)
    summary.without_ad = _without_ad(sets, ads)
    return Export(project, texts, summary)


def project_xml(project: ET.Element) -> bytes:
    ET.indent(project)
    return ET.tostring(project, encoding="utf-8", xml_declaration=True)


def qdpx_bytes(export: Export) -> bytes:
    """The .qdpx zip: project.qde and sources/, entries dated 1980 so only the XML's own
    timestamps differ between two exports of the same codings."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        members = [(PROJECT_FILE, project_xml(export.project))]
        members += [(name, text.encode("utf-8")) for name, text in export.texts.items()]
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def write_qdpx(path, export: Export) -> None:
    """Write the .qdpx file atomically."""
    atomic_write_bytes(path, qdpx_bytes(export))
