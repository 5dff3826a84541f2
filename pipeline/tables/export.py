"""`autocode export --table`: coding sets and their ads as two long tables, `entries` (a row
per quote or tool) and `ads` (a row per ad and coding set), as CSV or Parquet.

The ads are read twice, one at a time (first for the columns of their table, then to write),
and each coding is read when its ad comes; what stays in memory is one batch of rows (each
set's offset per ad and the ids of the ads placed are on disk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.record import Coding
from pipeline.tables.columns import AdColumns, find_columns
from pipeline.tables.corpus import AdStream, Problem, Row
from pipeline.tables.rows import ENTRY_COLUMNS, Labels, ad_columns, ad_row, entry_rows
from pipeline.tables.sets import Join, OpenSet
from pipeline.tables.write import CsvTable, ParquetTable, atomic_files, table_file

TABLES = ("entries", "ads")


@dataclass
class TablesSummary:
    """What an export wrote: rows of each table, and the codings it could not place."""

    paths: list[Path]
    sets: int = 0
    quotes: int = 0
    tools: int = 0
    ads: int = 0  # ads read
    ad_rows: int = 0  # an ad per coding set (and per coding, where a set codes an ad twice)
    coded: int = 0  # ad rows with a coding
    without_ad: list[tuple[str, str]] = field(default_factory=list)


def table_paths(folder: Path, fmt: str) -> list[Path]:
    return [Path(folder) / f"{name}.{fmt}" for name in TABLES]


@dataclass
class _Tables:
    """The two open tables and what one export writes into them."""

    entries: CsvTable | ParquetTable
    ads: CsvTable | ParquetTable
    sets: list[OpenSet]
    labels: Labels
    own: AdColumns
    summary: TablesSummary

    def add(self, ad: Ad, row: Row, coded: list[tuple[str, Coding]]) -> None:
        """The ad's rows: per coding set in order, its codings of the ad (an ad row without a
        coding where it has none) and their entries."""
        values = self.own.values(ad, row)
        for cset in self.sets:
            codings: list[Coding | None] = [c for name, c in coded if name == cset.name]
            for coding in codings or [None]:
                self.ads.add(ad_row(ad.id, cset.name, coding, self.labels) + values)
                if coding is None:
                    continue
                self.summary.coded += 1
                for entry in entry_rows(coding, ad.text, cset.name, self.labels):
                    self.entries.add(entry)
                self.summary.quotes += len(coding.quotes)
                self.summary.tools += len(coding.tools)
        self.summary.ads += 1


def write_tables(
    folder: Path, fmt: str, sets: list[OpenSet], ads: AdStream, book: Codebook, problem: Problem
) -> TablesSummary:
    """Write `entries.<fmt>` and `ads.<fmt>` into `folder`, both or neither; each problem
    with the ads goes to `problem` as it is met."""
    labels = Labels.of(book)
    columns = ad_columns(labels)
    own = find_columns(ads.read(), ads.fields, {name for name, _ in columns})
    paths = table_paths(folder, fmt)
    summary, join = TablesSummary(paths, len(sets)), Join(sets)
    with atomic_files(paths) as (entries_tmp, ads_tmp):
        entries = table_file(entries_tmp, ENTRY_COLUMNS, fmt)
        ad_table = table_file(ads_tmp, columns + own.columns, fmt)
        tables = _Tables(entries, ad_table, sets, labels, own, summary)
        try:
            for ad, row, coded in join.ads(ads.read(problem)):
                tables.add(ad, row, coded)
        finally:
            entries.close()
            ad_table.close()
        summary.without_ad = join.without_ad()
        summary.ad_rows = ad_table.rows
    return summary
