"""The tables of `autocode stats`, built from codings and the codebook (pure functions).

Every table is a list of rows (dicts with the same keys, in column order); the CSV files,
stats.json, the page's tables and its charts are all drawn from these rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from pipeline.codebook import Codebook
from pipeline.record import Coding
from pipeline.stats.estimators import (
    Independence,
    Validation,
    cooccurrence,
    corrected_interval,
    independence,
    paired_comparison,
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
class Presence:
    """Ads x categories: entries coded per ad, in codebook order of categories."""

    ad_ids: list[str]
    categories: list[str]
    entries: np.ndarray  # int, ads x categories
    profiles: list[str | None]

    @property
    def coded(self) -> np.ndarray:
        return self.entries > 0

    def columns(self, ids: Sequence[str]) -> list[int]:
        index = {c: i for i, c in enumerate(self.categories)}
        return [index[c] for c in ids]


def presence(codings: Sequence[Coding], book: Codebook) -> Presence:
    categories = list(book.categories)
    index = {c: i for i, c in enumerate(categories)}
    entries = np.zeros((len(codings), len(categories)), dtype=int)
    for row, coding in enumerate(codings):
        for category in [*(q.category for q in coding.quotes), *(t.category for t in coding.tools)]:
            entries[row][index[category]] += 1
    return Presence([c.ad_id for c in codings], categories, entries, [c.profile for c in codings])


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


def category_rows(pres: Presence, book: Codebook) -> list[Row]:
    n, groups = len(pres.ad_ids), _group_of(book)
    ads, entries = pres.coded.sum(axis=0), pres.entries.sum(axis=0)
    return [
        {
            "category": cid,
            "name": book.categories[cid].name,
            "part": book.part_of[cid].id,
            "group": groups.get(cid, ""),
            **_counted(int(ads[i]), n, int(entries[i])),
        }
        for i, cid in enumerate(pres.categories)
    ]


def _any_of(pres: Presence, ids: Sequence[str]) -> tuple[int, int]:
    cols = pres.columns(ids)
    return int(pres.coded[:, cols].any(axis=1).sum()), int(pres.entries[:, cols].sum())


def group_rows(pres: Presence, book: Codebook) -> list[Row]:
    n, rows = len(pres.ad_ids), []
    for part in book.parts:
        for group in part.groups:
            ads, entries = _any_of(pres, [c.id for c in group.categories])
            rows.append(
                {
                    "part": part.id,
                    "group": group.title,
                    "categories": len(group.categories),
                    **_counted(ads, n, entries),
                }
            )
    return rows


def part_rows(pres: Presence, book: Codebook) -> list[Row]:
    n, rows = len(pres.ad_ids), []
    for part in book.parts:
        ads, entries = _any_of(pres, [c.id for c in part.all_categories()])
        rows.append(
            {"part": part.id, "title": part.title, "kind": part.kind, **_counted(ads, n, entries)}
        )
    return rows


def balance_rows(pres: Presence, book: Codebook) -> list[Row]:
    """Every pair of groups of a quotes part: per-ad entry counts, paired."""
    n, rows = len(pres.ad_ids), []
    for part in (p for p in book.parts if p.kind == "quotes"):
        totals = {
            g.title: pres.entries[:, pres.columns([c.id for c in g.categories])].sum(axis=1)
            for g in part.groups
        }
        for a, b in combinations(totals, 2):
            cmp = paired_comparison(totals[a], totals[b])
            rows.append(
                {
                    "part": part.id,
                    "group_a": a,
                    "group_b": b,
                    "ads": n,
                    "mean_a": share(int(totals[a].sum()), n),
                    "mean_b": share(int(totals[b].sum()), n),
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


def profile_rows(pres: Presence, book: Codebook) -> list[Row]:
    """Profiles over the ads that have one (a gold file may have none)."""
    profiles = [p for p in pres.profiles if p]
    n = len(profiles)
    return [
        {"profile": name, "ads": profiles.count(name), **_interval(profiles.count(name), n)}
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


def crosstab_rows(
    pres: Presence, groups: Sequence[str | None], levels: Sequence[str], book: Codebook, key: str
) -> list[Row]:
    """Per level (a profile, an industry…) x category: ads coding it, share, Wilson."""
    labels = np.asarray([g if g is not None else "" for g in groups], dtype=object)
    rows = []
    for level in levels:
        mask = labels == level
        size, ads = int(mask.sum()), pres.coded[mask].sum(axis=0)
        rows += [
            {
                key: level,
                f"{key}_ads": size,
                "category": cid,
                "name": book.categories[cid].name,
                "ads": int(ads[i]),
                **_interval(int(ads[i]), size),
            }
            for i, cid in enumerate(pres.categories)
        ]
    return rows


def independence_rows(
    pres: Presence, groups: Sequence[str | None], levels: Sequence[str], book: Codebook
) -> list[Row]:
    """Per category, chi-square of levels x (coded, not coded), with Cramér's V."""
    labels = np.asarray([g if g is not None else "" for g in groups], dtype=object)
    masks = [labels == level for level in levels]
    rows = []
    for i, cid in enumerate(pres.categories):
        coded = pres.coded[:, i]
        table = [[int(coded[m].sum()), int((~coded[m]).sum())] for m in masks]
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


def cooccurrence_rows(pres: Presence, book: Codebook) -> list[Row]:
    """Every pair of categories (codebook order): ads coding both, and phi."""
    both, phi = cooccurrence(pres.coded)
    rows = []
    for i, j in combinations(range(len(pres.categories)), 2):
        a, b = pres.categories[i], pres.categories[j]
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


def corrected_rows(pres: Presence, book: Codebook, validation: dict[str, Validation]) -> list[Row]:
    n, rows = len(pres.ad_ids), []
    ads = pres.coded.sum(axis=0)
    for i, cid in enumerate(pres.categories):
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
