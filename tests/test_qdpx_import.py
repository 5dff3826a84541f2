"""REFI-QDA import: a project corrected in QDA software comes back with exactly the coder's
changes; coders, unknown codes and broken files are handled with clear messages; the
commands run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from qdpx_cases import REPO, SCHEMA, case_from, defined_figures, dutch_case, export_case

from pipeline.codings.load import load_markdown_dir
from pipeline.errors import InputError
from pipeline.qdpx.format import guid
from pipeline.qdpx.importer import import_codings
from pipeline.qdpx.read import read_qdpx
from pipeline.record import Coding, Quote, Tool
from pipeline.tables.sets import MemorySet

NS = "{urn:QDA-XML:project:1.0}"


@pytest.fixture
def gold_case(codebook):
    return case_from("gold", REPO / "gold", REPO / "raw", codebook)


def edit_project(path: Path, edit) -> None:
    """Rewrite project.qde inside the .qdpx as a QDA tool would, keeping the sources."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    root = ET.fromstring(members["project.qde"])
    edit(root)
    members["project.qde"] = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def source_of(root: ET.Element, ad_id: str) -> ET.Element:
    return next(s for s in root.iter(f"{NS}TextSource") if s.get("name") == ad_id)


def test_hand_edited_export_yields_exactly_the_edits(gold_case, codebook, tmp_path):
    """One selection deleted, one added, one profile changed: nothing else moves."""
    path = tmp_path / "p.qdpx"
    export_case(gold_case, codebook, path)
    ad = gold_case.ads["103_kwikstaart_backend"]
    original = next(c for c in gold_case.codings if c.ad_id == ad.id)
    removed, added_text = original.quotes[0], ad.text.splitlines()[-1].strip()
    start = ad.text.index(added_text)
    user = guid("user", "coder")

    def edit(root):
        source = source_of(root, ad.id)
        victim = next(
            s for s in source.iter(f"{NS}PlainTextSelection") if s.get("name") == removed.text
        )
        source.remove(victim)
        sel = ET.Element(
            f"{NS}PlainTextSelection",
            guid=guid("new"),
            name="x",
            startPosition=str(start),
            endPosition=str(start + len(added_text)),
            creatingUser=user,
        )
        coding = ET.SubElement(sel, f"{NS}Coding", guid=guid("new coding"), creatingUser=user)
        ET.SubElement(coding, f"{NS}CodeRef", targetGUID=guid("code", "3.5"))
        source.insert(1, sel)
        source.find(f"{NS}VariableValue/{NS}TextValue").text = "Software Engineer"

    edit_project(path, edit)
    back = {c.ad_id: c for c in import_codings(read_qdpx(path), codebook).codings}
    for coding in gold_case.codings:
        if coding.ad_id != ad.id:
            assert _entries(back[coding.ad_id]) == _entries(coding)
    assert back[ad.id].profile == "Software Engineer" != original.profile
    expected = _entries(original)[1] - {(removed.category, removed.text)} | {("3.5", added_text)}
    assert _entries(back[ad.id])[1] == expected
    assert _entries(back[ad.id])[2] == _entries(original)[2]


def _entries(coding: Coding):
    return (
        coding.profile,
        {(q.category, q.text) for q in coding.quotes},
        {(t.category, t.name) for t in coding.tools},
    )


def test_a_moved_selection_gives_the_text_now_selected(gold_case, codebook, tmp_path):
    path = tmp_path / "p.qdpx"
    export_case(gold_case, codebook, path)
    ad = gold_case.ads["101_lumenpath_genai"]
    quote = "Write and iterate on prompts"

    def shorten(root):
        sel = next(
            s
            for s in source_of(root, ad.id).iter(f"{NS}PlainTextSelection")
            if s.get("name") == quote
        )
        sel.set("endPosition", str(int(sel.get("startPosition")) + len("Write and iterate")))

    edit_project(path, shorten)
    back = next(c for c in import_codings(read_qdpx(path), codebook).codings if c.ad_id == ad.id)
    assert "Write and iterate" in [q.text for q in back.quotes]
    assert quote not in [q.text for q in back.quotes]


@pytest.fixture
def two_coders(gold_case, codebook, tmp_path):
    """The project's gold as two coders: `anna` as is, `model` without tools."""
    bare = [
        c.model_copy(update={"tools": [], "profile": "Not Relevant"}) for c in gold_case.codings
    ]
    sets = [MemorySet("anna", gold_case.codings, "gold"), MemorySet("model", bare, "x")]
    export_case(gold_case, codebook, tmp_path / "two.qdpx", sets=sets)
    return read_qdpx(tmp_path / "two.qdpx")


