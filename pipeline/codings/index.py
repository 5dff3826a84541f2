"""Coding sets too large to hold: where each ad's record is, in a SQLite database on disk.

`RecordIndex` reads each codings.jsonl once, checking every record as `load_jsonl` does (the
same messages), and keeps per record only its ad id, line, byte offset and length; Markdown
sets (coded by hand, small) are held. `by_ad` then gives every ad's codings, set by set, in
id order, reading each record again where it lies: memory holds one ad's codings at a time.

The index is a B-tree keyed by (ad id, set): a repeated id is found as its line is read,
and reading it in key order is id order, with no sort; SQLite keeps a few megabytes of it
in memory and the rest in a temporary file (`idmap.temporary_database`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.codings.load import _jsonl_record, decode_error_after, iter_jsonl, read_line
from pipeline.errors import InputError
from pipeline.idmap import fetched, temporary_database
from pipeline.record import Coding

CACHE_KIB = 16_384  # inserts land all over the tree: a larger cache than IdMap's saves reads
BATCH = 10_000
INSERT = "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?, ?)"


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
        self.db = temporary_database(CACHE_KIB)
        self.db.execute(
            "CREATE TABLE records (ad_id TEXT NOT NULL, src INTEGER NOT NULL, line INTEGER, "
            "byte INTEGER, length INTEGER, part INTEGER, PRIMARY KEY (ad_id, src)) WITHOUT ROWID"
        )
        self.sets: list[IndexedSet] = []

    def close(self) -> None:
        self.db.close()

    def add_records(self, path: Path, records: Path, book: Codebook) -> IndexedSet:
        """A codings.jsonl, every record checked as `load_jsonl` checks it."""
        indexed = IndexedSet(Path(path), Path(records), {})
        src, part, last = len(self.sets), 0, -1
        for lineno, offset, length, coding in iter_jsonl(records, book):
            part = part + 1 if offset == last else 0  # a line \r or \u2028 cut in pieces
            last = offset
            if not self.db.execute(
                INSERT, (coding.ad_id, src, lineno, offset, length, part)
            ).rowcount:
                first = self._line(coding.ad_id, src)
                again = InputError(
                    f"{records}:{lineno}: ad {coding.ad_id!r} again (first on line {first})"
                )
                raise decode_error_after(records, offset) or again
            indexed.ads += 1
        self.sets.append(indexed)
        return indexed

    def _line(self, ad_id: str, src: int) -> int:
        sql = "SELECT line FROM records WHERE ad_id = ? AND src = ?"
        return self.db.execute(sql, (ad_id, src)).fetchone()[0]

    def add_held(self, path: Path, codings: Sequence[Coding]) -> IndexedSet:
        """Codings read into memory (Markdown); an id twice is an error, as in `load_sets`."""
        ids = [c.ad_id for c in codings]
        if len(set(ids)) != len(ids):
            twice = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"{path}: ad {twice!r} is coded more than once")
        src = len(self.sets)
        rows = ((ad_id, src, None, None, None, None) for ad_id in ids)
        self.db.executemany(INSERT, rows)
        indexed = IndexedSet(Path(path), None, {c.ad_id: c for c in codings}, len(ids))
        self.sets.append(indexed)
        return indexed

    def by_ad(self, book: Codebook) -> Iterator[tuple[str, list[tuple[int, Coding]]]]:
        """Every ad any set codes, in id order (as Python sorts strings: SQLite compares
        UTF-8 bytes, which is code point order), with (set, coding) of each set that codes
        it, in the order of the sets."""
        cursor = self.db.execute(
            "SELECT ad_id, src, line, byte, length, part FROM records ORDER BY ad_id, src"
        )
        with ExitStack() as stack:
            handles = {
                src: stack.enter_context(open(s.records, "rb"))
                for src, s in enumerate(self.sets)
                if s.records is not None
            }
            for ad_id, rows in groupby(fetched(cursor, BATCH), key=itemgetter(0)):
                yield ad_id, [self._coding(ad_id, row[1:], handles, book) for row in rows]

    def _coding(self, ad_id: str, place: tuple, handles: dict, book: Codebook) -> tuple:
        src, line, byte, length, part = place
        indexed = self.sets[src]
        if indexed.records is None:
            return src, indexed.held[ad_id]
        text = read_line(handles[src], byte, length, part)
        return src, _jsonl_record(text, f"{indexed.records}:{line}", book)
