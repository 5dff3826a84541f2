"""The inputs of `autocode stats`: coding sets with their run's manifest and failures (into
the DuckDB corpus, `corpus`), the ads table whose columns `--by` groups by (`adstable`), and
an `autocode eval --json` report.

Every problem is an InputError naming the file (and line or field).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.codings.load import RECORDS, iter_jsonl, load_codings, records_file
from pipeline.errors import InputError
from pipeline.record import Coding
from pipeline.stats.adstable import AdsTable, By, parse_by, read_ads_table
from pipeline.stats.corpus import Corpus
from pipeline.stats.estimators import Validation
from pipeline.stats.sample import hash_of, record_json
from pipeline.stats.sample_files import Sample, read_sample
from pipeline.store import read_records

# ------------------------------------------------------------------ coding sets


@dataclass
class CodingSource:
    """One CODINGS argument: its codings (held: Markdown codings, or codings given; else
    `records`, the codings.jsonl the corpus reads) and, for a run's OUT folder, the run's
    record. `ads` and `models` (those its records name) are filled in by the corpus."""

    path: Path
    codings: list[Coding] | None = None
    manifest: dict | None = None
    failed: list[str] = field(default_factory=list)  # in failures.jsonl, not coded
    records: Path | None = None
    ads: int = 0
    models: list[str] = field(default_factory=list)


def _run_folder(path: Path) -> Path | None:
    """The OUT folder a coding set belongs to, if it is one (or its codings.jsonl)."""
    if path.is_dir():
        return path
    return path.parent if path.name == RECORDS else None


def _manifest(folder: Path) -> dict | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the run's manifest: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the manifest is not a JSON object")
    return data


def _failed(folder: Path, not_coded) -> list[str]:
    """The ads of the run's failures.jsonl that are not coded (`not_coded`: for each id)."""
    ids = [f.get("ad_id") for f in read_records(folder / "failures.jsonl")]
    return [str(a) for a, out in zip(ids, not_coded(ids), strict=True) if a is not None and out]


def _add_source(corpus: Corpus, path: Path, book: Codebook) -> CodingSource:
    """A coding set into the corpus, checked in the order it always was: its records, its
    run's failures and manifest, then the ads it shares with earlier sets."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    records, codings = records_file(path, prefer_records=True), None
    if records is not None:
        corpus.stage_records(records)
    else:
        codings = load_codings(path, book, prefer_records=True)
        corpus.stage_codings(path, codings)
    folder = _run_folder(path)
    source = CodingSource(path, codings, records=records)
    if folder is not None:
        source.failed = _failed(folder, corpus.staged_without)
        source.manifest = _manifest(folder)
    _commit(corpus, source)
    return source


def _commit(corpus: Corpus, source: CodingSource) -> None:
    src = corpus.commit(source.path)
    source.ads, source.models = corpus.ads_of(src), corpus.models_of(src)


def open_corpus(paths: Sequence[Path], book: Codebook) -> tuple[Corpus, list[CodingSource]]:
    """Every coding set into a new corpus (closed again on an error); an ad coded in two of
    them is an error (it would count twice)."""
    corpus = Corpus(book)
    try:
        sources = [_add_source(corpus, path, book) for path in paths]
        if corpus.size == 0:
            raise InputError(f"{', '.join(map(str, paths))}: no coded ads")
    except BaseException:
        corpus.close()
        raise
    return corpus, sources


def corpus_of(sources: Sequence[CodingSource], book: Codebook) -> Corpus:
    """A corpus of coding sets given in memory (their codings held)."""
    corpus = Corpus(book)
    try:
        for source in sources:
            if source.records is not None:
                corpus.stage_records(source.records)
            else:
                corpus.stage_codings(source.path, source.codings or [])
            _commit(corpus, source)
    except BaseException:
        corpus.close()
        raise
    return corpus


def source_codings(sources: Sequence[CodingSource], book: Codebook) -> Iterator[Coding]:
    """Every coding of the sources, one at a time: held, or read again (and checked) from
    their records."""
    for source in sources:
        if source.records is None:
            yield from source.codings or []
        else:
            yield from (coding for _, _, _, coding in iter_jsonl(source.records, book))


# ------------------------------------------------------------------ eval report


def _cells(entry: object, where: str) -> Validation:
    """The 2 x 2 presence table of one category, as the eval report counted it."""
    cells = entry.get("cells") if isinstance(entry, dict) else None
    if not isinstance(cells, dict) or not all(
        isinstance(cells.get(k), int) and cells[k] >= 0 for k in ("tp", "fp", "fn", "tn")
    ):
        raise InputError(
            f"{where}.cells: needs counts tp, fp, fn and tn (a report of an older autocode: "
            "run `autocode eval --json` again)"
        )
    return Validation(tp=cells["tp"], fn=cells["fn"], fp=cells["fp"], tn=cells["tn"])


def read_validation(path: Path, book: Codebook) -> dict[str, Validation]:
    """Per category, the model's presence against gold in an `autocode eval --json` report."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the eval report: {exc}") from None
    per_category = (
        report.get("presence", {}).get("per_category")
        if isinstance(report, dict) and isinstance(report.get("presence"), dict)
        else None
    )
    if not isinstance(per_category, dict):
        raise InputError(
            f"{path}: presence.per_category: missing (not an `autocode eval --json` report)"
        )
    unknown = [cid for cid in per_category if cid not in book.categories]
    if unknown:
        raise InputError(
            f"{path}: presence.per_category: category {unknown[0]!r} is not in "
            f"the codebook (the report was made with another codebook)"
        )
    return {
        cid: _cells(entry, f"{path}: presence.per_category.{cid}")
        for cid, entry in per_category.items()
    }


