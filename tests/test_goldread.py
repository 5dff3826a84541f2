"""Tolerant reading of hand-written gold files: coders' remarks, other bullet and label
styles, CRLF, BOM; lines that cannot be placed warn and the rest is read and scored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.errors import InputError
from pipeline.evaluation.scores import evaluate
from pipeline.goldmd.parse import parse, read_coding_file
from pipeline.goldmd.render import render
from pipeline.record import Coding, Quote, Remark, Tool, one_line

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()

# What the coder meant, whatever the style: two remarks on labels, two remark bullets.
CODING = Coding(
    ad_id="1_acme",
    title="ML Engineer",
    organisation="Acme",
    profile="Core ML Engineer",
    reasoning="Balanced.",
    quotes=[
        Quote(category="1.A.1", text="Build services"),
        Quote(category="1.A.1", text="Write tests", note="a habit"),
        Quote(category="3.1", text="Work with the team"),
    ],
    tools=[Tool(category="2.1", name="Python")],
    remarks=[
        Remark(category="1.A.1", text="_(Note: mostly backend work)_"),
        Remark(
            category="1.A.1", text="_(Implied by the platform description.)_", bullet=True, after=1
        ),
        Remark(category="2.9", text="_(Note: new category needed for non-software skills)_"),
        Remark(category="3.5", text="(Nothing on ownership.)", bullet=True),
    ],
)

CANONICAL = """\
# Manual Coding Analysis: Job Ad #1 (Acme)

This document contains the manual coding for the "ML Engineer" position at Acme.

- **Assigned Profile:** `Core ML Engineer`
- **Reasoning:** Balanced.

---

## 1. Job Task Analysis

### Macro-Category A: Core Software Engineering

- **1.A.1. Software Development & Integration:** _(Note: mostly backend work)_
  - "Build services"
  - _(Implied by the platform description.)_
  - "Write tests" (a habit)

---

## 2. Technology & Tool Analysis

- **2.1. Programming Languages:**
  - `Python`
- **2.9. Other Technical Skills:** _(Note: new category needed for non-software skills)_

---

## 3. Soft Skill Analysis

- **3.1. Communication & Collaboration:**
  - "Work with the team"
- **3.5. Innovation & Ownership:**
  - (Nothing on ownership.)
