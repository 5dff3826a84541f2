"""`autocode accept`: a corrected draft becomes gold; a draft with any problem is refused
with file:line of each problem and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.goldmd.parse import parse, read_coding_file
from pipeline.goldmd.render import GOLD_KIND, render
from pipeline.record import Quote
from pipeline.review.accept import quote_lines

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()
AD_ID = "101_lumenpath_genai"
NOTES = [
    'Fuzzy match, check the wording (1.A.1): "Build Python services"',
    'Dropped, not found in the ad (3.5): "Invent a perpetual motion machine"',
]


def draft_text() -> str:
    """The gold coding of AD_ID as `autocode code` writes a draft: draft title, notes."""
    coding = read_coding_file(REPO / "gold" / f"{AD_ID}.md", BOOK)
    return render(coding, BOOK, draft_model="sim-model", review_notes=NOTES)


@pytest.fixture
def dirs(tmp_path) -> dict[str, Path]:
    drafts, gold = tmp_path / "drafts", tmp_path / "gold"
    drafts.mkdir()
    return {"drafts": drafts, "gold": gold, "draft": drafts / f"{AD_ID}.md"}


def accept(*args) -> object:
    return CliRunner().invoke(main, ["accept", *map(str, args)])


def test_valid_draft_is_written_as_gold_without_review_notes(dirs):
    dirs["draft"].write_text(draft_text(), encoding="utf-8")
    result = accept(dirs["draft"], "--gold", dirs["gold"], "--ads", REPO / "raw")
    assert result.exit_code == 0, result.output
    written = dirs["gold"] / f"{AD_ID}.md"
    text = written.read_text(encoding="utf-8")
    assert "<!--" not in text and "review notes" not in text and "sim-model" not in text
    assert text.startswith(f"# {GOLD_KIND}: Job Ad #101")
    assert parse(text, BOOK, AD_ID) == parse(draft_text(), BOOK, AD_ID)
    assert text == (REPO / "gold" / f"{AD_ID}.md").read_text(encoding="utf-8")
    assert f"wrote {written}" in result.stderr
    assert sorted(p.name for p in dirs["gold"].iterdir()) == [f"{AD_ID}.md"]  # no temp files


def test_existing_gold_is_replaced_and_said_so(dirs):
    dirs["gold"].mkdir()
    (dirs["gold"] / f"{AD_ID}.md").write_text("old", encoding="utf-8")
    dirs["draft"].write_text(draft_text(), encoding="utf-8")
    result = accept(dirs["draft"], "--gold", dirs["gold"])
    assert result.exit_code == 0, result.output
    assert "replaced" in result.stderr
    assert (dirs["gold"] / f"{AD_ID}.md").read_text().startswith("# Manual Coding")


def edit(old: str, new: str):
    def apply(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return apply


PROFILE_LINE = "- **Assigned Profile:** `Core GenAI Engineer`"
BAD_QUOTE = '  - "Invent a perpetual motion machine for us"'


@pytest.mark.parametrize(
    ("change", "bad_line", "message", "with_ads"),
    [
        (
            edit("- **1.A.1. Software", "- **9.Z.9. Software"),
            "- **9.Z.9. Software",
            "category '9.Z.9' is not in the codebook",
            False,
        ),
        (
            edit("`Core GenAI Engineer`", "`Astronaut`"),
            "- **Assigned Profile:** `Astronaut`",
            "profile 'Astronaut' is not in the codebook",
            False,
        ),
        (edit(PROFILE_LINE + "\n", ""), "## 1. Job Task Analysis", "no profile", False),
        (
            edit("- **1.A.2.", "this line is not a coding\n- **1.A.2."),
            "this line is not",
            "cannot understand this line",
            False,
        ),
        (
            edit('  - "Write and iterate on prompts"', BAD_QUOTE),
            BAD_QUOTE,
            "quote not found in the ad",
            True,
        ),
        (
            edit('  - "room to experiment with new models"', BAD_QUOTE),
            BAD_QUOTE,
            "quote not found in the ad",
            True,
        ),
    ],
    ids=[
        "unknown-category",
        "unknown-profile",
        "no-profile",
        "unreadable-line",
        "ungrounded-quote",
        "ungrounded-last-quote",
    ],
)
def test_invalid_draft_is_refused_with_file_and_line(dirs, change, bad_line, message, with_ads):
    text = change(draft_text())
    dirs["draft"].write_text(text, encoding="utf-8")
    lineno = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(bad_line))
    args = ["--ads", REPO / "raw"] if with_ads else []
    result = accept(dirs["draft"], "--gold", dirs["gold"], *args)
    assert result.exit_code == 2, result.output
    assert f"{dirs['draft']}:{lineno}: " in result.stderr
    problem = next(ln for ln in result.stderr.splitlines() if f":{lineno}: " in ln)
    assert message in problem
    assert "nothing written" in result.stderr
    assert not dirs["gold"].exists()


def test_ungrounded_quote_passes_without_ads(dirs):
    """Quotes are checked against the ad only when --ads is given."""
    dirs["draft"].write_text(edit('  - "Write and iterate on prompts"', BAD_QUOTE)(draft_text()))
    assert accept(dirs["draft"], "--gold", dirs["gold"]).exit_code == 0


def test_one_bad_draft_stops_every_draft(dirs):
    good = dirs["drafts"] / "good" / f"{AD_ID}.md"
    good.parent.mkdir()
    good.write_text(draft_text(), encoding="utf-8")
    bad = dirs["drafts"] / "102_groenhaven_forecast.md"
    bad.write_text("# Draft\n\n## 1. Job Task Analysis\n\nnonsense\n", encoding="utf-8")
    result = accept(good, bad, "--gold", dirs["gold"])
    assert result.exit_code == 2
    assert f"{bad}:5: " in result.stderr and not dirs["gold"].exists()


def test_draft_without_its_ad_is_refused_when_ads_are_given(dirs, tmp_path):
    dirs["draft"].write_text(draft_text(), encoding="utf-8")
    (tmp_path / "empty_ads").mkdir()
    result = accept(dirs["draft"], "--gold", dirs["gold"], "--ads", tmp_path / "empty_ads")
    assert result.exit_code == 2
    assert f"no ad '{AD_ID}'" in result.stderr and not dirs["gold"].exists()


def test_fuzzy_quote_is_accepted_with_a_warning(dirs):
    fuzzy = '  - "Clean, chunk and index document collections so retrieval stays fast and acurate"'
    text = draft_text().replace(
        '"Clean, chunk and index document collections so retrieval stays fast and accurate"',
        '"Clean, chunk and index document collections so retrieval stays fast and acurate"',
    )
    dirs["draft"].write_text(text, encoding="utf-8")
    lineno = text.splitlines().index(fuzzy) + 1
    result = accept(dirs["draft"], "--gold", dirs["gold"], "--ads", REPO / "raw")
    assert result.exit_code == 0, result.output
    assert f"{dirs['draft']}:{lineno}: 1.B.3: quote only approximately" in result.stderr


def test_ads_as_a_jsonl_file(dirs, tmp_path):
    import json

    ads = tmp_path / "ads.jsonl"
    text = (REPO / "raw" / f"{AD_ID}.txt").read_text(encoding="utf-8")
    ads.write_text(json.dumps({"id": AD_ID, "body": text}) + "\n", encoding="utf-8")
    dirs["draft"].write_text(draft_text(), encoding="utf-8")
    result = accept(dirs["draft"], "--gold", dirs["gold"], "--ads", ads, "--text-field", "body")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("lines", "texts", "expected"),
    [
        (["- **1:**", '  - "abc"', "- **2:**", '  - "abc"'], ["abc", "abc"], [2, 4]),
        (['  - "x"', '<!-- - "y" -->', '  - "y"'], ["x", "y"], [1, 3]),
        (['  - "a  b"'], ["a b"], [1]),
        (["  - “typographic”"], ["typographic"], [1]),
        (['  - "a"'], ["missing"], [1]),
    ],
    ids=["same-passage-twice", "not-in-a-comment", "whitespace", "typographic-mark", "absent"],
)
def test_quote_lines(lines, texts, expected):
    quotes = [Quote(category="c", text=t) for t in texts]
    assert quote_lines(lines, quotes) == expected
