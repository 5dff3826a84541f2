"""How far to trust the eval's figures: bootstrap intervals over ads, and the precision of
predicted quotes by their support.

Bootstrap: paired ads are resampled with replacement. Every headline figure is a function
of per-ad counts (profile confusion cell, quote TP/FP/FN, presence 2x2 cells, tool TP/FP/FN),
so those counts are taken once and each resample is a vector of how often it draws each ad:
one matrix product gives the resampled tables of all resamples at once. The interval runs
between the percentiles that leave (1 - level) / 2 of the resamples where the figure is
defined on either side (the percentile bootstrap); when the figure is undefined in more
than 1 - level of them, the bounds are None: the interval would describe only the lucky
resamples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.codebook import Codebook
from pipeline.matching import AdMatch, coded_categories, tool_sets
from pipeline.record import Coding

LEVEL = 0.95
FIGURES = (
    "profile.kappa",
    "profile.accuracy",
    "quotes.strict.f1",
    "quotes.partial.f1",
    "presence.macro_kappa",
    "presence.alpha",
    "tools.name.f1",
)


@dataclass
class AdCounts:
    """Per paired ad (rows), the counts every headline figure is computed from."""

    profile: np.ndarray  # one-hot confusion cell (gold x pred labels), zero without both
    strict: np.ndarray  # tp, fp, fn
    partial: np.ndarray
    presence: np.ndarray  # per category one-hot 2x2 cell: (gold, pred) = 00, 01, 10, 11
    tools: np.ndarray  # tool names: tp, fp, fn
    n_labels: int


def _prf_counts(match: AdMatch) -> list[int]:
    return [len(match.matched), len(match.extra), len(match.missed)]


def _profile_cells(pairs: Sequence[tuple[Coding, Coding]], labels: Sequence[str]) -> np.ndarray:
    names = list(labels) + sorted(
        {c.profile for pair in pairs for c in pair if c.profile and c.profile not in labels}
    )
    index = {name: i for i, name in enumerate(names)}
    cells = np.zeros((len(pairs), len(names) ** 2))
    for row, (g, p) in enumerate(pairs):
        if g.profile and p.profile:
            cells[row, index[g.profile] * len(names) + index[p.profile]] = 1
    return cells


def _presence_cells(pairs: Sequence[tuple[Coding, Coding]], categories: list[str]) -> np.ndarray:
    cells = np.zeros((len(pairs), len(categories), 4))
    for row, (g, p) in enumerate(pairs):
        gold, pred = coded_categories(g), coded_categories(p)
        for col, cat in enumerate(categories):
            cells[row, col, 2 * (cat in gold) + (cat in pred)] = 1
    return cells.reshape(len(pairs), len(categories) * 4)


def _tool_counts(gold: Coding, pred: Coding) -> list[int]:
    gs, ps = tool_sets(gold)[0], tool_sets(pred)[0]
    return [len(gs & ps), len(ps - gs), len(gs - ps)]


def ad_counts(
    pairs: Sequence[tuple[Coding, Coding]], matches: Mapping[str, list[AdMatch]], book: Codebook
) -> AdCounts:
    """The per-ad counts of the paired ads, in pairing order."""
    profile = _profile_cells(pairs, book.profile_names)
    return AdCounts(
        profile=profile,
        strict=np.array([_prf_counts(m) for m in matches["strict"]]).reshape(-1, 3),
        partial=np.array([_prf_counts(m) for m in matches["partial"]]).reshape(-1, 3),
        presence=_presence_cells(pairs, list(book.categories)),
        tools=np.array([_tool_counts(g, p) for g, p in pairs]).reshape(-1, 3),
        n_labels=int(round(profile.shape[1] ** 0.5)),
    )


# ------------------------------------------------- figures of (resampled) tables
# Each takes a (resamples x ...) array of summed counts and returns one value per
# resample, NaN where the figure is undefined, by the same rules as pipeline.evaluation.scores.


def f1(counts: np.ndarray) -> np.ndarray:
    tp, fp, fn = counts[:, 0], counts[:, 1], counts[:, 2]
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, np.nan)


def _kappa(observed, expected, defined) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(defined, (observed - expected) / (1 - expected), np.nan)


def profile_figures(cells: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(kappa, accuracy) of resampled confusion matrices."""
    conf = cells.reshape(len(cells), n_labels, n_labels)
    n = conf.sum(axis=(1, 2))
    rows, cols = conf.sum(axis=2), conf.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(n > 0, np.trace(conf, axis1=1, axis2=2) / n, np.nan)
        expected = (rows * cols).sum(axis=1) / (n * n)
    labels_used = ((rows + cols) > 0).sum(axis=1)
    return _kappa(accuracy, expected, (n > 0) & (labels_used > 1)), accuracy


