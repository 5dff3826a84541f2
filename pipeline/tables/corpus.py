"""The ads, streamed: each ad of a folder, .jsonl or .csv as `pipeline.ads.read_ads` reads
it (the same ids, texts and problems, the first of a repeated id kept), one at a time and
with its row of the table, so an export never holds the corpus.

`read_ads` decodes a whole file and splits it with `str.splitlines`; this module decodes one
line at a time and splits each the same way, so both see the same lines (a U+2028 inside a
JSON string breaks a line in both) and an ad coded by `autocode code` is found again here.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

# ads.py has no streaming reader; its one-ad builders are what keeps ids and texts identical
from pipeline.ads import AD_SUFFIXES, Ad, TableFields, _ad_from_file, _ad_from_row
from pipeline.errors import InputError
from pipeline.idmap import IdMap

Problem = Callable[[str], None]
Row = dict | None  # the ad's row of a .jsonl/.csv table; None for an ad file
BOM = b"\xef\xbb\xbf"


def _ignore(_: str) -> None:
    return None


def _encoding(path: Path, problem: Problem) -> str:
    """UTF-8, else Windows-1252, else Latin-1 with a problem naming the first bad byte (as
    `ads.decode` reports it); a binary file is refused."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8192)
            if b"\x00" in head:
                raise InputError(f"{path}: binary file, not text")
            handle.seek(0)
            bad = _first_undecodable(handle, "utf-8")
            if bad is None:
                return "utf-8"
            for encoding in ("cp1252", "latin-1"):
                handle.seek(0)
                if _first_undecodable(handle, encoding) is None:
                    # decode() reports the byte after a byte-order mark it has stripped
                    where = bad - len(BOM) if head.startswith(BOM) else bad
                    problem(f"{path}: not UTF-8 (byte {where}); read as {encoding}")
                    return encoding
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    raise InputError(f"{path}: cannot decode as text")  # latin-1 decodes any byte


def _first_undecodable(handle, encoding: str) -> int | None:
    """The offset of the first byte that does not decode, line by line (a newline byte is
    never inside a UTF-8 sequence, so lines decode as the whole file does)."""
    offset = 0
    for raw in handle:
        try:
            raw.decode(encoding)
        except UnicodeDecodeError as exc:
            return offset + exc.start
        offset += len(raw)
    return None


def text_lines(path: Path, problem: Problem) -> Iterator[str]:
    """The lines of a text file as `decode(...).splitlines()` gives them, one at a time."""
    encoding = _encoding(path, problem)
    with open(path, "rb") as handle:
        for n, raw in enumerate(handle):
            if n == 0 and encoding == "utf-8":
                raw = raw.removeprefix(BOM)
            yield from raw.decode(encoding).splitlines()


def _made(make: Callable[[], Ad], row: Row, problem: Problem) -> Iterator[tuple[Ad, Row]]:
    """The ad `make` builds, or its problem (as `ads._add` words it)."""
    try:
        ad = make()
    except (ValueError, OSError) as exc:
        problem(str(exc) + ("" if "skipped" in str(exc) else "; skipped"))
        return
    yield ad, row


def _jsonl(path: Path, fields: TableFields, problem: Problem) -> Iterator[tuple[Ad, Row]]:
    for lineno, line in enumerate(text_lines(path, problem), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problem(f"{where}: not valid JSON ({exc.msg}); line skipped")
            continue
        if not isinstance(row, dict):
            problem(f"{where}: not a JSON object; line skipped")
            continue
        yield from _made(partial(_ad_from_row, row, fields, where), row, problem)


def _csv(path: Path, fields: TableFields, problem: Problem) -> Iterator[tuple[Ad, Row]]:
    reader = csv.DictReader(text_lines(path, problem))
    missing = [f for f in (fields.id, *fields.text) if f not in (reader.fieldnames or [])]
    if missing:
        problem(f"{path}: no column {', '.join(map(repr, missing))}; file skipped")
        return
    for lineno, row in enumerate(reader, start=2):
        yield from _made(partial(_ad_from_row, row, fields, f"{path}:{lineno}"), row, problem)


def _every_ad(paths: list[Path], fields: TableFields, problem: Problem):
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(p for p in path.iterdir() if p.suffix.lower() in AD_SUFFIXES):
                yield from _made(partial(_ad_from_file, file), None, problem)
        elif path.suffix.lower() == ".jsonl":
            yield from _jsonl(path, fields, problem)
        elif path.suffix.lower() == ".csv":
            yield from _csv(path, fields, problem)
        elif path.is_file():
            yield from _made(partial(_ad_from_file, path), None, problem)
        else:
            problem(f"{path}: no such file or folder")


@dataclass
class AdStream:
    """The ads under `paths`, to be read (once or more) one ad at a time."""

    paths: list[Path]
    fields: TableFields = field(default_factory=TableFields)

    def read(self, problem: Problem = _ignore) -> Iterator[tuple[Ad, Row]]:
        """Every readable ad with its table row, in `read_ads`'s order; each problem (a bad
        line, a repeated id: the first is kept) goes to `problem` when it is met."""
        seen = IdMap()  # id -> where it was first read, on disk (a million ids)
        for ad, row in _every_ad(self.paths, self.fields, problem):
            for warning in ad.warnings:
                problem(warning)
            first = seen.earlier(ad.id, ad.source)
            if first is not None:
                problem(f"{ad.source}: duplicate ad id {ad.id!r} (first in {first}); skipped")
                continue
            yield ad, row
