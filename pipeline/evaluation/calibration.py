"""Where the model and the coder part ways, category by category: what a coder reads before
sharpening the codebook. Counts use the eval's partial quote matching and its tool keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import median

from pipeline.codebook import Codebook
from pipeline.evaluation.measures import prf
from pipeline.matching import AdMatch, tool_key
from pipeline.record import Coding

SHOWN = 5  # passages listed per category and side
GAPS = 5  # categories listed as most over- and under-coded


def _quote_counts(matches: Sequence[AdMatch]) -> dict[str, dict]:
    """Per quote category: matched, missed and spurious counts, and up to SHOWN passages."""
    out: dict[str, dict] = {}

    def entry(cat: str) -> dict:
        return out.setdefault(cat, {"tp": 0, "fn": 0, "fp": 0, "missed": [], "spurious": []})

    for match in matches:
        for gold, _ in match.matched:
            entry(gold.category)["tp"] += 1
        for side, quotes in (("missed", match.missed), ("spurious", match.extra)):
            for quote in quotes:
                e = entry(quote.category)
                e["fn" if side == "missed" else "fp"] += 1
                if len(e[side]) < SHOWN:
                    e[side].append(quote.text)
    return out


def _tool_counts(pairs: Sequence[tuple[Coding, Coding]]) -> dict[str, dict]:
    """Per tool category: tools matched by normalised name, missed and spurious."""
    out: dict[str, dict] = {}
    for gold, pred in pairs:
        g = {(t.category, tool_key(t.name)): t.name for t in gold.tools}
        p = {(t.category, tool_key(t.name)): t.name for t in pred.tools}
        for key in sorted(g.keys() | p.keys()):  # a set's order changes from run to run
            e = out.setdefault(key[0], {"tp": 0, "fn": 0, "fp": 0, "missed": [], "spurious": []})
            side = "tp" if key in g and key in p else "fn" if key in g else "fp"
            e[side] += 1
            listed = {"fn": ("missed", g), "fp": ("spurious", p)}.get(side)
            if listed and len(e[listed[0]]) < SHOWN:
                e[listed[0]].append(listed[1][key])
    return out


def _category_row(name: str, counts: dict) -> dict:
    gold, pred = counts["tp"] + counts["fn"], counts["tp"] + counts["fp"]
    scores = prf(counts["tp"], counts["fp"], counts["fn"])
    return {
        "name": name,
        "gold_entries": gold,
        "pred_entries": pred,
        "ratio": pred / gold if gold else None,
        "precision": scores["precision"],
        "recall": scores["recall"],
        "missed": sorted(counts["missed"]),
        "spurious": sorted(counts["spurious"]),
    }


def _lengths(matches: Sequence[AdMatch], book: Codebook) -> dict:
    """Median characters of matched gold and predicted quotes, overall and per category."""
    by_cat: dict[str, list[tuple[int, int]]] = {}
    for match in matches:
        for gold, pred in match.matched:
            by_cat.setdefault(gold.category, []).append((len(gold.text), len(pred.text)))

    def summary(pairs: list[tuple[int, int]]) -> dict:
        return {
            "matched": len(pairs),
            "gold_median": median(g for g, _ in pairs) if pairs else None,
            "pred_median": median(p for _, p in pairs) if pairs else None,
        }

    everything = [pair for pairs in by_cat.values() for pair in pairs]
    per_category = {c: summary(by_cat[c]) for c in book.categories if c in by_cat}
    return {"overall": summary(everything), "per_category": per_category}


def _profiles(pairs: Sequence[tuple[Coding, Coding]]) -> dict:
    both = [(g, p) for g, p in pairs if g.profile and p.profile]
    confusion = Counter((g.profile, p.profile) for g, p in both if g.profile != p.profile)
    return {
        "disagreements": [
            {"gold": g, "pred": p, "ads": n} for (g, p), n in confusion.most_common()
        ],
        "ads": [
            {
                "ad_id": g.ad_id,
                "gold": g.profile,
                "pred": p.profile,
                "gold_reasoning": g.reasoning,
                "pred_reasoning": p.reasoning,
            }
            for g, p in both
            if g.profile != p.profile
        ],
    }


def _gaps(rows: dict[str, dict]) -> dict:
    """Categories ranked by how many more (or fewer) entries the model coded than the coder."""
    diffs = [(row["pred_entries"] - row["gold_entries"], cat) for cat, row in rows.items()]

    def ranked(sign: int) -> list[dict]:
        chosen = sorted((d * sign, cat) for d, cat in diffs if d * sign > 0)[::-1][:GAPS]
        return [{"category": c, "name": rows[c]["name"], "difference": d} for d, c in chosen]

    return {"over_coded": ranked(1), "under_coded": ranked(-1)}


def calibration(
    pairs: Sequence[tuple[Coding, Coding]], partial: Sequence[AdMatch], book: Codebook
) -> dict:
    """The `calibration` object of the eval report (partial matches, in pair order)."""
    counts = _quote_counts(partial) | _tool_counts(pairs)
    empty = {"tp": 0, "fn": 0, "fp": 0, "missed": [], "spurious": []}
    rows = {
        cat_id: _category_row(cat.name, counts.get(cat_id, empty))
        for cat_id, cat in book.categories.items()
    }
    return {
        "per_category": rows,
        "quote_length": _lengths(partial, book),
        "profile": _profiles(pairs),
        "gaps": _gaps(rows),
    }


# ---------------------------------------------------------------------- Markdown
