"""Consensus of several codings of one ad, pinned on hand-built codings of a sample ad."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codings.consensus import consensus, strict_majority
from pipeline.goldmd.parse import parse
from pipeline.goldmd.render import consensus_notes, render
from pipeline.record import Coding, Quote, Tool

REPO = Path(__file__).resolve().parents[1]
AD_ID = "101_lumenpath_genai"
AD_TEXT = (REPO / "raw" / f"{AD_ID}.txt").read_text(encoding="utf-8")

RAG = (
    "Design and build retrieval-augmented generation (RAG) pipelines over millions of legal "
    "documents"
)
RAG_SHORT = "build retrieval-augmented generation (RAG) pipelines"  # inside RAG
TAIL = "over millions of legal documents"  # the end of RAG: 32 characters
PROMPTS = "Write and iterate on prompts"
DEPLOY = "Deploy and monitor your services on Azure, keeping latency and token costs under control"


def coding(*quotes: tuple[str, str], tools=(), profile=None, reasoning=None) -> Coding:
    return Coding(
        ad_id=AD_ID,
        profile=profile,
        reasoning=reasoning,
        quotes=[Quote(category=c, text=t) for c, t in quotes],
        tools=[Tool(category=c, name=n) for c, n in tools],
    )


def quotes_of(merged: Coding) -> list[tuple[str, str, int]]:
    return [(q.category, q.text, q.support) for q in merged.quotes]


@pytest.fixture
def cats(codebook):
    quotes, tools = codebook.ids_of_kind("quotes"), codebook.ids_of_kind("tools")
    return {"a": quotes[0], "b": quotes[1], "tool": tools[0], "tool2": tools[1]}


def test_overlapping_spans_merge_into_one_entry(codebook, cats):
    a = cats["a"]
    merged = consensus(
        [coding((a, RAG)), coding((a, RAG_SHORT)), coding((a, RAG_SHORT))],
        codebook,
        ad_text=AD_TEXT,
    )
    # one entry, supported by all three; the wording two of them chose
    assert quotes_of(merged) == [(a, RAG_SHORT, 3)]
    assert merged.n_codings == 3
    assert merged.agreement == 1.0


@pytest.mark.parametrize(
    ("other", "merges"),
    [
        # shares "over millions of legal" (22 characters) with TAIL: more than half of 32
        pytest.param("(RAG) pipelines over millions of legal", True, id="overlap-above-half"),
        # shares "over millions" (13 characters): less than half of the shorter (29)
        pytest.param("(RAG) pipelines over millions", False, id="overlap-below-half"),
        pytest.param(RAG_SHORT, False, id="disjoint"),
    ],
)
def test_partial_overlap_rule(codebook, cats, other, merges):
    a = cats["a"]
    merged = consensus(
        [coding((a, other)), coding((a, TAIL))], codebook, min_support=1, ad_text=AD_TEXT
    )
    if merges:  # one vote each: the shorter passage is the entry's text
        assert quotes_of(merged) == [(a, TAIL, 2)]
        assert merged.agreement == 1.0
    else:
        assert quotes_of(merged) == [(a, other, 1), (a, TAIL, 1)]
        assert merged.agreement == 0.5


def test_a_coding_supports_an_entry_once(codebook, cats):
    a = cats["a"]
    # the second coding split the passage in two: one part joins the entry, one stands alone
    merged = consensus(
        [coding((a, RAG)), coding((a, RAG_SHORT), (a, TAIL))],
        codebook,
        min_support=1,
        ad_text=AD_TEXT,
    )
    assert sorted(q[2] for q in quotes_of(merged)) == [1, 2]
    assert len(merged.quotes) == 2


def test_overlap_without_ad_text_uses_word_runs(codebook, cats):
    a = cats["a"]
    merged = consensus([coding((a, RAG)), coding((a, RAG_SHORT))], codebook)
    assert quotes_of(merged) == [(a, RAG_SHORT, 2)]  # tie of one vote each: the shorter


@pytest.mark.parametrize(
    ("min_support", "expected"),
    [
        pytest.param(1, {RAG, PROMPTS, DEPLOY}, id="union"),
        pytest.param(None, {RAG, PROMPTS}, id="majority-default"),
        pytest.param(3, {RAG}, id="intersection"),
    ],
)
def test_min_support(codebook, cats, min_support, expected):
    a = cats["a"]
    codings = [
        coding((a, RAG), (a, PROMPTS), (a, DEPLOY)),
        coding((a, RAG), (a, PROMPTS)),
        coding((a, RAG)),
    ]
    merged = consensus(codings, codebook, min_support=min_support, ad_text=AD_TEXT)
    assert {q.text for q in merged.quotes} == expected
    full = {RAG: 3, PROMPTS: 2, DEPLOY: 1}
    assert {q.text: q.support for q in merged.quotes} == {t: full[t] for t in expected}
    # entries 3+2+1 = 6; mean support (3*3 + 2*2 + 1*1) / 6 over 3 codings
    assert merged.agreement == pytest.approx(14 / 18)


def test_strict_majority():
    assert [strict_majority(k) for k in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_profile_tie_goes_to_codebook_order_and_is_flagged(codebook):
    first, second, third = codebook.profile_names[:3]
    codings = [
        coding(profile=second, reasoning="two"),
        coding(profile=first, reasoning="one"),
        coding(profile=third),
    ]
    merged = consensus(codings, codebook)
    assert merged.profile == first
    assert merged.reasoning == "one"  # the reasoning of a coding that chose it
    assert merged.profile_support == 1
    assert merged.profile_tie == [first, second, third]
    assert consensus_notes(merged) == [
        "Profile chosen by 1 of 3 codings",
        f"Profile tie between {first}, {second}, {third}: the first in the codebook is kept",
    ]


def test_profile_plurality_without_tie(codebook):
    first, second = codebook.profile_names[:2]
    merged = consensus(
        [coding(profile=second), coding(profile=first), coding(profile=second), coding()], codebook
    )
    assert (merged.profile, merged.profile_support) == (second, 2)
    assert merged.profile_tie is None


def test_tools_differing_only_by_case_are_one_entry(codebook, cats):
    t, t2 = cats["tool"], cats["tool2"]
    codings = [
        coding(tools=[(t, "LangChain")]),
        coding(tools=[(t, "langchain")]),
        coding(tools=[(t, "LANGCHAIN"), (t2, "langchain")]),
    ]
    merged = consensus(codings, codebook, ad_text=AD_TEXT)
    assert [(x.category, x.name, x.support) for x in merged.tools] == [
        (t, "LangChain", 3)
    ]  # three wordings, one vote each: equal length, so the first


def test_passage_under_two_categories_is_two_entries(codebook, cats):
    a, b = cats["a"], cats["b"]
    codings = [coding((a, PROMPTS), (b, PROMPTS)), coding((a, PROMPTS)), coding((b, PROMPTS))]
    merged = consensus(codings, codebook, ad_text=AD_TEXT)
    assert quotes_of(merged) == [(a, PROMPTS, 2), (b, PROMPTS, 2)]


def test_identical_codings_agree_fully_and_keep_everything(codebook, cats):
    one = coding(
        (cats["a"], RAG), tools=[(cats["tool"], "Azure")], profile=codebook.profile_names[0]
    )
    merged = consensus([one, one.model_copy(deep=True)], codebook, ad_text=AD_TEXT)
    assert merged.agreement == 1.0
    assert merged.profile_support == 2
    assert quotes_of(merged) == [(cats["a"], RAG, 2)]
    assert consensus_notes(merged) == []


def test_no_entries_at_all_is_full_agreement(codebook):
    merged = consensus([coding(), coding()], codebook)
    assert (merged.quotes, merged.tools, merged.profile) == ([], [], None)
    assert merged.agreement == 1.0


@pytest.mark.parametrize(
    ("codings", "kwargs", "message"),
    [
        pytest.param([], {}, "at least one", id="none"),
        pytest.param([Coding(ad_id="x"), Coding(ad_id="y")], {}, "of one ad", id="two-ads"),
        pytest.param([Coding(ad_id="x")], {"min_support": 0}, "at least 1", id="zero-support"),
    ],
)
def test_bad_calls(codebook, codings, kwargs, message):
    with pytest.raises(ValueError, match=message):
        consensus(codings, codebook, **kwargs)


# ------------------------------------------------------------------ the draft format


def test_draft_shows_support_below_full_and_parses_it_back(codebook, cats):
    a, t = cats["a"], cats["tool"]
    codings = [
        coding((a, RAG), (a, PROMPTS), tools=[(t, "Azure")]),
        coding((a, RAG), tools=[(t, "Azure")]),
        coding((a, RAG), (a, PROMPTS)),
    ]
    merged = consensus(codings, codebook, ad_text=AD_TEXT)
    text = render(merged, codebook, draft_model="test-model")
    assert f'  - "{PROMPTS}" (support 2/3)' in text.splitlines()
    assert f'  - "{RAG}"' in text.splitlines()  # full support: no mark
    assert "  - `Azure` (support 2/3)" in text.splitlines()
    parsed = parse(text, codebook, AD_ID)
    assert parsed.n_codings == 3
    assert quotes_of(parsed) == quotes_of(merged)
    assert [x.support for x in parsed.tools] == [2]
    assert render(parsed, codebook, draft_model="test-model") == text


def test_support_mark_after_a_note(codebook, cats):
    a = cats["a"]
    text = render(
        Coding(
            ad_id=AD_ID,
            n_codings=3,
            quotes=[Quote(category=a, text=PROMPTS, note="a (nested) note", support=1)],
        ),
        codebook,
    )
    assert f'  - "{PROMPTS}" (a (nested) note) (support 1/3)' in text.splitlines()
    quote = parse(text, codebook, AD_ID).quotes[0]
    assert (quote.text, quote.note, quote.support) == (PROMPTS, "a (nested) note", 1)


def test_gold_files_carry_no_support(codebook):
    for path in sorted((REPO / "gold").glob("*.md")):
        coding_ = parse(path.read_text(encoding="utf-8"), codebook, path.stem)
        assert coding_.n_codings is None
        assert all(q.support is None for q in coding_.quotes)


def test_accepted_consensus_draft_becomes_gold_without_support(codebook, cats, tmp_path):
    a = cats["a"]
    profile = codebook.profile_names[0]
    codings = [coding((a, RAG), (a, PROMPTS), profile=profile), coding((a, RAG), profile=profile)]
    merged = consensus(codings, codebook, min_support=1, ad_text=AD_TEXT)
    draft = tmp_path / f"{AD_ID}.md"
    draft.write_text(render(merged, codebook, draft_model="m"), encoding="utf-8")
    assert "(support 1/2)" in draft.read_text()
    args = ["accept", str(draft), "--gold", str(tmp_path / "gold"), "--ads", str(REPO / "raw")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    gold = (tmp_path / "gold" / f"{AD_ID}.md").read_text(encoding="utf-8")
    assert "support" not in gold and "Consensus of" not in gold
    assert f'  - "{PROMPTS}"' in gold.splitlines()
