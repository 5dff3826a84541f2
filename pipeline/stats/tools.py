"""Tool tables of `autocode stats`: the most named tools overall, per tool category and per
profile, and how the top tools go together. Tool names are compared as `autocode eval`
compares them (`evaluate.tool_key`): `Scikit-Learn` and `scikit learn` are one tool.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from pipeline.codebook import Codebook
from pipeline.matching import tool_key
from pipeline.record import Coding
from pipeline.stats.estimators import cooccurrence, share, wilson
from pipeline.stats.tables import Row


class ToolIndex:
    """Per ad, the tool keys named (overall and per category), and each key's spelling."""

    def __init__(self, codings: Sequence[Coding]):
        self.per_ad: list[set[str]] = []
        self.per_ad_category: list[set[tuple[str, str]]] = []
        spellings: dict[str, Counter] = defaultdict(Counter)
        categories: dict[str, Counter] = defaultdict(Counter)
        for coding in codings:
            keys = [(tool_key(t.name), t.category, t.name) for t in coding.tools]
            for key, category, name in keys:
                spellings[key][name] += 1
                categories[key][category] += 1
            self.per_ad.append({k for k, _, _ in keys})
            self.per_ad_category.append({(k, c) for k, c, _ in keys})
        # most_common keeps first-seen order among ties, so the choice is stable
        self.name = {k: c.most_common(1)[0][0] for k, c in spellings.items()}
        self.category = {k: c.most_common(1)[0][0] for k, c in categories.items()}


def _ranked(counts: Counter, top: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def top_tools(index: ToolIndex, top: int) -> list[Row]:
    n = len(index.per_ad)
    counts = Counter(k for keys in index.per_ad for k in keys)
    rows = []
    for rank, (key, ads) in enumerate(_ranked(counts, top), start=1):
        low, high = wilson(ads, n)
        rows.append(
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
    return rows


def tools_by_category(index: ToolIndex, book: Codebook, top: int) -> list[Row]:
    n, rows = len(index.per_ad), []
    counts = Counter(pair for pairs in index.per_ad_category for pair in pairs)
    for cid in book.ids_of_kind("tools"):
        within = Counter({k: c for (k, cat), c in counts.items() if cat == cid})
        rows += [
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
    return rows


def tools_by_profile(
    index: ToolIndex, profiles: Sequence[str | None], book: Codebook, top: int
) -> list[Row]:
    rows = []
    for profile in book.profile_names:
        ads_of = [keys for keys, p in zip(index.per_ad, profiles, strict=True) if p == profile]
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


def tool_cooccurrence(index: ToolIndex, top_rows: list[Row]) -> list[Row]:
    """Every pair of the top tools: ads naming both, and phi."""
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
