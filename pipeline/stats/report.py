"""`autocode stats` as data: every table of a coded corpus and the provenance of the run.

`build_report` is pure: it takes loaded inputs and returns the tables (in page order) and
a provenance block. Loading is in `pipeline.stats.inputs`, writing in `pipeline.stats.output`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline import __version__
from pipeline.codebook import Codebook
from pipeline.stats.inference_rows import (
    Validation,
    difference_rows,
    few_positives,
    group_masks,
    group_test_rows,
    inference_rows,
    targets,
)
from pipeline.stats.inputs import MISSING, By, CodingSource, StatsInput, group_values
from pipeline.stats.tables import (
    Presence,
    Table,
    balance_rows,
    category_rows,
    cooccurrence_rows,
    corrected_rows,
    crosstab_rows,
    group_rows,
    independence_rows,
    part_rows,
    presence,
    profile_rows,
)
from pipeline.stats.tools import (
    ToolIndex,
    tool_cooccurrence,
    tools_by_category,
    tools_by_profile,
    top_tools,
)

CI = "Wilson 95% interval"


@dataclass
class Report:
    tables: list[Table]
    provenance: dict

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


def _prevalence(pres: Presence, book: Codebook) -> list[Table]:
    return [
        Table(
            "categories",
            "Prevalence per category",
            f"Ads coding the category at least once: count, share of all ads and its {CI}; "
            "entries (quotes or tools) in all and per ad.",
            category_rows(pres, book),
        ),
        Table(
            "groups",
            "Prevalence per group",
            "Ads coding at least one category of the group.",
            group_rows(pres, book),
        ),
        Table(
            "parts",
            "Prevalence per part",
            "Ads coding at least one category of the part.",
            part_rows(pres, book),
        ),
        Table(
            "group_balance",
            "Group balance within a part",
            "Every pair of groups of a quotes part, over all ads: mean entries per ad, the "
            "share of ads where each side has more entries (and ties), the paired Wilcoxon "
            "signed-rank test (two-sided, ties dropped) and the rank-biserial correlation "
            "(+1: group a always has more, -1: group b always has more).",
            balance_rows(pres, book),
        ),
    ]


def _profiles(pres: Presence, book: Codebook) -> list[Table]:
    levels = book.profile_names
    return [
        Table(
            "profiles",
            "Profiles",
            f"Ads per profile, share of the ads with a profile and its {CI}.",
            profile_rows(pres, book),
        ),
        Table(
            "profile_categories",
            "Profile x category",
            "Per profile and category: ads of that profile coding the category, and their "
            f"share of the profile's ads ({CI}).",
            crosstab_rows(pres, pres.profiles, levels, book, "profile"),
        ),
        Table(
            "profile_tests",
            "Profile x category: independence",
            "Per category, chi-square test of profile x (coded, not coded) over the profiles "
            "that occur, without continuity correction, and Cramér's V; cells expected under "
            "5 ads are counted (the test is then unreliable) and, for two profiles, Fisher's "
            "exact p is given.",
            independence_rows(pres, pres.profiles, levels, book),
        ),
    ]


def _tools(inp: StatsInput, pres: Presence, codings) -> list[Table]:
    index = ToolIndex(codings)
    top = top_tools(index, inp.top)
    n = inp.top
    return [
        Table(
            "tools",
            f"Top {n} tools",
            "Tool names normalised as `autocode eval` compares them; ads naming the tool, "
            f"share of all ads ({CI}), the usual spelling and tool category.",
            top,
        ),
        Table(
            "tools_by_category",
            f"Top {n} tools per tool category",
            "Ads naming the tool under that category, and their share of all ads.",
            tools_by_category(index, inp.book, n),
        ),
        Table(
            "tools_by_profile",
            f"Top {n} tools per profile",
            "Ads of the profile naming the tool, and their share of the profile's ads.",
            tools_by_profile(index, pres.profiles, inp.book, n),
        ),
        Table(
            "tool_cooccurrence",
            f"Co-occurrence of the top {n} tools",
            "Every pair of the top tools: ads naming both, and the phi coefficient.",
            tool_cooccurrence(index, top),
        ),
    ]


def _levels(groups: Sequence[str], by: By) -> list[str]:
    counts = Counter(groups)
    if by.period:
        levels = sorted(g for g in counts if g != MISSING)
    else:
        levels = sorted((g for g in counts if g != MISSING), key=lambda g: (-counts[g], g))
    return levels + ([MISSING] if MISSING in counts else [])


def _breakdown(inp: StatsInput, pres: Presence, by: By) -> list[Table]:
    assert inp.ads_table is not None
    groups = group_values(inp.ads_table, pres.ad_ids, by)
    levels = _levels(groups, by)
    return [
        Table(
            f"by_{by.name}",
            f"Prevalence by {by.name}",
            f"Per {by.name} and category: ads coding the category and their share of that "
            f"group's ads ({CI}); {MISSING} holds ads without a value.",
            crosstab_rows(pres, groups, levels, inp.book, by.name),
        ),
        Table(
            f"by_{by.name}_tests",
            f"Prevalence by {by.name}: independence",
            f"Per category, chi-square test of {by.name} x (coded, not coded) and Cramér's V, "
            "as for profiles.",
            independence_rows(pres, groups, levels, inp.book),
        ),
    ]


def _corrected(pres: Presence, inp: StatsInput) -> Table:
    assert inp.validation is not None
    return Table(
        "corrected",
        "Corrected prevalence",
        "The raw prevalence beside the Rogan-Gladen prevalence corrected for the model's "
        "sensitivity and specificity of presence in the eval report, clipped to [0, 1], "
        "with a 95% bootstrap interval over the corpus count and the validation ads.",
        corrected_rows(pres, inp.book, inp.validation),
    )


def build_report(inp: StatsInput) -> Report:
    codings = [c for s in inp.sources for c in s.codings]
    pres = presence(codings, inp.book)
    tables = [*_prevalence(pres, inp.book)]
    if inp.validation is not None:
        tables.append(_corrected(pres, inp))
    tables += [
        *_profiles(pres, inp.book),
        Table(
            "cooccurrence",
            "Category co-occurrence",
            "Every pair of categories: ads coding both, and the phi coefficient "
            "(Pearson's r of the two presence indicators; undefined when a category is "
            "coded in every ad or in none).",
            cooccurrence_rows(pres, inp.book),
        ),
        *_tools(inp, pres, codings),
    ]
    for by in inp.by:
        tables += _breakdown(inp, pres, by)
    prov = provenance(inp, pres)
    if inp.sample is not None:
        val = validation_of(inp, pres)
        tables += inference_tables(inp, pres, val)
        prov["inference"]["few_positives"] = few_positives(val)
        prov["warnings"] += _sample_warnings(prov["inference"])
    return Report(tables, prov)


def _sample_warnings(inference: dict) -> list[str]:
    missing = inference["sampled_without_gold"]
    if not missing:
        return []
    listed = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
    return [
        f"{len(missing)} sampled ad(s) have no coding in {inference['gold']} and are left out "
        f"of the estimates: {listed}"
    ]


# ------------------------------------------------------------------ provenance


def _models(source: CodingSource) -> list[str]:
    if source.manifest and source.manifest.get("model"):
        return [str(source.manifest["model"])]
    models = {c.drafted_by for c in source.codings if c.drafted_by}
    return sorted(models)  # type: ignore[type-var]


def codebook_warnings(inp: StatsInput) -> list[str]:
    """Coding sets made under another codebook than the one the tables follow."""
    warnings = []
    for source in inp.sources:
        book = (source.manifest or {}).get("codebook") or {}
        if book.get("sha256") and book["sha256"] != inp.book.sha256:
            warnings.append(
                f"{source.path}: coded under codebook {book.get('version')!r} "
                f"(SHA-256 {str(book['sha256'])[:12]}…), not the one used here "
                f"({inp.book.version!r}, {inp.book.sha256[:12]}…)"
            )
    return warnings


def _ads_table(inp: StatsInput, pres: Presence) -> dict | None:
    if inp.ads_table is None:
        return None
    coded = set(pres.ad_ids)
    rows = inp.ads_table.rows
    return {
        "path": str(inp.ads_table.path),
        "ads": len(rows),
        "not_coded": sum(ad_id not in coded for ad_id in rows),
        "coded_not_in_table": sum(ad_id not in rows for ad_id in coded),
    }


def provenance(inp: StatsInput, pres: Presence) -> dict:
    failed = [ad_id for s in inp.sources for ad_id in s.failed]
    book = inp.book
    return {
        "autocode_version": __version__,
        "inputs": [
            {
                "path": str(s.path),
                "ads": len(s.codings),
                "model": _models(s),
                "manifest": s.manifest is not None,
                "failed": len(s.failed),
            }
            for s in inp.sources
        ],
        "model": sorted({m for s in inp.sources for m in _models(s)}),
        "codebook": {
            "path": inp.codebook_path,
            "name": book.name,
            "version": book.version,
            "sha256": book.sha256,
        },
        "ads": len(pres.ad_ids),
        "ads_without_profile": sum(p is None for p in pres.profiles),
        "left_out": {"failed": len(failed), "ad_ids": failed},
        "ads_table": _ads_table(inp, pres),
        "by": [by.name for by in inp.by],
        "validated": inp.validated_path,
        "inference": _inference_provenance(inp),
        "top": inp.top,
        "warnings": codebook_warnings(inp),
    }


# ------------------------------------------------------------------ inference


def validation_of(inp: StatsInput, pres: Presence) -> Validation:
    """The human sample against the model's codings, ad by ad in the corpus's order."""
    assert inp.sample is not None and inp.gold is not None
    sample = inp.sample
    model = targets(pres, inp.book)
    drawn = set(sample.ad_ids)
    sampled = np.array([a in drawn and a in inp.gold for a in pres.ad_ids])
    gold_pres = presence(
        [inp.gold[a] for a in pres.ad_ids if a in drawn and a in inp.gold], inp.book
    )
    gold_values = targets(gold_pres, inp.book)
    gold = {}
    for target, values in gold_values.items():
        column = np.full(len(pres.ad_ids), np.nan)
        column[sampled] = values
        gold[target] = column
    clusters = None
    if inp.cluster:
        assert inp.ads_table is not None
        clusters = np.asarray(
            group_values(inp.ads_table, pres.ad_ids, By(inp.cluster)), dtype=object
        )
    return Validation(
        sampled=sampled,
        pi=np.array([sample.probabilities.get(a, np.nan) for a in pres.ad_ids]),
        equal=sample.equal_probabilities,
        gold=gold,
        model=model,
        finite=inp.finite_population,
        clusters=clusters,
    )


def inference_tables(inp: StatsInput, pres: Presence, val: Validation) -> list[Table]:
    table = inp.ads_table
    groups = {by.name: group_masks(group_values(table, pres.ad_ids, by)) for by in inp.by if table}
    design = inp.sample.design if inp.sample else ""
    estimand = "this corpus" if inp.finite_population else "the population the corpus is drawn from"
    tables = [
        Table(
            "inference",
            "Estimates with the validation sample",
            f"Per target (category presence, part, group, profile), overall and per group: "
            f"naive (the model's codings of every ad, ignoring its errors), classical (the "
            f"human sample alone) and PPI++ (both, unbiased whatever the model's errors); "
            f"95% intervals clipped to [0, 1]; design {design}, estimand {estimand}; "
            f"lambda is PPI++'s power tuning, ess n_gold x SE²(classical) / SE²(PPI++).",
            inference_rows(val, {v: m for masks in groups.values() for v, m in masks.items()}),
        )
    ]
    if groups:
        tables += [
            Table(
                "differences",
                "Differences between groups (PPI++)",
                "Per target and pair of groups: the difference of their PPI++ estimates with "
                "its 95% interval and p-value, adjusted over the table (Holm; "
                "Benjamini-Hochberg).",
                [r for by, masks in groups.items() for r in difference_rows(val, by, masks)],
            ),
            Table(
                "group_tests",
                "Equal across groups (PPI++ Wald test)",
                "Per target, the Wald chi-square that its PPI++ estimates are equal in every "
                "group, with adjusted p-values.",
                [r for by, masks in groups.items() for r in group_test_rows(val, by, masks)],
            ),
        ]
    return tables


def _inference_provenance(inp: StatsInput) -> dict | None:
    if inp.sample is None or inp.gold is None:
        return None
    sample, gold = inp.sample, inp.gold
    return {
        "sample": str(sample.path),
        "design": sample.design,
        "seed": sample.seed,
        "gold": inp.gold_path,
        "n_sampled": len(sample.ad_ids),
        "sampled_without_gold": [a for a in sample.ad_ids if a not in gold],
        "estimand": "corpus" if inp.finite_population else "population",
        "cluster": inp.cluster,
    }
