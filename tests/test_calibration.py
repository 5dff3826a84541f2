"""The calibration section of the eval report: counts per category agree with the codings,
passages are listed, missing sides and undefined ratios are handled, Markdown shows it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from test_evaluate import BOOK, load_dir, needs_dev, perturb

from pipeline.evaluation.render import calibration_markdown
from pipeline.evaluation.scores import evaluate
from pipeline.record import Coding, Quote, Tool


def entry_counts(codings: list[Coding]) -> Counter:
    return Counter(q.category for c in codings for q in c.quotes) + Counter(
        t.category for c in codings for t in c.tools
    )


def test_calibration_counts_equal_the_entry_counts_of_a_perturbed_fixture():
    dev = needs_dev()
    gold = load_dir(dev / "gold")
    pred = perturb(gold)
    cal = evaluate(gold, pred, BOOK)["calibration"]
    gold_counts, pred_counts = entry_counts(gold), entry_counts(pred)
    for cat_id, row in cal["per_category"].items():
        assert (row["gold_entries"], row["pred_entries"]) == (
            gold_counts[cat_id],
            pred_counts[cat_id],
        ), cat_id
    assert set(cal["per_category"]) == set(BOOK.categories)
    # the two dropped 1.A.2 quotes are listed as missed, the moved one as spurious in 1.B.2
    assert len(cal["per_category"]["1.A.2"]["missed"]) == 3
    assert cal["per_category"]["1.B.2"]["spurious"] == [
        "Guide our upcoming transition to the cloud"
    ]
    assert cal["per_category"]["2.7"]["spurious"] == ["RuleSpeak"]
    assert {"category": "2.9", "name": BOOK.categories["2.9"].name, "difference": 1} in cal["gaps"][
        "under_coded"
    ]
    assert cal["profile"]["ads"][0]["ad_id"] == "769_klm"
    assert cal["profile"]["disagreements"] == [
        {"gold": "Core GenAI Engineer", "pred": "Core ML Engineer", "ads": 1}
    ]


def coding(ad_id: str, quotes=(), tools=(), profile=None, reasoning=None) -> Coding:
    return Coding(
        ad_id=ad_id,
        profile=profile,
        reasoning=reasoning,
        quotes=[Quote(category=c, text=t) for c, t in quotes],
        tools=[Tool(category=c, name=n) for c, n in tools],
    )


def test_missing_sides_and_categories_no_one_coded():
    gold = [coding("a", [("1.A.1", "Build APIs for our product")], [("2.1", "Python")])]
    pred = [coding("a", [("3.1", "Work in a team")], [("2.1", "python"), ("2.5", "FAISS")])]
    cal = evaluate(gold, pred, BOOK)["calibration"]
    rows = cal["per_category"]
    assert rows["1.A.1"] | {"missed": None} == {
        "name": BOOK.categories["1.A.1"].name,
        "gold_entries": 1,
        "pred_entries": 0,
        "ratio": 0.0,
        "precision": None,
        "recall": 0.0,
        "missed": None,
        "spurious": [],
    }
    assert rows["3.1"]["ratio"] is None and rows["3.1"]["precision"] == 0.0
    assert rows["2.1"]["precision"] == 1.0  # tools match by normalised name
    assert rows["1.B.3"] == {
        "name": BOOK.categories["1.B.3"].name,
        "gold_entries": 0,
        "pred_entries": 0,
        "ratio": None,
        "precision": None,
        "recall": None,
        "missed": [],
        "spurious": [],
    }
    assert cal["quote_length"]["overall"] == {
        "matched": 0,
        "gold_median": None,
        "pred_median": None,
    }
    assert cal["profile"] == {"disagreements": [], "ads": []}


@pytest.mark.parametrize("n_passages", [3, 8])
def test_passages_are_capped_at_five_and_lengths_are_medians(n_passages):
    gold = [coding("a", [("1.A.1", f"Build service number {i} in Go") for i in range(n_passages)])]
    pred = [coding("a", [("1.A.1", "Build service number 0 in Go for our clients")])]
    cal = evaluate(gold, pred, BOOK)["calibration"]
    assert len(cal["per_category"]["1.A.1"]["missed"]) == min(5, n_passages - 1)
    lengths = cal["quote_length"]["per_category"]["1.A.1"]
    gold_text, pred_text = gold[0].quotes[0].text, pred[0].quotes[0].text
    assert lengths == {"matched": 1, "gold_median": len(gold_text), "pred_median": len(pred_text)}


def test_markdown_section_shows_gaps_rows_and_both_reasonings():
    gold = [
        coding("a", [("1.A.1", "Build APIs")], profile="Software Engineer", reasoning="Only A.")
    ]
    pred = [coding("a", [("3.1", "Team | player")], profile="Not Relevant", reasoning="Sales.")]
    text = "\n".join(calibration_markdown(evaluate(gold, pred, BOOK)["calibration"]))
    assert "## Where the model and the coder part ways" in text
    assert "coded more often than the coder: 3.1" in text
    assert "coded less often than the coder: 1.A.1" in text and "(-1)" in text
    assert "“Team \\| player”" in text  # a pipe cannot break the table
    assert "- coder: Only A." in text and "- model: Sales." in text


def test_the_tools_listed_do_not_depend_on_the_hash_seed():
    # more spurious tools than are listed: which ones are shown must not vary between runs
    script = (
        "from pipeline.codebook import load_codebook\n"
        "from pipeline.evaluation.scores import evaluate\n"
        "from pipeline.record import Coding, Tool\n"
        "book = load_codebook(None)\n"
        "cat = book.ids_of_kind('tools')[0]\n"
        "tools = [Tool(category=cat, name=f'tool {i}') for i in range(12)]\n"
        "pred = Coding(ad_id='a', tools=tools)\n"
        "print(evaluate([Coding(ad_id='a')], [pred], book)['calibration'])\n"
    )
    shown = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(shown) == 1
