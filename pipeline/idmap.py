"""Ad ids and a value for each (where the ad was read, a line, an offset), kept on disk.

A corpus of a million ads has a million ids; held in a Python dict they cost ~150 bytes
each, which is what made every streaming command's memory grow with the corpus. `IdMap`
keeps them in a private temporary SQLite database instead: SQLite holds a few megabytes of
it in its page cache and the rest in a file deleted when the map is closed, so memory stays
flat whatever the number of ads, at a few microseconds per lookup.

Iteration is in the order ids were first added. Sorted iteration (`sorted_ids`) is in
Python's order for strings: SQLite compares TEXT as UTF-8 bytes, and UTF-8 byte order is
code point order.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

Value = Any  # an int, a str or None: what SQLite keeps as it is
CACHE_KIB = 4096  # SQLite's page cache for the map; the rest lies in its temporary file
BATCH = 1000  # rows fetched at a time when iterating


def temporary_database(cache_kib: int = CACHE_KIB) -> sqlite3.Connection:
    """A private SQLite database on disk that holds at most `cache_kib` in memory; its file
    goes when it is closed (or collected). Nothing in it needs to survive a crash, so it
    keeps no journal and does not wait for the disk."""
    db = sqlite3.connect("", check_same_thread=False)  # "": a temporary on-disk database
    db.execute(f"PRAGMA cache_size = -{cache_kib}")
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    return db


def fetched(cursor, batch: int = BATCH) -> Iterator[tuple]:
    """A query's rows, fetched `batch` at a time (any DB-API cursor: SQLite's, DuckDB's), so
    a result of a million rows is never a list of them."""
    while rows := cursor.fetchmany(batch):
        yield from rows


class IdMap(Mapping[str, Value]):
    """str -> int | str | None on disk, in insertion order (see the module's doc). Safe to
    share between threads (the coders of a run look results up at once): each statement
    runs under the map's lock."""

    def __init__(self, items: Iterable[tuple[str, Value]] = ()):
        self.db = temporary_database()
        self.db.execute("CREATE TABLE ids (id TEXT NOT NULL UNIQUE, value)")
        self._lock = threading.Lock()
        self._count = 0
        for key, value in items:
            self.setdefault(key, value)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> IdMap:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _changed(self, sql: str, args: tuple) -> int:
        """Rows the statement changed."""
        with self._lock:
            return self.db.execute(sql, args).rowcount

    def _one(self, sql: str, args: tuple = ()) -> tuple | None:
        with self._lock:
            return self.db.execute(sql, args).fetchone()

    def _insert(self, key: str, value: Value) -> bool:
        """Give a new `key` its value; whether it was new."""
        added = self._changed("INSERT OR IGNORE INTO ids VALUES (?, ?)", (key, value))
        self._count += added
        return bool(added)

    def setdefault(self, key: str, value: Value = None) -> Value:
        """The value of `key`: the one it already has, else `value`, which it now has."""
        return value if self._insert(key, value) else self[key]

    def earlier(self, key: str, value: Value) -> Value:
        """None when `key` is new (it now has `value`), else the value it already has: the
        one check a reader makes per id, for repeats."""
        return None if self._insert(key, value) else self[key]

    def add(self, key: str) -> bool:
        """Add `key` (as a set adds it); whether it is new."""
        return self._insert(key, None)

    def __setitem__(self, key: str, value: Value) -> None:
        """Set `key`'s value; a new key comes last, a known one keeps its place."""
        if not self._changed("UPDATE ids SET value = ? WHERE id = ?", (value, key)):
            self._insert(key, value)

    def __getitem__(self, key: str) -> Value:
        row = self._one("SELECT value FROM ids WHERE id = ?", (key,))
        if row is None:
            raise KeyError(key)
        return row[0]

    def get(self, key: str, default: Value = None) -> Value:  # type: ignore[override]
        row = self._one("SELECT value FROM ids WHERE id = ?", (key,))
        return default if row is None else row[0]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._one("SELECT 1 FROM ids WHERE id = ?", (key,)) is not None

    def __len__(self) -> int:
        return self._count

    def _rows(self, sql: str, args: tuple = ()) -> Iterator[tuple]:
        # a cursor of its own: lookups made while iterating do not disturb it
        with self._lock:
            cursor = self.db.execute(sql, args)
        while True:
            with self._lock:
                rows = cursor.fetchmany(BATCH)
            if not rows:
                return
            yield from rows

    def __iter__(self) -> Iterator[str]:
        return (row[0] for row in self._rows("SELECT id FROM ids ORDER BY rowid"))

    def items(self) -> Iterator[tuple[str, Value]]:  # type: ignore[override]
        return iter(self._rows("SELECT id, value FROM ids ORDER BY rowid"))

    def values(self) -> Iterator[Value]:  # type: ignore[override]
        return (row[0] for row in self._rows("SELECT value FROM ids ORDER BY rowid"))

    def max_value(self) -> Value:
        """The largest value (None when empty)."""
        row = self._one("SELECT max(value) FROM ids")
        return None if row is None else row[0]

    def sorted_ids(self, without: Iterable[str] = ()) -> SortedIds:
        """The ids in Python's sort order, leaving out `without` (a few: gold ads, say)."""
        return SortedIds(self, list(without))


class SortedIds(Sequence[str]):
    """A sorted view of an IdMap's ids, leaving some out, read from disk as it is iterated."""

    def __init__(self, ids: IdMap, without: list[str]):
        self.ids = ids
        table = f"without_{id(self)}"
        with ids._lock:
            ids.db.execute(f"CREATE TEMP TABLE {table} (id TEXT PRIMARY KEY)")
            ids.db.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?)", ((i,) for i in without))
        self._where = f"WHERE id NOT IN (SELECT id FROM {table})"
        counted = ids._one(f"SELECT count(*) FROM ids {self._where}")
        self._len = counted[0] if counted else 0

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        return (row[0] for row in self.ids._rows(f"SELECT id FROM ids {self._where} ORDER BY id"))

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = index + len(self) if index < 0 else index
        if not 0 <= index < len(self):
            raise IndexError(index)
        row = self.ids._one(
            f"SELECT id FROM ids {self._where} ORDER BY id LIMIT 1 OFFSET ?", (index,)
        )
        if row is None:
            raise IndexError(index)
        return row[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so not hashable either

    def __repr__(self) -> str:
        return f"SortedIds({len(self)} ids)"
