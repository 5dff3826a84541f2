"""The inference tables of `autocode stats --gold --sample`: per target (a category's
presence, a part, a group of the codebook, a profile's share), overall and per --by group,
the naive, classical and PPI++ estimates (`inference`), and differences between groups with
their Wald test across groups (`differences`, `group_tests`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from pipeline.codebook import Codebook
from pipeline.stats.estimators import wilson
from pipeline.stats.inference import (
    Estimate,
    classical,
    difference,
    ipw_ppi_mean,
    ppi_mean,
    wald_equal,
)
from pipeline.stats.tables import Presence, Row, with_adjusted_p

MIN_POSITIVES = 5  # fewer human positives: the PPI++ row takes the classical interval


@dataclass
class Validation:
    """The human sample against the model's codings of the whole corpus."""

    sampled: np.ndarray  # bool per ad of the corpus: drawn and coded by hand
    pi: np.ndarray  # inclusion probability per ad
    equal: bool  # every ad had the same probability (srs, proportional strata)
    gold: dict[str, np.ndarray]  # per target: the human value per ad (NaN where not sampled)
    model: dict[str, np.ndarray]  # per target: the model's value per ad
    finite: bool = False
    clusters: np.ndarray | None = None


def targets(pres: Presence, book: Codebook) -> dict[str, np.ndarray]:
    """Per target, a 0/1 value per ad of `pres`: each category's presence, each part and
    group (any of its categories), each profile."""
    coded = pres.coded.astype(float)
    out = {cid: coded[:, i] for i, cid in enumerate(pres.categories)}
    for part in book.parts:
        ids = [c.id for c in part.categories] + [c.id for g in part.groups for c in g.categories]
        out[f"part:{part.id}"] = coded[:, pres.columns(ids)].max(axis=1)
    for part in book.parts:
        for group in part.groups:
            ids = [c.id for c in group.categories]
            out[f"group:{group.title}"] = coded[:, pres.columns(ids)].max(axis=1)
    profiles = np.asarray([p or "" for p in pres.profiles], dtype=object)
    for name in book.profile_names:
        out[f"profile:{name}"] = (profiles == name).astype(float)
    return out


def _clip(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def _row(target, group, method, est, low, high, n_gold, n_corpus, lam=None, ess=None) -> Row:
    return {
        "target": target,
        "group": group,
        "method": method,
        "estimate": est,
        "ci_low": _clip(low) if low is not None else None,
        "ci_high": _clip(high) if high is not None else None,
        "n_gold": n_gold,
        "n_corpus": n_corpus,
        "lambda": lam,
        "ess": ess,
    }


def ppi_estimate(val: Validation, target: str, mask: np.ndarray) -> Estimate:
    """PPI++ of `target` over the ads in `mask`."""
    s = val.sampled & mask
    yhat, y = val.model[target], val.gold[target]
    clusters = val.clusters
    if val.equal:
        labelled, unlabelled = s, mask & ~val.sampled
        split = (clusters[labelled], clusters[unlabelled]) if clusters is not None else None
        return ppi_mean(y[labelled], yhat[labelled], yhat[unlabelled], None, val.finite, split)
    return ipw_ppi_mean(
        yhat[mask],
        np.nan_to_num(y[mask]),
        s[mask],
        val.pi[mask],
        clusters=clusters[mask] if clusters is not None else None,
    )


def estimate_rows(val: Validation, target: str, group: str, mask: np.ndarray) -> list[Row]:
    """The naive, classical and PPI++ rows of one target over the ads in `mask`."""
    s = val.sampled & mask
    n_gold, n_corpus = int(s.sum()), int(mask.sum())
    yhat, y = val.model[target][mask], val.gold[target][s]
    k = int(yhat.sum())
    low, high = wilson(k, n_corpus)
    rows = [
        _row(target, group, "naive", k / n_corpus if n_corpus else None, low, high, "", n_corpus)
    ]
    if n_gold == 0:
        return rows
    pi = None if val.equal else val.pi[s]
    clusters = val.clusters[s] if val.clusters is not None else None
    c_est, c_low, c_high, c_se = classical(y, pi, clusters)
    rows.append(_row(target, group, "classical", c_est, c_low, c_high, n_gold, n_corpus))
    if y.sum() < MIN_POSITIVES:  # too few positives for PPI's normal interval
        rows.append(_row(target, group, "ppi++", c_est, c_low, c_high, n_gold, n_corpus))
        return rows
    est = ppi_estimate(val, target, mask)
    low, high = est.interval()
    ess = n_gold * c_se**2 / est.se**2 if est.se > 0 else None
    rows.append(
        _row(target, group, "ppi++", est.estimate, low, high, n_gold, n_corpus, est.lam, ess)
    )
    return rows


def inference_rows(val: Validation, groups: dict[str, np.ndarray]) -> list[Row]:
    """Every target overall ("" group) and per group value of each --by column."""
    everyone = np.ones(len(val.sampled), dtype=bool)
    rows = []
    for target in val.model:
        rows += estimate_rows(val, target, "", everyone)
        for value, mask in groups.items():
            rows += estimate_rows(val, target, value, mask)
    return rows


def few_positives(val: Validation) -> list[str]:
    """The targets whose PPI++ rows carry the classical interval (too few human positives)."""
    return [t for t in val.model if np.nansum(val.gold[t][val.sampled]) < MIN_POSITIVES]


def difference_rows(val: Validation, by: str, groups: dict[str, np.ndarray]) -> list[Row]:
    """Per target and pair of groups: the difference of their PPI++ estimates; p-values
    adjusted (Holm, Benjamini-Hochberg) over every row of the table."""
    rows: list[Row] = []
    for target in val.model:
        est = {
            g: ppi_estimate(val, target, m) for g, m in groups.items() if (val.sampled & m).any()
        }
        for a, b in combinations(sorted(est), 2):
            diff, se, p = difference(est[a], est[b])
            low, high = Estimate(diff, se).interval()
            rows.append(
                {
                    "target": target,
                    "by": by,
                    "group_a": a,
                    "group_b": b,
                    "difference": diff,
                    "ci_low": low,
                    "ci_high": high,
                    "p_value": None if np.isnan(p) else p,
                }
            )
    return with_adjusted_p(rows)


def group_test_rows(val: Validation, by: str, groups: dict[str, np.ndarray]) -> list[Row]:
    """Per target, the Wald chi-square that its PPI++ estimates are equal across groups."""
    rows: list[Row] = []
    for target in val.model:
        est = [ppi_estimate(val, target, m) for m in groups.values() if (val.sampled & m).any()]
        stat, dof, p = wald_equal(est)
        rows.append(
            {
                "target": target,
                "by": by,
                "chi2": None if np.isnan(stat) else stat,
                "dof": dof,
                "p_value": None if np.isnan(p) else p,
            }
        )
    return with_adjusted_p(rows)


def group_masks(values: Sequence[str]) -> dict[str, np.ndarray]:
    labels = np.asarray(values, dtype=object)
    return {level: labels == level for level in sorted(set(values))}
