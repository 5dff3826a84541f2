"""A straightforward Python reference for the tables of `autocode stats`: the per-ad loops over
Coding records that `stats` ran before DuckDB counted for it (kept as they were), feeding the
same statistics. `test_stats_engine` requires the product to give these rows digit for digit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from itertools import combinations

import numpy as np

from pipeline.matching import tool_key
from pipeline.stats.estimators import (
    cooccurrence,
    independence,
    paired_comparison,
    share,
    wilson,
)
from pipeline.stats.inference_rows import (
    Validation,
    difference_rows,
    group_test_rows,
    inference_rows,
)
from pipeline.stats.tables import _corrected, _counted, _group_of, _interval, _test_row
from pipeline.stats.tables import with_adjusted_p as adjusted
from pipeline.stats.tools import _ranked

MISSING = "(missing)"
PERIODS = {"month": 7, "year": 4}


class Presence:
    def __init__(self, codings, book):
        self.categories = list(book.categories)
        index = {c: i for i, c in enumerate(self.categories)}
        self.entries = np.zeros((len(codings), len(self.categories)), dtype=int)
        for row, coding in enumerate(codings):
            for cat in [*(q.category for q in coding.quotes), *(t.category for t in coding.tools)]:
                self.entries[row][index[cat]] += 1
        self.ad_ids = [c.ad_id for c in codings]
        self.profiles = [c.profile for c in codings]
        self.coded = self.entries > 0
        self.index = index

    def columns(self, ids):
        return [self.index[c] for c in ids]


def prevalence(pres, book):
    n, groups = len(pres.ad_ids), _group_of(book)
    ads, entries = pres.coded.sum(axis=0), pres.entries.sum(axis=0)
    categories = [
        {
            "category": cid,
            "name": book.categories[cid].name,
            "part": book.part_of[cid].id,
            "group": groups.get(cid, ""),
            **_counted(int(ads[i]), n, int(entries[i])),
        }
        for i, cid in enumerate(pres.categories)
    ]

    def any_of(ids):
        cols = pres.columns(ids)
        return int(pres.coded[:, cols].any(axis=1).sum()), int(pres.entries[:, cols].sum())

    group_rows, part_rows = [], []
    for part in book.parts:
        for group in part.groups:
            a, e = any_of([c.id for c in group.categories])
            group_rows.append(
                {"part": part.id, "group": group.title, "categories": len(group.categories)}
                | _counted(a, n, e)
            )
    for part in book.parts:
        a, e = any_of([c.id for c in part.all_categories()])
        part_rows.append(
            {"part": part.id, "title": part.title, "kind": part.kind, **_counted(a, n, e)}
        )
    return {
        "categories": categories,
        "groups": group_rows,
        "parts": part_rows,
        "group_balance": balance(pres, book),
    }


def balance(pres, book):
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


def crosstab(pres, groups, levels, book, key):
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


def independence_rows(pres, groups, levels, book):
    labels = np.asarray([g if g is not None else "" for g in groups], dtype=object)
    masks = [labels == level for level in levels]
    rows = []
    for i, cid in enumerate(pres.categories):
        coded = pres.coded[:, i]
        table = [[int(coded[m].sum()), int((~coded[m]).sum())] for m in masks]
        rows.append(
            {"category": cid, "name": book.categories[cid].name, **_test_row(independence(table))}
        )
    return adjusted(rows)


def profiles(pres, book):
    named = [p for p in pres.profiles if p]
    levels = book.profile_names
    return {
        "profiles": [
            {"profile": name, "ads": named.count(name), **_interval(named.count(name), len(named))}
            for name in levels
        ],
        "profile_categories": crosstab(pres, pres.profiles, levels, book, "profile"),
        "profile_tests": independence_rows(pres, pres.profiles, levels, book),
    }


def cooccurrence_rows(pres, book):
    both, phi = cooccurrence(pres.coded)
    return [
        {
            "category_a": pres.categories[i],
            "category_b": pres.categories[j],
            "name_a": book.categories[pres.categories[i]].name,
            "name_b": book.categories[pres.categories[j]].name,
            "ads": int(both[i, j]),
            "phi": None if np.isnan(phi[i, j]) else float(phi[i, j]),
        }
        for i, j in combinations(range(len(pres.categories)), 2)
    ]


def corrected_rows(pres, book, validation):
    n, ads = len(pres.ad_ids), pres.coded.sum(axis=0)
    rows = []
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


# ------------------------------------------------------------------ tools


class ToolIndex:
    def __init__(self, codings):
        self.per_ad, self.per_ad_category = [], []
        spellings, categories = defaultdict(Counter), defaultdict(Counter)
        for coding in codings:
            keys = [(tool_key(t.name), t.category, t.name) for t in coding.tools]
            for key, category, name in keys:
                spellings[key][name] += 1
                categories[key][category] += 1
            self.per_ad.append({k for k, _, _ in keys})
            self.per_ad_category.append({(k, c) for k, c, _ in keys})
        self.name = {k: c.most_common(1)[0][0] for k, c in spellings.items()}
        self.category = {k: c.most_common(1)[0][0] for k, c in categories.items()}


def tools(codings, pres, book, top):
    index = ToolIndex(codings)
    n = len(index.per_ad)
    counts = Counter(k for keys in index.per_ad for k in keys)
    top_rows = []
    for rank, (key, ads) in enumerate(_ranked(counts, top), start=1):
        low, high = wilson(ads, n)
        top_rows.append(
            {
                "rank": rank,
                "tool": key,
                "name": index.name[key],
                "category": index.category[key],
                "ads": ads,
                "share": share(ads, n),
                "ci_low": low,
                "ci_high": high,
            }
        )
    pair_counts = Counter(p for pairs in index.per_ad_category for p in pairs)
    by_category = []
    for cid in book.ids_of_kind("tools"):
        within = Counter({k: c for (k, cat), c in pair_counts.items() if cat == cid})
        by_category += [
            {
                "category": cid,
                "category_name": book.categories[cid].name,
                "rank": rank,
                "tool": key,
                "name": index.name[key],
                "ads": ads,
                "share": share(ads, n),
            }
            for rank, (key, ads) in enumerate(_ranked(within, top), start=1)
        ]
    return {
        "tools": top_rows,
        "tools_by_category": by_category,
        "tools_by_profile": tools_by_profile(index, pres.profiles, book, top),
        "tool_cooccurrence": tool_pairs(index, top_rows),
    }


def tools_by_profile(index, profiles_, book, top):
    rows = []
    for profile in book.profile_names:
        ads_of = [keys for keys, p in zip(index.per_ad, profiles_, strict=True) if p == profile]
        counts = Counter(k for keys in ads_of for k in keys)
        rows += [
            {
                "profile": profile,
                "profile_ads": len(ads_of),
                "rank": rank,
                "tool": key,
                "name": index.name[key],
                "ads": ads,
                "share": share(ads, len(ads_of)),
            }
            for rank, (key, ads) in enumerate(_ranked(counts, top), start=1)
        ]
    return rows


def tool_pairs(index, top_rows):
    keys = [str(r["tool"]) for r in top_rows]
    matrix = np.array([[k in named for k in keys] for named in index.per_ad], dtype=bool)
    if not keys or not len(matrix):
        return []
    both, phi = cooccurrence(matrix)
    return [
        {
            "tool_a": keys[i],
            "tool_b": keys[j],
            "name_a": index.name[keys[i]],
            "name_b": index.name[keys[j]],
            "ads": int(both[i, j]),
            "phi": None if np.isnan(phi[i, j]) else float(phi[i, j]),
        }
        for i, j in combinations(range(len(keys)), 2)
    ]


# ------------------------------------------------------------------ --by


def group_values(rows, ad_ids, column, period):
    """Each ad's group; `rows`: ad id -> row of the ads table (as json.loads gave it)."""
    out = []
    for ad_id in ad_ids:
        row = rows.get(ad_id)
        value = None if row is None else row.get(column)
        if value is None or not str(value).strip():
            out.append(MISSING)
            continue
        value = str(value).strip()
        if period is not None:
            date.fromisoformat(value[:10])
            value = value[: PERIODS[period]]
        out.append(value)
    return out


