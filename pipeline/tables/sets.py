"""Coding sets opened for lookups by ad id, and joined with the streamed ads.

A codings.jsonl is read twice: once line by line, checking every record as
`codings.load.load_jsonl` does (the same messages, before anything is written) and noting
where each ad's line starts (kept on disk, `pipeline.idmap`); then one line per lookup. The
codings are never held. Markdown sets (hand codings, a few hundred files at most) are
loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pipeline.ads import Ad
from pipeline.codebook import Codebook

# load.py reads a whole file; its one-record check keeps the messages the same here
from pipeline.codings.load import (
    RECORDS,
    _jsonl_record,
    coding_set_name,
    load_markdown_dir,
    read_markdown,
)
from pipeline.errors import InputError
from pipeline.idmap import IdMap
from pipeline.record import Coding
from pipeline.tables.corpus import Row

# How a set's drafts were made, as the REFI-QDA project description lists it per coder.
PROVENANCE_KEYS = (
    "model",
    "backend",
    "prompt_sha256",
    "codebook_version",
    "codebook_sha256",
    "autocode_version",
)


class OpenSet:
    """One coding set: its name (the coder), the path it came from, how many codings it holds
    and how they were drafted; its codings of an ad on demand."""

    def __init__(self, path: str):
        self.name = ""
        self.path = path
        self.count = 0
        self.models: set[str | None] = set()
        self.provenance: dict[str, set[str]] = {key: set() for key in PROVENANCE_KEYS}

    def _note(self, coding: Coding) -> None:
        self.count += 1
        self.models.add(coding.drafted_by)
        for key in PROVENANCE_KEYS:
            value = getattr(coding.provenance, key, None)
            if value is not None:
                self.provenance[key].add(str(value))

    @property
    def model(self) -> str | None:
        """The one model that drafted every coding of the set, else None (gold, or mixed)."""
        return next(iter(self.models)) if len(self.models) == 1 else None

    def codings_of(self, ad_id: str) -> list[Coding]:
        raise NotImplementedError

    def coded_ids(self) -> Iterator[str]:
        """The ad id of every coding, in the set's order."""
        raise NotImplementedError

    def close(self) -> None:
        return None


class MemorySet(OpenSet):
    """A set held whole: Markdown codings, or codings a caller already has."""

    def __init__(self, name: str, codings: Iterable[Coding], path: str = ""):
        super().__init__(path)
        self.by_ad: dict[str, list[Coding]] = {}
        self.order: list[str] = []
        for coding in codings:
            self.by_ad.setdefault(coding.ad_id, []).append(coding)
            self.order.append(coding.ad_id)
            self._note(coding)
        self.name = name

    def codings_of(self, ad_id: str) -> list[Coding]:
        return self.by_ad.get(ad_id, [])

    def coded_ids(self) -> Iterator[str]:
        return iter(self.order)


class RecordSet(OpenSet):
    """A codings.jsonl: checked once, then read one line per lookup."""

    def __init__(self, records: Path, path: str, book: Codebook):
        super().__init__(path)
        self.records = Path(records)
        self.offsets = IdMap()  # ad id -> where its line starts (on disk)
        self._handle: BinaryIO | None = None
        try:
            self._index(book)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.records}: cannot read: {exc}") from None

    def _index(self, book: Codebook) -> None:
        offset = 0
        with open(self.records, "rb") as handle:
            for lineno, raw in enumerate(handle, start=1):
                start, offset = offset, offset + len(raw)
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                where = f"{self.records}:{lineno}"
                coding = _jsonl_record(line, where, book)
                first = self.offsets.setdefault(coding.ad_id, start)
                if first != start:
                    again = f"ad {coding.ad_id!r} again (first on line {self._line_at(first)})"
                    raise InputError(f"{where}: {again}")
                self._note(coding)

    def _line_at(self, offset: int) -> int:
        with open(self.records, "rb") as handle:
            return handle.read(offset).count(b"\n") + 1

    def codings_of(self, ad_id: str) -> list[Coding]:
        offset = self.offsets.get(ad_id)
        if offset is None:
            return []
        if self._handle is None:
            self._handle = open(self.records, "rb")  # kept open for the lookups; close()
        self._handle.seek(offset)
        return [Coding.model_validate_json(self._handle.readline())]

    def coded_ids(self) -> Iterator[str]:
        return iter(self.offsets)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def open_set(path: Path, book: Codebook) -> OpenSet:
    """One coding set, read as `load_codings(path, book, prefer_records=True)` reads it: an
    OUT folder's codings.jsonl (its records carry spans and provenance), else a folder's
    *.md codings, one .md coding, or a codings.jsonl file."""
    path = Path(path)
    if path.is_dir():
        if (path / RECORDS).is_file():
            return RecordSet(path / RECORDS, str(path), book)
        return MemorySet("", load_markdown_dir(path, book), str(path))
    if path.suffix.lower() == ".md":
        return MemorySet("", [read_markdown(path, book)], str(path))
    return RecordSet(path, str(path), book)


def open_sets(paths: list[Path], named: list[tuple[str, Path]], book: Codebook) -> list[OpenSet]:
    """The coding sets to export: each of `paths`, and each `--coder NAME=PATH`; a set is
    named by --coder, else by the one model that drafted it, else by its folder or file. A
    path given as CODINGS and with --coder is one set; one path under two --coder names is
    two coders."""
    with_name = {Path(p).resolve() for _, p in named}
    given = [(None, Path(p)) for p in paths if Path(p).resolve() not in with_name]
    sets, seen = [], set()
    for name, path in [*given, *((n, Path(p)) for n, p in named)]:
        if (name, path.resolve()) in seen:
            continue
        seen.add((name, path.resolve()))
        opened = open_set(path, book)
        opened.name = name or opened.model or coding_set_name(path)
        sets.append(opened)
    check_coders(sets)
    return sets


def check_coders(sets: list[OpenSet]) -> None:
    seen: dict[str, str] = {}
    for cset in sets:
        if cset.name in seen:
            raise InputError(
                f"{cset.path}: coder name {cset.name!r} is also the name of {seen[cset.name]}; "
                f"name each set with --coder NAME=PATH"
            )
        seen[cset.name] = cset.path


@contextmanager
def opened(sets: list[OpenSet]):
    """The sets, their files closed when the export ends (or fails)."""
    try:
        yield sets
    finally:
        for cset in sets:
            cset.close()


Coded = tuple[Ad, Row, list[tuple[str, Coding]]]


class Join:
    """The ads, each with every set's codings of it (coder name, coding), in set order; what
    could not be placed (a coding whose ad is not among the ads) is known once they are read."""

    def __init__(self, sets: list[OpenSet]):
        self.sets = sets
        self.placed = IdMap()  # the ids of the ads with a coding (on disk)

    def ads(self, stream: Iterable[tuple[Ad, Row]]) -> Iterator[Coded]:
        for ad, row in stream:
            entries = [(cset.name, c) for cset in self.sets for c in cset.codings_of(ad.id)]
            if entries:
                self.placed.add(ad.id)
            yield ad, row, entries

    def without_ad(self) -> list[tuple[str, str]]:
        """(coder, ad id) of each coding whose ad was not among the ads read; an error when
        that is every coding (the wrong ads?)."""
        missing = [
            (cset.name, ad_id)
            for cset in self.sets
            for ad_id in cset.coded_ids()
            if ad_id not in self.placed
        ]
        if missing and len(missing) == sum(cset.count for cset in self.sets):
            raise InputError(f"none of the {len(missing)} coded ads is among the ads given")
        return missing
