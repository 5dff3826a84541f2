"""The validation sample against the model's codings of the corpus (`autocode stats --gold
--sample`), and the tables of its estimates. Per ad of the corpus, in corpus order: the
model's values of every target, whether the ad was drawn and coded by hand, its inclusion
probability, cluster and --by group; held as arrays of one byte or one number per ad, the
values of a target made when asked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from pipeline.codebook import Codebook
from pipeline.record import Coding
from pipeline.stats.adstable import By, grouping
from pipeline.stats.corpus import Corpus
from pipeline.stats.counts import per_ad
from pipeline.stats.inference_rows import (
    Spread,
    Targets,
    Validation,
    difference_rows,
    group_test_rows,
    inference_rows,
)
from pipeline.stats.inputs import StatsInput
from pipeline.stats.tables import Table


def presence_of(codings: Sequence[Coding], book: Codebook) -> tuple[np.ndarray, np.ndarray]:
    """Codings held in memory (the human ones) as `per_ad` gives the corpus's: 0/1 per
    category, and the profile ('' for none)."""
    index = {c: i for i, c in enumerate(book.categories)}
    coded = np.zeros((len(codings), len(index)), dtype=np.uint8)
    for row, coding in enumerate(codings):
        for category in [*(q.category for q in coding.quotes), *(t.category for t in coding.tools)]:
            coded[row, index[category]] = 1
    return coded, np.asarray([c.profile or "" for c in codings], dtype=object)


def _column(corpus: Corpus, sql: str, name: str, table: pa.Table) -> np.ndarray:
    """One value per ad in corpus order, from `sql` over `coded` and `table` (as `name`)."""
    corpus.db.register(name, table)
    try:
        return corpus.db.execute(sql).fetchnumpy()["v"]
    finally:
        corpus.db.unregister(name)


def validation_of(inp: StatsInput, corpus: Corpus) -> Validation:
    """The human sample against the model's codings, ad by ad in the corpus's order."""
    assert inp.sample is not None and inp.gold is not None
    sample, book = inp.sample, inp.book
    coded, profiles = per_ad(corpus, book.profile_names)
    validated = pa.table({"ad_id": pa.array([a for a in sample.ad_ids if a in inp.gold])})
    sampled = _column(
        corpus,
        "SELECT ad_id IN (SELECT ad_id FROM validated) AS v FROM coded ORDER BY rid",
        "validated",
        validated,
    ).astype(bool)
    order = _in_order(corpus, validated)
    gold_coded, gold_profiles = presence_of([inp.gold[a] for a in order], book)
    probabilities = pa.table(
        {
            "ad_id": pa.array(list(sample.probabilities), pa.string()),
            "pi": pa.array(list(sample.probabilities.values()), pa.float64()),
        }
    )
    pi = _column(
        corpus,
        "SELECT coalesce(p.pi, 'NaN'::DOUBLE) AS v FROM coded LEFT JOIN probabilities p "
        "USING (ad_id) ORDER BY rid",
        "probabilities",
        probabilities,
    )
    clusters = group_codes(corpus, inp, By(inp.cluster))[1] if inp.cluster else None
    return Validation(
        sampled=sampled,
        pi=np.asarray(pi, dtype=float),
        equal=sample.equal_probabilities,
        gold=Spread(Targets(gold_coded, gold_profiles, book), sampled),
        model=Targets(coded, profiles, book),
        finite=inp.finite_population,
        clusters=clusters,
    )


def _in_order(corpus: Corpus, validated: pa.Table) -> list[str]:
    """The validated ads in corpus order."""
    corpus.db.register("validated", validated)
    rows = corpus.db.execute(
        "SELECT ad_id FROM coded WHERE ad_id IN (SELECT ad_id FROM validated) ORDER BY rid"
    ).fetchall()
    corpus.db.unregister("validated")
    return [r[0] for r in rows]


def group_codes(corpus: Corpus, inp: StatsInput, by: By) -> tuple[list[str], np.ndarray]:
    """The groups of a column (sorted as Python sorts them) and each ad's group among them,
    as a number in corpus order: sorted, numbers order the groups as their names would."""
    assert inp.ads_table is not None
    groups = grouping(corpus.db, inp.ads_table, by, inp.id_field)
    rows = corpus.db.execute(f"SELECT DISTINCT {groups.label} FROM coded {groups.join}").fetchall()
    levels = sorted(r[0] for r in rows)
    codes = pa.table({"level": pa.array(levels, pa.string()), "code": range(len(levels))})
    values = _column(
        corpus,
        f"SELECT l.code AS v FROM coded {groups.join} JOIN levels l ON l.level = {groups.label} "
        "ORDER BY coded.rid",
        "levels",
        codes,
    )
    return levels, np.asarray(values, dtype=np.int64)


# ------------------------------------------------------------------ tables


def inference_tables(inp: StatsInput, corpus: Corpus, val: Validation) -> list[Table]:
    groups = {by.name: _masks(inp, corpus, by) for by in inp.by if inp.ads_table}
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


def _masks(inp: StatsInput, corpus: Corpus, by: By) -> dict[str, np.ndarray]:
    """Per group of a --by column (in sorted order), which ads of the corpus are in it."""
    levels, codes = group_codes(corpus, inp, by)
    return {level: codes == i for i, level in enumerate(levels)}


def inference_provenance(inp: StatsInput) -> dict | None:
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


def sample_warnings(inference: dict) -> list[str]:
    missing = inference["sampled_without_gold"]
    if not missing:
        return []
    listed = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
    return [
        f"{len(missing)} sampled ad(s) have no coding in {inference['gold']} and are left out "
        f"of the estimates: {listed}"
    ]
