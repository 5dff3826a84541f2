"""What the tables of `autocode stats` are sums of, counted by DuckDB over the corpus: ads by
presence pattern (the categories an ad codes) and label (its profile, its --by group), entries
per category, differences of entry counts, tools named per ad. A few thousand rows, however
large the corpus; the statistics on them are pure functions (`tables`, `tools`).

Counts are integers, so sums come out the same in any order and every figure is what summing
ad by ad gave. Per-ad values, for the estimates with a validation sample, come in corpus order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from pipeline.matching import tool_key
from pipeline.record import one_line
from pipeline.stats.corpus import Corpus, literal


@dataclass
class Patterns:
    """Coded ads grouped by the categories they code and by a label: the number of ads
    (`count`) of each presence pattern (`coded`, a row of booleans per category in codebook
    order) and label (a profile, a --by group; None where there is none)."""

    categories: list[str]
    coded: np.ndarray  # rows x categories, bool
    count: np.ndarray  # int per row
    labels: np.ndarray  # object per row

    @property
    def n(self) -> int:
        return int(self.count.sum())

    def ads(self) -> np.ndarray:
        """Ads coding each category."""
        return (self.coded * self.count[:, None]).sum(axis=0)

    def columns(self, ids: Sequence[str]) -> list[int]:
        index = {c: i for i, c in enumerate(self.categories)}
        return [index[c] for c in ids]

    def any_of(self, ids: Sequence[str]) -> int:
        """Ads coding at least one of these categories."""
        return int((self.coded[:, self.columns(ids)].any(axis=1) * self.count).sum())

    def where(self, label: str) -> Patterns:
        mask = self.labels == label
        return Patterns(self.categories, self.coded[mask], self.count[mask], self.labels[mask])

    def both(self) -> np.ndarray:
        """Ads coding each pair of categories (the diagonal: each category)."""
        weighted = self.coded.T.astype(np.int64) * self.count
        return weighted @ self.coded.astype(np.int64)


def patterns(corpus: Corpus, label: str = "NULL", join: str = "") -> Patterns:
    """Ads per presence pattern and label (an SQL expression over `coded` and `join`)."""
    coded = ", ".join(f"{c} > 0" for c in corpus.entry_columns())
    rows = corpus.db.execute(
        f"SELECT {label} AS label, count(*) AS n, {coded} FROM coded {join} GROUP BY ALL"
    ).fetchall()
    c = len(corpus.categories)
    return Patterns(
        corpus.categories,
        np.array([r[2:] for r in rows], dtype=bool).reshape(len(rows), c),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[0] for r in rows] or [], dtype=object),
    )


def entries(corpus: Corpus) -> np.ndarray:
    """Entries (quotes and tools) per category, over every ad."""
    sums = ", ".join(f"sum({c})" for c in corpus.entry_columns())
    row = corpus.db.execute(f"SELECT {sums} FROM coded").fetchall()[0]
    return np.array([int(v or 0) for v in row], dtype=np.int64)


def differences(corpus: Corpus, a: Sequence[int], b: Sequence[int]) -> tuple[np.ndarray, ...]:
    """The per-ad differences of entries in categories `a` and in `b`: each value, and how
    many ads have it."""

    def total(cols: Sequence[int]) -> str:
        return " + ".join(f"e{i}" for i in cols) or "0"

    rows = corpus.db.execute(
        f"SELECT ({total(a)}) - ({total(b)}) AS d, count(*) FROM coded GROUP BY d ORDER BY d"
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows])


def per_ad(corpus: Corpus, profiles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every ad in corpus order: a 0/1 per category, and its profile ('' for none or one
    outside `profiles`)."""
    coded = ", ".join(f"({c} > 0)::UTINYINT AS {c}" for c in corpus.entry_columns())
    names = "[" + ", ".join(literal(p) for p in profiles) + "]::VARCHAR[]"
    data = corpus.db.execute(
        f"SELECT {coded}, coalesce(list_position({names}, profile), 0) AS p FROM coded ORDER BY rid"
    ).fetchnumpy()
    matrix = np.column_stack([data[c] for c in corpus.entry_columns()]).astype(np.uint8)
    lookup = np.array(["", *profiles], dtype=object)
    return matrix, lookup[np.asarray(data["p"], dtype=np.int64)]


