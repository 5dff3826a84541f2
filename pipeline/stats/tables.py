"""The tables of `autocode stats`, built from counts (`counts`) and the codebook (pure
functions).

Every table is a list of rows (dicts with the same keys, in column order); the CSV files,
stats.json, the page's tables and its charts are all drawn from these rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from pipeline.codebook import Codebook
from pipeline.stats.counts import Patterns
from pipeline.stats.estimators import (
    Independence,
    Validation,
    corrected_interval,
    independence,
    paired_differences,
    phi_matrix,
    rogan_gladen,
    share,
    wilson,
)
from pipeline.stats.inference import benjamini_hochberg, holm

Row = dict[str, object]


@dataclass
class Table:
    name: str
    title: str
    description: str
    rows: list[Row]

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []


@dataclass
class Balance:
    """Two groups of a quotes part compared ad by ad: their entries over all ads, and the
    per-ad differences of their entry counts (each value, and how many ads have it)."""

    part: str
    group_a: str
    group_b: str
    entries_a: int
    entries_b: int
    values: np.ndarray
    counts: np.ndarray


def _interval(k: int, n: int) -> Row:
    low, high = wilson(k, n)
    return {"share": share(k, n), "ci_low": low, "ci_high": high}


def _counted(ads: int, n: int, entries: int) -> Row:
    return {
        "ads": ads,
        **_interval(ads, n),
        "entries": entries,
        "entries_per_ad": share(entries, n),
    }


def _group_of(book: Codebook) -> dict[str, str]:
    return {c.id: g.title for p in book.parts for g in p.groups for c in g.categories}


# ------------------------------------------------------------------ prevalence


def category_rows(pat: Patterns, entries: np.ndarray, book: Codebook) -> list[Row]:
    n, groups = pat.n, _group_of(book)
    ads = pat.ads()
    return [
        {
            "category": cid,
            "name": book.categories[cid].name,
            "part": book.part_of[cid].id,
            "group": groups.get(cid, ""),
            **_counted(int(ads[i]), n, int(entries[i])),
        }
        for i, cid in enumerate(pat.categories)
    ]


def _any_of(pat: Patterns, entries: np.ndarray, ids: Sequence[str]) -> tuple[int, int]:
    return pat.any_of(ids), int(entries[pat.columns(ids)].sum())


def group_rows(pat: Patterns, entries: np.ndarray, book: Codebook) -> list[Row]:
    n, rows = pat.n, []
    for part in book.parts:
        for group in part.groups:
            ads, total = _any_of(pat, entries, [c.id for c in group.categories])
            rows.append(
                {
                    "part": part.id,
                    "group": group.title,
                    "categories": len(group.categories),
                    **_counted(ads, n, total),
                }
            )
    return rows


def part_rows(pat: Patterns, entries: np.ndarray, book: Codebook) -> list[Row]:
    n, rows = pat.n, []
    for part in book.parts:
        ads, total = _any_of(pat, entries, [c.id for c in part.all_categories()])
        rows.append(
            {"part": part.id, "title": part.title, "kind": part.kind, **_counted(ads, n, total)}
        )
    return rows


def balance_pairs(book: Codebook) -> list[tuple[str, str, str, list[str], list[str]]]:
    """(part, group a, group b, a's categories, b's categories) of every pair of groups of a
    quotes part (a title twice: the later group's categories, as a dict of titles keeps)."""
    pairs = []
    for part in (p for p in book.parts if p.kind == "quotes"):
        cats = {g.title: [c.id for c in g.categories] for g in part.groups}
        pairs += [(part.id, a, b, cats[a], cats[b]) for a, b in combinations(cats, 2)]
    return pairs


def balance_rows(balances: Sequence[Balance], n: int) -> list[Row]:
    """Every pair of groups of a quotes part: per-ad entry counts, paired."""
    rows = []
    for bal in balances:
        cmp = paired_differences(bal.values, bal.counts)
        rows.append(
            {
                "part": bal.part,
                "group_a": bal.group_a,
                "group_b": bal.group_b,
                "ads": n,
                "mean_a": share(bal.entries_a, n),
                "mean_b": share(bal.entries_b, n),
                "a_dominates": share(cmp.a_greater, n),
                "b_dominates": share(cmp.b_greater, n),
                "ties": share(cmp.ties, n),
                "wilcoxon_statistic": cmp.statistic,
                "p_value": cmp.p_value,
                "rank_biserial": cmp.rank_biserial,
            }
        )
    return rows


# ------------------------------------------------------------------ profiles


def profile_rows(by_profile: Patterns, book: Codebook) -> list[Row]:
    """Profiles over the ads that have one (a gold file may have none)."""
    counts = {name: by_profile.where(name).n for name in book.profile_names}
    n = sum(int(c) for c, label in zip(by_profile.count, by_profile.labels, strict=True) if label)
    return [
        {"profile": name, "ads": counts[name], **_interval(counts[name], n)}
        for name in book.profile_names
    ]


def _test_row(test: Independence) -> Row:
    return {
        "chi2": test.chi2,
        "dof": test.dof,
        "p_value": test.p_value,
        "cramers_v": test.cramers_v,
        "min_expected": test.min_expected,
        "low_expected_cells": test.low_expected_cells,
        "fisher_p": test.fisher_p,
    }


def _level_ads(by_label: Patterns, level: str) -> tuple[int, np.ndarray]:
    """Ads of a level (a profile, an industry…) and, per category, those coding it."""
    within = by_label.where(level)
    return within.n, within.ads()


def crosstab_rows(by_label: Patterns, levels: Sequence[str], book: Codebook, key: str) -> list[Row]:
    """Per level (a profile, an industry…) x category: ads coding it, share, Wilson."""
    rows = []
    for level in levels:
        size, ads = _level_ads(by_label, level)
        rows += [
            {
                key: level,
                f"{key}_ads": size,
                "category": cid,
                "name": book.categories[cid].name,
                "ads": int(ads[i]),
                **_interval(int(ads[i]), size),
            }
            for i, cid in enumerate(by_label.categories)
        ]
    return rows


def independence_rows(by_label: Patterns, levels: Sequence[str], book: Codebook) -> list[Row]:
    """Per category, chi-square of levels x (coded, not coded), with Cramér's V."""
    sizes = [_level_ads(by_label, level) for level in levels]
    rows = []
    for i, cid in enumerate(by_label.categories):
        table = [[int(ads[i]), size - int(ads[i])] for size, ads in sizes]
        rows.append(
            {"category": cid, "name": book.categories[cid].name, **_test_row(independence(table))}
        )
    return with_adjusted_p(rows)


def with_adjusted_p(rows: list[Row]) -> list[Row]:
    """Each row's p-value adjusted over the table's tests, beside it: Holm (family-wise
    error) and Benjamini-Hochberg (false discovery rate); 20 categories make false
    positives likely at 5% each."""
    p = [float(str(r["p_value"])) if r["p_value"] is not None else float("nan") for r in rows]
    out = []
    for row, h, b in zip(rows, holm(p), benjamini_hochberg(p), strict=True):
        new: Row = {}
        for key, value in row.items():
            new[key] = value
            if key == "p_value":
                new |= {"p_holm": _finite(h), "p_bh": _finite(b)}
        out.append(new)
    return out


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


# ------------------------------------------------------------------ co-occurrence


def cooccurrence_rows(pat: Patterns, book: Codebook) -> list[Row]:
    """Every pair of categories (codebook order): ads coding both, and phi."""
    both, phi = phi_matrix(pat.both(), pat.n)
    rows = []
    for i, j in combinations(range(len(pat.categories)), 2):
        a, b = pat.categories[i], pat.categories[j]
        rows.append(
            {
                "category_a": a,
                "category_b": b,
                "name_a": book.categories[a].name,
                "name_b": book.categories[b].name,
                "ads": int(both[i, j]),
                "phi": None if np.isnan(phi[i, j]) else float(phi[i, j]),
            }
        )
    return rows


# ------------------------------------------------------------------ corrected prevalence


def _corrected(k: int, n: int, val: Validation | None) -> Row:
    if val is None:
        return {
            "corrected": None,
            "corrected_low": None,
            "corrected_high": None,
            "note": "not in the eval report",
        }
    se, sp = val.sensitivity, val.specificity
    if se is None or sp is None:
        side = "positive" if se is None else "negative"
        note = f"no gold {side} in the validation sample"
        return {"corrected": None, "corrected_low": None, "corrected_high": None, "note": note}
    value = rogan_gladen(k / n, se, sp) if n else None
    low, high = corrected_interval(k, n, val) if value is not None else (None, None)
    note = "" if value is not None else "sensitivity + specificity <= 1: no better than chance"
    return {"corrected": value, "corrected_low": low, "corrected_high": high, "note": note}


def corrected_rows(pat: Patterns, book: Codebook, validation: dict[str, Validation]) -> list[Row]:
    n, rows = pat.n, []
    ads = pat.ads()
    for i, cid in enumerate(pat.categories):
        val, k = validation.get(cid), int(ads[i])
        rows.append(
            {
                "category": cid,
                "name": book.categories[cid].name,
                "ads": k,
                **_interval(k, n),
                "validation_ads": None if val is None else val.tp + val.fn + val.fp + val.tn,
                "sensitivity": None if val is None else val.sensitivity,
                "specificity": None if val is None else val.specificity,
                **_corrected(k, n, val),
            }
        )
    return rows
