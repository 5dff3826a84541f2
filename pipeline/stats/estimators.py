"""The statistics `autocode stats` reports: pure functions over counts and per-ad vectors.

A value that cannot be computed (no ads, a margin of zero, a test with nothing to test)
is None, never 0 and never NaN, so JSON shows `null` and the tables show it as undefined.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

Z95 = float(sps.norm.ppf(0.975))
LOW_EXPECTED = 5  # a chi-square cell expected to hold fewer ads makes the test unreliable
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 15  # fixed, so the same inputs always give the same interval


def wilson(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval of a proportion k/n (None, None when n is 0)."""
    if n <= 0:
        return None, None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def share(k: int, n: int) -> float | None:
    return k / n if n else None


def _none_if_nan(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


# ------------------------------------------------------------------ paired comparison


@dataclass(frozen=True)
class PairedComparison:
    """Two per-ad counts compared: who dominates how often, Wilcoxon, rank-biserial r."""

    n: int
    a_greater: int
    b_greater: int
    ties: int
    statistic: float | None
    p_value: float | None
    rank_biserial: float | None


def rank_biserial(differences: Sequence[float]) -> float | None:
    """Matched-pairs rank-biserial correlation (R+ - R-) / (R+ + R-), zeros dropped.

    +1 when every non-zero difference is positive, -1 when every one is negative.
    """
    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return None
    ranks = sps.rankdata(np.abs(d))
    plus, minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((plus - minus) / (plus + minus))


def paired_comparison(a: Sequence[float], b: Sequence[float]) -> PairedComparison:
    """Wilcoxon signed-rank test (two-sided, zero differences dropped) of a against b."""
    return _compared(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))


def paired_differences(values: np.ndarray, counts: np.ndarray) -> PairedComparison:
    """`paired_comparison` of pairs whose differences a - b are these integers, each `counts`
    times. Both statistics depend on the differences only, not on their order (scipy ranks
    them sorted), so they are those of the ads one by one; the rank-biserial correlation is
    counted exactly (its rank sums are halves, exact in floating point too)."""
    values, counts = np.asarray(values, dtype=np.int64), np.asarray(counts, dtype=np.int64)
    keep = values != 0
    nonzero = np.repeat(values[keep].astype(float), counts[keep])
    return PairedComparison(
        n=int(counts.sum()),
        a_greater=int(counts[values > 0].sum()),
        b_greater=int(counts[values < 0].sum()),
        ties=int(counts[~keep].sum()),
        **_wilcoxon(nonzero),
        rank_biserial=_rank_biserial_counted(values[keep], counts[keep]),
    )


def _wilcoxon(nonzero: np.ndarray) -> dict:
    statistic = p_value = None
    if nonzero.size:
        result = sps.wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided")
        statistic, p_value = _none_if_nan(result.statistic), _none_if_nan(result.pvalue)
    return {"statistic": statistic, "p_value": p_value}


def _rank_biserial_counted(values: np.ndarray, counts: np.ndarray) -> float | None:
    """`rank_biserial` of non-zero differences given as values and counts, in integers:
    twice each rank sum (average ranks of |d| are halves)."""
    if not counts.sum():
        return None
    twice = {1: 0, -1: 0}  # 2 x (sum of the ranks of the positive, the negative differences)
    below = 0  # differences of a smaller |d|
    for size in sorted(set(np.abs(values).tolist())):
        same = np.abs(values) == size
        tied = int(counts[same].sum())
        average_twice = 2 * below + tied + 1  # 2 x the mean of ranks below+1 .. below+tied
        for sign in (1, -1):
            twice[sign] += average_twice * int(counts[same & (np.sign(values) == sign)].sum())
        below += tied
    return float((twice[1] - twice[-1]) / (twice[1] + twice[-1]))


def _compared(diff: np.ndarray) -> PairedComparison:
    nonzero = diff[diff != 0]
    return PairedComparison(
        n=int(diff.size),
        a_greater=int((diff > 0).sum()),
        b_greater=int((diff < 0).sum()),
        ties=int((diff == 0).sum()),
        **_wilcoxon(nonzero),
        rank_biserial=rank_biserial(nonzero),
    )


# ------------------------------------------------------------------ independence


@dataclass(frozen=True)
class Independence:
    """Chi-square test of independence of a rows x columns table of counts."""

    chi2: float | None
    dof: int | None
    p_value: float | None
    cramers_v: float | None
    min_expected: float | None
    low_expected_cells: int
    fisher_p: float | None  # only for a 2 x 2 table with a cell expected under LOW_EXPECTED


UNDEFINED_TEST = Independence(None, None, None, None, None, 0, None)


def cramers_v(chi2: float, n: int, shape: tuple[int, int]) -> float | None:
    """sqrt(chi2 / (n (min(r, c) - 1))), without a bias correction."""
    k = min(shape) - 1
    return math.sqrt(chi2 / (n * k)) if n and k > 0 else None


