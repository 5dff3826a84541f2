"""`autocode stats` as data: every table of a coded corpus and the provenance of the run.

`build_report` takes loaded inputs (their corpus in DuckDB) and returns the tables (in page
order) and a provenance block: the counts come from `pipeline.stats.counts`, the statistics
from pure functions over them. Loading is in `pipeline.stats.inputs`, writing in
`pipeline.stats.output`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pipeline import __version__
from pipeline.codebook import Codebook
from pipeline.stats.adstable import MISSING, By, grouping
from pipeline.stats.corpus import Corpus
from pipeline.stats.counts import (
    Patterns,
    differences,
    entries,
    patterns,
    tool_counts,
    tool_pairs,
)
from pipeline.stats.inference_rows import few_positives
from pipeline.stats.inputs import CodingSource, StatsInput, corpus_of
from pipeline.stats.tables import (
    Balance,
    Table,
    balance_pairs,
    balance_rows,
    category_rows,
    cooccurrence_rows,
    corrected_rows,
    crosstab_rows,
    group_rows,
    independence_rows,
    part_rows,
    profile_rows,
)
from pipeline.stats.tools import (
    tool_cooccurrence,
    tools_by_category,
    tools_by_profile,
    top_tools,
)
from pipeline.stats.validation import (
    inference_provenance,
    inference_tables,
    sample_warnings,
    validation_of,
)

CI = "Wilson 95% interval"


@dataclass
class Report:
    tables: list[Table]
    provenance: dict

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


def _prevalence(by_profile: Patterns, totals: np.ndarray, corpus: Corpus) -> list[Table]:
    book = corpus.book
    index = {c: i for i, c in enumerate(corpus.categories)}
    balances = []
    for part, a, b, cats_a, cats_b in balance_pairs(book):
        cols_a, cols_b = [index[c] for c in cats_a], [index[c] for c in cats_b]
        values, counts = differences(corpus, cols_a, cols_b)
        entries_a, entries_b = int(totals[cols_a].sum()), int(totals[cols_b].sum())
        balances.append(Balance(part, a, b, entries_a, entries_b, values, counts))
    return [
        Table(
            "categories",
            "Prevalence per category",
            f"Ads coding the category at least once: count, share of all ads and its {CI}; "
            "entries (quotes or tools) in all and per ad.",
            category_rows(by_profile, totals, book),
        ),
        Table(
            "groups",
            "Prevalence per group",
            "Ads coding at least one category of the group.",
            group_rows(by_profile, totals, book),
        ),
        Table(
            "parts",
            "Prevalence per part",
            "Ads coding at least one category of the part.",
            part_rows(by_profile, totals, book),
        ),
        Table(
            "group_balance",
            "Group balance within a part",
            "Every pair of groups of a quotes part, over all ads: mean entries per ad, the "
            "share of ads where each side has more entries (and ties), the paired Wilcoxon "
            "signed-rank test (two-sided, ties dropped) and the rank-biserial correlation "
            "(+1: group a always has more, -1: group b always has more).",
            balance_rows(balances, by_profile.n),
        ),
    ]


def _profiles(by_profile: Patterns, book: Codebook) -> list[Table]:
    levels = book.profile_names
    return [
        Table(
            "profiles",
            "Profiles",
            f"Ads per profile, share of the ads with a profile and its {CI}.",
            profile_rows(by_profile, book),
        ),
        Table(
            "profile_categories",
            "Profile x category",
            "Per profile and category: ads of that profile coding the category, and their "
            f"share of the profile's ads ({CI}).",
            crosstab_rows(by_profile, levels, book, "profile"),
        ),
        Table(
            "profile_tests",
            "Profile x category: independence",
            "Per category, chi-square test of profile x (coded, not coded) over the profiles "
            "that occur, without continuity correction, and Cramér's V; cells expected under "
            "5 ads are counted (the test is then unreliable) and, for two profiles, Fisher's "
            "exact p is given.",
            independence_rows(by_profile, levels, book),
        ),
    ]


def _tools(inp: StatsInput, corpus: Corpus, by_profile: Patterns) -> list[Table]:
    counts = tool_counts(corpus, by_profile.n)
    top = top_tools(counts, inp.top)
    profile_ads = {name: by_profile.where(name).n for name in inp.book.profile_names}
    both = tool_pairs(corpus, [str(r["tool"]) for r in top])
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
            tools_by_category(counts, inp.book, n),
        ),
        Table(
            "tools_by_profile",
            f"Top {n} tools per profile",
            "Ads of the profile naming the tool, and their share of the profile's ads.",
            tools_by_profile(counts, profile_ads, inp.book, n),
        ),
        Table(
            "tool_cooccurrence",
            f"Co-occurrence of the top {n} tools",
            "Every pair of the top tools: ads naming both, and the phi coefficient.",
            tool_cooccurrence(counts, top, both),
        ),
    ]


def _levels(counts: Mapping[str, int], by: By) -> list[str]:
    if by.period:
        levels = sorted(g for g in counts if g != MISSING)
    else:
        levels = sorted((g for g in counts if g != MISSING), key=lambda g: (-counts[g], g))
    return levels + ([MISSING] if MISSING in counts else [])


def _breakdown(inp: StatsInput, corpus: Corpus, by: By) -> list[Table]:
    assert inp.ads_table is not None
    groups = grouping(corpus.db, inp.ads_table, by, inp.id_field)
    by_group = patterns(corpus, groups.label, groups.join)
    sizes: dict[str, int] = {}
    for label, count in zip(by_group.labels, by_group.count, strict=True):
        sizes[label] = sizes.get(label, 0) + int(count)
    levels = _levels(sizes, by)
    return [
        Table(
            f"by_{by.name}",
            f"Prevalence by {by.name}",
            f"Per {by.name} and category: ads coding the category and their share of that "
            f"group's ads ({CI}); {MISSING} holds ads without a value.",
            crosstab_rows(by_group, levels, inp.book, by.name),
        ),
        Table(
            f"by_{by.name}_tests",
            f"Prevalence by {by.name}: independence",
            f"Per category, chi-square test of {by.name} x (coded, not coded) and Cramér's V, "
            "as for profiles.",
            independence_rows(by_group, levels, inp.book),
        ),
    ]


def _corrected(pres: Patterns, inp: StatsInput) -> Table:
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
    """Every table and the provenance; a corpus is made of the sources where the inputs
    come without one (codings given in memory), and closed again."""
    if inp.corpus is not None:
        return _report(inp, inp.corpus)
    corpus = corpus_of(inp.sources, inp.book)
    try:
        return _report(inp, corpus)
    finally:
        corpus.close()


def _report(inp: StatsInput, corpus: Corpus) -> Report:
    by_profile = patterns(corpus, "profile")
    tables = [*_prevalence(by_profile, entries(corpus), corpus)]
    if inp.validation is not None:
        tables.append(_corrected(by_profile, inp))
    tables += [
        *_profiles(by_profile, inp.book),
        Table(
            "cooccurrence",
            "Category co-occurrence",
            "Every pair of categories: ads coding both, and the phi coefficient "
            "(Pearson's r of the two presence indicators; undefined when a category is "
            "coded in every ad or in none).",
            cooccurrence_rows(by_profile, inp.book),
        ),
        *_tools(inp, corpus, by_profile),
    ]
    for by in inp.by:
        tables += _breakdown(inp, corpus, by)
    prov = provenance(inp, corpus, by_profile)
    if inp.sample is not None:
        val = validation_of(inp, corpus)
        tables += inference_tables(inp, corpus, val)
        prov["inference"]["few_positives"] = few_positives(val)
        prov["warnings"] += sample_warnings(prov["inference"])
    return Report(tables, prov)


# ------------------------------------------------------------------ provenance


def _models(source: CodingSource) -> list[str]:
    if source.manifest and source.manifest.get("model"):
        return [str(source.manifest["model"])]
    return source.models


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


def _ads_table(inp: StatsInput, corpus: Corpus) -> dict | None:
    if inp.ads_table is None:
        return None
    not_coded, not_in_table = corpus.db.execute(
        "SELECT (SELECT count(*) FROM ads WHERE id NOT IN (SELECT ad_id FROM coded)), "
        "(SELECT count(*) FROM coded WHERE ad_id NOT IN (SELECT id FROM ads))"
    ).fetchall()[0]
    return {
        "path": str(inp.ads_table.path),
        "ads": inp.ads_table.size,
        "not_coded": not_coded,
        "coded_not_in_table": not_in_table,
    }


def provenance(inp: StatsInput, corpus: Corpus, by_profile: Patterns) -> dict:
    failed = [ad_id for s in inp.sources for ad_id in s.failed]
    book = inp.book
    return {
        "autocode_version": __version__,
        "inputs": [
            {
                "path": str(s.path),
                "ads": s.ads,
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
        "ads": by_profile.n,
        "ads_without_profile": int(by_profile.count[by_profile.labels == None].sum()),  # noqa: E711
        "left_out": {"failed": len(failed), "ad_ids": failed},
        "ads_table": _ads_table(inp, corpus),
        "by": [by.name for by in inp.by],
        "validated": inp.validated_path,
        "inference": inference_provenance(inp),
        "top": inp.top,
        "warnings": codebook_warnings(inp),
    }