def levels_of(groups, period):
    counts = Counter(groups)
    if period:
        levels = sorted(g for g in counts if g != MISSING)
    else:
        levels = sorted((g for g in counts if g != MISSING), key=lambda g: (-counts[g], g))
    return levels + ([MISSING] if MISSING in counts else [])


def breakdown(pres, book, rows, column, period):
    name = f"{column}_{period}" if period else column
    groups = group_values(rows, pres.ad_ids, column, period)
    levels = levels_of(groups, period)
    return {
        f"by_{name}": crosstab(pres, groups, levels, book, name),
        f"by_{name}_tests": independence_rows(pres, groups, levels, book),
    }


# ------------------------------------------------------------------ inference


def targets(pres, book):
    coded = pres.coded.astype(float)
    out = {cid: coded[:, i] for i, cid in enumerate(pres.categories)}
    for part in book.parts:
        ids = [c.id for c in part.categories] + [c.id for g in part.groups for c in g.categories]
        out[f"part:{part.id}"] = coded[:, pres.columns(ids)].max(axis=1)
    for part in book.parts:
        for group in part.groups:
            out[f"group:{group.title}"] = coded[
                :, pres.columns([c.id for c in group.categories])
            ].max(axis=1)
    named = np.asarray([p or "" for p in pres.profiles], dtype=object)
    for name in book.profile_names:
        out[f"profile:{name}"] = (named == name).astype(float)
    return out