def independence(table: Sequence[Sequence[int]]) -> Independence:
    """Chi-square (no Yates correction, so V of a 2 x 2 equals |phi|) and Cramér's V.

    Rows or columns that are all zero are dropped first; with fewer than two of either
    left there is nothing to test and every statistic is None.
    """
    counts = np.asarray(table, dtype=float)
    if counts.ndim != 2:
        return UNDEFINED_TEST
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    if min(counts.shape) < 2:
        return UNDEFINED_TEST
    chi2, p, dof, expected = sps.chi2_contingency(counts, correction=False)
    low = int((expected < LOW_EXPECTED).sum())
    fisher_p = None
    if counts.shape == (2, 2) and low:
        fisher_p = float(sps.fisher_exact(counts.astype(int)).pvalue)
    n = int(counts.sum())
    return Independence(
        chi2=float(chi2),
        dof=int(dof),
        p_value=_none_if_nan(p),
        cramers_v=cramers_v(float(chi2), n, counts.shape),
        min_expected=float(expected.min()),
        low_expected_cells=low,
        fisher_p=fisher_p,
    )


# ------------------------------------------------------------------ co-occurrence


def cooccurrence(present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ads coding both (counts) and phi coefficients of the columns of a 0/1 ads x items
    matrix. Phi is Pearson's r of two binary variables; NaN where an item is coded in
    every ad or in none (its variance is 0).
    """
    x = np.asarray(present, dtype=float)
    return phi_matrix(x.T @ x, x.shape[0])


def phi_matrix(both: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`cooccurrence` from the counts of ads coding both items of each pair (the diagonal:
    each item) among `n` ads."""
    both = np.asarray(both, dtype=float)
    count = np.diag(both)
    cov = both * n - np.outer(count, count)
    var = count * (n - count)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = cov / np.sqrt(np.outer(var, var))
    phi[np.outer(var, var) == 0] = np.nan
    return both.astype(int), phi


def phi(n11: int, n10: int, n01: int, n00: int) -> float | None:
    """Phi of a 2 x 2 table (n11 both, n10 first only, n01 second only, n00 neither)."""
    rows = (n11 + n10) * (n01 + n00)
    cols = (n11 + n01) * (n10 + n00)
    if rows == 0 or cols == 0:
        return None
    return (n11 * n00 - n10 * n01) / math.sqrt(rows * cols)


# ------------------------------------------------------------------ corrected prevalence


@dataclass(frozen=True)
class Validation:
    """A category's presence in a validation sample: model (pred) against gold, per ad."""

    tp: int
    fn: int
    fp: int
    tn: int

    @property
    def sensitivity(self) -> float | None:
        return share(self.tp, self.tp + self.fn)

    @property
    def specificity(self) -> float | None:
        return share(self.tn, self.tn + self.fp)


def rogan_gladen(apparent: float, sensitivity: float, specificity: float) -> float | None:
    """True prevalence from the apparent one: (p + Sp - 1) / (Se + Sp - 1), clipped to [0, 1].

    None when Se + Sp <= 1: such a coder is no better than chance and says nothing.
    """
    youden = sensitivity + specificity - 1
    if youden <= 0:
        return None
    return min(1.0, max(0.0, (apparent + specificity - 1) / youden))


def _rogan_gladen_array(p: np.ndarray, se: np.ndarray, sp: np.ndarray) -> np.ndarray:
    youden = se + sp - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        corrected = np.clip((p + sp - 1) / youden, 0.0, 1.0)
    corrected[~(youden > 0)] = np.nan
    return corrected


def corrected_interval(
    k: int, n: int, val: Validation, samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float | None, float | None]:
    """95% percentile bootstrap interval of the Rogan-Gladen prevalence.

    Each replicate redraws the corpus count (binomial, n ads) and the validation sample
    (its ads resampled with replacement: a multinomial over the four cells), so the
    interval carries the uncertainty of both. Replicates where the resampled coder is
    no better than chance (or has no gold positive or negative) are left out.
    """
    m = val.tp + val.fn + val.fp + val.tn
    if n <= 0 or m <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    p = rng.binomial(n, k / n, samples) / n
    cells = rng.multinomial(m, np.array([val.tp, val.fn, val.fp, val.tn]) / m, samples)
    tp, fn, fp, tn = cells.T.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se, sp = tp / (tp + fn), tn / (tn + fp)
    corrected = _rogan_gladen_array(p, se, sp)
    corrected = corrected[~np.isnan(corrected)]
    if corrected.size < samples / 2:  # mostly undefined: an interval would mislead
        return None, None
    low, high = np.quantile(corrected, [0.025, 0.975])
    return float(low), float(high)
