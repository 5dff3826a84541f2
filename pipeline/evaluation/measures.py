"""The measures of agreement, each pinned in tests to an independent computation:
precision/recall/F1, Cohen's kappa and Krippendorff's alpha for two coders, nominal alpha for
k coders with missing values, Fleiss' kappa. Undefined figures are None."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import krippendorff
import numpy as np


def prf(tp: int, fp: int, fn: int) -> dict:
    """Precision/recall/F1 block; a ratio with a zero denominator is None (undefined)."""
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def cohen_kappa(gold: Sequence, pred: Sequence) -> float | None:
    """Cohen's kappa, or None when undefined (no items, or chance agreement is 1)."""
    if len(gold) != len(pred):
        raise ValueError("kappa needs two ratings per item")
    # Expected agreement is 1 exactly when both raters use one and the same value.
    if not gold or len(set(gold) | set(pred)) < 2:
        return None
    # (po - pe) / (1 - pe), sklearn's cohen_kappa_score unweighted, without its 0.7 s import
    n = len(gold)
    observed = sum(g == p for g, p in zip(gold, pred, strict=True)) / n
    gold_counts, pred_counts = Counter(gold), Counter(pred)
    expected = sum(count * pred_counts[value] for value, count in gold_counts.items()) / n / n
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(gold: Sequence, pred: Sequence) -> float | None:
    """Nominal Krippendorff's alpha for two coders who rated every item; None with fewer
    than two values (the expected disagreement is then 0)."""
    if len(gold) != len(pred):
        raise ValueError("alpha needs two ratings per item")
    if not gold or len(set(gold) | set(pred)) < 2:
        return None
    # 1 - D_o/D_e from the coincidence matrix, as the `krippendorff` package computes it
    # (a test checks they agree), without its numpy import. Each item holds two values, so
    # an item whose two values differ adds 2 to the off-diagonal coincidences.
    n = 2 * len(gold)
    totals = Counter(gold) + Counter(pred)
    observed = 2 * sum(g != p for g, p in zip(gold, pred, strict=True))
    expected = n * n - sum(count * count for count in totals.values())
    return 1 - (n - 1) * observed / expected


def nominal_alpha(data: np.ndarray) -> float | None:
    """Krippendorff's alpha of a coders x units matrix with NaN for missing; None if undefined."""
    values = data[~np.isnan(data)]
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if len(np.unique(values)) < 2 or not pairable.any():
        return None  # the package raises on a one-value domain
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return None if math.isnan(value) else value


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa of items each rated by the same number m >= 2 of raters; None if undefined."""
    if not ratings:
        return None
    m = len(ratings[0])
    if m < 2 or any(len(r) != m for r in ratings):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings per item")
    counts = [Counter(r) for r in ratings]
    observed = sum((sum(n * n for n in c.values()) - m) / (m * (m - 1)) for c in counts)
    observed /= len(ratings)
    totals = sum(counts, Counter())
    expected = sum((n / (len(ratings) * m)) ** 2 for n in totals.values())
    if expected == 1:
        return None  # every rating the same value: chance agreement is 1
    return (observed - expected) / (1 - expected)
