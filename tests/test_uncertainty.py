"""Bootstrap intervals of the eval's figures, and precision by support."""

from __future__ import annotations

import random

import krippendorff
import numpy as np
import pytest

from pipeline.codebook import load_codebook
from pipeline.evaluation.evaluate import evaluate_with_intervals
from pipeline.evaluation.scores import evaluate, match_all, pair_codings
from pipeline.evaluation.uncertainty import (
    FIGURES,
    ad_counts,
    figures,
    nominal_alpha_2x2,
    precision_by_support,
    resample_weights,
)
from pipeline.record import Coding, Quote, Tool

BOOK = load_codebook()
QUOTE_CATS = BOOK.ids_of_kind("quotes")
TOOL_CATS = BOOK.ids_of_kind("tools")
WORDS = "build deploy models data pipelines python cloud teams research product users".split()


def random_coding(rng: random.Random, ad_id: str) -> Coding:
    quotes = [
        Quote(category=rng.choice(QUOTE_CATS), text=" ".join(rng.sample(WORDS, 5)))
        for _ in range(rng.randint(0, 6))
    ]
    tools = [
        Tool(category=rng.choice(TOOL_CATS), name=rng.choice(["Python", "AWS", "SQL", "Go"]))
        for _ in range(rng.randint(0, 3))
    ]
    profile = rng.choice([*BOOK.profile_names[:3], None])
    return Coding(ad_id=ad_id, profile=profile, quotes=quotes, tools=tools)


def second_coder(rng: random.Random, gold: Coding) -> Coding:
    """The gold coding with some entries dropped, moved or added, and the profile changed."""
    quotes = [
        q.model_copy(update={"category": rng.choice(QUOTE_CATS)}) if rng.random() < 0.2 else q
        for q in gold.quotes
        if rng.random() > 0.2
    ]
    if rng.random() < 0.3:
        quotes.append(Quote(category=rng.choice(QUOTE_CATS), text=" ".join(rng.sample(WORDS, 4))))
    tools = [t for t in gold.tools if rng.random() > 0.2]
    profile = rng.choice(BOOK.profile_names[:3]) if rng.random() < 0.3 else gold.profile
    return gold.model_copy(update={"quotes": quotes, "tools": tools, "profile": profile})


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Coding], list[Coding]]:
    rng = random.Random(11)
    gold = [random_coding(rng, f"ad{i:03d}") for i in range(60)]
    return gold, [second_coder(rng, g) for g in gold]


def point(report: dict, figure: str):
    node = report
    for key in figure.split("."):
        node = node[key]
    return node


def test_per_ad_counts_reproduce_the_report(corpus):
    gold, pred = corpus
    report = evaluate(gold, pred, BOOK)
    pairing = pair_codings(gold, pred)
    counts = ad_counts(pairing.paired, match_all(pairing.paired, None), BOOK)
    once = figures(counts, np.ones((1, len(pairing.paired))))
    for name in FIGURES:
        assert once[name][0] == pytest.approx(point(report, name)), name


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alpha_from_the_summed_table_is_krippendorffs(seed):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, 200)
    pred = np.where(rng.random(200) < 0.8, gold, 1 - gold)
    table = np.array([[np.sum((gold == g) & (pred == p)) for g in (0, 1) for p in (0, 1)]])
    expected = krippendorff.alpha(reliability_data=[gold, pred], level_of_measurement="nominal")
    assert nominal_alpha_2x2(table)[0] == pytest.approx(expected)


def test_intervals_contain_the_point_estimate(corpus):
    report = evaluate_with_intervals(*corpus, BOOK, n_boot=500, seed=3)
    assert set(report["ci"]) == set(FIGURES)
    for name, ci in report["ci"].items():
        assert (ci["level"], ci["n_boot"]) == (0.95, 500)
        assert ci["low"] <= point(report, name) <= ci["high"], name
        assert ci["low"] < ci["high"], name  # 60 ads of noisy codings: not a point


def test_fixed_seed_gives_identical_output_and_another_seed_does_not(corpus):
    first = evaluate_with_intervals(*corpus, BOOK, n_boot=200, seed=5)
    again = evaluate_with_intervals(*corpus, BOOK, n_boot=200, seed=5)
    other = evaluate_with_intervals(*corpus, BOOK, n_boot=200, seed=6)
    assert first == again
    assert first["ci"] != other["ci"]
    assert {k: v for k, v in first.items() if k != "ci"} == evaluate(*corpus, BOOK)


