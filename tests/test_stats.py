"""`autocode stats`, the statistics and the tables: each pinned on hand-worked numbers."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from stats_corpus import corpus

from pipeline.errors import InputError
from pipeline.evaluation.render import write_json
from pipeline.evaluation.scores import evaluate
from pipeline.record import Coding, Quote
from pipeline.stats.estimators import (
    Validation,
    cooccurrence,
    corrected_interval,
    independence,
    paired_comparison,
    phi,
    rank_biserial,
    rogan_gladen,
    wilson,
)
from pipeline.stats.inputs import CodingSource, StatsInput, read_validation
from pipeline.stats.report import build_report

# ------------------------------------------------------------------ Wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (2, 4, 0.1500, 0.8500),
    ],
    ids=["81of263", "15of148", "0of20", "1of29", "2of4"],
)
def test_wilson_matches_newcombes_worked_examples(k, n, low, high):
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score interval)
    got = wilson(k, n)
    assert got == pytest.approx((low, high), abs=5e-5)
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert got == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_of_no_ads_is_undefined():
    assert wilson(0, 0) == (None, None)


# ------------------------------------------------------------------ Wilcoxon, rank-biserial


def test_wilcoxon_all_positive_differences():
    # five positive differences: W- = 0, exact two-sided p = 2 / 2^5
    cmp = paired_comparison([1, 2, 3, 4, 5], [0, 0, 0, 0, 0])
    assert (cmp.statistic, cmp.p_value, cmp.rank_biserial) == (0.0, 0.0625, 1.0)
    assert (cmp.a_greater, cmp.b_greater, cmp.ties) == (5, 0, 0)


def test_wilcoxon_drops_zero_differences():
    # differences 1, -2, 3, 0, 4, 0: ranks 1..4, R+ = 8, R- = 2, so W = 2 and r = 6/10;
    # P(W- <= 2) over the 16 sign patterns is 3/16, two-sided 6/16
    cmp = paired_comparison([1, 0, 3, 0, 5, 2], [0, 2, 0, 0, 1, 2])
    assert cmp.statistic == 2.0
    assert cmp.p_value == pytest.approx(0.375)
    assert cmp.rank_biserial == pytest.approx(0.6)
    assert (cmp.n, cmp.a_greater, cmp.b_greater, cmp.ties) == (6, 3, 1, 2)


def test_wilcoxon_with_nothing_to_compare_is_undefined():
    cmp = paired_comparison([1, 2], [1, 2])
    assert (cmp.statistic, cmp.p_value, cmp.rank_biserial, cmp.ties) == (None, None, None, 2)


@pytest.mark.parametrize(
    ("diffs", "expected"),
    [([1, 1, -1, 0], 1 / 3), ([-1, -2], -1.0), ([2, -2], 0.0), ([0, 0], None)],
    ids=["tied-ranks", "all-negative", "balanced", "all-zero"],
)
def test_rank_biserial(diffs, expected):
    assert rank_biserial(diffs) == (None if expected is None else pytest.approx(expected))


# ------------------------------------------------------------------ chi-square, V, phi, Fisher


def test_chi_square_of_a_2x2_by_hand():
    # expected 12, 18, 28, 42: chi2 = 4/12 + 4/18 + 4/28 + 4/42 = 50/63
    test = independence([[10, 20], [30, 40]])
    assert test.chi2 == pytest.approx(50 / 63)
    assert test.dof == 1
    assert test.p_value == pytest.approx(math.erfc(math.sqrt(50 / 63 / 2)))  # chi2(1) tail
    assert test.cramers_v == pytest.approx(math.sqrt(50 / 63 / 100))
    assert test.cramers_v == pytest.approx(abs(phi(10, 20, 30, 40)))
    assert (test.min_expected, test.low_expected_cells, test.fisher_p) == (12.0, 0, None)


def test_chi_square_of_a_3x2_by_hand():
    # expected 14/6, 14/6, 7/3: chi2 = 100/7, V = sqrt(chi2 / 50); one cell expects 3 (< 5)
    test = independence([[10, 10], [20, 0], [5, 5]])
    assert test.chi2 == pytest.approx(100 / 7)
    assert test.dof == 2
    assert test.p_value == pytest.approx(math.exp(-100 / 7 / 2))  # chi2(2) tail
    assert test.cramers_v == pytest.approx(math.sqrt(2 / 7))
    assert (test.low_expected_cells, test.fisher_p) == (1, None)  # Fisher: 2 x 2 only


def test_fisher_exact_for_a_sparse_2x2():
    # hypergeometric, margins 5/5 and 4/6: P(k) = 6, 60, 120, 60, 6 over 252 for k = 0..4;
    # observed k = 1, two-sided p = (6 + 60 + 60 + 6) / 252
    test = independence([[1, 4], [3, 2]])
    assert test.low_expected_cells == 4 and test.min_expected == 2.0
    assert test.fisher_p == pytest.approx(132 / 252)


@pytest.mark.parametrize(
    "table",
    [[[3, 0], [5, 0]], [[0, 0], [2, 3]], [[4, 1]], []],
    ids=["column-all-zero", "one-row-left", "one-row", "empty"],
)
def test_independence_with_nothing_to_test_is_undefined(table):
    test = independence(table)
    assert (test.chi2, test.p_value, test.cramers_v) == (None, None, None)


def test_phi_by_hand():
    # (10*40 - 20*30) / sqrt(30 * 70 * 40 * 60)
    assert phi(10, 20, 30, 40) == pytest.approx(-200 / math.sqrt(30 * 70 * 40 * 60))
    assert phi(3, 0, 0, 5) == 1.0 and phi(0, 3, 5, 0) == -1.0
    assert phi(3, 2, 0, 0) is None  # the second item is always present


def test_cooccurrence_counts_and_phi_agree_with_the_2x2_formula():
    x = np.array([[1, 1, 0, 1], [1, 0, 0, 1], [0, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 1]])
    both, phis = cooccurrence(x)
    assert both.tolist() == (x.T @ x).tolist()
    for i in range(3):
        for j in range(3):
            a, b = x[:, i] == 1, x[:, j] == 1
            cells = [
                int((a & b).sum()),
                int((a & ~b).sum()),
                int((~a & b).sum()),
                int((~a & ~b).sum()),
            ]
            assert phis[i, j] == pytest.approx(phi(*cells))
    assert np.isnan(phis[3]).all()  # coded in every ad: phi is undefined


# ------------------------------------------------------------------ Rogan-Gladen


@pytest.mark.parametrize(
    ("apparent", "se", "sp", "expected"),
    [
        (0.30, 0.90, 0.95, 5 / 17),
        (0.02, 0.90, 0.95, 0.0),
        (0.99, 0.90, 0.95, 1.0),
        (0.50, 0.80, 1.00, 0.625),
        (0.40, 0.50, 0.50, None),
        (0.40, 0.30, 0.60, None),
    ],
    ids=["worked", "clipped-low", "clipped-high", "perfect-specificity", "chance", "worse"],
)
def test_rogan_gladen(apparent, se, sp, expected):
    # worked: (0.30 + 0.95 - 1) / (0.90 + 0.95 - 1) = 0.25 / 0.85 = 5/17
    got = rogan_gladen(apparent, se, sp)
    assert got == (None if expected is None else pytest.approx(expected))


def test_corrected_interval_carries_the_validation_samples_uncertainty():
    # 60 of 200 ads coded; validation 18/20 gold positives found, 19/20 negatives right
    small = Validation(tp=18, fn=2, fp=1, tn=19)
    large = Validation(tp=1800, fn=200, fp=100, tn=1900)
    lo_s, hi_s = corrected_interval(60, 200, small)
    lo_l, hi_l = corrected_interval(60, 200, large)
    assert 0 <= lo_s < 5 / 17 < hi_s <= 1 and lo_l < 5 / 17 < hi_l
    assert hi_s - lo_s > hi_l - lo_l  # a smaller validation sample, a wider interval
    # with the validation's error known almost exactly, only the corpus count is left
    wl, wh = wilson(60, 200)
    assert hi_l - lo_l == pytest.approx((wh - wl) / 0.85, rel=0.25)
    assert corrected_interval(60, 200, small) == (lo_s, hi_s)  # seeded: reproducible


def test_corrected_interval_of_a_chance_level_coder_is_undefined():
    assert corrected_interval(60, 200, Validation(tp=5, fn=5, fp=5, tn=5)) == (None, None)


# ------------------------------------------------------------------ the eval report


def _coding(ad_id: str, cats: list[str], profile: str | None = None) -> Coding:
    return Coding(
        ad_id=ad_id,
        profile=profile,
        quotes=[Quote(category=c, text=f"passage {i}") for i, c in enumerate(cats)],
    )


def test_validation_is_read_back_from_an_eval_json_report(tmp_path, codebook):
    a, b, c = codebook.ids_of_kind("quotes")[:3]
    # category a: gold in ads 0-4; the prediction finds 4 of them, and one false alarm;
    # b is coded wherever a is not, on both sides; c nowhere
    gold = [_coding(f"v{i}", [a] if i < 5 else [b]) for i in range(10)]
    pred = [_coding(f"v{i}", [a] if i in (0, 1, 2, 3, 7) else [b]) for i in range(10)]
    path = tmp_path / "eval.json"
    write_json(evaluate(gold, pred, codebook), path)
    validation = read_validation(path, codebook)
    assert validation[a] == Validation(tp=4, fn=1, fp=1, tn=4)
    assert validation[b] == Validation(tp=4, fn=1, fp=1, tn=4)
    assert validation[c] == Validation(tp=0, fn=0, fp=0, tn=10)
    assert set(validation) == set(codebook.categories)


def test_an_eval_report_without_presence_cells_asks_for_a_new_one(tmp_path, codebook):
    path = tmp_path / "eval.json"
    report = evaluate([_coding("g", [])], [_coding("g", [])], codebook)
    a = codebook.ids_of_kind("quotes")[0]
    del report["presence"]["per_category"][a]["cells"]  # as autocode wrote it before the cells
    write_json(report, path)
    with pytest.raises(InputError, match=rf"per_category\.{re.escape(a)}\.cells: needs counts"):
        read_validation(path, codebook)


def test_an_eval_report_with_no_paired_ads_validates_nothing(tmp_path, codebook):
    path = tmp_path / "eval.json"
    write_json(evaluate([_coding("g", [])], [_coding("p", [])], codebook), path)
    validation = read_validation(path, codebook)
    assert set(validation.values()) == {Validation(tp=0, fn=0, fp=0, tn=0)}
    a = codebook.ids_of_kind("quotes")[0]
    row = next(
        r
        for r in report_of(codebook, validation=validation).table("corrected").rows
        if r["category"] == a
    )
    assert row["corrected"] is None and row["note"] == "no gold positive in the validation sample"


# ------------------------------------------------------------------ tables


def report_of(book, **extra):
    source = CodingSource(path=Path("mem"), codings=corpus(book))
    return build_report(StatsInput(sources=[source], book=book, codebook_path="x", **extra))


@pytest.fixture(params=["codebook", "later_codebook"], ids=["default", "later"])
def book(request):
    return request.getfixturevalue(request.param)


def _rows(report, name, key="category"):
    return {r[key]: r for r in report.table(name).rows}


def test_category_prevalence_counts_entries_and_wilson(book):
    cats = book.parts[0].all_categories()
    a, c, b = cats[0].id, cats[1].id, cats[-1].id
    rows = _rows(report_of(book), "categories")
    assert list(rows) == list(book.categories)  # every category, codebook order
    assert (rows[a]["ads"], rows[a]["entries"], rows[a]["share"]) == (2, 3, 0.5)
    assert (rows[a]["ci_low"], rows[a]["ci_high"]) == pytest.approx((0.1500, 0.8500), abs=5e-5)
    assert rows[a]["entries_per_ad"] == 0.75
    assert (rows[b]["ads"], rows[b]["entries"]) == (2, 3)
    assert (rows[c]["ads"], rows[c]["entries"]) == (1, 1)
    assert rows[a]["part"] == book.parts[0].id
    t0 = book.ids_of_kind("tools")[0]
    assert (rows[t0]["ads"], rows[t0]["entries"]) == (3, 4)
    untouched = [r for cid, r in rows.items() if cid not in {a, b, c, t0}]
    assert sum(r["ads"] for r in untouched) == 2  # s and t1, once each


def test_part_prevalence_counts_an_ad_once(book):
    rows = _rows(report_of(book), "parts", "part")
    first = rows[book.parts[0].id]
    assert (first["ads"], first["entries"], first["share"]) == (3, 7, 0.75)


def test_group_balance_of_the_default_codebook(codebook):
    # per-ad entries, group A (a, c) / B (none) / C (b): A 2,1,1,0  B 0,0,0,0  C 1,0,2,0
    rows = report_of(codebook).table("group_balance").rows
    titles = [g.title for g in codebook.parts[0].groups]
    assert [(r["group_a"], r["group_b"]) for r in rows] == [
        (titles[0], titles[1]),
        (titles[0], titles[2]),
        (titles[1], titles[2]),
    ]
    ab, ac, bc = rows
    assert ab["rank_biserial"] == 1.0 and bc["rank_biserial"] == -1.0
    # A - C = 1, 1, -1, 0: tied ranks 2, 2, 2, R+ = 4, R- = 2
    assert ac["rank_biserial"] == pytest.approx(1 / 3) and ac["wilcoxon_statistic"] == 2.0
    assert (ac["a_dominates"], ac["b_dominates"], ac["ties"]) == (0.5, 0.25, 0.25)
    assert (ac["mean_a"], ac["mean_b"]) == (1.0, 0.75)


def test_group_balance_needs_two_groups(later_codebook):
    # the later scheme has a single group per part: no pair to compare
    assert report_of(later_codebook).table("group_balance").rows == []


def test_profiles_and_crosstab(book):
    report = report_of(book)
    p0, p1 = book.profile_names[:2]
    profiles = _rows(report, "profiles", "profile")
    assert list(profiles) == book.profile_names
    assert (profiles[p0]["ads"], profiles[p0]["share"]) == (2, 2 / 3)  # of 3 with a profile
    assert report.provenance["ads_without_profile"] == 1
    a = book.parts[0].all_categories()[0].id
    cross = {(r["profile"], r["category"]): r for r in report.table("profile_categories").rows}
    assert (cross[(p0, a)]["ads"], cross[(p0, a)]["share"]) == (2, 1.0)
    assert (cross[(p1, a)]["ads"], cross[(p1, a)]["share"]) == (0, 0.0)
    # a by profile: [[2, 0], [0, 1]] over the two profiles that occur; phi = 1, Fisher 1/3
    test = _rows(report, "profile_tests")[a]
    assert test["cramers_v"] == pytest.approx(1.0) and test["dof"] == 1
    assert test["fisher_p"] == pytest.approx(1 / 3) and test["low_expected_cells"] == 4


def test_cooccurrence_rows(book):
    cats = book.parts[0].all_categories()
    a, c, b = cats[0].id, cats[1].id, cats[-1].id
    rows = report_of(book).table("cooccurrence").rows
    pairs = {(r["category_a"], r["category_b"]): r for r in rows}
    n = len(book.categories)
    assert len(pairs) == n * (n - 1) // 2
    # a in ads 1, 2; b in ads 1, 3: both 1, a only 1, b only 1, neither 1
    assert pairs[(a, b)]["ads"] == 1 and pairs[(a, b)]["phi"] == pytest.approx(0.0)
    # a and c never together: [[0, 2], [1, 1]]
    assert pairs[(a, c)]["ads"] == 0
    assert pairs[(a, c)]["phi"] == pytest.approx(phi(0, 2, 1, 1))


def test_tools_are_counted_once_per_ad_under_evals_normalisation(book):
    report = report_of(book, top=2)
    tools = report.table("tools").rows
    assert [(r["tool"], r["name"], r["ads"]) for r in tools] == [
        ("python", "Python", 2),
        ("aws", "AWS", 1),
    ]
    t0 = book.ids_of_kind("tools")[0]
    by_cat = [r for r in report.table("tools_by_category").rows if r["category"] == t0]
    assert [(r["tool"], r["ads"]) for r in by_cat] == [("python", 2), ("c++", 1)]
    p0 = book.profile_names[0]
    by_profile = [r for r in report.table("tools_by_profile").rows if r["profile"] == p0]
    assert [(r["tool"], r["ads"], r["share"]) for r in by_profile] == [
        ("python", 2, 1.0),
        ("aws", 1, 0.5),
    ]
    pair = report.table("tool_cooccurrence").rows
    assert [(r["tool_a"], r["tool_b"], r["ads"]) for r in pair] == [("python", "aws", 1)]


def test_corrected_prevalence_table(book):
    a = book.parts[0].all_categories()[0].id
    validation = {a: Validation(tp=4, fn=1, fp=0, tn=5)}
    report = report_of(book, validation=validation, validated_path="eval.json")
    rows = _rows(report, "corrected")
    # apparent 2/4, Se 0.8, Sp 1: (0.5 + 1 - 1) / 0.8
    assert rows[a]["corrected"] == pytest.approx(0.625)
    assert rows[a]["corrected_low"] <= 0.625 <= rows[a]["corrected_high"]
    assert (rows[a]["sensitivity"], rows[a]["specificity"]) == (0.8, 1.0)
    other = next(cid for cid in book.categories if cid != a)
    assert rows[other]["corrected"] is None and rows[other]["note"] == "not in the eval report"


def test_report_is_json_serialisable_without_nan(book):
    report = report_of(book)
    json.dumps([t.rows for t in report.tables], allow_nan=False)
