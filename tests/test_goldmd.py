"""The gold Markdown format: byte-exact round trips, a property test over both codebooks,
the hand-written variants of the six dev codings, and malformed files reported by line."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHARED_JOBADS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.codebook import Codebook, load_codebook
from pipeline.errors import InputError
from pipeline.goldmd.parse import dropped_in_notes, parse, read_coding_file
from pipeline.goldmd.render import render, render_review_notes, review_notes
from pipeline.record import CodedAd, Coding, Dropped, Quote, Tool, one_line

REPO = Path(__file__).resolve().parents[1]
KLM = REPO / "gold" / "769_klm.md"
PROJECT_GOLD = sorted((REPO / "gold").glob("*.md"))

# ------------------------------------------------------------------ round trips


def test_klm_round_trips_byte_for_byte(codebook):
    text = KLM.read_text(encoding="utf-8")
    coding = parse(text, codebook, "769_klm", str(KLM))
    assert render(coding, codebook) == text
    assert coding.title == "Senior Machine Learning Engineer"
    assert coding.organisation == "KLM"
    assert coding.profile == "Core GenAI Engineer"
    assert coding.reasoning.startswith("This is a comprehensive, full-lifecycle role.")
    assert len(coding.quotes) == 24
    assert [t.name for t in coding.tools] == ["prediction models", "GenAI models"]
    # one entry per (category, passage): the coaching passage is under 1.A.2 and 3.1
    coach = [q.category for q in coding.quotes if q.text.startswith("Coach junior")]
    assert coach == ["1.A.2", "3.1"]


def test_klm_example_is_the_shared_copy(shared_jobads):
    assert KLM.read_bytes() == (shared_jobads / "dev" / "gold" / "769_klm.md").read_bytes()


@pytest.mark.parametrize("path", PROJECT_GOLD, ids=lambda p: p.stem)
def test_project_gold_round_trips(codebook, path):
    text = path.read_text(encoding="utf-8")
    coding = read_coding_file(path, codebook)
    assert coding.ad_id == path.stem
    assert coding.profile in codebook.profile_names
    assert coding.quotes
    assert render(coding, codebook) == text


def test_project_gold_has_the_klm_example_and_samples():
    assert KLM in PROJECT_GOLD and len(PROJECT_GOLD) >= 2


# ------------------------------------------------------------- property test

DUTCH = [
    "Je ontwikkelt modellen",
    "vraagvoorspelling",
    "één",
    "ruïne",
    "coördinatie",
    "ĳsberg",
    "dé guru in dit vakgebied",
    "t.a.v.",
    "Heel veel leergierigheid!",
    "mede-Incentronauten",
]
AWKWARD = [
    '"',
    '" (',
    '"" ',
    "(",
    ")",
    " (",
    ") ",
    "()",
    "“",
    "”",
    "„",
    "‘",
    "’",
    "'",
    "…",
    "...",
    "—",
    "–",
    "*",
    "**",
    "_",
    "#",
    "##",
    ":",
    "-",
    "- ",
    "<!--",
    "-->",
    "`",
    "\\",
    "/",
    "&",
    "%",
    "24/7",
    "e.g.",
    "😀",
    "中文",
    "Ω",
    "\u00a0",
    "\t",
    "\n",
]


def _fragments(exclude: str = "") -> st.SearchStrategy[str]:
    chars = st.characters(codec="utf-8", exclude_characters=exclude)
    pieces = st.one_of(
        st.sampled_from(DUTCH),
        st.sampled_from([a for a in AWKWARD if not set(a) & set(exclude)]),
        st.text(chars, min_size=1, max_size=10),
    )
    return st.lists(pieces, min_size=1, max_size=6)


def line_text(exclude: str = "") -> st.SearchStrategy[str]:
    """A one-line, stripped, non-empty string, as the record keeps it (record.one_line)."""
    joined = st.tuples(st.sampled_from(["", " "]), _fragments(exclude)).map(
        lambda sep_parts: sep_parts[0].join(sep_parts[1])
    )
    return joined.map(one_line).filter(bool)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


# Notes carry no `"` and balanced parentheses: `"a" (b" (c))` is ambiguous otherwise (text
# `a" (b` with note `c)`, or text `a` with note `b" (c)`); the parser takes the balanced reading.
NOTE = st.none() | line_text(exclude='"').filter(_balanced)
TOOL_NAME = line_text(exclude="`")


@st.composite
def codings(draw, book: Codebook) -> Coding:
    order = {cid: i for i, cid in enumerate(book.categories)}
    quote_ids, tool_ids = book.ids_of_kind("quotes"), book.ids_of_kind("tools")
    quotes = draw(st.lists(st.tuples(st.sampled_from(quote_ids), line_text(), NOTE), max_size=8))
    tools = draw(st.lists(st.tuples(st.sampled_from(tool_ids), TOOL_NAME, NOTE), max_size=6))
    # canonical order: codebook category order, entries of one category in drawn order
    quotes.sort(key=lambda e: order[e[0]])
    tools.sort(key=lambda e: order[e[0]])
    return Coding(
        ad_id=f"{draw(st.integers(0, 9999))}_{draw(st.sampled_from(['klm', 'acme_bv', 'x']))}",
        title=draw(st.none() | line_text()),
        organisation=draw(st.none() | line_text()),
        profile=draw(st.none() | st.sampled_from(book.profile_names)),
        reasoning=draw(st.none() | line_text()),
        quotes=[Quote(category=c, text=t, note=n) for c, t, n in quotes],
        tools=[Tool(category=c, name=t, note=n) for c, t, n in tools],
    )


DEFAULT_BOOK = load_codebook()
LATER_BOOK = load_codebook(REPO / "tests" / "fixtures" / "codebook_later.yaml")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DRAFT_MODEL = st.none() | st.sampled_from(["gpt-4o-mini", "gemma3:270m", "qwen2.5-7b-instruct"])


@pytest.mark.parametrize("book", [DEFAULT_BOOK, LATER_BOOK], ids=["default", "later"])
def test_parse_render_property(book):
    @PROPERTY
    @given(coding=codings(book), model=DRAFT_MODEL)
    def check(coding, model):
        text = render(coding, book, draft_model=model)
        assert as_written(parse(text, book, coding.ad_id)) == coding

    check()


@pytest.mark.parametrize("book", [DEFAULT_BOOK, LATER_BOOK], ids=["default", "later"])
def test_review_notes_are_skipped_property(book):
    notes = st.lists(
        st.text(st.characters(codec="utf-8"), max_size=40)
        | st.sampled_from(
            ["--> not the end", "<!-- nested", '- "looks like a quote"', "- **1.A.1. X:**"]
        ),
        min_size=1,
        max_size=4,
    )

    @PROPERTY
    @given(coding=codings(book), notes=notes)
    def check(coding, notes):
        text = render(coding, book, review_notes=notes)
        assert "<!--" in text
        assert as_written(parse(text, book, coding.ad_id)) == coding

    check()


def test_later_scheme_renders_its_own_headings(later_codebook):
    coding = Coding(
        ad_id="7_x",
        title="GenAI Engineer",
        organisation="Acme",
        profile="GenAI Engineer",
        reasoning="Mostly prompting.",
        quotes=[
            Quote(category="TASK3", text="Fine-tune LLMs"),
            Quote(category="SKILL1", text="Work with the team", note="teamwork"),
        ],
        tools=[Tool(category="TECH1", name="Python")],
    )
    text = render(coding, later_codebook)
    assert "- **TASK3. Modeling:**" in text
    assert '  - "Work with the team" (teamwork)' in text
    assert "  - `Python`" in text
    assert "- **Assigned Profile:** `GenAI Engineer`" in text
    assert parse(text, later_codebook, "7_x") == coding
    with pytest.raises(InputError, match="'TASK3' is not in the codebook.*nor is any other"):
        parse(text, load_codebook(), "7_x")


def as_written(parsed: Coding) -> Coding:
    """A parsed coding without the parser's warnings on quotes listed twice, checking that
    there is one such warning for each quote listed again."""
    twice = [w for w in parsed.warnings if "the same quote is listed twice" in w]
    keys = [(q.category, q.text) for q in parsed.quotes]
    assert len(twice) == len(keys) - len(set(keys))
    return parsed.model_copy(update={"warnings": [w for w in parsed.warnings if w not in twice]})


# ------------------------------------------------------- review notes, variants


def test_review_notes_block_on_the_klm_file(codebook):
    text = KLM.read_text(encoding="utf-8")
    original = parse(text, codebook, "769_klm")
    notes = ["1.B.1: check the second quote", 'quote "Provide technical leadership" twice -->']
    drafted = render(original, codebook, review_notes=notes)
    assert drafted.startswith(text) and drafted != text
    assert parse(drafted, codebook, "769_klm") == original


def test_hand_written_comments_are_skipped(codebook):
    text = KLM.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lines.insert(12, "<!-- reviewer: is this really 1.A.1? -->\n")
    lines.insert(20, '<!--\n  - "a quote that was removed"\n- **9.9. Bogus:**\n-->\n')
    assert parse("".join(lines), codebook, "769_klm") == parse(text, codebook, "769_klm")


@pytest.mark.parametrize(
    "marker", ["*", "+", "-  ", "-   "], ids=["star", "plus", "dash2", "dash3"]
)
def test_other_bullet_markers(codebook, marker):
    text = KLM.read_text(encoding="utf-8")
    variant = re.sub(r"^(\s*)- ", lambda m: m[1] + marker + " ", text, flags=re.M)
    assert variant != text
    assert parse(variant, codebook, "769_klm") == parse(text, codebook, "769_klm")


def test_typographic_quotation_marks_inside_a_quote(codebook):
    coding = Coding(
        ad_id="1_x",
        quotes=[
            Quote(category="1.A.1", text="“Build” things", note="a (note)"),
            Quote(category="1.A.1", text="say “hi”"),
        ],
    )
    assert parse(render(coding, codebook), codebook, "1_x") == coding


def test_quote_opened_with_a_typographic_mark(codebook):
    text = "## 1. Job Task Analysis\n- **1.A.1. Software Development & Integration:**\n"
    text += '  - “Build things" (hand-typed)\n'
    quote = parse(text, codebook, "1_x").quotes[0]
    assert (quote.text, quote.note) == ("Build things", "hand-typed")


# ------------------------------------------------------- the six real dev codings

# stem: (quotes, tools, quote notes, tool notes, profile)
DEV = {
    "30_cognizant": (13, 5, 0, 1, None),
    "38_creative_fabrica": (7, 4, 0, 2, "AI-Adjacent Software Engineer"),
    "752_fitura": (14, 3, 0, 0, "AI-Adjacent Software Engineer"),
    "759_headfirst": (7, 5, 7, 0, "GenAI Specialist"),
    "767_incentro": (13, 8, 13, 1, "Core GenAI Engineer"),
    "769_klm": (24, 2, 0, 0, "Core GenAI Engineer"),
}
ENTRY = re.compile(r'^\s*-\s+(?P<kind>["`])', re.M)
LABEL_ID = re.compile(r"^\s*-\s+\*\*(?!Assigned|Reasoning)(?P<id>\S+?)\.? ", re.M)


@pytest.fixture(scope="module")
def dev_codings(shared_jobads, codebook) -> dict[str, Coding]:
    gold = shared_jobads / "dev" / "gold"
    return {p.stem: read_coding_file(p, codebook) for p in sorted(gold.glob("*.md"))}


def _dev_text(shared_jobads, stem: str) -> str:
    return (shared_jobads / "dev" / "gold" / f"{stem}.md").read_text(encoding="utf-8")


def test_dev_gold_files_are_the_six_expected(dev_codings):
    assert sorted(dev_codings) == sorted(DEV)
    assert sum(len(c.quotes) for c in dev_codings.values()) == 78


@pytest.mark.parametrize("stem", sorted(DEV))
def test_dev_gold_parses_without_loss(dev_codings, shared_jobads, stem):
    quotes, tools, quote_notes, tool_notes, profile = DEV[stem]
    coding = dev_codings[stem]
    assert len(coding.quotes) == quotes
    assert len(coding.tools) == tools
    assert sum(q.note is not None for q in coding.quotes) == quote_notes
    assert sum(t.note is not None for t in coding.tools) == tool_notes
    assert coding.profile == profile
    assert coding.title and coding.organisation
    # independently of the parser: one record entry per entry line, and every labelled category
    text = _dev_text(shared_jobads, stem)
    kinds = Counter(m["kind"] for m in ENTRY.finditer(text))
    assert (kinds['"'], kinds["`"]) == (quotes, tools)
    labelled = {m["id"] for m in LABEL_ID.finditer(text)}
    assert {q.category for q in coding.quotes} | {t.category for t in coding.tools} == labelled
    # every quote and tool text appears in the file as written
    for entry in [*(q.text for q in coding.quotes), *(t.name for t in coding.tools)]:
        assert entry in text
    for note in [q.note for q in coding.quotes] + [t.note for t in coding.tools]:
        assert note is None or note.rstrip(".") in text


def test_dev_files_without_profile(dev_codings):
    # The data README mentions two pilot codings without a profile; of the six here it is one.
    assert {s for s, c in dev_codings.items() if c.profile is None} == {"30_cognizant"}
    assert dev_codings["30_cognizant"].reasoning is None


def test_dev_incentro_soft_skill_under_task_heading_keeps_its_category(dev_codings):
    coding = dev_codings["767_incentro"]
    first_31 = next(q for q in coding.quotes if q.category == "3.1")
    assert first_31.text.startswith("Voortdurend onderzoek nieuwe technieken, frameworks en tools.")
    assert first_31.note.startswith("Continuously research new techniques")
    # it sits after the 1.C.1 quote in the file: order of the file is kept
    idx = coding.quotes.index(first_31)
    assert coding.quotes[idx - 1].category == "1.C.1"
    assert [q.category for q in coding.quotes].count("3.1") == 3
    assert coding.organisation == "Incentro International BV"
    guru = next(q for q in coding.quotes if q.category == "3.5")
    assert (guru.text, guru.note) == (
        "dé guru in dit vakgebied te worden",
        "to become the guru in this field",
    )
    tf = next(t for t in coding.tools if t.name == "TensorFlow")
    assert (tf.category, tf.note) == ("2.4", "as an ML framework")


def test_dev_headfirst_translation_notes(dev_codings):
    coding = dev_codings["759_headfirst"]
    first = coding.quotes[0]
    assert first.category == "1.B.2"
    raw_lines = (SHARED_JOBADS / "dev" / "raw" / "759_headfirst.txt").read_text().splitlines()
    # the ad's first sentence, read through the path (the data is not copied into the repo)
    assert raw_lines[2].startswith(first.text) and first.text.endswith("door AI.")
    assert first.note == "Investigate if the job evaluation process can be supported by AI."
    second = coding.quotes[1]
    assert second.text.startswith("...streven waarbij de Formatieadviseur")
    assert second.note.startswith("...strive for a future situation")
    assert second.note.endswith("according to the rules of the FUWADEF method.")
    # the same passage again under 3.3, with a coder's remark instead of a translation
    last = coding.quotes[-1]
    assert (last.category, last.text) == ("3.3", first.text)
    assert last.note.rstrip(".") == "This implies a research and problem-solving mindset"
    assert [t.name for t in coding.tools if t.category == "2.9"] == ["RuleSpeak", "FUWADEF methode"]


def test_dev_creative_fabrica_generic_tool_notes(dev_codings):
    tools = {t.name: t for t in dev_codings["38_creative_fabrica"].tools}
    assert (tools["ML models"].category, tools["ML models"].note) == ("2.3", "generic")
    assert (tools["cloud infrastructure"].category, tools["cloud infrastructure"].note) == (
        "2.2",
        "generic",
    )
    assert tools["Python"].note is None


def test_dev_fitura_wide_bullets_and_italic_remark(dev_codings, shared_jobads):
    text = _dev_text(shared_jobads, "752_fitura")
    assert "\n-   **1.A.1." in text and "*(No direct model building" in text
    coding = dev_codings["752_fitura"]
    assert coding.quotes[0].text == (
        "translate the technical needs of the Data science team to appropriate templates"
    )
    assert coding.quotes[-1].text == "consult the Model Factory team"  # last line, no newline
    assert [q.category for q in coding.quotes].count("1.A.2") == 7
    assert not any(q.category.startswith("1.B") for q in coding.quotes)
    dumped = coding.model_dump_json()
    assert "No direct model building" not in dumped  # the remark is skipped, not made an entry


def test_dev_cognizant_ellipses_and_remark(dev_codings):
    coding = dev_codings["30_cognizant"]
    assert coding.title == "Gen AI Engineer" and coding.organisation == "Cognizant"
    texts = [q.text for q in coding.quotes]
    assert "...formulate the GenAI data architecture..." in texts
    assert "...showing entrepreneurship" in texts
    ml = next(t for t in coding.tools if t.name == "Machine Learning")
    assert (ml.category, ml.note) == ("2.7", "as a general required technology")


@pytest.mark.parametrize("stem", sorted(DEV))
def test_dev_gold_render_parse_is_stable(dev_codings, codebook, stem):
    coding = dev_codings[stem]
    assert parse(render(coding, codebook), codebook, stem) == coding


def test_cli_parse_dev_gold_with_ads(shared_jobads):
    dev = shared_jobads / "dev"
    files = [str(p) for p in sorted((dev / "gold").glob("*.md"))]
    result = CliRunner().invoke(main, ["parse", *files, "--ads", str(dev / "raw")])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    records = {r["ad_id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert sorted(records) == sorted(DEV)
    klm = records["769_klm"]
    assert klm["profile"] == "Core GenAI Engineer"
    assert len(klm["quotes"]) == 24
    assert klm["quotes"][0]["span"] is not None
    assert {q["grounding"] for r in records.values() for q in r["quotes"]} <= {
        "exact",
        "normalized",
        "fuzzy",
    }
    assert records["30_cognizant"]["profile"] is None


# --------------------------------------------------------------- malformed gold

GOOD = """\
# Manual Coding Analysis: Job Ad #1 (Acme)