def test_no_bootstrap_no_ci(corpus):
    assert "ci" not in evaluate_with_intervals(*corpus, BOOK, n_boot=0)


def test_figure_undefined_in_many_resamples_has_no_bounds():
    first, second = BOOK.profile_names[:2]
    # profile kappa is 1 on both ads, but a resample drawing one ad twice (half of them)
    # has a single profile, where kappa is undefined
    gold = [Coding(ad_id="a", profile=first), Coding(ad_id="b", profile=second)]
    report = evaluate_with_intervals(gold, gold, BOOK, n_boot=1000, seed=0)
    assert report["profile"]["kappa"] == 1.0
    ci = report["ci"]["profile.kappa"]
    assert (ci["low"], ci["high"]) == (None, None)
    assert 400 < ci["n_undefined"] < 600
    assert report["ci"]["profile.accuracy"] | {"n_undefined": 0} == {
        "low": 1.0,
        "high": 1.0,
        "level": 0.95,
        "n_boot": 1000,
        "n_undefined": 0,
        "seed": 0,
    }


def test_figure_undefined_everywhere_and_no_paired_ads():
    codings = [Coding(ad_id="a"), Coding(ad_id="b")]  # nothing coded: every figure undefined
    report = evaluate_with_intervals(codings, codings, BOOK, n_boot=100, seed=0)
    for name in ("quotes.partial.f1", "tools.name.f1", "profile.kappa", "presence.alpha"):
        ci = report["ci"][name]
        assert (ci["low"], ci["high"], ci["n_undefined"]) == (None, None, 100), name
    unpaired = evaluate_with_intervals(codings, [Coding(ad_id="c")], BOOK, n_boot=100)
    assert all(ci["low"] is None and ci["n_undefined"] == 100 for ci in unpaired["ci"].values())


def test_rare_undefined_resamples_still_give_an_interval():
    first, second = BOOK.profile_names[:2]
    # 40 ads: a resample with a single profile is all but impossible, so every one counts
    gold = [Coding(ad_id=f"a{i}", profile=first if i % 2 else second) for i in range(40)]
    pred = [
        c.model_copy(update={"profile": first}) if i % 5 == 0 else c for i, c in enumerate(gold)
    ]
    ci = evaluate_with_intervals(gold, pred, BOOK, n_boot=300, seed=1)["ci"]["profile.kappa"]
    assert ci["n_undefined"] == 0 and ci["low"] is not None


def test_precision_by_support():
    cat = QUOTE_CATS[0]
    gold = Coding(
        ad_id="a",
        quotes=[
            Quote(category=cat, text="build data pipelines"),
            Quote(category=cat, text="deploy models to the cloud"),
        ],
    )
    pred = Coding(
        ad_id="a",
        quotes=[
            Quote(category=cat, text="build data pipelines", support=3),
            Quote(category=cat, text="deploy models to the cloud", support=2),
            Quote(category=cat, text="research product users", support=2),
            Quote(category=cat, text="teams of users", support=1),
        ],
    )
    report = evaluate_with_intervals([gold], [pred], BOOK, n_boot=0)
    assert report["quotes"]["partial"]["by_support"] == {
        "1": {"tp": 0, "fp": 1, "precision": 0.0},
        "2": {"tp": 1, "fp": 1, "precision": 0.5},
        "3": {"tp": 1, "fp": 0, "precision": 1.0},
    }
    plain = evaluate_with_intervals([gold], [gold], BOOK, n_boot=0)
    assert "by_support" not in plain["quotes"]["partial"]
    assert precision_by_support([]) is None


def test_resample_weights_draw_every_ad_count_times():
    weights = resample_weights(50, 400, seed=2)
    assert weights.shape == (400, 50)
    assert (weights.sum(axis=1) == 50).all()
    # each ad is drawn once per resample on average
    assert weights.mean() == 1.0 and 0.9 < weights.mean(axis=0).min()
    assert (resample_weights(50, 400, seed=2) == weights).all()
