"""Codebook loading and validation: both schemes load; every defect is one clear message."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codebook import DEFAULT_CODEBOOK, load_codebook
from pipeline.errors import InputError

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- the two codebooks


def test_default_codebook_loads(codebook):
    assert codebook.version
    assert len(codebook.categories) == 20
    assert codebook.profile_names == [
        "Core GenAI Engineer",
        "Core ML Engineer",
        "AI-Adjacent Software Engineer",
        "Software Engineer",
        "GenAI Specialist",
        "ML Specialist (Data Scientist)",
        "Not Relevant",
    ]
    assert [p.heading for p in codebook.parts] == [
        "1. Job Task Analysis",
        "2. Technology & Tool Analysis",
        "3. Soft Skill Analysis",
    ]
    assert [g.title for g in codebook.parts[0].groups] == [
        "Macro-Category A: Core Software Engineering",
        "Macro-Category B: GenAI Specialization",
        "Overarching Professional Skills",
    ]
    assert codebook.ids_of_kind("quotes") == [
        "1.A.1",
        "1.A.2",
        "1.B.1",
        "1.B.2",
        "1.B.3",
        "1.C.1",
        "3.1",
        "3.2",
        "3.3",
        "3.4",
        "3.5",
    ]
    assert codebook.ids_of_kind("tools") == [f"2.{i}" for i in range(1, 10)]
    assert codebook.categories["1.A.2"].name == "Operations & MLOps (LLMOps)"
    assert codebook.part_of["3.1"].kind == "quotes"
    for cat in codebook.categories.values():
        assert cat.definition and cat.include and cat.exclude and cat.examples
    assert len(codebook.sha256) == 64


def test_later_codebook_loads(later_codebook):
    assert len(later_codebook.categories) == 21
    assert later_codebook.profile_names == ["ML Engineer", "GenAI Engineer", "Ambiguous"]
    assert later_codebook.ids_of_kind("quotes") == [
        *(f"TASK{i}" for i in range(1, 6)),
        *(f"SKILL{i}" for i in range(1, 6)),
    ]
    assert later_codebook.ids_of_kind("tools") == [f"TECH{i}" for i in range(1, 12)]
    assert later_codebook.version != load_codebook().version


def test_load_codebook_defaults_to_the_project_file(codebook):
    assert DEFAULT_CODEBOOK.name == "codebook.yaml" and DEFAULT_CODEBOOK.is_file()
    assert load_codebook(None) == codebook


def test_pipeline_names_no_category_id_or_profile(codebook, later_codebook):
    """Everything study-specific comes from the codebook, for either scheme."""
    names = set()
    for book in (codebook, later_codebook):
        names |= set(book.categories) | set(book.profile_names)
    sources = {p: p.read_text(encoding="utf-8") for p in (REPO / "pipeline").rglob("*.py")}
    found = [
        f"{path.relative_to(REPO)}: {name}"
        for path, text in sources.items()
        for name in names
        if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text)
    ]
    assert found == []


# ------------------------------------------------------------ malformed codebooks

TINY = """\
name: Tiny study
version: "1"
profiles:
  - name: Alpha
    definition: The first profile.
    rule: Choose it when in doubt.
parts:
  - id: "1"
    title: Tasks
    kind: quotes
    categories:
      - id: T1
        name: Task one
        definition: Doing the first thing.
        include: First things.
        exclude: Second things.
        examples: [do one]
      - id: T2
        name: Task two
        definition: Doing the second thing.
        include: Second things.
        exclude: First things.
        examples: [do two]
  - id: "2"
    title: Tools
    kind: tools
    groups:
      - title: Everything
        categories:
          - id: X1
            name: Languages
            definition: Programming languages.
            include: Python, Java.
            exclude: Frameworks.
            examples: [Python]
"""

EXTRA_CATEGORY = """\
categories:
  - id: Z1
    name: Stray
    definition: A category that belongs to no part.
    include: Nothing.
    exclude: Everything.
    examples: [stray]
