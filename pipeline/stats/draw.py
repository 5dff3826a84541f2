"""Drawing a validation sample from a coded corpus (the edge of `autocode sample`): read the
coding sets into the DuckDB corpus (as `stats` reads them), take what the design needs of
every ad in id order (its id, stratum or uncertainty), draw, and write the files; the only
codings held are those of the sampled ads, for their blank sheets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pipeline import __version__
from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.record import Coding
from pipeline.stats.adstable import grouping, parse_by, read_ads_table
from pipeline.stats.corpus import Corpus
from pipeline.stats.inputs import CodingSource, open_corpus, source_codings
from pipeline.stats.sample import (
    Draw,
    confidence_of,
    hash_of,
    record_json,
    srs,
    stratified,
    uncertainty_of,
)
from pipeline.stats.sample_files import write_sample


def _strata(column: str, corpus: Corpus, ads: Path | None, id_field: str) -> list[str]:
    """Every ad's stratum, in id order."""
    if column == "profile":  # the drafted profile, not a column of the ads table
        rows = corpus.db.execute(
            "SELECT coalesce(nullif(profile, ''), '(none)') FROM coded ORDER BY ad_id"
        ).fetchall()
        return [r[0] for r in rows]
    if ads is None:
        raise InputError(f"--design stratified:{column} needs --ads, the ads table it groups by")
    by = parse_by(column)
    table = read_ads_table(corpus.db, ads, id_field, [by.column])
    groups = grouping(corpus.db, table, by, id_field)
    rows = corpus.db.execute(
        f"SELECT {groups.label} FROM coded {groups.join} ORDER BY coded.ad_id"
    ).fetchall()
    return [r[0] for r in rows]


def _scores(corpus: Corpus) -> list[float]:
    """Every ad's uncertainty, in id order (an error at the first without samples)."""
    rows = corpus.db.execute(
        "SELECT ad_id, n_codings, agreement, profile_support FROM coded ORDER BY ad_id"
    ).fetchall()
    return [uncertainty_of(*row) for row in rows]


def draw_of(
    design: str, corpus: Corpus, n: int, seed: int, ads: Path | None, id_field: str
) -> Draw:
    ad_ids = [r[0] for r in corpus.db.execute("SELECT ad_id FROM coded ORDER BY ad_id").fetchall()]
    if n > len(ad_ids):
        raise InputError(f"--n {n}: the coding sets hold only {len(ad_ids)} ads")
    rng = np.random.default_rng(seed)
    if design == "srs":
        return srs(ad_ids, n, rng)
    if design.startswith("stratified:") and design.partition(":")[2].strip():
        column = design.partition(":")[2].strip()
        return stratified(ad_ids, _strata(column, corpus, ads, id_field), n, rng)
    if design == "confidence":
        return confidence_of(ad_ids, _scores(corpus), n, rng)
    raise InputError(f"--design {design!r}: use srs, stratified:COLUMN or confidence")


def _hash_and_sampled(
    corpus: Corpus, sources: list[CodingSource], book: Codebook, drawn: set[str]
) -> tuple[str, dict[str, Coding]]:
    """The codings' hash (every record read again, and checked) and the sampled codings,
    kept as they pass."""
    sampled: dict[str, Coding] = {}

    def records() -> Iterator[tuple[str, str]]:
        for coding in source_codings(sources, book):
            if coding.ad_id in drawn:
                sampled[coding.ad_id] = coding
            yield coding.ad_id, record_json(coding)

    return hash_of(corpus.sorted_records(records())), sampled


def draw_sample(
    paths: list[Path],
    book: Codebook,
    n: int,
    out: Path,
    design: str,
    seed: int,
    ads: Path | None = None,
    id_field: str = "id",
) -> Path:
    """Draw and write the sample; the path of sample.json."""
    corpus, sources = open_corpus(paths, book)
    try:
        draw = draw_of(design, corpus, n, seed, ads, id_field)
        digest, sampled = _hash_and_sampled(corpus, sources, book, set(draw.ad_ids))
    finally:
        corpus.close()
    meta = {
        "tool": "autocode",
        "version": __version__,
        "design": design,
        "seed": seed,
        "N": len(draw.probabilities),
        "codings": [str(s.path) for s in sources],
        "codings_sha256": digest,
        "provenance": [s.manifest for s in sources if s.manifest is not None],
    }
    write_sample(Path(out), draw, meta, sampled, book)
    return Path(out) / "sample.json"