def test_several_coders_need_a_choice(two_coders, codebook):
    with pytest.raises(InputError, match=r"2 coders in this file \(anna, model\)"):
        import_codings(two_coders, codebook)
    with pytest.raises(InputError, match=r"no coder 'bob' in this file \(coders: anna, model\)"):
        import_codings(two_coders, codebook, ["bob"])


def test_each_coder_reads_back_their_own_codings(two_coders, gold_case, codebook):
    anna = import_codings(two_coders, codebook, ["anna"]).codings
    model = import_codings(two_coders, codebook, ["model"]).codings
    assert [_entries(c) for c in anna] == [_entries(c) for c in gold_case.codings]
    assert all(c.tools == [] and c.profile == "Not Relevant" for c in model)
    assert [c.reasoning for c in model] == [c.reasoning for c in gold_case.codings]


def test_several_coders_merge_in_the_order_named(two_coders, gold_case, codebook):
    """The model's untouched codings plus the corrector's: entries merge, and the profile
    and reasoning are those of the first coder named that has one."""
    for order, profile in ((["model", "anna"], "Not Relevant"), (["anna", "model"], None)):
        merged = import_codings(two_coders, codebook, order).codings
        for back, original in zip(merged, gold_case.codings, strict=True):
            assert _entries(back)[1:] == _entries(original)[1:]
            assert back.profile == (profile or original.profile)


def test_several_coders_make_a_valid_project(gold_case, codebook, tmp_path):
    xmlschema = pytest.importorskip("xmlschema")
    if not SCHEMA.exists():
        pytest.skip(f"REFI-QDA schema not found at {SCHEMA} (shared data, not in the repo)")
    sets = [MemorySet("anna", gold_case.codings, "gold"), MemorySet("bob", gold_case.codings, "x")]
    export = export_case(gold_case, codebook, tmp_path / "p.qdpx", "utf16", sets=sets)
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        xmlschema.XMLSchema(str(SCHEMA)).validate(archive.read("project.qde").decode("utf-8"))
    names = [v.get("name") for v in export.project.iter(f"{NS}Variable")]
    assert names == ["Profile (anna)", "Profile (bob)"]


@pytest.mark.parametrize(
    ("new_name", "category"),
    [("1.B.2 Prompts and retrieval (renamed)", "1.B.2"), ("prompt engineering & rag", "1.B.2")],
    ids=["by-id", "by-name"],
)
def test_codes_map_by_id_else_by_name(gold_case, codebook, tmp_path, new_name, category):
    path = tmp_path / "p.qdpx"
    export_case(gold_case, codebook, path)
    edit_project(path, lambda root: _rename(root, "1.B.2", new_name))
    back = import_codings(read_qdpx(path), codebook).codings
    assert [_entries(c) for c in back] == [_entries(c) for c in gold_case.codings]


def _rename(root: ET.Element, cat_id: str, name: str) -> None:
    root.find(f".//{NS}Code[@guid='{guid('code', cat_id)}']").set("name", name)


def test_an_unknown_code_is_named_or_skipped(gold_case, codebook, tmp_path):
    path = tmp_path / "p.qdpx"
    export_case(gold_case, codebook, path)
    edit_project(path, lambda root: _rename(root, "1.B.2", "Interesting bits"))
    with pytest.raises(InputError, match=r"code 'Interesting bits' is not a codebook category"):
        import_codings(read_qdpx(path), codebook)
    imported = import_codings(read_qdpx(path), codebook, skip_unknown=True)
    assert not any(q.category == "1.B.2" for c in imported.codings for q in c.quotes)
    assert imported.warnings and "Interesting bits" in imported.warnings[0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: next(r.iter(f"{NS}PlainTextSelection")).set("endPosition", "99999"),
            "is not a passage of the source",
        ),
        (
            lambda r: next(r.iter(f"{NS}TextValue")).__setattr__("text", "Astronaut"),
            "profile 'Astronaut' is not in the codebook",
        ),
        (
            lambda r: next(r.iter(f"{NS}TextSource")).set("name", "../escape"),
            "cannot name a gold file",
        ),
    ],
    ids=["selection-out-of-range", "unknown-profile", "bad-source-name"],
)
def test_bad_content_is_reported_with_the_file(gold_case, codebook, tmp_path, edit, message):
    path = tmp_path / "p.qdpx"
    export_case(gold_case, codebook, path)
    edit_project(path, edit)
    with pytest.raises(InputError, match=message) as err:
        import_codings(read_qdpx(path), codebook)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip", "not a .qdpx file"),
        (None, "no project .qde file"),
        (b"<Project", "not well-formed"),
    ],
    ids=["not-zip", "no-qde", "broken-xml"],
)
def test_unreadable_files_are_reported(tmp_path, content, message):
    path = tmp_path / "bad.qdpx"
    if content == b"not a zip":
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("project.qde" if content else "sources/x.txt", content or b"x")
    with pytest.raises(InputError, match=message):
        read_qdpx(path)


