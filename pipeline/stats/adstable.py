"""The ads table of `autocode stats` (`--ads`): the columns `--by` and `--cluster` group by,
in the corpus's DuckDB database as the table `ads` (id, line, one JSON value per column).

A .jsonl table is read by DuckDB; a .csv table, a folder of ads, and a .jsonl that DuckDB
cannot read or that fails a check (an ad without id or twice, a column with no value) are
read by Python as before, one line at a time (`text_lines`, `_rows`), with the same messages.
A value becomes its group as before (`group_of`): Python's `str` of the JSON value, stripped.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from pipeline.ads import read_ads
from pipeline.errors import InputError
from pipeline.stats.corpus import GLOB, literal

MISSING = "(missing)"
PERIODS = {"month": 7, "year": 4}  # characters of an ISO date kept by `--by COLUMN:PERIOD`
BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines cuts
CHUNK = 1 << 20
BATCH = 10_000


@dataclass(frozen=True)
class By:
    """`--by COLUMN` or `--by COLUMN:PERIOD` (a date column grouped by month or year)."""

    column: str
    period: str | None = None

    @property
    def name(self) -> str:
        return f"{self.column}_{self.period}" if self.period else self.column


def parse_by(spec: str) -> By:
    column, _, period = spec.partition(":")
    if not column.strip():
        raise InputError(f"--by {spec!r}: no column name")
    if period and period not in PERIODS:
        raise InputError(f"--by {spec!r}: unknown period {period!r} (use {', '.join(PERIODS)})")
    return By(column.strip(), period or None)


@dataclass
class AdsTable:
    """The ads table: its path, the columns read into `ads` (c0, c1… in this order), every
    column of the file where Python read it (None where DuckDB did: each read column then has
    a value somewhere), its number of ads, and whether `ads.line` holds their lines."""

    path: Path
    read: list[str]
    columns: list[str] | None
    size: int
    lines: bool


# ------------------------------------------------------------------ reading text as before


def _encoding(path: Path) -> str:
    """The encoding `ads.decode` would read the whole file with (binary is refused)."""
    with open(path, "rb") as handle:
        if b"\x00" in handle.read(8192):
            raise ValueError(f"{path}: binary file, not text")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as handle:
                for chunk in iter(partial(handle.read, CHUNK), b""):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ValueError(f"{path}: cannot decode as text")


def _without_break(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line and line[-1] in BREAKS else line


def _decoded(path: Path, encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    rest = ""
    with open(path, "rb") as handle:
        for chunk in iter(partial(handle.read, CHUNK), b""):
            lines = (rest + decoder.decode(chunk)).splitlines(keepends=True)
            rest = lines.pop() if lines else ""  # perhaps cut short, or a \r before its \n
            yield from map(_without_break, lines)
    yield from (rest + decoder.decode(b"", final=True)).splitlines()


def text_lines(path: Path) -> Iterator[str]:
    """The lines of a file as `ads.decode(...)[0].splitlines()` gives them, read in chunks
    (the encoding is found first: an error reading the file is raised here)."""
    return _decoded(path, _encoding(path))


def _json_rows(path: Path, lines: Iterator[str]) -> Iterator[tuple[int, dict]]:
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{lineno}: not a JSON object")
        yield lineno, row


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line, row) of a .jsonl or .csv table, as `read_ads_table` read them."""
    try:
        lines = text_lines(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the ads table: {exc}") from None
    if path.suffix.lower() == ".csv":
        return enumerate(csv.DictReader(lines), start=2)
    return _json_rows(path, lines)


# ------------------------------------------------------------------ into DuckDB


def _schema(read: Sequence[str]) -> pa.Schema:
    fields = [("id", pa.string()), ("line", pa.int64())]
    return pa.schema(fields + [(f"c{i}", pa.string()) for i in range(len(read))])


def _value(row: dict, column: str) -> str | None:
    """A column's value as the JSON text DuckDB would hold (None: absent or null)."""
    value = row.get(column)
    return None if value is None else json.dumps(value, ensure_ascii=False)


class _Writer:
    """Rows into `ads` in batches, and the first id met twice (before a given line)."""

    def __init__(self, db: duckdb.DuckDBPyConnection, path: Path, read: Sequence[str]):
        self.db, self.path, self.read = db, path, read
        self.schema = _schema(read)
        self.rows: list[dict] = []
        columns = ["id VARCHAR", "line BIGINT", *(f"c{i} VARCHAR" for i in range(len(read)))]
        db.execute(f"CREATE OR REPLACE TABLE ads ({', '.join(columns)})")

    def add(self, ad_id: str, lineno: int | None, row: dict) -> None:
        values = {f"c{i}": _value(row, c) for i, c in enumerate(self.read)}
        self.rows.append({"id": ad_id, "line": lineno, **values})
        if len(self.rows) == BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.db.register("batch", pa.Table.from_pylist(self.rows, schema=self.schema))
            self.db.execute("INSERT INTO ads SELECT * FROM batch")
            self.db.unregister("batch")
            self.rows = []

    def repeated(self) -> InputError | None:
        """The first row so far (in file order) whose id came earlier: reading the table
        whole, Python stopped there, before any later problem."""
        self.flush()
        found = self.db.execute(
            "SELECT id, line, first FROM (SELECT id, line, min(line) OVER (PARTITION BY id) "
            "AS first FROM ads) WHERE line > first ORDER BY line LIMIT 1"
        ).fetchall()
        if not found:
            return None
        ad_id, lineno, first = found[0]
        return InputError(f"{self.path}:{lineno}: ad {ad_id!r} again (first on line {first})")


def _read_exact(db, path: Path, id_field: str, read: Sequence[str]) -> AdsTable:
    """The table as `read_ads_table` read it: the same checks, in the same order."""
    writer = _Writer(db, path, read)
    columns: dict[str, None] = {}
    try:
        for lineno, row in _rows(path):
            ad_id = row.get(id_field)
            if ad_id in (None, ""):
                raise InputError(f"{path}:{lineno}: no {id_field!r}")
            columns.update(dict.fromkeys(row))
            writer.add(str(ad_id), lineno, row)
    except InputError as exc:
        raise writer.repeated() or exc from None
    error = writer.repeated()
    if error:
        raise error
    size = db.execute("SELECT count(*) FROM ads").fetchall()[0][0]
    return AdsTable(path, list(read), list(columns), size, True)


def _read_folder(db, path: Path, read: Sequence[str]) -> AdsTable:
    writer = _Writer(db, path, read)
    for ad in read_ads([path]).ads:
        writer.add(ad.id, None, {"id": ad.id, "title": ad.title, "organisation": ad.organisation})
    writer.flush()
    size = db.execute("SELECT count(*) FROM ads").fetchall()[0][0]
    return AdsTable(path, list(read), ["id", "title", "organisation"], size, False)


def _read_fast(db, path: Path, id_field: str, read: Sequence[str]) -> AdsTable | None:
    """DuckDB reads the .jsonl; None where it cannot, or where Python must say what is wrong
    (an id missing, not a string or number, or twice; a column without any value)."""
    if GLOB & set(str(path)):
        return None
    names = list(dict.fromkeys([id_field, *read]))
    columns = "{" + ", ".join(f"{literal(c)}: 'JSON'" for c in names) + "}"
    values = "".join(f", {_quoted(c)}::VARCHAR AS c{i}" for i, c in enumerate(read))
    source = (
        f"read_json({literal(str(path))}, format = 'newline_delimited', records = true, "
        f"columns = {columns})"
    )
    ident = _quoted(id_field)
    try:
        db.execute(
            f"CREATE OR REPLACE TABLE ads AS SELECT CASE json_type({ident}) WHEN 'VARCHAR' "
            f"THEN {ident}->>'$' WHEN 'BIGINT' THEN {ident}::VARCHAR WHEN 'UBIGINT' THEN "
            f"{ident}::VARCHAR END AS id, NULL::BIGINT AS line{values} FROM {source}"
        )
    except duckdb.Error:
        return None
    empty = "".join(f", count(c{i})" for i in range(len(read)))
    size, ids, distinct, *counts = db.execute(
        f"SELECT count(*), count(id) FILTER (WHERE id <> ''), count(DISTINCT id){empty} FROM ads"
    ).fetchall()[0]
    if ids != size or distinct != size or 0 in counts:
        return None
    return AdsTable(path, list(read), None, size, False)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_ads_table(db, path: Path, id_field: str, read: Sequence[str]) -> AdsTable:
    """The ads table (.jsonl or .csv, one ad a row, or a folder of ad files, which has no
    columns but its ids, titles and organisations) into the table `ads`, with the columns
    `read`."""
    path = Path(path)
    read = list(dict.fromkeys(read))
    if path.is_dir():
        return _read_folder(db, path, read)
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise InputError(f"{path}: the ads table is a .jsonl or .csv file (or a folder of ads)")
    if path.suffix.lower() == ".jsonl":
        table = _read_fast(db, path, id_field, read)
        if table is not None:
            return table
    return _read_exact(db, path, id_field, read)


def line_of(table: AdsTable, db, ad_id: str, id_field: str) -> int | str:
    """The line of an ad in the table, for a message ('?' where the table has no lines)."""
    if table.lines:
        found = db.execute("SELECT line FROM ads WHERE id = ?", [ad_id]).fetchall()
        return found[0][0] if found and found[0][0] is not None else "?"
    if table.path.is_dir():
        return "?"
    for lineno, row in _rows(table.path):
        if str(row.get(id_field)) == ad_id:
            return lineno
    return "?"


# ------------------------------------------------------------------ groups


class BadDate(str):
    """A value that is not an ISO date, where --by COLUMN:PERIOD needs one."""


def group_of(raw: str | None, by: By) -> str:
    """The group of an ad whose value in the column is the JSON text `raw` (None: no value,
    or no row): MISSING, the value stripped, or its month or year; a BadDate otherwise."""
    value = None if raw is None else json.loads(raw)
    if value is None or not str(value).strip():
        return MISSING
    value = str(value).strip()
    if by.period is None:
        return value
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return BadDate(value)
    return value[: PERIODS[by.period]]


@dataclass
class Grouping:
    """The --by groups of the coded ads, in SQL over `coded`: `join` the tables a row needs,
    `label` its group."""

    join: str
    label: str


def grouping(db, table: AdsTable, by: By, id_field: str) -> Grouping:
    """Each coded ad's group by a column of the ads table (MISSING without a row or value);
    an error naming the column where the table has none, or the first coded ad (in corpus
    order) whose value is not a date where --by COLUMN:PERIOD needs one."""
    if table.columns is not None and by.column not in table.columns:
        raise InputError(
            f"{table.path}: no column {by.column!r} for --by (columns: {', '.join(table.columns)})"
        )
    column = f"c{table.read.index(by.column)}"
    rows = db.execute(
        f"SELECT DISTINCT a.{column} FROM coded LEFT JOIN ads a ON a.id = coded.ad_id"
    ).fetchall()
    groups = {raw: group_of(raw, by) for (raw,) in rows if raw is not None}
    name = f"groups_{column}_{by.period or 'value'}"
    _check_dates(
        db, table, by, id_field, column, [r for r, g in groups.items() if isinstance(g, BadDate)]
    )
    raws, labels = pa.array(list(groups), pa.string()), pa.array(list(groups.values()), pa.string())
    db.register("groups_arrow", pa.table({"raw": raws, "grp": labels}))
    db.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM groups_arrow")
    db.unregister("groups_arrow")
    alias = f"ads_{name}"
    join = (
        f"LEFT JOIN ads {alias} ON {alias}.id = coded.ad_id "
        f"LEFT JOIN {name} ON {name}.raw = {alias}.{column}"
    )
    return Grouping(join, f"coalesce({name}.grp, {literal(MISSING)})")


def _check_dates(db, table: AdsTable, by: By, id_field: str, column: str, bad: list) -> None:
    if not bad:
        return
    db.register("bad_arrow", pa.table({"raw": pa.array(bad, pa.string())}))
    ad_id, raw = db.execute(
        f"SELECT coded.ad_id, a.{column} FROM coded JOIN ads a ON a.id = coded.ad_id "
        f"WHERE a.{column} IN (SELECT raw FROM bad_arrow) ORDER BY coded.rid LIMIT 1"
    ).fetchall()[0]
    db.unregister("bad_arrow")
    value = group_of(raw, by)
    raise InputError(
        f"{table.path}:{line_of(table, db, ad_id, id_field)}: {by.column} {str(value)!r} "
        f"is not a date (YYYY-MM-DD) for --by {by.column}:{by.period}"
    )
