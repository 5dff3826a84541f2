"""The rows of the two tidy tables, from one ad's coding (pure functions).

`entries` has a row per quote or tool, `ads` a row per ad and coding set (`run`). Their
columns and types are declared here once; `write` turns them into CSV or Parquet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.codebook import Codebook
from pipeline.grounding import ground
from pipeline.record import Coding, Provenance

Column = tuple[str, str]  # name and type: string, int64, float64, bool or date

ENTRY_COLUMNS: list[Column] = [
    ("ad_id", "string"),
    ("kind", "string"),
    ("category", "string"),
    ("category_name", "string"),
    ("part", "string"),
    ("group", "string"),
    ("text", "string"),
    ("start", "int64"),
    ("end", "int64"),
    ("grounding", "string"),
    ("note", "string"),
    ("support", "int64"),
    ("model", "string"),
    ("run", "string"),
]


@dataclass(frozen=True)
class Labels:
    """What the codebook says of each category: its name, its part and its group (None for a
    part's categories outside any group); and the parts, in order."""

    name: dict[str, str]
    part: dict[str, str]
    group: dict[str, str | None]
    parts: list[str]

    @classmethod
    def of(cls, book: Codebook) -> Labels:
        groups = {c.id: g.title for p in book.parts for g in p.groups for c in g.categories}
        return cls(
            name={cid: cat.name for cid, cat in book.categories.items()},
            part={cid: part.id for cid, part in book.part_of.items()},
            group={cid: groups.get(cid) for cid in book.categories},
            parts=[part.id for part in book.parts],
        )


def part_column(part_id: str) -> str:
    """The ads table's count of a part's entries: `part_1` for part "1"."""
    return "part_" + re.sub(r"\W", "_", part_id)


def ad_columns(labels: Labels) -> list[Column]:
    counts = [(part_column(part), "int64") for part in labels.parts]
    return [
        ("ad_id", "string"),
        ("coded", "bool"),
        ("profile", "string"),
        ("reasoning", "string"),
        *counts,
        ("model", "string"),
        ("prompt_sha256", "string"),
        ("run", "string"),
    ]


def entry_rows(coding: Coding, ad_text: str, run: str, labels: Labels) -> list[tuple]:
    """A row per quote, then per tool, in the coding's order. A quote's start and end are
    its span in the ad (code points, end exclusive); a coding whose quotes have none (a
    Markdown coding) is grounded in the ad first, as `autocode code` grounds."""
    if any(q.span is None for q in coding.quotes):
        coding = ground(coding, ad_text)
    model, rows = coding.drafted_by, []
    for q in coding.quotes:
        start, end = q.span if q.span is not None else (None, None)
        where = (q.text, start, end, q.grounding, q.note, q.support)
        rows.append((coding.ad_id, "quote", *_category(q.category, labels), *where, model, run))
    for t in coding.tools:
        what = (t.name, None, None, None, t.note, t.support)
        rows.append((coding.ad_id, "tool", *_category(t.category, labels), *what, model, run))
    return rows


def _category(cid: str, labels: Labels) -> tuple:
    return cid, labels.name[cid], labels.part[cid], labels.group[cid]


def ad_row(ad_id: str, run: str, coding: Coding | None, labels: Labels) -> tuple:
    """The ad as one coding set coded it; `coded` false and the rest empty where the set
    has no coding of it."""
    if coding is None:
        return (ad_id, False, None, None, *(None for _ in labels.parts), None, None, run)
    counts = dict.fromkeys(labels.parts, 0)
    for category in [*(q.category for q in coding.quotes), *(t.category for t in coding.tools)]:
        counts[labels.part[category]] += 1
    provenance = coding.provenance if isinstance(coding.provenance, Provenance) else None
    return (
        ad_id,
        True,
        coding.profile,
        coding.reasoning,
        *counts.values(),
        coding.drafted_by,
        provenance.prompt_sha256 if provenance else None,
        run,
    )
