"""Drawing a validation sample from a coded corpus (the edge of `autocode sample`): read the
coding sets and the strata, draw, write the files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import __version__
from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.stats.adstable import grouping, parse_by, read_ads_table
from pipeline.stats.corpus import Corpus
from pipeline.stats.inputs import load_sources
from pipeline.stats.sample import Draw, codings_hash, confidence, srs, stratified
from pipeline.stats.sample_files import write_sample


def _strata(column: str, codings, ads: Path | None, id_field: str, book: Codebook) -> list[str]:
    if column == "profile":  # the drafted profile, not a column of the ads table
        return [c.profile or "(none)" for c in codings]
    if ads is None:
        raise InputError(f"--design stratified:{column} needs --ads, the ads table it groups by")
    by = parse_by(column)
    corpus = Corpus(book)  # the codings in their order, and the table, for `grouping`
    try:
        corpus.stage_codings(Path("CODINGS"), codings)
        corpus.commit(Path("CODINGS"))
        table = read_ads_table(corpus.db, ads, id_field, [by.column])
        groups = grouping(corpus.db, table, by, id_field)
        rows = corpus.db.execute(
            f"SELECT {groups.label} FROM coded {groups.join} ORDER BY coded.rid"
        ).fetchall()
    finally:
        corpus.close()
    return [r[0] for r in rows]


def draw_of(
    design: str, codings, n: int, seed: int, ads: Path | None, id_field: str, book: Codebook
) -> Draw:
    ad_ids = [c.ad_id for c in codings]
    if n > len(ad_ids):
        raise InputError(f"--n {n}: the coding sets hold only {len(ad_ids)} ads")
    rng = np.random.default_rng(seed)
    if design == "srs":
        return srs(ad_ids, n, rng)
    if design.startswith("stratified:") and design.partition(":")[2].strip():
        column = design.partition(":")[2].strip()
        return stratified(ad_ids, _strata(column, codings, ads, id_field, book), n, rng)
    if design == "confidence":
        return confidence(codings, n, rng)
    raise InputError(f"--design {design!r}: use srs, stratified:COLUMN or confidence")


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
    sources = load_sources(paths, book)
    codings = sorted((c for s in sources for c in s.codings or []), key=lambda c: c.ad_id)
    draw = draw_of(design, codings, n, seed, ads, id_field, book)
    meta = {
        "tool": "autocode",
        "version": __version__,
        "design": design,
        "seed": seed,
        "N": len(codings),
        "codings": [str(s.path) for s in sources],
        "codings_sha256": codings_hash(codings),
        "provenance": [s.manifest for s in sources if s.manifest is not None],
    }
    write_sample(Path(out), draw, meta, {c.ad_id: c for c in codings}, book)
    return Path(out) / "sample.json"
