"""`autocode agree`: reliability among k coders, checked against the reference packages and
hand-worked published examples."""

from __future__ import annotations

from pathlib import Path

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from pipeline.codebook import load_codebook
from pipeline.codings.load import CodingSet
from pipeline.evaluation.measures import fleiss_kappa, nominal_alpha
from pipeline.evaluation.reliability import agree
from pipeline.evaluation.scores import evaluate
from pipeline.goldmd.parse import read_coding_file
from pipeline.record import Coding, Quote

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()
NAN = np.nan


def gold() -> list[Coding]:
    return [read_coding_file(p, BOOK) for p in sorted((REPO / "gold").glob("*.md"))]


def texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in (REPO / "raw").glob("*.txt")}


@pytest.fixture(scope="module")
def coders() -> list[tuple[str, list[Coding]]]:
    """Three coders of the project's gold ads: the gold itself; a second coder who drops
    every ad's first quote and sees another profile in one ad; a third who did not code
    one ad and codes one more category in another."""
    first = gold()
    second = [c.model_copy(deep=True) for c in first]
    for c in second:
        c.quotes = c.quotes[1:]
    second[0].profile = BOOK.profile_names[-1]
    third = [c.model_copy(deep=True) for c in first[1:]]
    extra = next(
        cat
        for cat in BOOK.ids_of_kind("quotes")
        if cat not in {q.category for q in third[0].quotes}
    )
    third[0].quotes.append(Quote(category=extra, text="an added passage"))
    return [CodingSet("gold", first), CodingSet("second", second), CodingSet("third", third)]


def reliability_data(sets, ads: list[str], categories: list[str]) -> np.ndarray:
    """coders x (ad, category) units, written out independently of autocode's reliability module."""
    rows = []
    for codings in (cset.codings for cset in sets):
        by_id = {c.ad_id: c for c in codings}
        row = []
        for ad_id in ads:
            coded = (
                {e.category for e in [*by_id[ad_id].quotes, *by_id[ad_id].tools]}
                if ad_id in by_id
                else None
            )
            row += [NAN if coded is None else float(cat in coded) for cat in categories]
        rows.append(row)
    return np.array(rows)


def test_report_keys(coders):
    report = agree(coders, BOOK, texts())
    assert set(report) >= {"coders", "ads", "presence", "profile", "pairwise"}
    assert report["coders"] == ["gold", "second", "third"]
    assert report["ads"] == sorted(c.ad_id for c in gold())
    assert set(report["presence"]) == {"alpha", "per_category"}
    assert set(report["profile"]) == {"fleiss_kappa", "n"}
    assert [(p["a"], p["b"]) for p in report["pairwise"]] == [
        ("gold", "second"),
        ("gold", "third"),
        ("second", "third"),
    ]
    assert all(
        {"a", "b", "quote_partial_f1", "profile_agreement"} <= set(p) for p in report["pairwise"]
    )


def test_presence_alpha_agrees_with_krippendorff(coders):
    report = agree(coders, BOOK)
    categories = list(BOOK.categories)
    data = reliability_data(coders, report["ads"], categories)
    assert np.isnan(data).any()  # the third coder's missing ad is missing, not absent
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert report["presence"]["alpha"] == pytest.approx(expected)
    for i, cat in enumerate(categories):
        column = data[:, i :: len(categories)]
        values = set(column[~np.isnan(column)])
        got = report["presence"]["per_category"][cat]["alpha"]
        if len(values) < 2:
            assert got is None, cat  # one value everywhere: alpha is undefined
        else:
            want = krippendorff.alpha(reliability_data=column, level_of_measurement="nominal")
            assert got == pytest.approx(want), cat


def test_profile_fleiss_kappa_agrees_with_statsmodels(coders):
    report = agree(coders, BOOK)
    by_coder = [{c.ad_id: c.profile for c in cset.codings} for cset in coders]
    rated = [[p[ad] for p in by_coder] for ad in report["ads"] if all(p.get(ad) for p in by_coder)]
    table, _ = aggregate_raters(np.array(rated))
    assert report["profile"]["n"] == len(rated) == 5  # the ad the third coder left out
    assert report["profile"]["fleiss_kappa"] == pytest.approx(statsmodels_fleiss(table))


def test_pairwise_agrees_with_eval(coders):
    report = agree(coders, BOOK, texts())
    pair = next(p for p in report["pairwise"] if (p["a"], p["b"]) == ("gold", "second"))
    scored = evaluate(coders[0].codings, coders[1].codings, BOOK, texts())
    assert pair["quote_partial_f1"] == pytest.approx(scored["quotes"]["partial"]["f1"])
    assert pair["profile_agreement"] == pytest.approx(scored["profile"]["accuracy"])
    assert pair["n_ads"] == 6
    assert next(p for p in report["pairwise"] if p["b"] == "third")["n_ads"] == 5


def test_identical_coders_agree_perfectly():
    sets = [CodingSet("a", gold()), CodingSet("b", gold())]
    report = agree(sets, BOOK, texts())
    assert report["presence"]["alpha"] == 1.0
    assert report["profile"]["fleiss_kappa"] == 1.0
    assert report["pairwise"][0]["quote_partial_f1"] == 1.0
    assert report["pairwise"][0]["profile_agreement"] == 1.0


# -------------------------------------------------- published, hand-worked examples


def test_nominal_alpha_of_krippendorffs_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C:
    # 4 observers, 12 units, missing values; nominal alpha = 0.743
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
            [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
        ]
    )
    assert nominal_alpha(data) == pytest.approx(0.743, abs=5e-4)


# Fleiss (1971) as worked in the Wikipedia article "Fleiss' kappa": 10 subjects,
# 14 raters, 5 categories; kappa = 0.210
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_of_the_worked_example():
    ratings = [[f"c{j}" for j, n in enumerate(row) for _ in range(n)] for row in FLEISS_TABLE]
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(ratings) == pytest.approx(statsmodels_fleiss(np.array(FLEISS_TABLE)))


@pytest.mark.parametrize(
    ("ratings", "expected"),
    [
        pytest.param([], None, id="no-items"),
        pytest.param([["x", "x"], ["x", "x"]], None, id="one-value"),
        pytest.param([["x", "y"], ["y", "x"]], -1.0, id="always-disagree"),
    ],
)
def test_fleiss_kappa_edges(ratings, expected):
    assert fleiss_kappa(ratings) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param([[1, 1], [1, 1]], None, id="one-value"),
        pytest.param([[1, 0, NAN], [NAN, NAN, 1]], None, id="nothing-pairable"),
    ],
)
def test_nominal_alpha_undefined(data, expected):
    assert nominal_alpha(np.array(data, dtype=float)) is expected


def test_needs_two_sets_and_unique_ids():
    with pytest.raises(ValueError, match="at least two"):
        agree([CodingSet("a", gold())], BOOK)
    with pytest.raises(ValueError, match="more than once"):
        agree([CodingSet("a", gold()), CodingSet("b", gold() + gold()[:1])], BOOK)
