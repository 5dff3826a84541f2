"""Outputs too large to build in memory first (a merge's codings.jsonl, an eval report that
lists a million unpaired ads), written a piece at a time and still never half written: under
a temporary name, renamed into place when complete, as `store.atomic_write_text` writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from pipeline.store import UMASK


@contextmanager
def atomic_stream(path: Path) -> Iterator[TextIO]:
    """A text file to write to; it replaces `path` only when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp's 0600, as store.atomic_write_bytes explains
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_joined(path: Path, lines: Iterable[str]) -> None:
    """`"\\n".join(lines)` written atomically, one line at a time."""
    with atomic_stream(path) as handle:
        for i, line in enumerate(lines):
            handle.write("\n" + line if i else line)
