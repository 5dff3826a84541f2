"""The ads table's own columns (organisation, industry, date_found…) as columns of the `ads`
table: which, under what name and of what type. A first pass over the ads finds them, since
a CSV header and a Parquet schema come before the first row.

Every column is kept but the id (the table's `ad_id`) and the text columns the ad is made of,
the title aside: the text is the corpus's, and it would make the table as large as the
corpus. An ad file (not a table row) has its title and organisation. A column named like one
of the table's own (`profile`, `run`…) is prefixed `ads_`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pipeline.ads import Ad, TableFields
from pipeline.tables.corpus import Row
from pipeline.tables.rows import Column

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
INT64 = range(-(2**63), 2**63)


def _is_date(value: str) -> bool:
    if not ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _kind(value: object) -> str | None:
    """The type a value asks for; None for a missing one (null, or empty as in a CSV)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64" if value in INT64 else "string"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str) and _is_date(value):
        return "date"
    return "string"


def _type(kinds: set[str]) -> str:
    """One type for a column: its values' own when they agree, a float column for integers
    and floats, else text (a CSV table's values are text, ISO dates aside)."""
    if len(kinds) == 1:
        return next(iter(kinds))
    if kinds == {"int64", "float64"}:
        return "float64"
    return "string"


def _values(ad: Ad, row: Row) -> dict:
    return {"title": ad.title, "organisation": ad.organisation} if row is None else row


def convert(value: object, kind: str) -> object:
    """A value as its column's type (checked in the first pass); None when missing."""
    if value is None or value == "":
        return None
    if kind == "date":
        return date.fromisoformat(str(value))
    if kind == "float64":
        return float(value)  # type: ignore[arg-type]  # the first pass saw a number
    if kind != "string" or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@dataclass
class AdColumns:
    """The ads table's own columns: their keys in a row, and their names and types."""

    keys: list[str]
    columns: list[Column]

    def values(self, ad: Ad, row: Row) -> tuple:
        found = _values(ad, row)
        return tuple(
            convert(found.get(key), kind)
            for key, (_, kind) in zip(self.keys, self.columns, strict=True)
        )


def find_columns(ads: Iterable[tuple[Ad, Row]], fields: TableFields, taken: set[str]) -> AdColumns:
    """The own columns of these ads (read once, nothing kept but each column's types)."""
    skip = {fields.id, *fields.text} - {fields.title}
    kinds: dict[str, set[str]] = {}
    for ad, row in ads:
        for key, value in _values(ad, row).items():
            if not isinstance(key, str) or key in skip:  # a CSV row's extra cells: key None
                continue
            seen = kinds.setdefault(key, set())
            kind = _kind(value)
            if kind is not None:
                seen.add(kind)
    names: list[str] = []
    for key in kinds:
        name = key
        while name in taken or name in names:
            name = f"ads_{name}"
        names.append(name)
    types = [_type(k) for k in kinds.values()]
    return AdColumns(list(kinds), list(zip(names, types, strict=True)))
