"""The inference tables of `autocode stats --gold --sample`: per target (a category's
presence, a part, a group of the codebook, a profile's share), overall and per --by group,
the naive, classical and PPI++ estimates (`inference`), and differences between groups with
their Wald test across groups (`differences`, `group_tests`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
from pipeline.stats.tables import Row, with_adjusted_p

MIN_POSITIVES = 5  # fewer human positives: the PPI++ row takes the classical interval


@dataclass
class Validation:
    """The human sample against the model's codings of the whole corpus."""

    sampled: np.ndarray  # bool per ad of the corpus: drawn and coded by hand
    pi: np.ndarray  # inclusion probability per ad
    equal: bool  # every ad had the same probability (srs, proportional strata)
    gold: Mapping[str, np.ndarray]  # per target: the human value per ad (NaN: not sampled)
    model: Mapping[str, np.ndarray]  # per target: the model's value per ad
    finite: bool = False
    clusters: np.ndarray | None = None


def _target_columns(book: Codebook) -> dict[str, list[str] | str]:
    """Per target, the categories it is the presence of any of, or (a str) its profile."""
    out: dict[str, list[str] | str] = {cid: [cid] for cid in book.categories}
    for part in book.parts:
        ids = [c.id for c in part.categories] + [c.id for g in part.groups for c in g.categories]
        out[f"part:{part.id}"] = ids
    for part in book.parts:
        for group in part.groups:
            out[f"group:{group.title}"] = [c.id for c in group.categories]
    for name in book.profile_names:
        out[f"profile:{name}"] = name
    return out


class Targets(Mapping[str, np.ndarray]):
    """Per target (a category's presence, a part, a group of the codebook, a profile), a 0/1
    value per ad, made when asked from the ads' presence (ads x categories, 0/1, codebook
    order) and profiles ('' for none); the last one asked is kept, as every table asks
    target by target. A million ads by 35 targets at once would be 280 MB."""

    def __init__(self, coded: np.ndarray, profiles: np.ndarray, book: Codebook):
        self.coded, self.profiles = coded, profiles
        self.index = {c: i for i, c in enumerate(book.categories)}
        self.columns = _target_columns(book)
        self._last: tuple[str, np.ndarray] | None = None

    def __getitem__(self, target: str) -> np.ndarray:
        if self._last is None or self._last[0] != target:
            self._last = (target, self._made(target))
        return self._last[1]

    def _made(self, target: str) -> np.ndarray:
        spec = self.columns[target]
        if isinstance(spec, str):
            return (self.profiles == spec).astype(float)
        if len(spec) == 1 and target == spec[0]:
            return self.coded[:, self.index[target]].astype(float)
        return self.coded[:, [self.index[c] for c in spec]].astype(float).max(axis=1)

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)


class Spread(Mapping[str, np.ndarray]):
    """Targets of some ads (`of`) set in a column over the corpus: NaN where `where` is
    False (the human values of the sampled ads, in corpus order)."""

    def __init__(self, of: Targets, where: np.ndarray):
        self.of, self.where = of, where
        self._last: tuple[str, np.ndarray] | None = None

    def __getitem__(self, target: str) -> np.ndarray:
        if self._last is None or self._last[0] != target:
            column = np.full(len(self.where), np.nan)
            column[self.where] = self.of[target]
            self._last = (target, column)
        return self._last[1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.of)

    def __len__(self) -> int:
        return len(self.of)


def defined(value: float | None) -> float | None:
    """The value, or None where it is undefined (NaN: a variance from one cluster, a test
    without spread): a blank cell and a JSON null, never a NaN that JSON cannot hold."""
    return None if value is None or not np.isfinite(value) else float(value)


def _clip(value: float | None) -> float | None:
    value = defined(value)
    return None if value is None else float(min(1.0, max(0.0, value)))


def _row(target, group, method, est, low, high, n_gold, n_corpus, lam=None, ess=None) -> Row:
    return {
        "target": target,
        "group": group,
        "method": method,
        "estimate": defined(est),
        "ci_low": _clip(low),
        "ci_high": _clip(high),
        "n_gold": n_gold,
        "n_corpus": n_corpus,
        "lambda": defined(lam),
        "ess": defined(ess),
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
                    "difference": defined(diff),
                    "ci_low": defined(low),
                    "ci_high": defined(high),
                    "p_value": defined(p),
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
                "chi2": defined(stat),
                "dof": dof,
                "p_value": defined(p),
            }
        )
    return with_adjusted_p(rows)
