"""Which drafts get a page, read without holding the corpus (a review of a million ads).

A codings.jsonl is read twice: once line by line, choosing as it goes (the drafts of `--ids`,
or the first `--limit`, or the `--limit` of lowest agreement, kept with where each starts;
ids met are kept on disk) and counting profiles and entries for the index's charts; then
the chosen records are read again by their offsets. The ads are read the same way,
only those chosen kept (`ads.AdReader` with `keep`). A corpus reviewed whole (no `--ids`, no
`--limit`) is chosen whole, as before.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from pipeline.errors import InputError
from pipeline.idmap import IdMap
from pipeline.record import Coding
from pipeline.store import iter_records, record_at


def _by_agreement(numbered: tuple[int, tuple]) -> tuple:
    number, (_, agreement, *_) = numbered
    return (agreement is None, agreement or 0.0, number)


@dataclass(frozen=True)
class Selection:
    """The drafts to show: those of `ids` (None: all), lowest agreement first or as in OUT,
    the first `limit` of them."""

    ids: list[str] | None = None
    limit: int | None = None
    by_agreement: bool = False

    def choose(self, entries: Iterable[tuple]) -> list[str]:
        """The chosen ids, in page order, of (id, agreement) pairs in OUT's order."""
        return [entry[0] for entry in self.pick(entries)]

    def pick(self, entries: Iterable[tuple]) -> list[tuple]:
        """The chosen entries (id, agreement, ...) in page order, of entries in OUT's order;
        at most `limit` of them (or the `ids` asked for) are held, however many come."""
        wanted = None if self.ids is None else set(self.ids)
        kept = (e for e in entries if wanted is None or e[0] in wanted)
        if not self.by_agreement:
            return list(islice(kept, self.limit))
        numbered = enumerate(kept)  # the number keeps the order stable: drafts without
        key = _by_agreement  # agreement, and ties, stay in OUT's order
        if self.limit is None:
            return [entry for _, entry in sorted(numbered, key=key)]
        return [entry for _, entry in heapq.nsmallest(self.limit, numbered, key=key)]


@dataclass
class Tally:
    """What the index's charts count of every draft: profiles and entries per category."""

    drafts: int = 0
    profiles: Counter = field(default_factory=Counter)
    categories: Counter = field(default_factory=Counter)

    def add(self, coding: Coding | dict) -> None:
        record = coding.model_dump() if isinstance(coding, Coding) else coding
        self.drafts += 1
        self.profiles[record.get("profile") or "(none)"] += 1
        for entry in [*(record.get("quotes") or []), *(record.get("tools") or [])]:
            if isinstance(entry, dict) and isinstance(entry.get("category"), str):
                self.categories[entry["category"]] += 1


def tally_of(codings: list[Coding]) -> Tally:
    tally = Tally()
    for coding in codings:
        tally.add(coding)
    return tally


# Drafts reviewed whole at most: beyond, a page each (or an editor of all) would hold them all.
MAX_WHOLE = 100_000


def too_many(path: Path) -> str:
    return (
        f"{path}: more than {MAX_WHOLE:,} drafts, too many for a page each (or an editor of "
        f"all); choose some: --ids FILE (a sample, such as autocode sample's sample.csv), "
        f"--limit N (with --sort agreement, the N least agreed), or --queue FILE with --serve"
    )


@dataclass
class Survey:
    """A codings.jsonl at a glance: the chosen (id, agreement, offset), the tally."""

    chosen: list[tuple[str, float | None, int]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)


def survey(path: Path, selection: Selection) -> Survey:
    """One pass over the records, choosing as it goes (what is held is the chosen entries,
    and every id, on disk); a record without an id, or an id met before, is passed over
    here (the chosen ones are checked in full when they are read)."""
    found, seen = Survey(), IdMap()
    whole = selection.ids is None and selection.limit is None

    def entries() -> Iterator[tuple[str, float | None, int]]:
        for offset, record in iter_records(path):
            ad_id = record.get("ad_id")
            if not isinstance(ad_id, str) or not seen.add(ad_id):
                continue
            if whole and len(seen) > MAX_WHOLE:
                raise InputError(too_many(path))
            agreement = record.get("agreement")
            found.tally.add(record)
            yield ad_id, agreement if isinstance(agreement, int | float) else None, offset

    every = entries()
    found.chosen = selection.pick(every)
    deque(every, maxlen=0)  # the rest, for the tally (--limit stops picking early)
    seen.close()
    return found


def chosen_records(path: Path, chosen: list[tuple[str, float | None, int]]) -> list[dict]:
    """The records of the chosen entries, read again by their offsets, in that order."""
    with open(path, "rb") as handle:
        return [record_at(handle, offset) for _, _, offset in chosen]
