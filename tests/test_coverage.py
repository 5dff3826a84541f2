"""Coverage of the corpus intervals, by simulation (docs/statistics.md, "Coverage of the
intervals"): how often the 95% intervals of PPI++, the human sample alone (classical) and
the model's share (naive) contain the prevalence, for a model that over-codes as the
measured one does.

Each simulated corpus: `n_ads` ads whose true presence y is Bernoulli(p), with p drawn per
corpus uniformly in `P_RANGE`; the model codes yhat with recall P(yhat=1 | y=1) = `RECALL`
and, for precision `PRECISION` at that p, P(yhat=1 | y=0) = RECALL*p*(1-PRECISION) /
(PRECISION*(1-p)), so its share, RECALL*p/PRECISION = 1.25 p, is biased upward. A human
sample of `n_gold` ads is drawn by
- `srs`: a simple random sample;
- `confidence`: every ad gets an uncertainty score 0.1 + 0.6*[yhat != y] + N(0, 0.1),
  clipped at 0 (higher where the model is wrong, as the samples' disagreement is meant to
  be), `confidence_probabilities` turns the scores into inclusion probabilities and
  `systematic` draws the sample.
The naive, classical and PPI++ intervals are the product's own rows
(`pipeline.stats.inference_rows.estimate_rows`), clipped to [0, 1] as they are. The estimand
is p, the mean of the superpopulation the corpus is drawn from; the coverage of the corpus's
own mean (the finite-population check) is reported beside it.

bench/coverage.py runs `simulate` for `make bench`; this file holds it because the tests
may not import the benchmarks.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

from pipeline.stats.inference_rows import MIN_POSITIVES, Validation, estimate_rows
from pipeline.stats.sample import confidence_probabilities, systematic

RECALL = 0.75
PRECISION = 0.6
P_RANGE = (0.1, 0.4)
SCORE_BASE, SCORE_WRONG, SCORE_NOISE = 0.1, 0.6, 0.1
METHODS = ("ppi++", "classical", "naive")
FEW_POSITIVES = MIN_POSITIVES  # under it the product's PPI++ row is the classical interval
DESIGNS = ("srs", "confidence")


def false_positive_rate(p: float) -> float:
    """P(yhat=1 | y=0) that gives `PRECISION` at prevalence p with recall `RECALL`."""
    return RECALL * p * (1 - PRECISION) / (PRECISION * (1 - p))


def draw_corpus(rng: np.random.Generator, n_ads: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """(y, yhat), 0/1 floats: the truth and the over-coding model's codings."""
    y = (rng.random(n_ads) < p).astype(float)
    rate = np.where(y == 1, RECALL, false_positive_rate(p))
    return y, (rng.random(n_ads) < rate).astype(float)


