"""Which drafts get a page, read without holding the corpus (a review of a million ads).

A codings.jsonl is read twice: once line by line, keeping of each record only its id, its
agreement and where it starts, and counting profiles and entries for the index's charts;
then the chosen records are read again by their offsets. The ads are read the same way,
only those chosen kept (`ads.AdReader` with `keep`). A corpus reviewed whole (no `--ids`, no
`--limit`) is chosen whole, as before.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.record import Coding
from pipeline.store import iter_records, record_at


@dataclass(frozen=True)
class Selection:
    """The drafts to show: those of `ids` (None: all), lowest agreement first or as in OUT,
    the first `limit` of them."""

    ids: list[str] | None = None
    limit: int | None = None
    by_agreement: bool = False

    def choose(self, entries: list[tuple[str, float | None]]) -> list[str]:
        """The chosen ids, in page order, of (id, agreement) pairs in OUT's order."""
        if self.by_agreement:  # a stable sort: drafts without agreement keep OUT's order
            entries = sorted(entries, key=lambda e: (e[1] is None, e[1] or 0.0))
        wanted = None if self.ids is None else set(self.ids)
        chosen = [i for i, _ in entries if wanted is None or i in wanted]
        return chosen[: self.limit] if self.limit is not None else chosen


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


@dataclass
class Survey:
    """A codings.jsonl at a glance: (id, agreement) in file order, offsets, the tally."""

    entries: list[tuple[str, float | None]] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)


def survey(path: Path) -> Survey:
    """One pass over the records; a record without an id, or an id met before, is passed
    over here (the chosen ones are checked in full when they are read)."""
    found = Survey()
    for offset, record in iter_records(path):
        ad_id = record.get("ad_id")
        if not isinstance(ad_id, str) or ad_id in found.offsets:
            continue
        agreement = record.get("agreement")
        found.offsets[ad_id] = offset
        found.entries.append((ad_id, agreement if isinstance(agreement, int | float) else None))
        found.tally.add(record)
    return found


def chosen_records(path: Path, offsets: dict[str, int], ids: list[str]) -> list[dict]:
    """The records of `ids`, read again by their offsets, in that order."""
    with open(path, "rb") as handle:
        return [record_at(handle, offsets[i]) for i in ids]
