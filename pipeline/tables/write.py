"""Writing a table one row at a time: CSV, or Parquet through pyarrow in row groups of
`BATCH_ROWS` rows, so memory holds one batch and never the table. The files of one export
appear together or not at all: each is written to a temp file beside it, and all are renamed
when every one is complete (`atomic_files`, which the REFI-QDA export uses too).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from pipeline.store import temp_beside
from pipeline.tables.rows import Column

FORMATS = ("csv", "parquet")
# Rows per Parquet row group: a batch of entries is a few megabytes, and readers that skip
# row groups by their statistics still have some to skip.
BATCH_ROWS = 20_000


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def atomic_files(paths: list[Path]) -> Iterator[list[Path]]:
    """Temp files beside `paths` (named `.<name>.*.tmp`, as `store` names its own) to write;
    renamed onto `paths` together when the block ends, removed when it fails."""
    temps: list[Path] = []
    try:
        for path in paths:
            temps.append(temp_beside(path))
        yield temps
        for tmp in temps:
            _fsync(tmp)
        for tmp, path in zip(temps, paths, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise


def _csv_cell(value: object) -> object:
    """Empty for a missing value; true/false and ISO dates as R, pandas and DuckDB read them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return value


class CsvTable:
    """A CSV file (RFC 4180: CRLF rows, a field with a comma, quote or line break quoted)."""

    def __init__(self, path: Path, columns: list[Column]):
        self.rows = 0
        self._handle = open(path, "w", encoding="utf-8", newline="")  # closed by close()
        # CRLF rows: Python's csv quotes a field holding a character of the row terminator,
        # so a lone \r in a text is quoted only when \r is part of it
        self._writer = csv.writer(self._handle, lineterminator="\r\n")
        self._writer.writerow([name for name, _ in columns])

    def add(self, row: tuple) -> None:
        self._writer.writerow([_csv_cell(value) for value in row])
        self.rows += 1

    def close(self) -> None:
        self._handle.close()


class ParquetTable:
    """A Parquet file written a row group at a time with pyarrow's ParquetWriter."""

    def __init__(self, path: Path, columns: list[Column]):
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        types = {
            "string": pa.string(),
            "int64": pa.int64(),
            "float64": pa.float64(),
            "bool": pa.bool_(),
            "date": pa.date32(),
        }
        self._pa = pa
        self.schema = pa.schema([(name, types[kind]) for name, kind in columns])
        self.rows = 0
        self._pending: list[tuple] = []
        self._writer = pq.ParquetWriter(str(path), self.schema)

    def add(self, row: tuple) -> None:
        self._pending.append(row)
        self.rows += 1
        if len(self._pending) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        cells = zip(*self._pending, strict=True)
        arrays = [
            self._pa.array(column, type=field.type)
            for column, field in zip(cells, self.schema, strict=True)
        ]
        self._writer.write_batch(self._pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self._pending = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def table_file(path: Path, columns: list[Column], fmt: str) -> CsvTable | ParquetTable:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    return CsvTable(path, columns) if fmt == "csv" else ParquetTable(path, columns)