def uncertainty_scores(rng: np.random.Generator, y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    wrong = (y != yhat).astype(float)
    noise = rng.normal(0.0, SCORE_NOISE, len(y))
    return np.maximum(SCORE_BASE + SCORE_WRONG * wrong + noise, 0.0)


Intervals = dict[str, tuple[float, float]]


def _rows(y, yhat, sampled, pi, equal: bool) -> Intervals:
    """The product's own rows (pipeline.stats.inference_rows.estimate_rows) for one target:
    its choice of estimator per design, its classical fallback under 5 human positives,
    its clipping."""
    gold = np.where(sampled, y, np.nan)
    val = Validation(sampled, pi, equal, {"x": gold}, {"x": yhat.astype(float)})
    rows = estimate_rows(val, "x", "", np.ones(len(y), dtype=bool))
    return {r["method"]: (float(r["ci_low"]), float(r["ci_high"])) for r in rows}


def srs_intervals(rng, y, yhat, n_gold: int) -> tuple[Intervals, np.ndarray]:
    """The rows of a simple random sample; and the sample's mask."""
    sampled = np.zeros(len(y), dtype=bool)
    sampled[rng.choice(len(y), n_gold, replace=False)] = True
    pi = np.full(len(y), n_gold / len(y))
    return _rows(y, yhat, sampled, pi, equal=True), sampled


def confidence_intervals(rng, y, yhat, n_gold: int) -> tuple[Intervals, np.ndarray]:
    """The rows of a confidence-design sample; and the sample's mask."""
    pi = confidence_probabilities(uncertainty_scores(rng, y, yhat), n_gold)
    sampled = np.zeros(len(y), dtype=bool)
    sampled[systematic(pi, rng)] = True
    return _rows(y, yhat, sampled, pi, equal=False), sampled


def one_corpus(rng, n_ads: int, n_gold: int, design: str):
    """(p, the corpus's mean, human positives, [(low, high) per method]) of one corpus."""
    p = float(rng.uniform(*P_RANGE))
    y, yhat = draw_corpus(rng, n_ads, p)
    draw = srs_intervals if design == "srs" else confidence_intervals
    intervals, sampled = draw(rng, y, yhat, n_gold)
    bounds = [intervals[m] for m in METHODS]
    return p, float(y.mean()), int(y[sampled].sum()), bounds


def simulate(
    n_corpora: int = 2000,
    n_ads: int = 1272,
    n_gold: int = 60,
    seed: int = 0,
    design: str = "srs",
) -> dict:
    """Per method: the share of corpora whose interval holds p (`coverage`), holds the
    corpus's mean (`coverage_corpus_mean`), lies wholly below p (`below`), and the mean
    width; with the settings and the share of samples with under 5 human positives."""
    if design not in DESIGNS:
        raise ValueError(f"design {design!r}: one of {', '.join(DESIGNS)}")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    bounds = np.empty((n_corpora, len(METHODS), 2))
    truth = np.empty((n_corpora, 2))  # p, the corpus's mean
    positives = np.empty(n_corpora)
    for c in range(n_corpora):
        p, mean, positives[c], bounds[c] = one_corpus(rng, n_ads, n_gold, design)
        truth[c] = p, mean
    low, high = bounds[..., 0], bounds[..., 1]
    holds = (low <= truth[:, :1]) & (truth[:, :1] <= high)
    holds_mean = (low <= truth[:, 1:]) & (truth[:, 1:] <= high)
    methods = {
        m: {
            "coverage": float(holds[:, i].mean()),
            "coverage_corpus_mean": float(holds_mean[:, i].mean()),
            "below": float((high[:, i] < truth[:, 0]).mean()),  # misses: wholly below p
            "mean_width": float((high - low)[:, i].mean()),
        }
        for i, m in enumerate(METHODS)
    }
    return {
        "settings": settings(n_corpora, n_ads, n_gold, seed, design),
        "methods": methods,
        "few_positives": float((positives < FEW_POSITIVES).mean()),
        "seconds": round(time.perf_counter() - start, 2),
    }


def settings(n_corpora: int, n_ads: int, n_gold: int, seed: int, design: str) -> dict:
    return {
        "design": design,
        "n_corpora": n_corpora,
        "n_ads": n_ads,
        "n_gold": n_gold,
        "seed": seed,
        "p": f"uniform {P_RANGE[0]}-{P_RANGE[1]} per corpus",
        "recall": RECALL,
        "precision": PRECISION,
        "score": f"{SCORE_BASE} + {SCORE_WRONG}*[yhat != y] + N(0, {SCORE_NOISE}), >= 0",
        "estimand": "p (superpopulation mean)",
    }


def test_the_simulated_model_over_codes_as_specified():
    rng = np.random.default_rng(1)
    y, yhat = draw_corpus(rng, 200_000, 0.25)
    assert yhat[y == 1].mean() == pytest.approx(RECALL, abs=0.01)
    assert y[yhat == 1].mean() == pytest.approx(PRECISION, abs=0.01)
    assert yhat.mean() == pytest.approx(RECALL * 0.25 / PRECISION, abs=0.01)


@functools.cache
def simulated(design: str) -> dict:
    return simulate(n_corpora=2000, design=design)["methods"]


@pytest.mark.slow
@pytest.mark.parametrize("design", DESIGNS)
def test_ppi_intervals_cover_the_prevalence(design):
    assert 0.93 <= simulated(design)["ppi++"]["coverage"] <= 0.97, simulated(design)


@pytest.mark.slow
@pytest.mark.parametrize("design", DESIGNS)
def test_ppi_intervals_are_narrower_than_the_human_sample_alone(design):
    methods = simulated(design)
    assert methods["ppi++"]["mean_width"] < methods["classical"]["mean_width"], methods


@pytest.mark.slow
@pytest.mark.parametrize("design", DESIGNS)
def test_the_naive_share_misses_the_prevalence(design):
    assert simulated(design)["naive"]["coverage"] < 0.5, simulated(design)