"""


def test_remarks_render_in_place_and_read_back():
    assert render(CODING, BOOK) == CANONICAL
    assert parse(CANONICAL, BOOK, "1_acme") == CODING


def test_remarks_are_not_coded_entries():
    coding = parse(CANONICAL, BOOK, "1_acme")
    assert [q.text for q in coding.quotes if q.category == "1.A.1"] == [
        "Build services",
        "Write tests",
    ]
    assert not any("Implied" in q.text for q in coding.quotes)
    # 2.9 and 3.5 hold only remarks: not coded, so presence does not count them
    report = evaluate([coding], [coding], BOOK)
    presence = report["presence"]["per_category"]
    assert presence["2.9"]["gold"] == presence["3.5"]["gold"] == 0
    assert presence["1.A.1"]["gold"] == presence["2.1"]["gold"] == 1


def test_remarks_are_in_the_record_and_absent_when_there_are_none():
    record = json.loads(parse(CANONICAL, BOOK, "1_acme").model_dump_json())
    assert record["remarks"][0] == {
        "category": "1.A.1",
        "text": "_(Note: mostly backend work)_",
        "bullet": False,
        "after": 0,
    }
    plain = json.loads(Coding(ad_id="x").model_dump_json())
    assert "remarks" not in plain and "warnings" not in plain


@pytest.mark.parametrize(
    "remark",
    [
        "_Implied by the platform._",
        "*Implied by the platform.*",
        "(Implied by the platform.)",
        "_(Implied by the platform.)_",
        "*(Implied by the platform.)*",
    ],
    ids=["underscores", "stars", "parentheses", "underscored-parentheses", "starred-parentheses"],
)
def test_a_bullet_holding_only_a_remark_is_a_remark(remark):
    text = CANONICAL.replace("  - _(Implied by the platform description.)_", f"  - {remark}")
    coding = parse(text, BOOK, "1_acme")
    assert coding.warnings == []
    assert [q.text for q in coding.quotes] == [q.text for q in CODING.quotes]
    assert Remark(category="1.A.1", text=remark, bullet=True, after=1) in coding.remarks
    assert render(coding, BOOK) == text


def _variant(*pairs: tuple[str, str]) -> str:
    text = CANONICAL
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


LABEL_11 = "- **1.A.1. Software Development & Integration:** _(Note: mostly backend work)_"
LABEL_29 = (
    "- **2.9. Other Technical Skills:** _(Note: new category needed for non-software skills)_"
)

# Each variant reads as CODING: the same content in another coder's style.
VARIANTS = [
    pytest.param(_variant(("\n- ", "\n* "), ("\n  - ", "\n  * ")), id="star-bullets"),
    pytest.param(_variant(("\n- ", "\n+ "), ("\n  - ", "\n    + ")), id="plus-bullets"),
    pytest.param(
        _variant(
            ('  - "Build services"', '  1. "Build services"'),
            ("  - _(Implied", "  2) _(Implied"),
            ('  - "Write tests"', '  3. "Write tests"'),
        ),
        id="numbered-bullets",
    ),
    pytest.param(
        _variant(
            (
                LABEL_11,
                "- **1.A.1. Software Development & Integration** _(Note: mostly backend work)_",
            ),
            ("- **2.1. Programming Languages:**", "- **2.1 Programming Languages**"),
        ),
        id="label-without-colon",
    ),
    pytest.param(
        _variant(
            (
                LABEL_11,
                "- 1.A.1. Software Development & Integration: _(Note: mostly backend work)_",
            ),
            ("- **2.1. Programming Languages:**", "- 2.1 Programming Languages"),
            ("- **3.1. Communication & Collaboration:**", "- 3.1. Communication:"),
        ),
        id="label-without-bold",
    ),
    pytest.param(_variant(("`Core ML Engineer`", "Core ML Engineer")), id="profile-plain"),
    pytest.param(_variant(("`Core ML Engineer`", "**core ml engineer**.")), id="profile-bold-case"),
    pytest.param(
        _variant(
            ("- **Assigned Profile:** `Core ML Engineer`", "- Assigned profile: Core ML Engineer")
        ),
        id="profile-label-plain",
    ),
    pytest.param(
        _variant(
            (
                LABEL_29,
                "- **2.9. Other Technical Skills:** "
                "*(Note: new category needed for non-software skills)*",
            )
        ),
        id="star-italic-remark-on-label",
    ),
    pytest.param(
        _variant(
            ("  - (Nothing on ownership.)", "  - *(Nothing on ownership.)*"),
            (
                "  - _(Implied by the platform description.)_",
                "  - *(Implied by the platform description.)*",
            ),
        ),
        id="italic-remark-bullets",
    ),
    pytest.param(
        _variant((f'{LABEL_11}\n  - "Build services"', f'{LABEL_11}\n\n  - "Build services"')),
        id="blank-line-in-block",
    ),
    pytest.param(CANONICAL.replace("\n", "\r\n"), id="crlf"),
    pytest.param("\ufeff" + CANONICAL, id="bom"),
]


@pytest.mark.parametrize("text", VARIANTS)
def test_hand_written_variants_read_as_the_same_coding(text):
    coding = parse(text, BOOK, "1_acme", "1_acme.md")
    assert coding.warnings == []
    remarks = [(r.category, r.bullet, re.sub(r"[_*]", "", r.text)) for r in coding.remarks]
    expected = [(r.category, r.bullet, re.sub(r"[_*]", "", r.text)) for r in CODING.remarks]
    assert remarks == expected
    assert coding.model_dump(exclude={"remarks"}) == CODING.model_dump(exclude={"remarks"})


@pytest.mark.parametrize(
    ("encoding", "newline"),
    [("utf-8-sig", "\n"), ("utf-8", "\r\n"), ("utf-8-sig", "\r\n")],
    ids=["bom", "crlf", "bom-crlf"],
)
def test_files_with_bom_or_crlf(tmp_path, encoding, newline):
    path = tmp_path / "1_acme.md"
    path.write_bytes(CANONICAL.replace("\n", newline).encode(encoding))
    coding = read_coding_file(path, BOOK)
    assert coding == CODING
    assert render(coding, BOOK) == CANONICAL


def test_a_quote_on_the_label_line_and_an_italic_note():
    text = _variant(
        (LABEL_11, '- **1.A.1. Software Development & Integration:** "Build services"'),
        ('  - "Build services"\n', ""),
        ('"Write tests" (a habit)', '"Write tests" _(a habit)_'),
    )
    coding = parse(text, BOOK, "1_acme")
    assert coding.warnings == []
    assert [(q.text, q.note) for q in coding.quotes if q.category == "1.A.1"] == [
        ("Build services", None),
        ("Write tests", "a habit"),
    ]


# ------------------------------------------------------- lines that cannot be placed

STRAY = "This sentence belongs nowhere."


def _with_stray_line(text: str) -> tuple[str, int]:
    lines = text.splitlines()
    at = lines.index('  - "Build services"') + 1
    return "\n".join(lines[:at] + [STRAY] + lines[at:]) + "\n", at + 1


def test_an_unplaceable_line_warns_and_the_rest_is_read(tmp_path):
    text, lineno = _with_stray_line(CANONICAL)
    path = tmp_path / "1_acme.md"
    path.write_text(text, encoding="utf-8")
    coding = read_coding_file(path, BOOK, strict=False)
    assert coding.warnings == [f"{path}:{lineno}: cannot understand this line: {STRAY!r}"]
    assert coding.model_dump(exclude={"warnings"}) == CODING.model_dump()
    with pytest.raises(InputError, match=re.escape(f"{path}:{lineno}: cannot understand")):
        read_coding_file(path, BOOK, strict=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "not a coding", id="empty"),
        pytest.param("Some notes about the ad.\n- a bullet\n", "not a coding", id="prose"),
        pytest.param(
            '# Notes\n\n- **9.9. Made up:**\n  - "x"\n',
            "'9.9' is not in the codebook",
            id="no-codebook-category",
        ),
    ],
)
def test_only_a_file_without_structure_is_refused(tmp_path, text, message):
    path = tmp_path / "1_x.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)) as info:
        read_coding_file(path, BOOK, strict=False)
    assert str(info.value).startswith(f"{path}:")


# ------------------------------------------------------------------------- eval


@pytest.fixture
def gold_with_variants(tmp_path) -> Path:
    """The project's gold plus one file with remarks in another style and a stray line."""
    gold = tmp_path / "gold"
    gold.mkdir()
    for path in sorted((REPO / "gold").glob("*.md")):
        (gold / path.name).write_bytes(path.read_bytes())
    styled = _variant(("\n- ", "\n* "), ("`Core ML Engineer`", "Core ML Engineer"))
    (gold / "1_acme.md").write_text(_with_stray_line(styled)[0], encoding="utf-8")
    return gold


