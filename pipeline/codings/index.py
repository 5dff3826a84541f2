"""Coding sets too large to hold: where each ad's record is, in a DuckDB database on disk.

`RecordIndex` reads each codings.jsonl once, checking every record as `load_jsonl` does (the
same messages), and keeps per record only its ad id, line, byte offset and length; Markdown
sets (coded by hand, small) are held. `by_ad` then gives every ad's codings, set by set, in
id order, reading each record again where it lies: memory holds one ad's codings at a time,
and DuckDB sorts the index on disk beyond `MEMORY_LIMIT`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from pipeline.codebook import Codebook
from pipeline.codings.load import _jsonl_record, iter_jsonl, read_line
from pipeline.errors import InputError
from pipeline.record import Coding

# DuckDB spills to its temporary folder beyond this, so a million ads fit the memory of a
# hundred thousand (`stats` at 10^5 and 10^6 ads: ~345 and ~410 MB in all; 256 MB: +40%).
MEMORY_LIMIT = "128MB"
BATCH = 10_000


def connect(folder: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB database in `folder` (a temporary one) that stays within MEMORY_LIMIT,
    spilling to disk beyond it."""
    db = duckdb.connect(str(Path(folder) / "db.duckdb"))
    db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    db.execute("SET temp_directory = '" + str(Path(folder) / "spill").replace("'", "''") + "'")
    return db


@dataclass
class IndexedSet:
    """One coding set: its records file, or its codings held (by id); and its ads."""

    path: Path
    records: Path | None
    held: dict[str, Coding]
    ads: int = 0


class RecordIndex:
    """Where each ad's record is in each coding set (`add_records`, `add_held`)."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="autocode-index-")
        self.db = connect(Path(self._tmp.name))
        self.db.execute(
            "CREATE TABLE records (ad_id VARCHAR, src INTEGER, line BIGINT, "
            "byte BIGINT, length BIGINT, part INTEGER)"
        )
        self.sets: list[IndexedSet] = []
        self._rows: list[tuple] = []

    def close(self) -> None:
        self.db.close()
        self._tmp.cleanup()

    def add_records(self, path: Path, records: Path, book: Codebook) -> IndexedSet:
        """A codings.jsonl, every record checked as `load_jsonl` checks it."""
        indexed = IndexedSet(Path(path), Path(records), {})
        src, part, last = len(self.sets), 0, -1
        try:
            for lineno, offset, length, coding in iter_jsonl(records, book):
                part = part + 1 if offset == last else 0  # a line \r or \u2028 cut in pieces
                last = offset
                self._add((coding.ad_id, src, lineno, offset, length, part))
        except InputError as exc:
            raise self._repeated(src, records) or exc from None
        repeated = self._repeated(src, records)
        if repeated:
            raise repeated
        return self._added(indexed)

    def add_held(self, path: Path, codings: Sequence[Coding]) -> IndexedSet:
        """Codings read into memory (Markdown); an id twice is an error, as in `load_sets`."""
        ids = [c.ad_id for c in codings]
        if len(set(ids)) != len(ids):
            twice = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"{path}: ad {twice!r} is coded more than once")
        src = len(self.sets)
        for coding in codings:
            self._add((coding.ad_id, src, None, None, None, None))
        return self._added(IndexedSet(Path(path), None, {c.ad_id: c for c in codings}))

    def _added(self, indexed: IndexedSet) -> IndexedSet:
        self._flush()
        src = len(self.sets)
        rows = self.db.execute("SELECT count(*) FROM records WHERE src = ?", [src]).fetchall()
        indexed.ads = int(rows[0][0])
        self.sets.append(indexed)
        return indexed

    def _add(self, row: tuple) -> None:
        self._rows.append(row)
        if len(self._rows) == BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        names = ("ad_id", "src", "line", "byte", "length", "part")
        columns = {name: [r[i] for r in self._rows] for i, name in enumerate(names)}
        self.db.register("rows_arrow", pa.table(columns))
        self.db.execute("INSERT INTO records SELECT * FROM rows_arrow")
        self.db.unregister("rows_arrow")
        self._rows = []

    def _repeated(self, src: int, records: Path) -> InputError | None:
        """The first record so far (in file order) whose ad came earlier in the file: where
        `load_jsonl`, reading the whole file, stopped first."""
        self._flush()
        found = self.db.execute(
            "SELECT ad_id, line, first FROM (SELECT ad_id, line, min(line) OVER "
            "(PARTITION BY ad_id) AS first FROM records WHERE src = ?) WHERE line > first "
            "ORDER BY line LIMIT 1",
            [src],
        ).fetchall()
        if not found:
            return None
        ad_id, lineno, first = found[0]
        return InputError(f"{records}:{lineno}: ad {ad_id!r} again (first on line {first})")

    def by_ad(self, book: Codebook) -> Iterator[tuple[str, list[tuple[int, Coding]]]]:
        """Every ad any set codes, in id order (as Python sorts strings), with (set, coding)
        of each set that codes it, in the order of the sets. DuckDB sorts the index (on disk
        where it must: a grouping into lists would have to fit in memory)."""
        cursor = self.db.execute(
            "SELECT ad_id, src, line, byte, length, part FROM records ORDER BY ad_id, src"
        )
        with ExitStack() as stack:
            handles = {
                src: stack.enter_context(open(s.records, "rb"))
                for src, s in enumerate(self.sets)
                if s.records is not None
            }
            ad_id: str = ""
            places: list[tuple] = []
            while rows := cursor.fetchmany(BATCH):
                for row in rows:
                    if row[0] != ad_id and places:
                        yield ad_id, [self._coding(ad_id, p, handles, book) for p in places]
                        places = []
                    ad_id = row[0]
                    places.append(row[1:])
            if places:
                yield ad_id, [self._coding(ad_id, p, handles, book) for p in places]

    def _coding(self, ad_id: str, place: tuple, handles: dict, book: Codebook) -> tuple:
        src, line, byte, length, part = place
        indexed = self.sets[src]
        if indexed.records is None:
            return src, indexed.held[ad_id]
        text = read_line(handles[src], byte, length, part)
        return src, _jsonl_record(text, f"{indexed.records}:{line}", book)
