"""The ads, streamed for an export: each ad with its row of the table, one at a time, read by
`pipeline.ads.AdReader` (the ids, texts and problems `code` and `read_ads` have), so an
export never holds the corpus and finds every ad `autocode code` coded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ads import Ad, AdReader, TableFields

Problem = Callable[[str], None]
Row = dict | None  # the ad's row of a .jsonl/.csv table; None for an ad file


def _ignore(_: str) -> None:
    return None


@dataclass
class AdStream:
    """The ads under `paths`, to be read (once or more) one ad at a time."""

    paths: list[Path]
    fields: TableFields = field(default_factory=TableFields)

    def read(self, problem: Problem = _ignore) -> Iterator[tuple[Ad, Row]]:
        """Every readable ad with its table row, in `read_ads`'s order (the first of a
        repeated id kept); each problem goes to `problem` once the ads are read, in the
        order `read_ads` lists them."""
        reader = AdReader(self.paths, self.fields, rows=True)
        for ad in reader.read():
            yield ad, ad.row
        for message in reader.problems.all():
            problem(message)