def test_eval_scores_a_folder_holding_remarks_and_an_unplaceable_line(gold_with_variants, tmp_path):
    pred = tmp_path / "pred.jsonl"
    wrong = CODING.model_copy(
        update={"profile": "Software Engineer", "quotes": CODING.quotes[:1], "tools": []}
    )
    pred.write_text(wrong.model_dump_json() + "\n", encoding="utf-8")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        main, ["eval", "--gold", str(gold_with_variants), "--pred", str(pred), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    path = gold_with_variants / "1_acme.md"
    assert f"{path}:" in result.stderr and "cannot understand this line" in result.stderr
    report = json.loads(out.read_text())
    assert report["ads"]["paired"] == ["1_acme"]
    assert report["profile"]["accuracy"] == 0.0
    assert (report["quotes"]["strict"]["tp"], report["quotes"]["strict"]["fn"]) == (1, 2)
    assert report["tools"]["name"]["fn"] == 1


def test_accept_keeps_remarks_and_refuses_an_unplaceable_line(tmp_path):
    draft = tmp_path / "1_acme.md"
    draft.write_text(_variant(("\n- ", "\n* ")), encoding="utf-8")
    gold = tmp_path / "gold"
    result = CliRunner().invoke(main, ["accept", str(draft), "--gold", str(gold)])
    assert result.exit_code == 0, result.output
    assert (gold / "1_acme.md").read_text(encoding="utf-8") == CANONICAL
    draft.write_text(_with_stray_line(CANONICAL)[0], encoding="utf-8")
    result = CliRunner().invoke(main, ["accept", str(draft), "--gold", str(tmp_path / "g2")])
    assert result.exit_code == 2
    assert f"{draft}:" in result.stderr and "cannot understand this line" in result.stderr
    assert not (tmp_path / "g2").exists()


def test_cli_parse_warns_on_stderr_and_prints_the_record(tmp_path):
    text, lineno = _with_stray_line(CANONICAL)
    path = tmp_path / "1_acme.md"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["parse", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"autocode: {path}:{lineno}: cannot understand this line: {STRAY!r}\n"
    record = json.loads(result.stdout)
    assert record["warnings"] == [f"{path}:{lineno}: cannot understand this line: {STRAY!r}"]
    assert len(record["quotes"]) == 3 and len(record["remarks"]) == 4


@given(st.text(st.characters(codec="utf-8")))
def test_one_line_collapses_whitespace_as_the_regex_did(text):
    assert one_line(text) == re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize(
    "line", ["-", "- ", "*  ", "1. "], ids=["dash", "dash-space", "star", "num"]
)
def test_an_empty_bullet_is_skipped_or_warned_never_a_crash(line):
    coding = parse(CANONICAL.replace('  - "Build services"\n', f"{line}\n"), BOOK, "1_acme")
    assert [q.text for q in coding.quotes] == ["Write tests", "Work with the team"]
