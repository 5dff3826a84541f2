"""Corpus estimates that stay valid whatever the model's errors: a human-coded probability
sample of the corpus combined with the model's codings of every ad (docs/statistics.md).

- `ppi_mean`: prediction-powered inference with power tuning (PPI++, Angelopoulos, Duchi and
  Zrnic 2023) for a mean, as `ppi_py.ppi_mean_ci` computes it: the sampled ads are the
  labelled data, the rest the unlabelled; the estimand is the mean of the population the
  corpus is drawn from, or with `finite` the corpus itself (the model's mean over the corpus
  is then known, and the rectifier's variance takes the finite population correction).
- `ipw_ppi_mean`: the same under unequal inclusion probabilities (design-based supervised
  learning, Egami et al. 2023; active inference, Zrnic and Candès 2024): every ad contributes
  lam*yhat + (y - lam*yhat) * sampled / pi, with lam = 1.
- `classical`: the human sample alone: Wilson for a proportion of a simple random sample;
  under unequal probabilities the Hájek (weighted) mean with a Wilson interval on Kish's
  effective sample size (the normal interval of the Hájek mean under-covers when the rare
  positives are the ads least likely to be drawn); with clusters, its linearised variance.
- Clusters (`clusters`, e.g. the employer): standard errors from cluster totals.
Every interval is normal, at `LEVEL`, and clipped to [0, 1] by the caller's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, norm

from pipeline.stats.estimators import wilson

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    estimate: float
    se: float
    lam: float | None = None

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        z = float(norm.ppf(1 - (1 - level) / 2))
        return self.estimate - z * self.se, self.estimate + z * self.se


def _cluster_var(values: np.ndarray, clusters: np.ndarray | None) -> float:
    """The variance of the mean of `values` (one per unit), from cluster totals when units
    come in clusters (CR1 small-sample factor), else the plain population variance / n."""
    n = len(values)
    if n == 0:
        return float("nan")
    if clusters is None:
        return float(values.var() / n)  # ddof 0, as ppi_py's np.std
    _, index = np.unique(clusters, return_inverse=True)
    totals = np.bincount(index, weights=values - values.mean())
    g = len(totals)
    factor = g / (g - 1) if g > 1 else float("nan")
    return float(factor * (totals**2).sum() / n**2)


def power_tuning(y: np.ndarray, yhat: np.ndarray, yhat_unlabelled: np.ndarray) -> float:
    """ppi_py's lambda for a mean: cov(y, yhat) (ddof 0, labelled) over (1 + n/N) times the
    variance (ddof 1) of yhat over labelled and unlabelled together, clipped to [0, 1]."""
    n, big_n = len(y), len(yhat_unlabelled)
    every = np.concatenate([yhat, yhat_unlabelled])
    variance = every.var(ddof=1) if len(every) > 1 else 0.0
    if n == 0 or big_n == 0 or variance == 0:  # nothing unlabelled: the human sample alone
        return 0.0
    covariance = ((y - y.mean()) * (yhat - yhat.mean())).mean()
    return float(np.clip(covariance / ((1 + n / big_n) * variance), 0.0, 1.0))


def ppi_mean(
    y: Sequence[float],
    yhat: Sequence[float],
    yhat_unlabelled: Sequence[float],
    lam: float | None = None,
    finite: bool = False,
    clusters: tuple[np.ndarray, np.ndarray] | None = None,
) -> Estimate:
    """PPI++ for a mean (ppi_py.ppi_mean_ci with lam=None); `lam` given fixes it.
    `clusters` holds the cluster of each labelled and of each unlabelled unit."""
    y_, yh, yu = (np.asarray(v, dtype=float) for v in (y, yhat, yhat_unlabelled))
    n, big_n = len(y_), len(yu)
    lam = power_tuning(y_, yh, yu) if lam is None else lam
    rectifier = y_ - lam * yh
    labelled_clusters, unlabelled_clusters = clusters if clusters else (None, None)
    if finite:  # this corpus: the model's mean over it is known, the sample is 1 - n/N of it
        imputed = lam * np.concatenate([yh, yu]).mean()
        var = (1 - n / (n + big_n)) * _cluster_var(rectifier, labelled_clusters)
        return Estimate(float(imputed + rectifier.mean()), float(np.sqrt(var)), lam)
    if big_n == 0:  # every ad of the group is in the sample (lam is 0): the sample's mean
        return Estimate(float(y_.mean()), float(np.sqrt(_cluster_var(y_, labelled_clusters))), lam)
    imputed_var = _cluster_var(lam * yu, unlabelled_clusters)
    var = imputed_var + _cluster_var(rectifier, labelled_clusters)
    return Estimate(float(lam * yu.mean() + rectifier.mean()), float(np.sqrt(var)), lam)


def ipw_ppi_mean(
    yhat: Sequence[float],
    y: Sequence[float],
    sampled: Sequence[bool],
    pi: Sequence[float],
    lam: float = 1.0,
    clusters: np.ndarray | None = None,
) -> Estimate:
    """PPI under unequal inclusion probabilities: the mean over every ad of
    z = lam*yhat + (y - lam*yhat) * sampled/pi (y counts only where sampled), and the
    variance of z over the ads / N. lam stays 1 (the design-based estimator of Egami et
    al.): tuned on the same weighted sample it biased the estimate and its standard error
    low, and the intervals covered 0.91 instead of 0.95 in the simulation
    (docs/statistics.md); at 1 they cover."""
    yh = np.asarray(yhat, dtype=float)
    s = np.asarray(sampled, dtype=bool)
    w = np.zeros(len(s))  # 1/pi where sampled; an unsampled ad's pi may be 0 (its stratum)
    np.divide(1.0, np.asarray(pi, dtype=float), out=w, where=s)
    yy = np.where(s, np.asarray(y, dtype=float), 0.0)
    z = yy * w + lam * yh * (1 - w)
    return Estimate(float(z.mean()), float(np.sqrt(_cluster_var(z, clusters))), lam)


def classical(
    y: Sequence[float], pi: Sequence[float] | None = None, clusters: np.ndarray | None = None
) -> tuple[float, float, float, float]:
    """(estimate, low, high, se) from the human sample alone: Wilson for a simple random
    sample of 0/1 values without clusters, else the Hájek mean with a normal interval."""
    y_ = np.asarray(y, dtype=float)
    n = len(y_)
    if n == 0:
        return (float("nan"),) * 4
    if pi is None and clusters is None:
        est = float(y_.mean())
        low, high = wilson(int(y_.sum()), n)
        assert low is not None and high is not None  # n > 0
        return est, low, high, float(np.sqrt(est * (1 - est) / n))
    w = np.ones(n) if pi is None else 1 / np.asarray(pi, dtype=float)
    est = float((w * y_).sum() / w.sum())
    residual = w * (y_ - est) / w.mean()  # linearised: the mean's influence per unit
    se = float(np.sqrt(_cluster_var(residual, clusters)))
    if clusters is not None:
        low, high = Estimate(est, se).interval()
        return est, low, high, se
    n_eff = w.sum() ** 2 / (w**2).sum()  # Kish
    z = float(norm.ppf(1 - (1 - LEVEL) / 2))
    centre = (est + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z / (1 + z * z / n_eff) * np.sqrt(est * (1 - est) / n_eff + z * z / (4 * n_eff**2))
    return est, float(max(0.0, centre - half)), float(min(1.0, centre + half)), se


def difference(a: Estimate, b: Estimate) -> tuple[float, float, float]:
    """(difference, standard error, two-sided p) of two independent estimates."""
    diff, se = a.estimate - b.estimate, float(np.hypot(a.se, b.se))
    p = float(2 * norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    return diff, se, p


def wald_equal(estimates: Sequence[Estimate]) -> tuple[float, int, float]:
    """(chi-square, degrees of freedom, p) of the Wald test that independent group
    estimates are equal: the inverse-variance weighted squared distances to their mean."""
    usable = [e for e in estimates if e.se > 0 and np.isfinite(e.se)]
    if len(usable) < 2:
        return float("nan"), 0, float("nan")
    weights = np.array([1 / e.se**2 for e in usable])
    values = np.array([e.estimate for e in usable])
    centre = (weights * values).sum() / weights.sum()
    stat = float((weights * (values - centre) ** 2).sum())
    dof = len(usable) - 1
    return stat, dof, float(chi2.sf(stat, dof))


def _ranked(pvalues: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The p-values, the indices of the defined ones in ascending order of p, and an output
    array of NaN: what both adjustments start from (NaN stays NaN and is not counted)."""
    p = np.asarray(pvalues, dtype=float)
    ok = np.flatnonzero(np.isfinite(p))
    return p, ok[np.argsort(p[ok], kind="stable")], np.full(len(p), np.nan)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: (m - rank) * p, made non-decreasing, at most 1."""
    p, order, adjusted = _ranked(pvalues)
    scaled = (len(order) - np.arange(len(order))) * p[order]
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted.tolist()


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate): m * p / rank, made
    non-increasing from the largest p down, at most 1."""
    p, order, adjusted = _ranked(pvalues)
    scaled = len(order) * p[order] / (np.arange(len(order)) + 1)
    adjusted[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return adjusted.tolist()
