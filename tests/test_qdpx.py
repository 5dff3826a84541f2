"""REFI-QDA export: schema-valid projects that an independent reader opens, and exports that
come back through `import` with every agreement figure at 1.0."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from autocode_run import run_code
from conftest import shared_dev_dir
from qdpx_cases import (
    CREATED,
    DUTCH_GOLD,
    REPO,
    SCHEMA,
    case_from,
    defined_figures,
    dutch_case,
    export_case,
    export_sets,
    round_trip,
)

from pipeline.evaluation.scores import evaluate
from pipeline.goldmd.parse import read_coding_file
from pipeline.grounding import ground
from pipeline.qdpx.export import code_colours, codebook_element, write_qdpx
from pipeline.qdpx.importer import import_codings
from pipeline.qdpx.read import read_qdpx
from pipeline.qdpx.source import tool_span
from pipeline.tables.sets import MemorySet, open_sets
from tests.servers.simserver import SimServer

CASES = ["project-gold", "dev-gold", "draft-run", "dutch"]


@pytest.fixture(scope="module")
def draft_run(tmp_path_factory) -> Path:
    """`autocode code` over raw/ against the simulated server; one ad keeps a quote that is
    not in it, so its record lists an ungrounded quote (a review note)."""
    work = tmp_path_factory.mktemp("drafts")
    with SimServer(by_text={"101_lumenpath_genai": ["ungrounded"]}) as server:
        result = run_code(
            work, server.url, REPO / "raw", "--model", "sim-model", "--max-retries", 0
        )
    assert result.returncode == 0, result.stderr
    return result.out


@pytest.fixture(scope="module")
def cases(draft_run, tmp_path_factory, codebook):
    """Each case by name; the dev gold only where the shared data is present."""
    dev = shared_dev_dir()
    found = {
        "project-gold": case_from("project-gold", REPO / "gold", REPO / "raw", codebook),
        "draft-run": case_from("draft-run", draft_run, REPO / "raw", codebook),
        "dutch": dutch_case(tmp_path_factory.mktemp("dutch"), codebook),
    }
    if dev is not None:
        found["dev-gold"] = case_from("dev-gold", dev / "gold", dev / "raw", codebook)
    return found


def get_case(cases, name):
    if name not in cases:
        pytest.skip(f"shared job-ad data not found at {shared_dev_dir()} (not in the repo)")
    return cases[name]


@pytest.fixture(scope="module")
def schema():
    xmlschema = pytest.importorskip("xmlschema")
    if not SCHEMA.exists():
        pytest.skip(f"REFI-QDA schema not found at {SCHEMA} (shared data, not in the repo)")
    return xmlschema.XMLSchema(str(SCHEMA))


@pytest.mark.parametrize("offsets", ["codepoints", "utf16"])
@pytest.mark.parametrize("name", CASES)
def test_export_validates_against_the_refi_qda_schema(
    cases, name, offsets, schema, codebook, tmp_path
):
    case = get_case(cases, name)
    export_case(case, codebook, tmp_path / "p.qdpx", offsets)
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        schema.validate(archive.read("project.qde").decode("utf-8"))
        assert len([n for n in archive.namelist() if n.startswith("sources/")]) == len(case.ads)


def _selection_texts(project, extract: Path) -> Counter:
    """(source, code name, text at the selection) for every coded selection, as read by
    pyrefiqda, which builds its models from the same schema with xsdata."""
    from pyrefiqda import RefiProject

    names = {}
    stack = list(project.code_book.codes.code)
    while stack:
        code = stack.pop()
        names[code.guid] = code.name
        stack += code.code
    found = Counter()
    for source in project.sources.text_source:
        path = RefiProject.resolve_source_path(source.plain_text_path, extract)
        text = path.read_text(encoding="utf-8")
        for sel in source.plain_text_selection:
            for coding in sel.coding:
                span = text[sel.start_position : sel.end_position]
                found[(source.name, names[coding.code_ref.target_guid], span)] += 1
    return found


@pytest.mark.parametrize("name", CASES)
def test_an_independent_reader_finds_every_source_code_and_selection(
    cases, name, codebook, tmp_path
):
    pyrefiqda = pytest.importorskip("pyrefiqda")
    case = get_case(cases, name)
    export = export_case(case, codebook, tmp_path / "p.qdpx")
    project = pyrefiqda.RefiProject.load(tmp_path / "p.qdpx", extract_dir=str(tmp_path / "x"))
    assert len(project.sources.text_source) == export.summary.sources == len(case.codings)
    selections = _selection_texts(project, tmp_path / "x")
    assert sum(selections.values()) == export.summary.selections + export.summary.tool_selections
    codable, stack = 0, list(project.code_book.codes.code)
    while stack:
        code = stack.pop()
        codable += code.is_codable
        stack += code.code
    assert codable == len(codebook.categories)
    expected = Counter()
    for coding in case.codings:
        text = case.ads[coding.ad_id].text
        for quote in ground(coding, text).quotes:
            if quote.span:
                cat = codebook.categories[quote.category]
                expected[(coding.ad_id, f"{cat.id} {cat.name}", text[slice(*quote.span)])] += 1
                assert quote.grounding != "exact" or text[slice(*quote.span)] == quote.text
    quote_codes = {
        f"{c.id} {c.name}"
        for c in codebook.categories.values()
        if codebook.part_of[c.id].kind == "quotes"
    }
    assert Counter({k: n for k, n in selections.items() if k[1] in quote_codes}) == expected


@pytest.mark.parametrize("offsets", ["codepoints", "utf16"])
@pytest.mark.parametrize("name", CASES)
def test_round_trip_agrees_perfectly(cases, name, offsets, codebook, tmp_path):
    case = get_case(cases, name)
    imported = round_trip(case, codebook, tmp_path / "p.qdpx", offsets)
    texts = {ad_id: ad.text for ad_id, ad in case.ads.items()}
    report = evaluate(case.codings, imported, codebook, texts)
    assert report["ads"]["gold_only"] == report["ads"]["pred_only"] == []
    figures = defined_figures(report)
    assert figures and {k: v for k, v in figures.items() if v != 1.0} == {}
    assert report["quotes"]["strict"]["tp"] == sum(len(c.quotes) for c in case.codings)
    for original, back in zip(case.codings, imported, strict=True):
        assert (back.profile, back.reasoning) == (original.profile, original.reasoning)
        assert {(q.category, q.text, q.note) for q in back.quotes} == {
            (q.category, q.text, q.note) for q in original.quotes
        }
        assert {(t.category, t.name, t.note) for t in back.tools} == {
            (t.category, t.name, t.note) for t in original.tools
        }


def test_positions_count_code_points_or_utf16_units(cases, codebook, tmp_path):
    """After 🚀 and 🎉 a UTF-16 position is two units past the code point position."""
    case = cases["dutch"]
    starts = {}
    for offsets in ("codepoints", "utf16"):
        export = export_case(case, codebook, tmp_path / f"{offsets}.qdpx", offsets)
        sels = export.project.iter("{urn:QDA-XML:project:1.0}PlainTextSelection")
        starts[offsets] = {s.get("name"): int(s.get("startPosition")) for s in sels}
    quote = "Je bouwt en onderhoudt betrouwbare datapijplijnen in Python en Apache Airflow."
    assert starts["codepoints"][quote] == case.ads["900_cafe_brule"].text.index(quote)
    assert starts["utf16"][quote] == starts["codepoints"][quote] + 2


def test_a_tool_the_ad_does_not_name_is_coded_on_the_whole_source(cases, codebook, tmp_path):
    case = cases["dutch"]
    export = export_case(case, codebook, tmp_path / "p.qdpx")
    assert export.summary.source_codings == 1 and export.summary.tool_selections == 4
    source = export.project.find(".//{urn:QDA-XML:project:1.0}TextSource")
    (coding,) = source.findall("{urn:QDA-XML:project:1.0}Coding")
    note_guid = coding.find("{urn:QDA-XML:project:1.0}NoteRef").get("targetGUID")
    note = export.project.find(f".//{{urn:QDA-XML:project:1.0}}Note[@guid='{note_guid}']")
    assert note.findtext("{urn:QDA-XML:project:1.0}PlainTextContent") == (
        "GenAI models\ngeneric, not named in the ad"
    )


@pytest.mark.parametrize(
    ("name", "text", "span"),
    [
        ("Python", "Experience with Python and Go.", (16, 22)),
        ("Go", "Experience with Google and Go.", (27, 29)),  # not inside "Google"
        ("C++", "C, C++ and C#", (3, 6)),
        ("scikit-learn", "Scikit-Learn, pandas", (0, 12)),  # grounding's folding
        ("Azure (OpenAI Service)", "Deploy on Azure.", (10, 15)),  # without the parenthetical
        ("GenAI models", "We build LLM features.", None),
    ],
    ids=["verbatim", "whole-word", "symbols", "folded", "parenthetical", "absent"],
)
def test_tool_span_is_the_first_whole_word_occurrence(name, text, span):
    assert tool_span(name, text) == span


def test_draft_run_review_notes_and_model_reach_the_project(cases, codebook, tmp_path):
    case = cases["draft-run"]
    drafts = MemorySet("", case.codings, "drafts")
    sets = [MemorySet(drafts.model or "?", case.codings, "drafts")]
    export = export_case(case, codebook, tmp_path / "p.qdpx", sets=sets)
    ns = "{urn:QDA-XML:project:1.0}"
    assert [u.get("name") for u in export.project.iter(f"{ns}User")] == ["sim-model"]
    notes = [n.findtext(f"{ns}PlainTextContent") for n in export.project.iter(f"{ns}Note")]
    assert any("Dropped, not found in the ad" in n and "perpetual motion" in n for n in notes)
    description = export.project.findtext(f"{ns}Description")
    assert "model sim-model" in description and "prompt_sha256" in description
    back = import_codings(read_qdpx(tmp_path / "p.qdpx"), codebook).codings
    assert all("Dropped" not in (c.reasoning or "") for c in back)


def test_quotes_not_in_the_ad_are_counted_not_exported(cases, codebook, tmp_path):
    case = cases["dutch"]
    coding = case.codings[0].model_copy(deep=True)
    coding.quotes.append(coding.quotes[0].model_copy(update={"text": "Wij bieden een lease-auto"}))
    export = export_sets([MemorySet("c", [coding], "x")], case.ads, codebook, tmp_path / "p.qdpx")
    assert [(u, a, q.text) for u, a, q in export.summary.not_exported] == [
        ("c", "900_cafe_brule", "Wij bieden een lease-auto")
    ]
    assert export.summary.selections == len(coding.quotes) - 1


def test_exporting_twice_gives_the_same_file_but_for_timestamps(cases, codebook, tmp_path):
    case = cases["project-gold"]

    def build(created, name):
        path = tmp_path / name
        write_qdpx(path, case.sets(), case.ads.values(), codebook, "codepoints", created)
        return path

    first, again = build(CREATED, "first.qdpx"), build(CREATED, "again.qdpx")
    later = build("2026-01-01T00:00:00Z", "later.qdpx")
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != later.read_bytes()
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(later) as b:
        assert a.namelist() == b.namelist()
        same = a.read("project.qde").decode().replace(CREATED, "2026-01-01T00:00:00Z")
        assert same == b.read("project.qde").decode()


NS = "{urn:QDA-XML:project:1.0}"


def test_a_quote_listed_twice_is_exported_once_with_the_file_and_line(cases, codebook, tmp_path):
    case = cases["dutch"]
    text = DUTCH_GOLD.replace(
        '  - "Je bouwt en onderhoudt betrouwbare datapijplijnen in Python en Apache Airflow." '
        "(pipelines)\n",
        '  - "Je bouwt en onderhoudt betrouwbare datapijplijnen in Python en Apache Airflow." '
        '(pipelines)\n  - "Je bouwt en onderhoudt betrouwbare datapijplijnen in Python en Apache '
        'Airflow."\n',
    )
    path = tmp_path / "900_cafe_brule.md"
    path.write_text(text, encoding="utf-8")
    coding = read_coding_file(path, codebook)
    line = text.splitlines().index(
        '  - "Je bouwt en onderhoudt betrouwbare datapijplijnen in Python en Apache Airflow."'
    )
    sets = [MemorySet("anna", [coding], str(tmp_path))]
    export = export_sets(sets, case.ads, codebook, tmp_path / "p.qdpx")
    keys = [
        (s.get("startPosition"), s.find(f"{NS}Coding/{NS}CodeRef").get("targetGUID"))
        for s in export.project.iter(f"{NS}PlainTextSelection")
    ]
    assert len(keys) == len(set(keys))
    assert export.summary.selections == len(coding.quotes) - 1
    ((coder, ad_id, quote, where),) = export.summary.duplicates
    assert (coder, ad_id, quote.category) == ("anna", "900_cafe_brule", "1.B.3")
    assert where == f"{path}:{line + 1}"


def test_every_source_is_owned_by_its_first_coder(cases, codebook, tmp_path):
    case = cases["project-gold"]
    sets = [MemorySet("anna", case.codings, "gold"), MemorySet("bob", case.codings[:2], "x")]
    export = export_sets(sets, case.ads, codebook, tmp_path / "p.qdpx")
    users = {u.get("guid"): u.get("name") for u in export.project.iter(f"{NS}User")}
    owners = [users[s.get("creatingUser")] for s in export.project.iter(f"{NS}TextSource")]
    assert owners == ["anna"] * len(case.codings)


def test_every_code_of_the_codebook_has_its_own_colour(codebook, later_codebook):
    for book in (codebook, later_codebook):
        colours = [c.get("color") for c in codebook_element(book).iter(f"{NS}Code")]
        colours = [c for c in colours if c]  # parts and groups have none
        assert len(colours) == len(book.categories) == len(set(colours))
    many = code_colours([f"c{i}" for i in range(60)])
    assert len(set(many.values())) == 60
    assert all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in many.values())
    # a category keeps its colour when others are added after it
    assert code_colours(["a", "b"]) == dict(list(code_colours(["a", "b", "c"]).items())[:2])


def test_the_reasoning_is_in_the_source_description_and_read_back_without_notes(
    cases, codebook, tmp_path
):
    case = cases["project-gold"]
    sets = [MemorySet("anna", case.codings, "gold"), MemorySet("bob", case.codings, "x")]
    export = export_sets(sets, case.ads, codebook, tmp_path / "p.qdpx")
    with_reasoning = [c for c in case.codings if c.reasoning]
    assert with_reasoning
    for source in export.project.iter(f"{NS}TextSource"):
        coding = next(c for c in case.codings if c.ad_id == source.get("name"))
        lines = source.findtext(f"{NS}Description").splitlines()
        if coding.reasoning:
            assert f"Reasoning (anna): {coding.reasoning}" in lines
            assert f"Reasoning (bob): {coding.reasoning}" in lines
    # a QDA program that drops the notes (as QualCoder does) still gives the reasoning back
    for notes in export.project.findall(f"{NS}Notes"):
        export.project.remove(notes)
    for source in export.project.iter(f"{NS}TextSource"):
        for ref in source.findall(f"{NS}NoteRef"):
            source.remove(ref)
    _rewrite_project(tmp_path / "p.qdpx", tmp_path / "no-notes.qdpx", export.project)
    back = import_codings(read_qdpx(tmp_path / "no-notes.qdpx"), codebook, ["bob"]).codings
    assert {c.ad_id: c.reasoning for c in back} == {c.ad_id: c.reasoning for c in case.codings}


def _rewrite_project(path: Path, to: Path, project) -> None:
    """`path` with its project.qde replaced by `project` (as a QDA program writes it)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(to, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "project.qde":
                data = ET.tostring(project, encoding="utf-8", xml_declaration=True)
            target.writestr(name, data)


def test_coding_sets_to_export_one_path_under_two_coder_names_is_two_coders(codebook):
    gold = REPO / "gold"
    named = open_sets([], [("anna", gold), ("ben", gold)], codebook)
    assert [(s.name, s.count) for s in named] == [("anna", 6), ("ben", 6)]
    # a path given as CODINGS and with --coder is one set, under its --coder name
    once = open_sets([gold, gold], [("anna", gold)], codebook)
    assert [s.name for s in once] == ["anna"]
    assert [s.name for s in open_sets([gold], [], codebook)] == ["gold"]


def _as_elementtree_writes_it(data: bytes) -> bytes:
    """The document as the export once wrote it whole: parsed, indented, serialised."""
    root = ET.fromstring(data)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@pytest.mark.parametrize("name", [*CASES, "no-codings"])
def test_the_streamed_project_is_what_elementtree_writes_whole(cases, name, codebook, tmp_path):
    """Written a source at a time, project.qde is byte for byte the document ElementTree writes
    from the whole tree (as the export did before it streamed); project.qde comes first in the
    zip, then each source's text in the order of the ads, dated 1980."""
    case = get_case(cases, "project-gold" if name == "no-codings" else name)
    sets = [MemorySet("none", [], "x")] if name == "no-codings" else case.sets()
    if name == "project-gold":
        sets.append(MemorySet("bob", case.codings[:2], "y"))
    export_sets(sets, case.ads, codebook, tmp_path / "p.qdpx")
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        data = archive.read("project.qde")
        infos = archive.infolist()
    assert data == _as_elementtree_writes_it(data)
    assert (b"<Sources />" in data) == (name == "no-codings")
    guids = [s.get("guid") for s in ET.fromstring(data).iter(f"{NS}TextSource")]
    assert [i.filename for i in infos] == ["project.qde", *(f"sources/{g}.txt" for g in guids)]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
