"""OUT's JSON-lines files (codings.jsonl, samples.jsonl, failures.jsonl) at corpus scale:
which ads a folder already holds a coding of, and the files filtered or put in input order,
read a line at a time. What is held per record is nothing: the ids and the order are kept in
temporary SQLite databases on disk.

`found` is where each ad of the input was read (`pipeline.ads.AdSource.found`): an int that
grows in input order, so sorting by it is sorting in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from pipeline.idmap import IdMap, fetched, temporary_database
from pipeline.store import atomic_writer, iter_records, record_line

# What must match for a coding in OUT to stand for the coding this run would make.
BATCH = 10_000  # rows fetched at a time from an ordering
PROVENANCE_KEYS = ("model", "codebook_sha256", "prompt_sha256", "samples", "min_support")


def provenance_key(provenance) -> tuple:
    """The values of PROVENANCE_KEYS in a record's provenance (None where absent)."""
    values = provenance if isinstance(provenance, dict) else {}
    key = tuple(values.get(k) for k in PROVENANCE_KEYS)
    try:
        hash(key)
    except TypeError:  # a hand-edited record: compare it by its text
        return (repr(key),)
    return key


def _ad_records(path: Path) -> Iterator[tuple[int, str, dict]]:
    """(offset, ad id, record) of each whole record that names an ad."""
    for offset, record in iter_records(path):
        ad_id = record.get("ad_id")
        if isinstance(ad_id, str):
            yield offset, ad_id, record


class CodedIndex:
    """The provenance of the codings in a codings.jsonl, by ad id. Runs share a few
    provenances, so each set of them is held once and an ad costs its id, on disk."""

    def __init__(self, path: Path | None):
        self.ids = IdMap()  # ad id -> number of its provenance set in `kinds`
        self.kinds: list[frozenset] = []
        numbers: dict[frozenset, int] = {}

        def number(kind: frozenset) -> int:
            if kind not in numbers:
                numbers[kind] = len(self.kinds)
                self.kinds.append(kind)
            return numbers[kind]

        for _, ad_id, record in _ad_records(path) if path else ():
            key = frozenset([provenance_key(record.get("provenance"))])
            known = self.ids.setdefault(ad_id, number(key))
            if not key <= self.kinds[known]:  # coded more than once: any may match
                self.ids[ad_id] = number(self.kinds[known] | key)

    def __contains__(self, ad_id: str) -> bool:
        return ad_id in self.ids

    def matches(self, ad_id: str, key: tuple) -> bool:
        """Whether a coding of the ad has provenance `key`."""
        known = self.ids.get(ad_id)
        return known is not None and key in self.kinds[known]


def keep_records(path: Path, keep: Callable[[str], bool]) -> None:
    """Rewrite a JSON-lines output with the records of the ads `keep` accepts; torn lines
    and records that name no ad go too. A missing file is written empty."""
    with atomic_writer(path) as out:
        for _, ad_id, record in _ad_records(path):
            if keep(ad_id):
                out.write(record_line(record))


class _Placed:
    """Each record of an output file as (place in the input, `sub` field, offset), or (ad id,
    `sub`, offset) for an ad not in the input, in a temporary SQLite table: ordered there,
    on disk, so a million records are never a million numbers in memory."""

    def __init__(self, path: Path, found: Mapping[str, int], sub: str | None = None):
        self.db = temporary_database()
        self.db.execute("CREATE TABLE rows (place INTEGER, ad TEXT, sub INTEGER, offset INTEGER)")
        self.db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", self._rows(path, found, sub))
        self.db.execute("CREATE INDEX by_place ON rows (place, sub, offset)")

    @staticmethod
    def _rows(path: Path, found: Mapping[str, int], sub: str | None) -> Iterator[tuple]:
        for offset, ad_id, record in _ad_records(path):
            value = record.get(sub, 0) if sub else 0
            value = value if isinstance(value, int) else 0
            place = found.get(ad_id)
            yield place, None if place is not None else ad_id, value, offset

    def offsets(self, *queries: str) -> Iterator[int]:
        """The first column of each query in turn, read a batch at a time; the table goes
        at the end."""
        try:
            for sql in queries:
                yield from self._column(sql)
        finally:
            self.db.close()

    def places(self) -> Iterator[int]:
        """The input places that have a record, ascending."""
        return self._column(
            "SELECT DISTINCT place FROM rows WHERE place IS NOT NULL ORDER BY place"
        )

    def _column(self, sql: str) -> Iterator[int]:
        return (row[0] for row in fetched(self.db.execute(sql), BATCH))


def codings_in_order(path: Path, found: Mapping[str, int]) -> tuple[Iterator[int], list[str]]:
    """The offsets of codings.jsonl's records in the order a finished run writes them: one
    per input ad in input order (its last record), then the records of other ads (each
    ad's last, where it first appeared); and the input ads without a coding."""
    placed = _Placed(path, found)
    missing = _missing(found, placed.places())
    order = placed.offsets(
        "SELECT max(offset) FROM rows WHERE place IS NOT NULL GROUP BY place ORDER BY place",
        "SELECT max(offset) FROM rows WHERE place IS NULL GROUP BY ad ORDER BY min(offset)",
    )
    return order, missing


def _missing(found: Mapping[str, int], coded: Iterator[int]) -> list[str]:
    """The ads of `found` whose place is not among `coded` (ascending), in input order: the
    two are walked side by side, as `found` lists its ads in input order."""
    missing, have = [], next(coded, None)
    for ad_id, place in found.items():
        while have is not None and have < place:
            have = next(coded, None)
        if have != place:
            missing.append(ad_id)
    return missing


def samples_in_order(path: Path, found: Mapping[str, int]) -> Iterator[int]:
    """The offsets of samples.jsonl's records by input ad, then sample number; the samples
    of other ads after, by sample number (file order breaks ties)."""
    return _Placed(path, found, sub="sample").offsets(
        "SELECT offset FROM rows WHERE place IS NOT NULL ORDER BY place, sub, offset",
        "SELECT offset FROM rows WHERE place IS NULL ORDER BY sub, offset",
    )


def failures_in_order(path: Path, found: Mapping[str, int]) -> Iterator[int]:
    """The offsets of failures.jsonl's records in input order."""
    return _Placed(path, found).offsets(
        "SELECT offset FROM rows WHERE place IS NOT NULL ORDER BY place, offset",
        "SELECT offset FROM rows WHERE place IS NULL ORDER BY offset",
    )
