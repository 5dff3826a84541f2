"""The coded corpus of `autocode stats` as a DuckDB database: a row per coded ad with what the
tables count (its entries per category, its profile, the model that drafted it) and a row per
tool it names. The statistics are sums over these rows, which DuckDB computes out of core, so
memory stays flat however many ads there are (docs/ARCHITECTURE.md, "Engines").

A codings.jsonl is read by DuckDB itself (no Python object per record), and SQL checks what
the tables count: an id on every record and none twice, categories of the codebook taking
quotes or tools as coded, profiles of the codebook, quote texts and tool names not empty. A
file that DuckDB cannot read, or that fails a check, is read again line by line as
`load_jsonl` reads it (`codings.load.iter_jsonl`), which names the bad line as before, or
gives the same rows where DuckDB was only stricter. Markdown codings, and codings given in
memory, are handed to DuckDB as Arrow tables.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from pipeline.codebook import Codebook
from pipeline.codings.load import iter_jsonl
from pipeline.errors import InputError
from pipeline.idmap import fetched
from pipeline.record import Coding

BATCH = 10_000  # records per Arrow batch where Python reads the codings
# DuckDB spills to its temporary folder beyond this, so a million ads fit the memory of a
# hundred thousand (`stats` at 10^5 and 10^6 ads: ~345 and ~410 MB in all; 256 MB: +40%).
MEMORY_LIMIT = "128MB"
GLOB = set("*?[{")  # DuckDB would expand these in a path: such a file is read by Python

# What stats reads of a record, as DuckDB reads it from a JSON line and as Arrow gives it.
RAW_COLUMNS = {
    "ad_id": "JSON",  # a string, checked: DuckDB would make a number one
    "profile": "VARCHAR",
    "quotes": "STRUCT(category VARCHAR, text VARCHAR)[]",
    "tools": "STRUCT(category VARCHAR, name VARCHAR)[]",
    "provenance": "STRUCT(model VARCHAR, merged_from VARCHAR[])",
    "n_codings": "INTEGER",
    "agreement": "DOUBLE",
    "profile_support": "INTEGER",
}
RAW_SCHEMA = pa.schema(
    [
        ("ad_id", pa.string()),
        ("profile", pa.string()),
        ("quotes", pa.list_(pa.struct([("category", pa.string()), ("text", pa.string())]))),
        ("tools", pa.list_(pa.struct([("category", pa.string()), ("name", pa.string())]))),
        ("provenance", pa.struct([("model", pa.string()), ("merged_from", pa.list_(pa.string()))])),
        ("n_codings", pa.int32()),
        ("agreement", pa.float64()),
        ("profile_support", pa.int32()),
    ]
)


def connect(folder: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB database in `folder` (a temporary one) that stays within MEMORY_LIMIT,
    spilling to disk beyond it."""
    db = duckdb.connect(str(Path(folder) / "db.duckdb"))
    db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    db.execute("SET temp_directory = '" + str(Path(folder) / "spill").replace("'", "''") + "'")
    return db


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]::VARCHAR[]"


def raw_row(coding: Coding) -> dict:
    """A coding as RAW_SCHEMA's row (the model already resolved: a merge has none)."""
    return {
        "ad_id": coding.ad_id,
        "profile": coding.profile,
        "quotes": [{"category": q.category, "text": q.text} for q in coding.quotes],
        "tools": [{"category": t.category, "name": t.name} for t in coding.tools],
        "provenance": {"model": coding.drafted_by, "merged_from": None},
        "n_codings": coding.n_codings,
        "agreement": coding.agreement,
        "profile_support": coding.profile_support,
    }


def arrow_batches(codings: Iterable[Coding]) -> Iterator[pa.Table]:
    rows: list[dict] = []
    for coding in codings:
        rows.append(raw_row(coding))
        if len(rows) == BATCH:
            yield pa.Table.from_pylist(rows, schema=RAW_SCHEMA)
            rows = []
    if rows:
        yield pa.Table.from_pylist(rows, schema=RAW_SCHEMA)


def exact_codings(path: Path, book: Codebook) -> Iterator[Coding]:
    """The records of a codings.jsonl as `load_jsonl` reads them (same errors), one at a time;
    only this fallback holds the ids, to name a repeated one with its first line."""
    seen: dict[str, int] = {}
    for lineno, _, _, coding in iter_jsonl(path, book):
        if coding.ad_id in seen:
            first = f"first on line {seen[coding.ad_id]}"
            raise InputError(f"{path}:{lineno}: ad {coding.ad_id!r} again ({first})")
        seen[coding.ad_id] = lineno
        yield coding