def inference(pres, book, sample, gold, finite, cluster_values, by_groups):
    drawn = set(sample.ad_ids)
    sampled = np.array([a in drawn and a in gold for a in pres.ad_ids])
    gold_pres = Presence([gold[a] for a in pres.ad_ids if a in drawn and a in gold], book)
    gold_values = {}
    for target, values in targets(gold_pres, book).items():
        column = np.full(len(pres.ad_ids), np.nan)
        column[sampled] = values
        gold_values[target] = column
    val = Validation(
        sampled=sampled,
        pi=np.array([sample.probabilities.get(a, np.nan) for a in pres.ad_ids]),
        equal=sample.equal_probabilities,
        gold=gold_values,
        model=targets(pres, book),
        finite=finite,
        clusters=None if cluster_values is None else np.asarray(cluster_values, dtype=object),
    )
    groups = {}
    for name, values in by_groups.items():
        labels = np.asarray(values, dtype=object)
        groups[name] = {level: labels == level for level in sorted(set(values))}
    out = {"inference": inference_rows(val, {v: m for g in groups.values() for v, m in g.items()})}
    if groups:
        out["differences"] = [r for b, m in groups.items() for r in difference_rows(val, b, m)]
        out["group_tests"] = [r for b, m in groups.items() for r in group_test_rows(val, b, m)]
    return out


def tables(codings, book, top=20, rows=None, by=(), validation=None, inference_args=None):
    """{table name: rows} as `stats` computed them ad by ad; `by`: (column, period) pairs."""
    pres = Presence(codings, book)
    out = prevalence(pres, book)
    if validation is not None:
        out["corrected"] = corrected_rows(pres, book, validation)
    out |= profiles(pres, book)
    out["cooccurrence"] = cooccurrence_rows(pres, book)
    out |= tools(codings, pres, book, top)
    for column, period in by:
        out |= breakdown(pres, book, rows or {}, column, period)
    if inference_args is not None:
        sample, gold, finite, cluster = inference_args
        clusters = None if cluster is None else group_values(rows, pres.ad_ids, cluster, None)
        by_groups = {(f"{c}_{p}" if p else c): group_values(rows, pres.ad_ids, c, p) for c, p in by}
        out |= inference(pres, book, sample, gold, finite, clusters, by_groups)
    return out
