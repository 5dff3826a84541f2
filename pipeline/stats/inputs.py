"""The inputs of `autocode stats`: coding sets with their run's manifest and failures, the
ads table whose columns `--by` groups by, and an `autocode eval --json` report.

Every problem is an InputError naming the file (and line or field).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.ads import decode, read_ads
from pipeline.codebook import Codebook
from pipeline.codings.load import RECORDS, load_codings
from pipeline.errors import InputError
from pipeline.record import Coding
from pipeline.stats.estimators import Validation
from pipeline.stats.sample import codings_hash
from pipeline.stats.sample_files import Sample, read_sample
from pipeline.store import read_records

MISSING = "(missing)"
PERIODS = {"month": 7, "year": 4}  # characters of an ISO date kept by `--by COLUMN:PERIOD`


# ------------------------------------------------------------------ coding sets


@dataclass
class CodingSource:
    """One CODINGS argument: its codings and, for a run's OUT folder, the run's record."""

    path: Path
    codings: list[Coding]
    manifest: dict | None = None
    failed: list[str] = field(default_factory=list)  # in failures.jsonl, not coded


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


def load_source(path: Path, book: Codebook) -> CodingSource:
    """A coding set; an OUT folder's codings.jsonl is preferred (it has the provenance)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    codings = load_codings(path, book, prefer_records=True)
    folder = _run_folder(path)
    if folder is None:
        return CodingSource(path, codings)
    coded = {c.ad_id for c in codings}
    failures = read_records(folder / "failures.jsonl")
    failed = [str(f["ad_id"]) for f in failures if f.get("ad_id") not in (None, *coded)]
    return CodingSource(path, codings, _manifest(folder), failed)


def load_sources(paths: list[Path], book: Codebook) -> list[CodingSource]:
    """Every coding set; an ad coded in two of them is an error (it would count twice)."""
    sources: list[CodingSource] = []
    seen: dict[str, Path] = {}
    for path in paths:
        source = load_source(path, book)
        for coding in source.codings:
            if coding.ad_id in seen:
                raise InputError(f"{path}: ad {coding.ad_id!r} is also in {seen[coding.ad_id]}")
            seen[coding.ad_id] = path
        sources.append(source)
    if not seen:
        raise InputError(f"{', '.join(map(str, paths))}: no coded ads")
    return sources


# ------------------------------------------------------------------ ads table


@dataclass
class AdsTable:
    """Rows of the ads table by ad id, and the line each came from."""

    path: Path
    columns: list[str]
    rows: dict[str, dict]
    lines: dict[str, int]


def _table_rows(path: Path) -> list[tuple[int, dict]]:
    try:
        text, _ = decode(path.read_bytes(), str(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the ads table: {exc}") from None
    if path.suffix.lower() == ".csv":
        return list(enumerate(csv.DictReader(text.splitlines()), start=2))
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{lineno}: not a JSON object")
        rows.append((lineno, row))
    return rows


def _ads_folder(path: Path) -> AdsTable:
    batch = read_ads([path])
    rows = {
        ad.id: {"id": ad.id, "title": ad.title, "organisation": ad.organisation} for ad in batch.ads
    }
    return AdsTable(path, ["id", "title", "organisation"], rows, {})


def read_ads_table(path: Path, id_field: str = "id") -> AdsTable:
    """The ads table (.jsonl or .csv, one ad a row); a folder of ad files has no columns
    but its ids, titles and organisations."""
    path = Path(path)
    if path.is_dir():
        return _ads_folder(path)
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise InputError(f"{path}: the ads table is a .jsonl or .csv file (or a folder of ads)")
    columns: dict[str, None] = {}
    rows: dict[str, dict] = {}
    lines: dict[str, int] = {}
    for lineno, row in _table_rows(path):
        ad_id = row.get(id_field)
        if ad_id in (None, ""):
            raise InputError(f"{path}:{lineno}: no {id_field!r}")
        ad_id = str(ad_id)
        if ad_id in rows:
            raise InputError(f"{path}:{lineno}: ad {ad_id!r} again (first on line {lines[ad_id]})")
        columns.update(dict.fromkeys(row))
        rows[ad_id], lines[ad_id] = row, lineno
    return AdsTable(path, list(columns), rows, lines)


# ------------------------------------------------------------------ --by


@dataclass(frozen=True)
class By:
    """`--by COLUMN` or `--by COLUMN:PERIOD` (a date column grouped by month or year)."""

    column: str
    period: str | None = None

    @property
    def name(self) -> str:
        return f"{self.column}_{self.period}" if self.period else self.column


def parse_by(spec: str) -> By:
    column, _, period = spec.partition(":")
    if not column.strip():
        raise InputError(f"--by {spec!r}: no column name")
    if period and period not in PERIODS:
        raise InputError(f"--by {spec!r}: unknown period {period!r} (use {', '.join(PERIODS)})")
    return By(column.strip(), period or None)


def group_values(table: AdsTable, ad_ids: list[str], by: By) -> list[str]:
    """The group of every ad (MISSING where the ad or its value is absent)."""
    if by.column not in table.columns:
        raise InputError(
            f"{table.path}: no column {by.column!r} for --by (columns: {', '.join(table.columns)})"
        )
    return [_group(table, ad_id, by) for ad_id in ad_ids]


def _group(table: AdsTable, ad_id: str, by: By) -> str:
    row = table.rows.get(ad_id)
    value = None if row is None else row.get(by.column)
    if value is None or not str(value).strip():
        return MISSING
    value = str(value).strip()
    if by.period is None:
        return value
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        raise InputError(
            f"{table.path}:{table.lines.get(ad_id, '?')}: {by.column} {value!r} "
            f"is not a date (YYYY-MM-DD) for --by {by.column}:{by.period}"
        ) from None
    return value[: PERIODS[by.period]]


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
    """Every input of `autocode stats`, read and checked before any table is built."""
    specs = list(dict.fromkeys(parse_by(spec) for spec in by))
    if specs and ads is None:
        raise InputError(f"--by {by[0]} needs --ads, the ads table whose columns it groups by")
    sources = load_sources(codings, book)
    inference = inference or Inference()
    if inference.cluster and ads is None:
        raise InputError(f"--cluster {inference.cluster} needs --ads, the table of its column")
    return StatsInput(
        sources=sources,
        book=book,
        codebook_path=codebook_path,
        ads_table=read_ads_table(ads, id_field) if ads else None,
        by=specs,
        validation=read_validation(validated, book) if validated else None,
        validated_path=str(validated) if validated else None,
        top=top,
        **inference.load(sources, book),
    )


@dataclass
class Inference:
    """`--gold`, `--sample`, `--finite-population` and `--cluster` of `autocode stats`."""

    gold: Path | None = None
    sample: Path | None = None
    finite_population: bool = False
    cluster: str | None = None

    def load(self, sources: list[CodingSource], book: Codebook) -> dict:
        if (self.gold is None) != (self.sample is None):
            raise InputError("--gold and --sample go together: the human coding of the sample")
        if self.gold is None or self.sample is None:
            return {}
        sample = read_sample(self.sample)
        drafted = codings_hash([c for s in sources for c in s.codings])
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