class Corpus:
    """The coded ads of every coding set, in the order of the sets and of their records
    (`rid`), in a DuckDB database in a temporary folder (removed by `close`)."""

    def __init__(self, book: Codebook):
        self.book = book
        self.categories = list(book.categories)
        self._tmp = tempfile.TemporaryDirectory(prefix="autocode-stats-")
        self.db = connect(Path(self._tmp.name))  # memory bounded, spilling to disk
        entries = ", ".join(f"e{i} INTEGER" for i in range(len(self.categories)))
        self.db.execute(
            "CREATE TABLE coded (rid BIGINT, src INTEGER, ad_id VARCHAR, profile VARCHAR, "
            f"model VARCHAR, n_codings INTEGER, agreement DOUBLE, profile_support INTEGER, "
            f"{entries})"
        )
        self.db.execute(
            "CREATE TABLE tool_entries (rid BIGINT, pos BIGINT, name VARCHAR, category VARCHAR)"
        )
        self.size = 0  # ads so far: the next rid
        self.paths: list[Path] = []  # each source's path, by src

    def close(self) -> None:
        self.db.close()
        self._tmp.cleanup()

    def entry_columns(self) -> list[str]:
        return [f"e{i}" for i in range(len(self.categories))]

    # -------------------------------------------------------------- adding coding sets

    def _stage_select(self, source: str, ad_id: str = "ad_id") -> str:
        """The stage's row of each record of `source` (`ad_id`: the expression of its id):
        entries per category, tools, and `bad` where a check fails (only DuckDB's own
        reading needs it)."""
        book = self.book
        quotes, tools = book.ids_of_kind("quotes"), book.ids_of_kind("tools")
        cats = (
            "list_concat(list_transform(coalesce(quotes, []), lambda q: q.category), "
            "list_transform(coalesce(tools, []), lambda t: t.category))"
        )
        counts = ", ".join(
            f"len(list_filter({cats}, lambda c: c = {literal(cid)})) AS e{i}"
            for i, cid in enumerate(self.categories)
        )
        bad_quote = (
            "q IS NULL OR q.text IS NULL OR length(q.text) = 0 "
            f"OR NOT coalesce(list_contains({_strings(quotes)}, q.category), false)"
        )
        bad_tool = (
            "t IS NULL OR t.name IS NULL OR length(t.name) = 0 "
            f"OR NOT coalesce(list_contains({_strings(tools)}, t.category), false)"
        )
        bad_profile = (
            f"profile <> '' AND NOT list_contains({_strings(book.profile_names)}, profile)"
        )
        bad = (
            f"ad_id IS NULL OR coalesce({bad_profile}, false) "
            f"OR len(list_filter(coalesce(quotes, []), lambda q: {bad_quote})) > 0 "
            f"OR len(list_filter(coalesce(tools, []), lambda t: {bad_tool})) > 0"
        )
        model = "CASE WHEN provenance.merged_from IS NULL THEN provenance.model END"
        return (
            f"SELECT ad_id, profile, {model} AS model, n_codings, agreement, profile_support, "
            f"{counts}, coalesce(tools, []) AS tools, {bad} AS bad "
            f"FROM (SELECT * REPLACE ({ad_id} AS ad_id) FROM {source})"
        )

    def _stage_fast(self, path: Path) -> bool:
        """DuckDB reads the file into the stage; False when it cannot or a check fails."""
        if GLOB & set(str(path)):
            return False
        columns = "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in RAW_COLUMNS.items())
        source = (
            f"read_json({literal(str(path))}, format = 'newline_delimited', records = true, "
            f"columns = {columns}}})"
        )
        ad_id = "CASE WHEN json_type(ad_id) = 'VARCHAR' THEN ad_id->>'$' END"
        try:
            self.db.execute(f"CREATE OR REPLACE TABLE stage AS {self._stage_select(source, ad_id)}")
        except duckdb.Error:
            return False
        bad, repeated = self.db.execute(
            "SELECT count(*) FILTER (WHERE bad), count(*) - count(DISTINCT ad_id) FROM stage"
        ).fetchall()[0]
        return bad == 0 and repeated == 0

    def _stage_codings(self, codings: Iterable[Coding]) -> None:
        """The stage from validated codings, handed over in Arrow batches."""
        first = True
        for batch in arrow_batches(codings):
            self.db.register("batch", batch)
            verb = "CREATE OR REPLACE TABLE stage AS" if first else "INSERT INTO stage"
            self.db.execute(f"{verb} {self._stage_select('batch')}")
            self.db.unregister("batch")
            first = False
        if first:  # no codings at all
            self.db.register("batch", RAW_SCHEMA.empty_table())
            self.db.execute(f"CREATE OR REPLACE TABLE stage AS {self._stage_select('batch')}")
            self.db.unregister("batch")

    def stage_records(self, records: Path) -> None:
        """Stage the JSON lines of a codings.jsonl (DuckDB's reading, else Python's)."""
        if not self._stage_fast(records):
            self._stage_codings(exact_codings(records, self.book))

    def stage_codings(self, path: Path, codings: Sequence[Coding]) -> None:
        """Stage codings read into memory (Markdown codings, or codings given); an ad twice
        among them is an error, as an ad in two coding sets is."""
        self._stage_codings(codings)
        twice = self.db.execute(
            "SELECT ad_id FROM (SELECT ad_id, rowid, row_number() OVER (PARTITION BY ad_id "
            "ORDER BY rowid) AS k FROM stage) WHERE k = 2 ORDER BY rowid LIMIT 1"
        ).fetchall()
        if twice:
            raise InputError(f"{path}: ad {twice[0][0]!r} is also in {path}")

    def staged_without(self, ad_ids: Sequence[object]) -> list[bool]:
        """For each id (in order): whether the staged coding set does not code it."""
        strings = sorted({a for a in ad_ids if isinstance(a, str)})
        self.db.register("wanted", pa.table({"ad_id": pa.array(strings, pa.string())}))
        rows = self.db.execute("SELECT ad_id FROM wanted JOIN stage USING (ad_id)").fetchall()
        self.db.unregister("wanted")
        coded = {r[0] for r in rows}
        return [a not in coded for a in ad_ids]

    def commit(self, path: Path) -> int:
        """The staged coding set into the corpus, after the check that no ad of it is in an
        earlier set; its number (`src`)."""
        src = len(self.paths)
        also = self.db.execute(
            "SELECT s.ad_id, c.src FROM stage s JOIN coded c USING (ad_id) ORDER BY s.rowid LIMIT 1"
        ).fetchall()
        if also:
            ad_id, src_of = also[0]
            raise InputError(f"{path}: ad {ad_id!r} is also in {self.paths[src_of]}")
        entries = ", ".join(self.entry_columns())
        offset = self.size
        self.db.execute(
            f"INSERT INTO coded SELECT {offset} + rowid, {src}, ad_id, profile, model, "
            f"n_codings, agreement, profile_support, {entries} FROM stage"
        )
        self.db.execute(
            f"INSERT INTO tool_entries SELECT {offset} + rid, pos, t.name, t.category FROM "
            "(SELECT rowid AS rid, unnest(tools) AS t, generate_subscripts(tools, 1) AS pos "
            "FROM stage)"
        )
        self.size += self._count("SELECT count(*) FROM stage")
        self.db.execute("DROP TABLE stage")
        self.paths.append(Path(path))
        return src

    def _count(self, sql: str, params: Sequence[object] = ()) -> int:
        rows = self.db.execute(sql, list(params)).fetchall()
        return int(rows[0][0]) if rows else 0

    def sorted_records(self, records: Iterable[tuple[str, str]]) -> Iterator[str]:
        """The texts of (ad id, text) pairs in id order (the order Python sorts strings in).
        The texts go to a file as they come; DuckDB sorts only where each one is (sorting
        the texts themselves would need them in memory), and they are read back in order."""
        self.db.execute("CREATE OR REPLACE TABLE records (ad_id VARCHAR, byte BIGINT, size BIGINT)")
        with open(Path(self._tmp.name) / "records.txt", "w+b") as texts:
            batch: list[tuple[str, int, int]] = []
            for ad_id, text in records:
                data = text.encode("utf-8")
                batch.append((ad_id, texts.tell(), len(data)))
                texts.write(data)
                if len(batch) == BATCH:
                    self._insert_records(batch)
                    batch = []
            self._insert_records(batch)
            cursor = self.db.execute("SELECT byte, size FROM records ORDER BY ad_id")
            for at, size in fetched(cursor, BATCH):
                texts.seek(at)
                yield texts.read(size).decode("utf-8")
        self.db.execute("DROP TABLE records")

    def _insert_records(self, batch: list[tuple[str, int, int]]) -> None:
        columns = {k: [row[i] for row in batch] for i, k in enumerate(("ad_id", "byte", "size"))}
        self.db.register("records_arrow", pa.table(columns))
        self.db.execute("INSERT INTO records SELECT * FROM records_arrow")
        self.db.unregister("records_arrow")

    # -------------------------------------------------------------- what a source holds

    def ads_of(self, src: int) -> int:
        return self._count("SELECT count(*) FROM coded WHERE src = ?", [src])

    def models_of(self, src: int) -> list[str]:
        """The models named in a source's records, sorted (none for hand codings)."""
        rows = self.db.execute(
            "SELECT DISTINCT model FROM coded WHERE src = ? AND model <> ''", [src]
        ).fetchall()
        return sorted(r[0] for r in rows)