def test_another_codebook_round_trips(later_codebook, tmp_path):
    """Nothing in export or import names a category: the study's later scheme works too."""
    ids = list(later_codebook.categories)
    quote_ids = later_codebook.ids_of_kind("quotes")
    tool_ids = later_codebook.ids_of_kind("tools")
    ad_text = "We build search services in Rust.\nYou mentor junior colleagues.\n"
    coding = Coding(
        ad_id="1",
        profile=later_codebook.profile_names[-1],
        reasoning="Why.",
        quotes=[
            Quote(category=quote_ids[0], text="We build search services"),
            Quote(category=quote_ids[-1], text="mentor junior colleagues"),
        ],
        tools=[Tool(category=tool_ids[0], name="Rust")],
    )
    from qdpx_cases import Case

    from pipeline.ads import Ad

    case = Case("later", [coding], {"1": Ad("1", ad_text, "1.txt")})
    export_case(case, later_codebook, tmp_path / "p.qdpx")
    (back,) = import_codings(read_qdpx(tmp_path / "p.qdpx"), later_codebook).codings
    assert _entries(back) == _entries(coding) and ids


def autocode(*args, cwd: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "pipeline.cli", *map(str, args)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("offsets", ["codepoints", "utf16"])
def test_commands_round_trip_to_a_perfect_eval(codebook, tmp_path, offsets):
    """export → import → `autocode eval`, with the Dutch ad and the project's gold."""
    dutch_case(tmp_path, codebook)
    for stem in ("101_lumenpath_genai", "105_copperleaf_marketing"):
        (tmp_path / "ads" / f"{stem}.txt").write_bytes((REPO / "raw" / f"{stem}.txt").read_bytes())
        (tmp_path / "gold" / f"{stem}.md").write_bytes((REPO / "gold" / f"{stem}.md").read_bytes())
    done = autocode(
        "export", "gold", "--ads", "ads", "--qdpx", "p.qdpx", "--offsets", offsets, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "3 sources, 20 codes, 1 coder(s)" in done.stderr
    done = autocode("import", "p.qdpx", "--out", "back", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert load_markdown_dir(tmp_path / "back", codebook)  # the gold format parses
    done = autocode(
        "eval",
        "--gold",
        "gold",
        "--pred",
        "back",
        "--ads",
        "ads",
        "--json",
        "eval.json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    figures = defined_figures(report)
    assert len(report["ads"]["paired"]) == 3
    assert figures and {k: v for k, v in figures.items() if v != 1.0} == {}
    done = autocode(
        "accept",
        *sorted((tmp_path / "back").glob("*.md")),
        "--gold",
        "accepted",
        "--ads",
        "ads",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr


def test_commands_report_bad_input_without_a_traceback(tmp_path):
    (tmp_path / "bad.qdpx").write_bytes(b"nope")
    for copy in ("a", "b"):
        (tmp_path / copy / "gold").mkdir(parents=True)
        for md in (REPO / "gold").glob("10*.md"):
            (tmp_path / copy / "gold" / md.name).write_bytes(md.read_bytes())
    runs = [
        (("import", "bad.qdpx", "--out", "o"), "bad.qdpx: not a .qdpx file"),
        (
            ("export", "a/gold", "b/gold", "--ads", REPO / "raw", "--qdpx", "p.qdpx"),
            "coder name 'gold' is also the name of a/gold; name each set with --coder NAME=PATH",
        ),
        (
            ("export", "--coder", "anna", "--ads", REPO / "raw", "--qdpx", "p.qdpx"),
            "'anna' is not NAME=PATH",
        ),
        (
            ("export", "a/gold", "--ads", tmp_path / "a", "--qdpx", "p.qdpx"),
            "none of the 5 coded ads is among the ads given",
        ),
    ]
    for args, message in runs:
        done = autocode(*args, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "p.qdpx").exists() and not (tmp_path / "o").exists()