# ------------------------------------------------------------------ tools


@dataclass
class ToolCounts:
    """Tools as `autocode eval` compares them (keys from `matching.tool_key`): each key's
    usual spelling and tool category, ads naming it, per category and per profile."""

    n: int
    name: dict[str, str]
    category: dict[str, str]
    ads: dict[str, int]
    by_category: dict[tuple[str, str], int]
    by_profile: dict[str | None, dict[str, int]]


def _tool_names(corpus: Corpus) -> None:
    """`tool_names`: each name as written, its spelling as a record holds it (one line) and
    its key; Python's own functions, once per distinct name."""
    names = [r[0] for r in corpus.db.execute("SELECT DISTINCT name FROM tool_entries").fetchall()]
    spellings = [one_line(n) for n in names]
    table = pa.table(
        {
            "name": pa.array(names, pa.string()),
            "spelling": pa.array(spellings, pa.string()),
            "key": pa.array([tool_key(s) for s in spellings], pa.string()),
        }
    )
    corpus.db.register("names_arrow", table)
    corpus.db.execute("CREATE OR REPLACE TABLE tool_names AS SELECT * FROM names_arrow")
    corpus.db.unregister("names_arrow")
    corpus.db.execute(
        "CREATE OR REPLACE TABLE tool_keys AS SELECT e.rid, e.pos, m.key, m.spelling, "
        "e.category FROM tool_entries e JOIN tool_names m USING (name)"
    )


def _usual(corpus: Corpus, column: str) -> dict[str, str]:
    """Per key, the value of `column` most entries have; a tie goes to the first seen in
    corpus order (as Counter.most_common kept it)."""
    rows = corpus.db.execute(
        f"SELECT key, arg_min({column}, {{'n': -n, 'first': first}}) FROM (SELECT key, "
        f"{column}, count(*) AS n, min({{'rid': rid, 'pos': pos}}) AS first FROM tool_keys "
        f"GROUP BY key, {column}) GROUP BY key"
    ).fetchall()
    return dict(rows)  # type: ignore[arg-type]


def tool_counts(corpus: Corpus, n: int) -> ToolCounts:
    _tool_names(corpus)
    db = corpus.db
    db.execute("CREATE OR REPLACE TABLE ad_keys AS SELECT DISTINCT rid, key FROM tool_keys")
    ads = db.execute("SELECT key, count(*) FROM ad_keys GROUP BY key").fetchall()
    by_category = db.execute(
        "SELECT key, category, count(*) FROM (SELECT DISTINCT rid, key, category "
        "FROM tool_keys) GROUP BY ALL"
    ).fetchall()
    by_profile: dict[str | None, dict[str, int]] = {}
    for profile, key, count in db.execute(
        "SELECT c.profile, k.key, count(*) FROM ad_keys k JOIN coded c USING (rid) GROUP BY ALL"
    ).fetchall():
        by_profile.setdefault(profile, {})[key] = count
    return ToolCounts(
        n=n,
        name=_usual(corpus, "spelling"),
        category=_usual(corpus, "category"),
        ads=dict(ads),  # type: ignore[arg-type]
        by_category={(k, c): m for k, c, m in by_category},
        by_profile=by_profile,
    )


def tool_pairs(corpus: Corpus, keys: Sequence[str]) -> np.ndarray:
    """Ads naming each pair of these tools (the diagonal: each tool)."""
    index = {k: i for i, k in enumerate(keys)}
    both = np.zeros((len(keys), len(keys)), dtype=np.int64)
    if not keys:
        return both
    listed = "[" + ", ".join(literal(k) for k in keys) + "]::VARCHAR[]"
    rows = corpus.db.execute(
        "SELECT a.key, b.key, count(*) FROM ad_keys a JOIN ad_keys b USING (rid) "
        f"WHERE list_contains({listed}, a.key) AND list_contains({listed}, b.key) GROUP BY ALL"
    ).fetchall()
    for a, b, count in rows:
        both[index[a], index[b]] = count
    return both