def presence_figures(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(macro kappa over defined categories, Krippendorff's alpha over all cells)."""
    t = cells.reshape(len(cells), -1, 4)
    n = t.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        gold, pred = (t[..., 2] + t[..., 3]) / n, (t[..., 1] + t[..., 3]) / n
        observed = (t[..., 0] + t[..., 3]) / n
        expected = gold * pred + (1 - gold) * (1 - pred)
    defined = (n > 0) & (t[..., 0] < n) & (t[..., 3] < n)
    kappas = _kappa(observed, expected, defined)
    with np.errstate(invalid="ignore", divide="ignore"):
        macro = np.where(
            defined.any(axis=1), np.nansum(kappas, axis=1) / defined.sum(axis=1), np.nan
        )
    return macro, nominal_alpha_2x2(t.sum(axis=1))


def nominal_alpha_2x2(table: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha, nominal, two coders, no missing value, from (00, 01, 10, 11)
    counts: 1 - (n - 1) * disagreements / (n0 * n1) over the 2N pairable values."""
    t00, t01, t10, t11 = table[:, 0], table[:, 1], table[:, 2], table[:, 3]
    n0, n1 = 2 * t00 + t01 + t10, 2 * t11 + t01 + t10
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1 - (n0 + n1 - 1) * (t01 + t10) / (n0 * n1)
    return np.where(n0 * n1 > 0, alpha, np.nan)


def figures(counts: AdCounts, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Each headline figure for each row of `weights` (how often each ad is drawn)."""
    kappa, accuracy = profile_figures(weights @ counts.profile, counts.n_labels)
    macro, alpha = presence_figures(weights @ counts.presence)
    return {
        "profile.kappa": kappa,
        "profile.accuracy": accuracy,
        "quotes.strict.f1": f1(weights @ counts.strict),
        "quotes.partial.f1": f1(weights @ counts.partial),
        "presence.macro_kappa": macro,
        "presence.alpha": alpha,
        "tools.name.f1": f1(weights @ counts.tools),
    }


def _interval(values: np.ndarray, level: float, seed: int) -> dict:
    defined = values[~np.isnan(values)]
    undefined = len(values) - len(defined)
    low = high = None
    if len(defined) and undefined <= (1 - level) * len(values):
        tail = (1 - level) / 2 * 100
        low, high = (float(x) for x in np.percentile(defined, [tail, 100 - tail]))
    return {
        "low": low,
        "high": high,
        "level": level,
        "n_boot": len(values),
        "n_undefined": undefined,
        "seed": seed,
    }


def resample_weights(n_ads: int, n_boot: int, seed: int) -> np.ndarray:
    """n_boot x n_ads: how often each resample draws each ad (n_ads draws with replacement)."""
    draws = np.random.default_rng(seed).integers(0, n_ads, size=(n_boot, n_ads))
    flat = (draws + np.arange(n_boot)[:, None] * n_ads).ravel()
    return np.bincount(flat, minlength=n_boot * n_ads).reshape(n_boot, n_ads).astype(float)


def intervals(counts: AdCounts, n_boot: int, seed: int, level: float = LEVEL) -> dict:
    """The `ci` object of the report: {figure: {low, high, level, n_boot, n_undefined, seed}}."""
    n_ads = len(counts.strict)
    if n_ads == 0:  # nothing to resample: every figure is undefined in every resample
        return {name: _interval(np.full(n_boot, np.nan), level, seed) for name in FIGURES}
    weights = resample_weights(n_ads, n_boot, seed)
    return {name: _interval(v, level, seed) for name, v in figures(counts, weights).items()}


# -------------------------------------------------------------- precision by support


def precision_by_support(partial: Sequence[AdMatch]) -> dict[str, dict] | None:
    """{support: {tp, fp, precision}} of the predicted quotes (None without support)."""
    hits: Counter[int | None] = Counter()
    misses: Counter[int | None] = Counter()
    for match in partial:
        for _, pred in match.matched:
            hits[pred.support] += 1
        for pred in match.extra:
            misses[pred.support] += 1
    levels = sorted(k for k in (hits.keys() | misses.keys()) if k is not None)
    if not levels:
        return None
    return {
        str(k): {"tp": hits[k], "fp": misses[k], "precision": hits[k] / (hits[k] + misses[k])}
        for k in levels
    }
