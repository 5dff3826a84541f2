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

import colorsys
import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from xml.etree import ElementTree as ET

from pipeline import __version__
from pipeline.ads import Ad
from pipeline.codebook import Category, Codebook
from pipeline.qdpx.format import (
    OFFSET_LINES,
    OFFSETS,
    SOURCES_DIR,
    guid,
    node,
    profile_variable,
    sub,
)
from pipeline.qdpx.source import Builder, Summary, source_element
from pipeline.qdpx.stream import ProjectStream, SourceTexts, write_zip
from pipeline.tables.sets import Join, OpenSet, check_coders
from pipeline.tables.write import atomic_files

# Twenty colours of QualCoder's own palette, one per hue and shade, ordered so that neighbouring
# categories differ: QualCoder replaces an imported colour by the nearest colour of its palette
# (four of Kelly's colours of maximum contrast fell together there), so these arrive unchanged
# and stay apart in any program. One per category in codebook order: a category keeps its
# colour when categories are added after it.
PALETTE = (
    "#DDE600",
    "#0D47A1",
    "#FF6F00",
    "#7D26CD",
    "#1B5E20",
    "#FA5882",
    "#00F0F0",
    "#B71C1C",
    "#80FF00",
    "#4646D1",
    "#E65100",
    "#00FF7F",
    "#FA58F4",
    "#5E9179",
    "#3498DB",
    "#880E4F",
    "#AC58FA",
    "#F7D358",
    "#58FA58",
    "#A8A8A8",
)


def code_colours(category_ids: list[str]) -> dict[str, str]:
    """A distinct colour per category: the palette's, then hues spread by the golden angle
    for a codebook with more categories than it has colours."""
    colours = {}
    for i, cat_id in enumerate(category_ids):
        if i < len(PALETTE):
            colours[cat_id] = PALETTE[i]
        else:
            hue = ((i - len(PALETTE)) * 137.508) % 360
            r, g, b = colorsys.hls_to_rgb(hue / 360, 0.45, 0.65)
            colours[cat_id] = f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"
    return colours


# -------------------------------------------------------------------- codebook


def _category_code(parent: ET.Element, cat: Category, color: str) -> None:
    code = sub(
        parent,
        "Code",
        guid=guid("code", cat.id),
        name=f"{cat.id} {cat.name}",
        isCodable="true",
        color=color,
    )
    description = f"{cat.definition}\n\nInclude: {cat.include}\n\nExclude: {cat.exclude}"
    sub(code, "Description", description)


def codebook_element(book: Codebook) -> ET.Element:
    """Parts and groups as non-codable codes, categories as codable `<id> <name>` codes."""
    codebook = node("CodeBook")
    codes = sub(codebook, "Codes")
    colors = code_colours(list(book.categories))
    for part in book.parts:
        what = "quoted passages" if part.kind == "quotes" else "tool names"
        part_code = sub(
            codes, "Code", guid=guid("part", part.id), name=part.heading, isCodable="false"
        )
        sub(part_code, "Description", f"The codes of this part take {what}.")
        for group in part.groups:
            group_code = sub(
                part_code,
                "Code",
                guid=guid("group", part.id, group.title),
                name=group.title,
                isCodable="false",
            )
            for cat in group.categories:
                _category_code(group_code, cat, colors[cat.id])
        for cat in part.categories:
            _category_code(part_code, cat, colors[cat.id])
    return codebook


def variables_element(sets: list[OpenSet], book: Codebook) -> ET.Element:
    variables = node("Variables")
    for cset in sets:
        name = profile_variable(cset.name, len(sets) > 1)
        var = sub(
            variables, "Variable", guid=guid("variable", name), name=name, typeOfVariable="Text"
        )
        sub(
            var,
            "Description",
            f"Job profile assigned by {cset.name}; one of: " + "; ".join(book.profile_names),
        )
    return variables


# --------------------------------------------------------------------- project


def _coder_line(cset: OpenSet) -> str:
    """One coding set's provenance: where it came from and how its drafts were made."""
    found = {key: sorted(values) for key, values in cset.provenance.items()}
    made = "; ".join(f"{k} {', '.join(v)}" for k, v in found.items() if v) or "hand-coded"
    return f"- {cset.name}: {cset.count} ads from {cset.path}; {made}"


def project_description(sets: list[OpenSet], book: Codebook, offsets: str, created: str) -> str:
    return "\n".join(
        [
            f"Exported by autocode {__version__} on {created}.",
            f"{OFFSET_LINES[offsets]} (autocode export --offsets {offsets}).",
            f"Codebook: {book.name}, version {book.version}, SHA-256 {book.sha256 or 'unknown'}.",
            "Coders (one user each):",
            *(_coder_line(cset) for cset in sets),
        ]
    )


def _head(sets: list[OpenSet], book: Codebook, created: str) -> tuple[ET.Element, list]:
    """The project element (its attributes) and what precedes the sources: users, the
    codebook, the profile variables."""
    project = node(
        "Project",
        name=f"autocode: {book.name}",
        origin=f"autocode {__version__}",
        creationDateTime=created,
    )
    if sets:
        project.set("creatingUserGUID", guid("user", sets[0].name))
    users = node("Users")
    for cset in sets:
        sub(users, "User", guid=guid("user", cset.name), name=cset.name)
    children = [users, codebook_element(book)]
    if sets:
        children.append(variables_element(sets, book))
    return project, children


def write_qdpx(
    path: Path, sets: list[OpenSet], ads: Iterable[Ad], book: Codebook, offsets: str, created: str
) -> Summary:
    """Write the REFI-QDA project of the coding sets and the ads they code (one ad at a time,
    in the order of `ads`) atomically to `path`; what it holds and left out is the summary."""
    if offsets not in OFFSETS:
        raise ValueError(f"offsets must be one of {OFFSETS}, not {offsets!r}")
    check_coders(sets)
    join = Join(sets)
    with atomic_files([Path(path)]) as (tmp,), ExitStack() as spools:
        xml, notes, text_spool = (
            spools.enter_context(tempfile.TemporaryFile(dir=tmp.parent)) for _ in range(3)
        )
        texts = SourceTexts(text_spool)
        stream = ProjectStream(xml, notes)
        builder = Builder(book, offsets, created, len(sets) > 1, notes=stream.note)
        stream.head(*_head(sets, book, created))
        for ad, _, entries in join.ads((a, None) for a in ads):
            if entries:
                source = source_element(ad, entries, builder)
                stream.source(source)
                texts.add(f"{SOURCES_DIR}/{source.get('guid')}.txt", ad.text)
        stream.finish(node("Description", project_description(sets, book, offsets, created)))
        summary = builder.summary
        summary.sources, summary.users = texts.count, len(sets)
        summary.codes = len(book.categories)
        summary.without_ad = join.without_ad()
        write_zip(tmp, xml, texts)
    return summary