"""


def _lines_without(text: str, *needles: str) -> str:
    return "".join(ln for ln in text.splitlines(True) if not any(n in ln for n in needles))


def test_tiny_codebook_is_valid(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    book = load_codebook(path)
    assert list(book.categories) == ["T1", "T2", "X1"]


# (id, codebook text, what the message must name besides the file)
MALFORMED = [
    pytest.param(
        TINY.replace("id: T2", "id: T1"), ["duplicate category id", "'T1'"], id="duplicate-id"
    ),
    pytest.param(
        TINY.replace("id: X1", "id: T2"),
        ["duplicate category id", "'T2'"],
        id="duplicate-id-across-parts",
    ),
    pytest.param(
        TINY.replace("name: Tiny study", "name: Tiny study\n" + EXTRA_CATEGORY.rstrip()),
        ["categories", "unknown field"],
        id="category-outside-any-part",
    ),
    pytest.param(
        TINY.replace(
            "      - title: Everything\n", "      - title: Everything\n        kind: tools\n"
        ),
        ["parts[1].groups[0].kind", "unknown field"],
        id="unknown-key-in-group",
    ),
    pytest.param(
        re.sub(r"profiles:\n(    .*\n|  - .*\n)+", "profiles: []\n", TINY),
        ["profiles", "at least 1"],
        id="empty-profile-list",
    ),
    pytest.param(
        _lines_without(TINY, "profiles:", "Alpha", "first profile", "in doubt"),
        ["profiles", "missing field"],
        id="no-profiles-key",
    ),
    pytest.param(
        TINY.replace("definition: The first profile.", "definition: The first: profile."),
        [":5:", "YAML syntax error", "mapping values"],
        id="yaml-syntax-error",
    ),
    pytest.param(
        TINY.replace("examples: [do two]", "examples: [do two"),
        [":24:", "YAML syntax error"],
        id="yaml-unclosed-bracket",  # where PyYAML notices
    ),
    pytest.param(
        TINY.replace('version: "1"', 'version: "1\x07"'),
        [":2:", "YAML"],
        id="yaml-control-character",
    ),
    pytest.param(
        _lines_without(TINY, "Doing the second thing."),
        ["parts[0].categories[1].definition", "missing field"],
        id="category-without-definition",
    ),
    pytest.param(
        _lines_without(TINY, "rule:"),
        ["profiles[0].rule", "missing field"],
        id="profile-without-rule",
    ),
    pytest.param(
        TINY.replace("examples: [do one]", "examples: []"),
        ["parts[0].categories[0].examples", "at least 1"],
        id="category-without-examples",
    ),
    pytest.param(
        TINY.replace("kind: tools", "kind: names"),
        ["parts[1].kind", "'quotes'"],
        id="unknown-part-kind",
    ),
    pytest.param(
        TINY.replace("id: T1", "id: T 1"),
        ["parts[0].categories[0].id"],
        id="id-with-space",
    ),
    pytest.param(
        TINY.replace('id: "2"', "id: 2"),
        ["parts[1].id", "string"],
        id="unquoted-numeric-id",
    ),
    pytest.param(
        TINY.replace("examples: [do one]", 'examples: [do one]\n        coder_notes: ""'),
        ["parts[0].categories[0].coder_notes", "at least 1"],
        id="empty-coder-notes",
    ),
    pytest.param(
        TINY.replace('version: "1"', 'version: "1"\nquote_style: [short]'),
        ["quote_style", "string"],
        id="quote-style-not-text",
    ),
    pytest.param("- just\n- a list\n", ["mapping"], id="not-a-mapping"),
    pytest.param("", ["mapping"], id="empty-file"),
]


@pytest.mark.parametrize(("text", "names"), MALFORMED)
def test_malformed_codebook_gives_one_clear_message(tmp_path, text, names):
    path = tmp_path / "bad_codebook.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_codebook(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(str(path)), message
    for name in names:
        assert name in message, message


def test_codebook_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(TINY.replace("Tiny study", "Tiny \xe9tude").encode("latin-1"))
    with pytest.raises(InputError, match=re.escape(str(path))):
        load_codebook(path)


def test_missing_codebook_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(InputError, match=re.escape(str(path))):
        load_codebook(path)


# --------------------------------------------------------------------- the CLI


@pytest.fixture
def bad_codebook(tmp_path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace("id: T2", "id: T1"), encoding="utf-8")
    return path


@pytest.fixture
def some_gold(tmp_path) -> Path:
    path = tmp_path / "x.md"
    path.write_text("# Manual Coding Analysis: Job Ad #1\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(TINY.replace("id: T2", "id: T1"), id="duplicate-id"),
        pytest.param(
            TINY.replace("definition: The first profile.", "definition: a: b"),
            id="yaml-syntax-error",
        ),
        pytest.param(_lines_without(TINY, "Doing the second thing."), id="missing-field"),
    ],
)
def test_cli_reports_bad_codebook_with_status_2(tmp_path, some_gold, text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["parse", "--codebook", str(bad), str(some_gold)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"autocode: {bad}"), result.stderr
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, InputError)  # handled, not raised


def test_cli_bad_codebook_in_a_real_process(bad_codebook, some_gold):
    exe = Path(sys.executable).with_name("autocode")
    fallback = [sys.executable, "-c", "from pipeline.cli import main; main()"]
    cmd = [str(exe)] if exe.exists() else fallback
    proc = subprocess.run(
        [*cmd, "parse", "--codebook", str(bad_codebook), str(some_gold)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"autocode: {bad_codebook}: (top level): duplicate category id 'T1'"
    )


def test_coders_conventions_reach_the_prompt(codebook, later_codebook):
    from pipeline.coding.request import system_prompt

    noted = [c for c in codebook.categories.values() if c.coder_notes]
    assert codebook.quote_style and noted
    prompt = system_prompt(codebook)
    assert f"- How long a quote is: {codebook.quote_style}" in prompt
    assert "Keep each quote short" not in prompt
    for category in noted:
        section = prompt.split(f"### {category.id} ")[1].split("###")[0]
        assert f"Coders' conventions: {category.coder_notes}" in section
    # a codebook without the optional fields gets the general rule and no conventions
    assert later_codebook.quote_style is None
    assert not any(c.coder_notes for c in later_codebook.categories.values())
    later = system_prompt(later_codebook)
    assert "Keep each quote short" in later and "Coders' conventions" not in later