This document contains the manual coding for the "ML Engineer" position at Acme.

- **Assigned Profile:** `Core ML Engineer`
- **Reasoning:** Balanced.

---

## 1. Job Task Analysis

### Macro-Category A: Core Software Engineering

- **1.A.1. Software Development & Integration:**
  - "Build services"

---

## 2. Technology & Tool Analysis

- **2.1. Programming Languages:**
  - `Python`
"""


def _lines(text: str, at: int, *new: str) -> str:
    """`text` with the given lines inserted before line number `at` (1-based)."""
    lines = text.splitlines()
    return "\n".join(lines[: at - 1] + list(new) + lines[at - 1 :]) + "\n"


# (text, [(line, words in the message)])
BAD_GOLD = [
    pytest.param(
        GOOD.replace("1.A.1. Software", "1.Z.9. Software"),
        [(14, "'1.Z.9' is not in the codebook"), (15, "outside any known category")],
        id="unknown-category-id",
    ),
    pytest.param(
        GOOD.replace("`Core ML Engineer`", "`Wizard`"),
        [(5, "profile 'Wizard' is not in the codebook")],
        id="unknown-profile",
    ),
    pytest.param(
        _lines(GOOD, 16, "This sentence belongs nowhere."),
        [(16, "cannot understand this line")],
        id="stray-prose-line",
    ),
    pytest.param(
        _lines(GOOD, 16, "  - a bullet that is neither a quote nor a tool"),
        [(16, "cannot understand this line")],
        id="stray-bullet",
    ),
    pytest.param(
        _lines(GOOD, 11, '- "Orphan quote"'),
        [(11, "entry outside any known category")],
        id="entry-outside-category",
    ),
    pytest.param(
        _lines(GOOD, 16, "### Macro-Category B: GenAI Specialization", '  - "Orphan"'),
        [(17, "entry outside any known category")],
        id="entry-after-subheading",
    ),
    pytest.param(
        _lines(GOOD, 23, '  - "Python is great"'),
        [(23, "category 2.1 takes a tool name")],
        id="quote-under-tool-category",
    ),
    pytest.param(
        _lines(GOOD, 16, "  - `Kubernetes`"),
        [(16, "category 1.A.1 takes a quote")],
        id="tool-under-quote-category",
    ),
    pytest.param(
        _lines(GOOD, 16, '  - "never closed'), [(16, "cannot read this entry")], id="unclosed-quote"
    ),
    pytest.param(
        _lines(GOOD, 16, '  - "" (a note without a quote)'),
        [(16, "cannot read this entry")],
        id="empty-quote-with-note",
    ),
    pytest.param(
        _lines(GOOD, 23, "  - `  ` (blank)"), [(23, "cannot read this entry")], id="blank-tool-name"
    ),
    pytest.param(
        _lines(GOOD, 16, "  - `never closed"), [(16, "cannot read this entry")], id="unclosed-tool"
    ),
    pytest.param(
        GOOD.replace("Integration:**", "Integration:** and more"),
        [(14, "unexpected text after the category label")],
        id="text-after-label",
    ),
    pytest.param(
        GOOD.replace("Python", "Py\nthon").replace('"Build services"', "Build services"),
        [(15, "cannot understand"), (22, "cannot read this entry"), (23, "cannot understand")],
        id="several-problems",
    ),
]


@pytest.mark.parametrize(("text", "problems"), BAD_GOLD)
def test_malformed_gold_reported_with_file_and_line(codebook, tmp_path, text, problems):
    """Strict reading (what `accept` uses) refuses the file, listing every problem."""
    path = tmp_path / "1_acme.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_coding_file(path, codebook, strict=True)
    reported = str(info.value).splitlines()
    assert len(reported) == len(problems), reported
    for line, (lineno, words) in zip(reported, problems, strict=True):
        assert line.startswith(f"{path}:{lineno}: "), line
        assert words in line, line


@pytest.mark.parametrize(("text", "problems"), BAD_GOLD)
def test_malformed_gold_warns_and_reads_the_rest(codebook, tmp_path, text, problems):
    """Tolerant reading (parse, eval, review) reports the same lines as warnings, keeps the rest."""
    path = tmp_path / "1_acme.md"
    path.write_text(text, encoding="utf-8")
    coding = read_coding_file(path, codebook, strict=False)
    assert [w.split(": ", 1)[0] for w in coding.warnings] == [f"{path}:{n}" for n, _ in problems]
    good = parse(GOOD, codebook, "1_acme")
    assert coding.title == good.title and coding.reasoning == good.reasoning
    if "Python" in text:  # the tool line is intact: still read
        assert [t.name for t in coding.tools] == ["Python"]


def test_good_sample_is_valid(codebook):
    coding = parse(GOOD, codebook, "1_acme")
    assert coding.profile == "Core ML Engineer"
    assert [(q.category, q.text) for q in coding.quotes] == [("1.A.1", "Build services")]
    assert [(t.category, t.name) for t in coding.tools] == [("2.1", "Python")]


def test_cli_reports_bad_gold_and_still_prints_the_good_ones(tmp_path):
    bad = tmp_path / "1_bad.md"
    bad.write_text("Some notes, not a coding.\n", encoding="utf-8")
    good = tmp_path / "1_good.md"
    good.write_text(GOOD, encoding="utf-8")
    result = CliRunner().invoke(main, ["parse", str(bad), str(good)])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"autocode: {bad}: not a coding")
    assert [json.loads(ln)["ad_id"] for ln in result.stdout.splitlines()] == ["1_good"]


def test_not_utf8_gold_file(codebook, tmp_path):
    path = tmp_path / "1_latin.md"
    path.write_bytes(GOOD.replace("Acme", "Acmé").encode("latin-1"))
    with pytest.raises(InputError, match=re.escape(f"{path}: not UTF-8")):
        read_coding_file(path, codebook)


def test_render_review_notes_cannot_close_early():
    block = render_review_notes(["a --> b", "c"])
    assert block.count("-->") == 1 and block.rstrip().endswith("-->")


def test_dropped_quotes_are_read_back_from_a_drafts_review_notes(codebook):
    dropped = [
        Dropped(category="1.A.1", text='builds "agents" (and tools): with LLMs'),
        Dropped(category="3.1", text="works in a team"),
    ]
    record = CodedAd(ad_id="7_x", profile=codebook.profile_names[0], ungrounded=dropped)
    record.warnings.append("ad text truncated")
    draft = render(record, codebook, draft_model="m", review_notes=review_notes(record))
    assert dropped_in_notes(draft) == dropped
    assert dropped_in_notes(render(record, codebook)) == []  # no notes, nothing dropped
