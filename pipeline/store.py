"""Disk writes that never leave a half-written file: temp file + rename, whole-line appends."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

UMASK = os.umask(0o022)
os.umask(UMASK)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see the old file or the new one, never a mix."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename (see atomic_write_text)."""
    with atomic_writer(path) as handle:
        handle.write(data)


def temp_beside(path: Path) -> Path:
    """A new empty temp file beside `path` (`.<name>.*.tmp`, which remove_stale_temps knows),
    readable as the file it will replace will be."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp's 0600 would make drafts and pages private
    return Path(tmp)


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temp files a killed atomic_write_text left in `folder` (`.<name>.*.tmp`)."""
    stale = [p for p in Path(folder).glob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def append_line(path: Path, record: dict) -> None:
    """Append one JSON line in a single write and fsync it, so a kill leaves whole lines."""
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def read_records(path: Path) -> list[dict]:
    """The whole JSON lines of a file; a torn last line (from a kill) is ignored."""
    if not Path(path).exists():
        return []
    records = []
    # JSON lines end at "\n" only: str.splitlines would also cut at a U+2028 or U+0085 that
    # json.dumps(ensure_ascii=False) leaves raw inside a string, and lose the record
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def write_records(path: Path, records: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def iter_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(byte offset, record) of each whole JSON-object line, read one line at a time; a
    torn line (from a kill) or one that is not an object is passed over, as read_records
    does. Lines end at \\n only: a record may hold any other line separator in its text."""
    if not Path(path).exists():
        return
    with open(path, "rb") as handle:
        offset = 0
        for line in handle:
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                record = None
            if isinstance(record, dict):
                yield offset, record
            offset += len(line)


def record_at(handle: BinaryIO, offset: int) -> dict:
    """The JSON line at `offset` of an open file (one that iter_records found there)."""
    handle.seek(offset)
    return json.loads(handle.readline())


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO]:
    """A file to write `path` through, a piece at a time (binary, or text with mode "w"),
    replacing it only once the whole is written and synced; left as it was if writing fails.
    Every atomic write of the package goes through here."""
    tmp = temp_beside(path)
    try:
        encoding = None if "b" in mode else "utf-8"
        with open(tmp, mode, encoding=encoding, newline=None if encoding is None else "") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_joined(path: Path, lines: Iterable[str]) -> None:
    """`"\\n".join(lines)` written atomically, one line at a time (an output too large to
    build in memory first: a merge's report, an eval listing a million unpaired ads)."""
    with atomic_writer(path, "w") as handle:
        for i, line in enumerate(lines):
            handle.write("\n" + line if i else line)


def record_line(record: dict) -> bytes:
    """A record as one line of a JSON-lines output (as append_line and write_records write)."""
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def copy_records(source: Path, offsets: Iterable[int], path: Path) -> None:
    """Write the records at `offsets` of `source`, in that order, to `path` (which may be
    `source` itself), atomically: a file of any length is rewritten without holding it."""
    with open(source, "rb") as records, atomic_writer(path) as out:
        for offset in offsets:
            out.write(record_line(record_at(records, offset)))