# ------------------------------------------------------------------ everything


@dataclass
class StatsInput:
    sources: list[CodingSource]
    book: Codebook
    codebook_path: str
    ads_table: AdsTable | None = None
    by: list[By] = field(default_factory=list)
    validation: dict[str, Validation] | None = None
    validated_path: str | None = None
    top: int = 20
    gold: dict[str, Coding] | None = None  # the human coding of the sampled ads
    gold_path: str | None = None
    sample: Sample | None = None
    finite_population: bool = False
    cluster: str | None = None  # an ads-table column whose values are clusters
    corpus: Corpus | None = None  # the sources (and ads table) in DuckDB; None: made of them
    id_field: str = "id"


def load_stats_input(
    codings: list[Path],
    book: Codebook,
    codebook_path: str,
    ads: Path | None = None,
    id_field: str = "id",
    by: Sequence[str] = (),
    validated: Path | None = None,
    top: int = 20,
    inference: Inference | None = None,
) -> StatsInput:
    """Every input of `autocode stats`, read and checked before any table is built; the
    caller closes `corpus` when done."""
    specs = list(dict.fromkeys(parse_by(spec) for spec in by))
    if specs and ads is None:
        raise InputError(f"--by {by[0]} needs --ads, the ads table whose columns it groups by")
    corpus, sources = open_corpus(codings, book)
    try:
        inference = inference or Inference()
        if inference.cluster and ads is None:
            raise InputError(f"--cluster {inference.cluster} needs --ads, the table of its column")
        read = [b.column for b in specs] + ([inference.cluster] if inference.cluster else [])
        return StatsInput(
            sources=sources,
            book=book,
            codebook_path=codebook_path,
            ads_table=read_ads_table(corpus.db, ads, id_field, read) if ads else None,
            by=specs,
            validation=read_validation(validated, book) if validated else None,
            validated_path=str(validated) if validated else None,
            top=top,
            **inference.load(corpus, sources, book),
            corpus=corpus,
            id_field=id_field,
        )
    except BaseException:
        corpus.close()
        raise


@dataclass
class Inference:
    """`--gold`, `--sample`, `--finite-population` and `--cluster` of `autocode stats`."""

    gold: Path | None = None
    sample: Path | None = None
    finite_population: bool = False
    cluster: str | None = None

    def load(self, corpus: Corpus, sources: list[CodingSource], book: Codebook) -> dict:
        if (self.gold is None) != (self.sample is None):
            raise InputError("--gold and --sample go together: the human coding of the sample")
        if self.gold is None or self.sample is None:
            return {}
        sample = read_sample(self.sample)
        records = ((c.ad_id, record_json(c)) for c in source_codings(sources, book))
        drafted = hash_of(corpus.sorted_records(records))
        if sample.codings_sha256 != drafted:
            raise InputError(
                f"{self.sample}: drawn from other codings than CODINGS (their hash differs); "
                "estimates need the coding set the sample was drawn from"
            )
        gold = {c.ad_id: c for c in load_codings(self.gold, book)}
        return {
            "gold": gold,
            "gold_path": str(self.gold),
            "sample": sample,
            "finite_population": self.finite_population,
            "cluster": self.cluster,
        }
