"""The LLM exchange cache: one JSON file per exchange, keyed by the hash of everything that
shapes it, so a re-run makes no call for what it has already asked."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.store import atomic_write_text


class DiskCache:
    """One JSON file per exchange, keyed by the hash of everything that shapes it."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder else None

    def path(self, key: str) -> Path:
        assert self.folder is not None  # only called when there is a folder
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        if not self.folder or not self.path(key).exists():
            return None
        try:
            return json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is a miss, not an error

    def put(self, key: str, value: dict) -> None:
        if self.folder:
            atomic_write_text(self.path(key), json.dumps(value, ensure_ascii=False))
