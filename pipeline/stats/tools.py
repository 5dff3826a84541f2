"""Tool tables of `autocode stats`: the most named tools overall, per tool category and per
profile, and how the top tools go together, from the counts of `counts.tool_counts`. Tool
names are compared as `autocode eval` compares them (`matching.tool_key`): `Scikit-Learn` and
`scikit learn` are one tool.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from pipeline.codebook import Codebook
from pipeline.stats.counts import ToolCounts
from pipeline.stats.estimators import phi_matrix, share, wilson
from pipeline.stats.tables import Row


def _ranked(counts: dict[str, int], top: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def top_tools(tools: ToolCounts, top: int) -> list[Row]:
    n = tools.n
    rows = []
    for rank, (key, ads) in enumerate(_ranked(tools.ads, top), start=1):
        low, high = wilson(ads, n)
        rows.append(
            {
                "rank": rank,
                "tool": key,
                "name": tools.name[key],
                "category": tools.category[key],
                "ads": ads,
                "share": share(ads, n),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return rows


def tools_by_category(tools: ToolCounts, book: Codebook, top: int) -> list[Row]:
    n = tools.n
    rows: list[Row] = []
    for cid in book.ids_of_kind("tools"):
        within = {k: c for (k, cat), c in tools.by_category.items() if cat == cid}
        rows += [
            {
                "category": cid,
                "category_name": book.categories[cid].name,
                "rank": rank,
                "tool": key,
                "name": tools.name[key],
                "ads": ads,
                "share": share(ads, n),
            }
            for rank, (key, ads) in enumerate(_ranked(within, top), start=1)
        ]
    return rows


def tools_by_profile(
    tools: ToolCounts, profile_ads: dict[str, int], book: Codebook, top: int
) -> list[Row]:
    rows: list[Row] = []
    for profile in book.profile_names:
        size = profile_ads[profile]
        rows += [
            {
                "profile": profile,
                "profile_ads": size,
                "rank": rank,
                "tool": key,
                "name": tools.name[key],
                "ads": ads,
                "share": share(ads, size),
            }
            for rank, (key, ads) in enumerate(
                _ranked(tools.by_profile.get(profile, {}), top), start=1
            )
        ]
    return rows


def tool_cooccurrence(tools: ToolCounts, top_rows: list[Row], both: np.ndarray) -> list[Row]:
    """Every pair of the top tools: ads naming both (`both`, in the order of the top
    rows), and phi."""
    keys = [str(r["tool"]) for r in top_rows]
    if not keys or not tools.n:
        return []
    both, phi = phi_matrix(both, tools.n)
    return [
        {
            "tool_a": keys[i],
            "tool_b": keys[j],
            "name_a": tools.name[keys[i]],
            "name_b": tools.name[keys[j]],
            "ads": int(both[i, j]),
            "phi": None if np.isnan(phi[i, j]) else float(phi[i, j]),
        }
        for i, j in combinations(range(len(keys)), 2)
    ]
