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
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from pipeline import __version__
from pipeline.ads import Ad
from pipeline.codebook import Category, Codebook
from pipeline.codings.load import CodingSet, coding_set_name, load_codings
from pipeline.errors import InputError
from pipeline.qdpx.format import (
    OFFSET_LINES,
    OFFSETS,
    PROJECT_FILE,
    SOURCES_DIR,
    guid,
    node,
    profile_variable,
    sub,
)
from pipeline.qdpx.source import Builder, Summary, source_element
from pipeline.record import Coding
from pipeline.store import atomic_write_bytes

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


# ---------------------------------------------------------------------- inputs


def model_of(codings: list[Coding]) -> str | None:
    """The one model that drafted every coding of a set, else None (gold, or mixed)."""
    models = {c.drafted_by for c in codings}
    return models.pop() if len(models) == 1 else None


def load_coding_sets(
    paths: list[Path], named: list[tuple[str, Path]], book: Codebook
) -> list[CodingSet]:
    """The coding sets to export: each of `paths`, and each `--coder NAME=PATH`; a set is
    named by --coder, else by the one model that drafted it, else by its folder or file. A
    path given as CODINGS and with --coder is one set; one path under two --coder names is
    two coders."""
    with_name = {Path(p).resolve() for _, p in named}
    given = [(None, Path(p)) for p in paths if Path(p).resolve() not in with_name]
    sets, seen = [], set()
    for name, path in [*given, *((n, Path(p)) for n, p in named)]:
        if (name, path.resolve()) in seen:
            continue
        seen.add((name, path.resolve()))
        codings = load_codings(path, book, prefer_records=True)
        coder = name or model_of(codings) or coding_set_name(path)
        sets.append(CodingSet(coder, codings, str(path)))
    check_coders(sets)
    return sets


def check_coders(sets: list[CodingSet]) -> None:
    seen: dict[str, str] = {}
    for cset in sets:
        if cset.name in seen:
            raise InputError(
                f"{cset.path}: coder name {cset.name!r} is also the name of {seen[cset.name]}; "
                f"name each set with --coder NAME=PATH"
            )
        seen[cset.name] = cset.path


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


def variables_element(sets: list[CodingSet], book: Codebook) -> ET.Element:
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


def _coder_line(cset: CodingSet) -> str:
    """One coding set's provenance: where it came from and how its drafts were made."""
    keys = (
        "model",
        "backend",
        "prompt_sha256",
        "codebook_version",
        "codebook_sha256",
        "autocode_version",
    )
    found = {
        k: sorted(
            {
                str(getattr(c.provenance, k))
                for c in cset.codings
                if getattr(c.provenance, k, None) is not None
            }
        )
        for k in keys
    }
    made = "; ".join(f"{k} {', '.join(v)}" for k, v in found.items() if v) or "hand-coded"
    return f"- {cset.name}: {len(cset.codings)} ads from {cset.path}; {made}"


def project_description(sets: list[CodingSet], book: Codebook, offsets: str, created: str) -> str:
    return "\n".join(
        [
            f"Exported by autocode {__version__} on {created}.",
            f"{OFFSET_LINES[offsets]} (autocode export --offsets {offsets}).",
            f"Codebook: {book.name}, version {book.version}, SHA-256 {book.sha256 or 'unknown'}.",
            "Coders (one user each):",
            *(_coder_line(cset) for cset in sets),
        ]
    )


def _entries_by_ad(sets: list[CodingSet]) -> dict[str, list[tuple[str, Coding]]]:
    by_ad: dict[str, list[tuple[str, Coding]]] = {}
    for cset in sets:
        for coding in cset.codings:
            by_ad.setdefault(coding.ad_id, []).append((cset.name, coding))
    return by_ad


def _without_ad(sets: list[CodingSet], ads: dict[str, Ad]) -> list[tuple[str, str]]:
    """(coder, ad id) of each coding whose ad is not among the ads: it cannot be placed."""
    missing = [(cset.name, c.ad_id) for cset in sets for c in cset.codings if c.ad_id not in ads]
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
    builder = Builder(book, offsets, created, several=len(sets) > 1)
    by_ad = _entries_by_ad(sets)
    project = node(
        "Project",
        name=f"autocode: {book.name}",
        origin=f"autocode {__version__}",
        creationDateTime=created,
    )
    if sets:
        project.set("creatingUserGUID", guid("user", sets[0].name))
    users = sub(project, "Users")
    for cset in sets:
        sub(users, "User", guid=guid("user", cset.name), name=cset.name)
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
