"""Reading raw ads: folders of .txt/.md/.html files, or .jsonl/.csv tables.

A file or line that cannot be read is reported by name (and line) and skipped;
the rest of the batch is read as usual.

Ads are read one at a time (`AdReader`), so a corpus of any size is never held: a first
pass notes each problem and where each ad was found, a second pass reads the ads found
again. `read_ads` collects them all, for the commands that need every text at once.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from pipeline.idmap import IdMap

AD_SUFFIXES = {".txt", ".md", ".html", ".htm"}
TABLE_SUFFIXES = {".jsonl", ".csv"}
# Bytes read at a time when checking a table's encoding: below glibc's 128 KiB mmap
# threshold, because larger passing buffers grow the heap for good (1 MiB chunks left
# 117 MB resident after checking a 240 MB table; 64 KiB ones, none).
CHUNK = 1 << 16
# An ad's place in the input, one int: which input path (high bits) and which line, row or
# file of it (low bits). An int per ad is the smallest index a second pass can find it by.
ITEM_BITS = 40


@dataclass(frozen=True)
class Ad:
    id: str
    text: str
    source: str
    title: str | None = None
    organisation: str | None = None
    warnings: tuple[str, ...] = ()
    # its row of a .jsonl/.csv table, for a reader asked for rows (`AdReader(rows=True)`)
    row: dict | None = field(default=None, compare=False, repr=False)


@dataclass
class TableFields:
    """Which columns of a .jsonl/.csv hold the id and the text (joined by a blank line)."""

    id: str = "id"
    text: tuple[str, ...] = ("title", "description")
    title: str = "title"
    organisation: str = "organisation"


@dataclass
class AdBatch:
    ads: list[Ad] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Problems:
    """What reading found wrong, in three groups listed in this order: files and lines
    skipped (and tables not in UTF-8), ads read with a warning, duplicate ids."""

    read: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.read + self.warnings + self.duplicates


def decode(data: bytes, source: str) -> tuple[str, list[str]]:
    """Text of a file: UTF-8, else Windows-1252/Latin-1 with a warning; binary is refused."""
    if b"\x00" in data[:8192]:
        raise ValueError(f"{source}: binary file, not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        where = exc.start
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, [f"{source}: not UTF-8 (byte {where}); read as {encoding}"]
    raise ValueError(f"{source}: cannot decode as text")


def _first_bad_utf8(path: Path) -> int | None:
    """The position `decode` reports for the first byte that is not UTF-8 (after a BOM),
    None when the whole file is UTF-8; read a chunk at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    fed = 0
    with open(path, "rb") as handle:
        bom = handle.read(3) == codecs.BOM_UTF8
        handle.seek(0)
        while True:
            chunk = handle.read(CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return fed - pending + exc.start - (3 if bom else 0)
            if not chunk:
                return None
            fed += len(chunk)


def _cp1252_reads(path: Path) -> bool:
    """Whether every byte of the file has a Windows-1252 character."""
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            try:
                chunk.decode("cp1252")
            except UnicodeDecodeError:
                return False
    return True


def table_encoding(path: Path) -> tuple[str, list[str]]:
    """The encoding `decode` would read a whole table in, and its warning, without holding
    the file: ValueError for a binary one."""
    with open(path, "rb") as handle:
        if b"\x00" in handle.read(8192):
            raise ValueError(f"{path}: binary file, not text")
    where = _first_bad_utf8(path)
    if where is None:
        return "utf-8-sig", []
    encoding = "cp1252" if _cp1252_reads(path) else "latin-1"
    return encoding, [f"{path}: not UTF-8 (byte {where}); read as {encoding}"]


def table_lines(path: Path, encoding: str) -> Generator[str, None, None]:
    """The lines of a table as `str.splitlines` of its whole text would give them."""
    with open(path, encoding=encoding, newline=None) as handle:
        for line in handle:  # universal newlines split at \n, \r\n and \r ...
            yield from line.splitlines()  # ... splitlines at those and a few more


def html_to_text(html: str) -> str:
    """Visible text of an HTML page: scripts, styles and templates are removed."""
    from selectolax.lexbor import LexborHTMLParser  # selectolax 1.x dropped the Modest parser

    tree = LexborHTMLParser(html)
    tree.strip_tags(["script", "style", "noscript", "template", "head"])
    root = tree.body or tree.root
    text = root.text(separator="\n") if root else ""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def first_line(text: str) -> str | None:
    return next((line.strip() for line in text.splitlines() if line.strip()), None)


def _ad_from_file(path: Path) -> Ad:
    text, warnings = decode(path.read_bytes(), str(path))
    if path.suffix.lower() in {".html", ".htm"}:
        text = html_to_text(text)
    if not text.strip():
        raise ValueError(f"{path}: empty ad (no text)")
    return Ad(path.stem, text, str(path), title=first_line(text), warnings=tuple(warnings))


def _ad_from_row(row: dict, fields: TableFields, source: str, keep_row: bool = False) -> Ad:
    missing = [f for f in (fields.id, *fields.text) if f not in row]
    if missing:
        raise ValueError(f"{source}: missing field {', '.join(map(repr, missing))}")
    text = "\n\n".join(str(row[f]) for f in fields.text if row[f] not in (None, ""))
    if not text.strip():
        raise ValueError(f"{source}: empty ad (no text)")
    ad_id = "" if row[fields.id] is None else str(row[fields.id])
    if not ad_id.strip() or ad_id.startswith(".") or any(c in ad_id for c in "/\\\0"):
        raise ValueError(f"{source}: id {ad_id!r} cannot name a draft file")
    title = row.get(fields.title) or first_line(text)
    organisation = row.get(fields.organisation)
    return Ad(ad_id, text, source, title, organisation, row=row if keep_row else None)


class Skipped(str):
    """What is wrong with a file or line that yields no ad (the message)."""


Item = tuple[int, Ad | Skipped]  # (line, row or file number; the ad, or why there is none)


def _attempt(make: Callable[[], Ad]) -> Ad | Skipped:
    try:
        return make()
    except (ValueError, OSError) as exc:
        return Skipped(str(exc) + ("" if "skipped" in str(exc) else "; skipped"))


def _jsonl_items(path: Path, fields: TableFields, encoding: str, rows: bool) -> Iterator[Item]:
    for lineno, line in enumerate(table_lines(path, encoding), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, Skipped(f"{where}: not valid JSON ({exc.msg}); line skipped")
            continue
        if not isinstance(row, dict):
            yield lineno, Skipped(f"{where}: not a JSON object; line skipped")
            continue
        yield lineno, _attempt(partial(_ad_from_row, row, fields, where, rows))


def _csv_items(path: Path, fields: TableFields, encoding: str, rows: bool) -> Iterator[Item]:
    lines = table_lines(path, encoding)
    try:
        reader = csv.DictReader(lines)
        missing = [f for f in (fields.id, *fields.text) if f not in (reader.fieldnames or [])]
        if missing:
            names = ", ".join(map(repr, missing))
            yield 0, Skipped(f"{path}: no column {names}; file skipped")
            return
        for lineno, row in enumerate(reader, start=2):
            where = f"{path}:{lineno}"
            yield lineno, _attempt(partial(_ad_from_row, row, fields, where, rows))
    finally:
        lines.close()  # a reader stopped early lets the file go at once


class AdSource(Protocol):
    """Ads read in two passes: `read()` once, noting each problem and where each ad is in
    `found` (id -> place, in input order); `again()` yields the ads found, read anew."""

    @property
    def found(self) -> Mapping[str, int]: ...

    problems: Problems
    readable: int  # ads read (any part), duplicates included
    complete: bool  # read() reached the end of the input

    def read(self) -> Generator[Ad, None, None]: ...

    def again(self) -> Generator[Ad, None, None]: ...


class AdReader:
    """The ads under `paths`, in a stable order, one at a time (see AdSource). Only ads
    whose id `keep` accepts are read (a part of the corpus); others are passed over. With
    `rows`, each ad of a table carries its row (`Ad.row`: the table's own columns)."""

    def __init__(
        self,
        paths: Iterable[Path],
        fields: TableFields | None = None,
        keep: Callable[[str], bool] | None = None,
        rows: bool = False,
    ):
        self.paths = [Path(p) for p in paths]
        self.fields = fields or TableFields()
        self.keep = keep
        self.rows = rows
        self.found = IdMap()  # on disk: a million ids would otherwise be ~150 MB
        self.problems = Problems()
        self.readable = 0
        self.complete = False
        self._folders: dict[int, list[str]] = {}  # the file names a folder was read in
        self._encodings: dict[int, str] = {}  # the encoding a table was read in

    def _folder(self, number: int, path: Path) -> list[str]:
        if number not in self._folders:
            names = (n for n in os.listdir(path) if Path(n).suffix.lower() in AD_SUFFIXES)
            self._folders[number] = sorted(names)
        return self._folders[number]

    def _table(self, number: int, path: Path) -> Iterator[Item]:
        if number not in self._encodings:
            try:
                encoding, warnings = table_encoding(path)
            except ValueError as exc:
                yield 0, Skipped(f"{exc}; file skipped")
                return
            except OSError as exc:
                yield 0, Skipped(f"{path}: cannot read ({exc.strerror or exc}); file skipped")
                return
            self.problems.read += warnings
            self._encodings[number] = encoding
        items = _jsonl_items if path.suffix.lower() == ".jsonl" else _csv_items
        yield from items(path, self.fields, self._encodings[number], self.rows)

    def _items(self, number: int, path: Path) -> Iterator[Item]:
        if path.is_dir():
            for index, name in enumerate(self._folder(number, path)):
                yield index, _attempt(partial(_ad_from_file, path / name))
        elif not path.is_file():
            yield 0, Skipped(f"{path}: no such file or folder")
        elif path.suffix.lower() in TABLE_SUFFIXES:
            yield from self._table(number, path)
        else:
            yield 0, _attempt(partial(_ad_from_file, path))

    def _placed(self) -> Iterator[tuple[int, Ad | Skipped]]:
        for number, path in enumerate(self.paths):
            for item, found in self._items(number, path):
                yield number << ITEM_BITS | item, found

    def source_of(self, place: int) -> str:
        """Where the ad at `place` was read: file, or file and line."""
        number, item = place >> ITEM_BITS, place & ((1 << ITEM_BITS) - 1)
        path = self.paths[number]
        if path.is_dir():
            return str(path / self._folder(number, path)[item])
        return f"{path}:{item}" if path.suffix.lower() in TABLE_SUFFIXES else str(path)

    def read(self) -> Generator[Ad, None, None]:
        """Each readable ad of the part, the first of each id, in input order; every
        problem is noted in `problems`. Stopping early leaves the rest unread."""
        for place, found in self._placed():
            if isinstance(found, Skipped):
                self.problems.read.append(found)
                continue
            self.readable += 1
            if self.keep is not None and not self.keep(found.id):
                continue
            self.problems.warnings += found.warnings
            first = self.found.earlier(found.id, place)
            if first is not None:
                self.problems.duplicates.append(
                    f"{found.source}: duplicate ad id {found.id!r} "
                    f"(first in {self.source_of(first)}); skipped"
                )
                continue
            yield found
        self.complete = True

    def again(self) -> Generator[Ad, None, None]:
        """The ads `read` found, read once more in the same order (nothing else is kept)."""
        last = self.found.max_value()
        if last is None:
            return
        for place, found in self._placed():
            if place > last:
                return
            if not isinstance(found, Skipped) and self.found.get(found.id) == place:
                yield found


class AdList:
    """Ads already in memory as an AdSource (a caller that built them itself)."""

    def __init__(self, ads: Iterable[Ad]):
        self.ads = list(ads)
        self.found: dict[str, int] = {}
        self.problems = Problems()
        self.readable = len(self.ads)
        self.complete = False

    def read(self) -> Generator[Ad, None, None]:
        for place, ad in enumerate(self.ads):
            if ad.id not in self.found:
                self.found[ad.id] = place
                yield ad
        self.complete = True

    def again(self) -> Generator[Ad, None, None]:
        return (ad for place, ad in enumerate(self.ads) if self.found.get(ad.id) == place)


def read_ads(paths: list[Path], fields: TableFields | None = None) -> AdBatch:
    """Every readable ad under `paths`, in a stable order, and a message per problem."""
    reader = AdReader(paths, fields)
    ads = list(reader.read())
    return AdBatch(ads, reader.problems.all())
