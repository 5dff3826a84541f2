"""OUT's JSON-lines files (codings.jsonl, samples.jsonl, failures.jsonl) at corpus scale:
which ads a folder already holds a coding of, and the files filtered or put in input order,
read a line at a time. What is held per record is an id or two numbers, never the record.

`found` is where each ad of the input was read (`pipeline.ads.AdSource.found`): an int that
grows in input order, so sorting by it is sorting in input order.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping
from itertools import chain
from pathlib import Path

from pipeline.idmap import IdMap
from pipeline.store import atomic_writer, iter_records, record_line

# What must match for a coding in OUT to stand for the coding this run would make.
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


def _placed(path: Path, found: Mapping[str, int], sub: str | None = None):
    """Place in the input, `sub` field (0 without) and offset of each record of an input
    ad, as three int arrays; and (ad id, sub, offset) of the others, in file order."""
    places, subs, offsets = array("q"), array("q"), array("q")
    others: list[tuple[str, int, int]] = []
    for offset, ad_id, record in _ad_records(path):
        value = record.get(sub, 0) if sub else 0
        value = value if isinstance(value, int) else 0
        place = found.get(ad_id)
        if place is None:
            others.append((ad_id, value, offset))
        else:
            places.append(place)
            subs.append(value)
            offsets.append(offset)
    return places, subs, offsets, others


def _sorted(keys: list[array], offsets: array):
    """The primary key and the offsets, sorted by keys[0], then keys[1]…, then offset (file
    order)."""
    import numpy as np

    def column(values: array):
        return np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)

    at, columns = column(offsets), [column(k) for k in keys]
    order = np.lexsort([at, *columns[::-1]])  # the last key is the primary one
    return columns[0][order], at[order]


def codings_in_order(path: Path, found: Mapping[str, int]) -> tuple[Iterator[int], list[str]]:
    """The offsets of codings.jsonl's records in the order a finished run writes them: one
    per input ad in input order (its last record), then the records of other ads (each
    ad's last, where it first appeared); and the input ads without a coding."""
    import numpy as np

    places, _, offsets, others = _placed(path, found)
    place, offset = _sorted([places], offsets)
    last = np.append(place[1:] != place[:-1], True) if len(place) else place.astype(bool)
    coded = place[last]
    latest: dict[str, int] = {}
    for ad_id, _, at in others:
        latest[ad_id] = at  # a dict keeps where the ad first came, with its last record
    return chain(map(int, offset[last]), latest.values()), _missing(found, coded)


def _missing(found: Mapping[str, int], coded) -> list[str]:
    """The ads of `found` whose place is not among `coded`, in input order."""
    import numpy as np

    places = np.fromiter(found.values(), dtype=np.int64, count=len(found))
    have = np.isin(places, coded)
    return [ad_id for ad_id, has in zip(found, have, strict=True) if not has]


def samples_in_order(path: Path, found: Mapping[str, int]) -> Iterator[int]:
    """The offsets of samples.jsonl's records by input ad, then sample number; the samples
    of other ads after, by sample number (file order breaks ties)."""
    places, subs, offsets, others = _placed(path, found, sub="sample")
    _, offset = _sorted([places, subs], offsets)
    rest = sorted(others, key=lambda other: other[1])
    return chain(map(int, offset), (at for _, _, at in rest))


def failures_in_order(path: Path, found: Mapping[str, int]) -> Iterator[int]:
    """The offsets of failures.jsonl's records in input order."""
    places, _, offsets, others = _placed(path, found)
    _, offset = _sorted([places], offsets)
    return chain(map(int, offset), (at for _, _, at in others))
