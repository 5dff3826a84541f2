"""The corpus estimators (pipeline.stats.inference) pinned to ppi_py 0.2.3's output.

tests/fixtures/ppi_py_0.2.3.json holds inputs and what `ppi_py.ppi_mean_ci`,
`ppi_mean_pointestimate` and `classical_mean_ci` returned for them (alpha 0.05): the worked
example of the inference issue, five random binary samples (numpy seeds 1 to 5) and one where
the power tuning is clipped to 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from pipeline.stats.inference import (
    Estimate,
    benjamini_hochberg,
    classical,
    difference,
    holm,
    ipw_ppi_mean,
    ppi_mean,
    wald_equal,
)

CASES = json.loads(
    (Path(__file__).parent / "fixtures" / "ppi_py_0.2.3.json").read_text(encoding="utf-8")
)
UNWEIGHTED = [c for c in CASES if "w" not in c["inputs"]]


@pytest.mark.parametrize("case", UNWEIGHTED, ids=[c["name"] for c in UNWEIGHTED])
def test_ppi_plus_plus_is_ppi_py_ppi_mean_ci(case):
    inputs, expected = case["inputs"], case["outputs"]
    est = ppi_mean(inputs["Y"], inputs["Yhat"], inputs["Yhat_unlabeled"])
    assert est.lam == pytest.approx(expected["lam"], abs=1e-9)
    assert est.estimate == pytest.approx(expected["pointestimate_tuned"], abs=1e-9)
    assert est.interval() == pytest.approx(expected["ci_tuned"], abs=1e-9)
    fixed = ppi_mean(inputs["Y"], inputs["Yhat"], inputs["Yhat_unlabeled"], lam=1)
    assert fixed.estimate == pytest.approx(expected["pointestimate_lam1"], abs=1e-9)
    assert fixed.interval() == pytest.approx(expected["ci_lam1"], abs=1e-9)


def test_the_issue_example_reads_as_published():
    case = next(c for c in CASES if c["name"] == "issue")["inputs"]
    est = ppi_mean(case["Y"], case["Yhat"], case["Yhat_unlabeled"])
    low, high = est.interval()
    assert (round(est.estimate, 4), round(low, 4), round(high, 4)) == (0.3356, 0.0716, 0.5995)
    # the classical rows use Wilson, not ppi_py's normal interval [0.0964, 0.7036]
    est_c, low_c, high_c, _ = classical(case["Y"])
    assert (est_c, round(low_c, 3), round(high_c, 3)) == (0.4, 0.168, 0.687)


def test_with_equal_probabilities_the_weighted_form_is_the_difference_estimator():
    rng = np.random.default_rng(11)
    y_all = rng.binomial(1, 0.3, 500)
    yhat = np.where(y_all == 1, rng.random(500) < 0.8, rng.random(500) < 0.15).astype(float)
    sampled = np.zeros(500, dtype=bool)
    sampled[rng.choice(500, 50, replace=False)] = True
    est = ipw_ppi_mean(yhat, y_all, sampled, np.full(500, 0.1))
    # lam 1, pi n/N: mean of yhat over the corpus + the sampled ads' mean error
    expected = yhat.mean() + (y_all[sampled] - yhat[sampled]).sum() / 50
    assert est.estimate == pytest.approx(expected)


def test_the_finite_population_interval_shrinks_to_nothing_when_every_ad_is_coded():
    y = [1, 0, 1, 1, 0, 0, 1, 0]
    yhat = [1, 1, 1, 0, 0, 0, 1, 0]
    est = ppi_mean(y, yhat, [], finite=True)
    assert est.estimate == pytest.approx(np.mean(y)) and est.se == 0


def test_the_weighted_classical_mean_is_hajek():
    y, pi = np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.25, 0.25])
    est, *_ = classical(y, pi)
    assert est == pytest.approx((1 / 0.5 + 1 / 0.25) / (2 / 0.5 + 2 / 0.25))


def test_differences_and_wald_follow_their_formulas():
    a, b, c = Estimate(0.4, 0.05), Estimate(0.25, 0.05), Estimate(0.3, 0.1)
    diff, se, p = difference(a, b)
    assert (diff, se) == pytest.approx((0.15, np.hypot(0.05, 0.05)))
    assert p == pytest.approx(2 * norm.sf(0.15 / se))
    stat, dof, p_wald = wald_equal([a, b])
    assert dof == 1 and stat == pytest.approx((0.15 / se) ** 2) and p_wald == pytest.approx(p)
    assert wald_equal([a, b, c])[1] == 2


def test_adjusted_p_values_are_statsmodels_holm_and_fdr_bh():
    p = [0.01, 0.04, 0.03, 0.20, 0.002, float("nan")]
    finite = p[:-1]
    assert holm(p)[:-1] == pytest.approx(multipletests(finite, method="holm")[1].tolist())
    assert benjamini_hochberg(p)[:-1] == pytest.approx(
        multipletests(finite, method="fdr_bh")[1].tolist()
    )
    assert np.isnan(holm(p)[-1]) and np.isnan(benjamini_hochberg(p)[-1])
