"""Agreement between predicted and gold codings: pure functions over Coding lists.

`evaluate` returns the whole report as plain JSON-ready data; the quote and tool matching
it counts is in `pipeline.matching`. Definitions (README, "What is compared"):

- Ads pair by `ad_id`; unpaired ids are listed, all metrics are over paired ads.
- Quotes match one to one within ad x category. `strict`: equal after
  `grounding.fold_quote`. `partial`: strict-equal, or the passages overlap by at
  least half of the shorter one, on character spans found with `grounding.locate`
  when the ad text is known and both quotes are found in it, else on the longest
  common run of normalised word tokens. The assignment maximises the number of
  matches (ties: total overlap), so a greedy first pick can never cost a match.
- Precision, recall, F1 are None when their denominator is 0; F1 = 2tp/(2tp+fp+fn).
- Kappa/alpha are None where undefined (no items, or a single value everywhere).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.codebook import Codebook
from pipeline.evaluation.calibration import calibration
from pipeline.evaluation.measures import cohen_kappa, krippendorff_alpha, prf
from pipeline.idmap import IdMap
from pipeline.matching import (
    MODES,
    REVIEW_MODE,
    AdMatch,
    coded_categories,
    match_ad,
    tool_pair,
    tool_sets,
)
from pipeline.record import Coding

# ------------------------------------------------------------------ statistics


# --------------------------------------------------------------------- pairing


@dataclass
class Pairing:
    paired: list[tuple[Coding, Coding]]
    gold_only: list[str]
    pred_only: Sequence[str]


def pair_codings(
    gold: Sequence[Coding],
    pred: Sequence[Coding],
    pred_ids: Sequence[str] | IdMap | None = None,
) -> Pairing:
    """Pair by ad_id, sorted by id; a duplicate id on one side is an error. `pred_ids`, where
    given, are the ids of every predicted ad (`pred` may then hold only those with gold)."""
    sides = []
    for name, codings in (("gold", gold), ("pred", pred)):
        by_id = {c.ad_id: c for c in codings}
        if len(by_id) != len(codings):
            dupes = sorted(i for i, n in Counter(c.ad_id for c in codings).items() if n > 1)
            raise ValueError(f"{name}: ad id {dupes[0]!r} appears more than once")
        sides.append(by_id)
    g, p = sides
    return Pairing(
        paired=[(g[i], p[i]) for i in sorted(g.keys() & p.keys())],
        gold_only=sorted(g.keys() - p.keys()),
        pred_only=_pred_only(p.keys(), pred_ids, g.keys()),
    )


def _pred_only(pred: Iterable[str], pred_ids, gold: Collection[str]) -> Sequence[str]:
    """The predicted ads without gold, sorted; read from disk where the ids are (an IdMap of
    a million predicted ads)."""
    if isinstance(pred_ids, IdMap):
        return pred_ids.sorted_ids(without=gold)
    return sorted(set(pred if pred_ids is None else pred_ids) - set(gold))


# --------------------------------------------------------------------- profile


def profile_agreement(pairs: Sequence[tuple[Coding, Coding]], labels: Sequence[str]) -> dict:
    """Accuracy, kappa and confusion (gold rows x predicted columns) where both have one."""
    both = [(g.profile, p.profile) for g, p in pairs if g.profile and p.profile]
    seen = {x for pair in both for x in pair}
    # Labels outside the codebook still get a row/column rather than vanishing.
    labels = list(labels) + sorted(seen - set(labels))
    index = {name: i for i, name in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in both:
        matrix[index[g]][index[p]] += 1
    gold, pred = [g for g, _ in both], [p for _, p in both]
    return {
        "n": len(both),
        "accuracy": sum(g == p for g, p in both) / len(both) if both else None,
        "kappa": cohen_kappa(gold, pred),
        "confusion": {"labels": labels, "matrix": matrix},
    }


# ---------------------------------------------------------------------- quotes


def _category_counts(match: AdMatch) -> dict[str, Counter]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for g, _ in match.matched:
        counts[g.category]["tp"] += 1
    for q in match.missed:
        counts[q.category]["fn"] += 1
    for q in match.extra:
        counts[q.category]["fp"] += 1
    return counts


def _block(c: Counter) -> dict:
    return prf(c["tp"], c["fp"], c["fn"])


def quote_scores(matches: Mapping[str, list[AdMatch]], book: Codebook) -> dict:
    """Micro P/R/F1 overall, per quote part and per quote category, for each mode."""
    by_cat: dict[str, defaultdict[str, Counter]] = {m: defaultdict(Counter) for m in MODES}
    for mode in MODES:
        for match in matches[mode]:
            for cat_id, c in _category_counts(match).items():
                by_cat[mode][cat_id].update(c)
    out: dict = {m: _block(sum(by_cat[m].values(), Counter())) for m in MODES}
    out |= {"per_part": {}, "per_category": {}}
    for part in (p for p in book.parts if p.kind == "quotes"):
        ids = [c.id for c in part.all_categories()]
        blocks = {m: _block(sum((by_cat[m][i] for i in ids), Counter())) for m in MODES}
        out["per_part"][part.id] = {"title": part.title} | blocks
        for cat in part.all_categories():
            entry = {"name": cat.name, "part": part.id}
            out["per_category"][cat.id] = entry | {m: _block(by_cat[m][cat.id]) for m in MODES}
    return out


# -------------------------------------------------------------------- presence


def presence_cells(gold: Sequence[int], pred: Sequence[int]) -> dict[str, int]:
    """The 2 x 2 table of one category's presence: gold coded it and the prediction did (tp),
    only the prediction (fp), only gold (fn), neither (tn). Corrected prevalences use it."""
    pairs = Counter(zip(gold, pred, strict=True))
    return {"tp": pairs[1, 1], "fp": pairs[0, 1], "fn": pairs[1, 0], "tn": pairs[0, 0]}


def presence_agreement(pairs: Sequence[tuple[Coding, Coding]], book: Codebook) -> dict:
    """Per category kappa on "coded at least once"; macro mean; alpha over all cells."""
    coded = [(coded_categories(g), coded_categories(p)) for g, p in pairs]
    per_category: dict[str, dict] = {}
    all_gold: list[int] = []
    all_pred: list[int] = []
    for cat_id, cat in book.categories.items():
        gold = [int(cat_id in g) for g, _ in coded]
        pred = [int(cat_id in p) for _, p in coded]
        all_gold += gold
        all_pred += pred
        per_category[cat_id] = {
            "name": cat.name,
            "n": len(gold),
            "gold": sum(gold),
            "pred": sum(pred),
            "agreement": sum(a == b for a, b in zip(gold, pred, strict=True)) / len(gold)
            if gold
            else None,
            "kappa": cohen_kappa(gold, pred),
            "cells": presence_cells(gold, pred),
        }
    defined = [v["kappa"] for v in per_category.values() if v["kappa"] is not None]
    return {
        "per_category": per_category,
        "macro_kappa": sum(defined) / len(defined) if defined else None,
        "alpha": krippendorff_alpha(all_gold, all_pred),
    }


# ----------------------------------------------------------------------- tools


def tool_scores(pairs: Sequence[tuple[Coding, Coding]]) -> dict:
    """Micro P/R/F1 over per-ad sets of tool names, and of (name, category)."""
    counts: dict[str, Counter] = {"name": Counter(), "name_and_category": Counter()}
    for g, p in pairs:
        sides: zip[tuple[str, set, set]] = zip(counts, tool_sets(g), tool_sets(p), strict=True)
        for level, gs, ps in sides:
            counts[level].update(tp=len(gs & ps), fp=len(ps - gs), fn=len(gs - ps))
    return {level: _block(c) for level, c in counts.items()}


# ---------------------------------------------------------------------- report


def _per_ad(gold: Coding, pred: Coding, match: AdMatch, order: dict[str, int]) -> dict:
    g_keys, p_keys = tool_sets(gold)[1], tool_sets(pred)[1]

    def listed(entries, field: str) -> list[dict]:
        # Codebook order, so a Markdown and a JSONL copy of the same drafts list alike.
        entries = sorted(entries, key=lambda e: order.get(e.category, len(order)))
        return [{"category": e.category, field: getattr(e, field)} for e in entries]

    return {
        "ad_id": gold.ad_id,
        "profile": {"gold": gold.profile, "pred": pred.profile},
        "missed": listed(match.missed, "text"),
        "spurious": listed(match.extra, "text"),
        "missed_tools": listed([t for t in gold.tools if tool_pair(t) not in p_keys], "name"),
        "spurious_tools": listed([t for t in pred.tools if tool_pair(t) not in g_keys], "name"),
    }


def match_all(pairs: Sequence[tuple[Coding, Coding]], ad_texts: Mapping[str, str] | None):
    """Every paired ad's quote matching, for each mode: {mode: [AdMatch per pair]}."""
    texts = ad_texts or {}
    return {mode: [match_ad(g, p, texts.get(g.ad_id), mode) for g, p in pairs] for mode in MODES}


def score_report(pairing: Pairing, matches: Mapping[str, list[AdMatch]], book: Codebook) -> dict:
    """The report of matched pairs: every figure, and the per-ad disagreements."""
    pairs = pairing.paired
    order = {cat_id: i for i, cat_id in enumerate(book.categories)}
    return {
        "ads": {
            "paired": [g.ad_id for g, _ in pairs],
            "gold_only": pairing.gold_only,
            "pred_only": pairing.pred_only,
        },
        "profile": profile_agreement(pairs, book.profile_names),
        "quotes": quote_scores(matches, book),
        "presence": presence_agreement(pairs, book),
        "tools": tool_scores(pairs),
        "per_ad": [
            _per_ad(g, p, m, order) for (g, p), m in zip(pairs, matches[REVIEW_MODE], strict=True)
        ],
        "calibration": calibration(pairs, matches["partial"], book),
    }


def evaluate(
    gold: Sequence[Coding],
    pred: Sequence[Coding],
    book: Codebook,
    ad_texts: Mapping[str, str] | None = None,
) -> dict:
    """The full agreement report (the `--json` structure) of `pred` against `gold`."""
    pairing = pair_codings(gold, pred)
    return score_report(pairing, match_all(pairing.paired, ad_texts), book)


def gate_failures(report: dict, min_kappa: float) -> list[str]:
    """Why the report fails `--min-kappa`; an undefined kappa fails, as it proves nothing."""
    failures = []
    for label, value in (
        ("profile kappa", report["profile"]["kappa"]),
        ("presence macro kappa", report["presence"]["macro_kappa"]),
    ):
        if value is None:
            failures.append(f"{label} is undefined, so it cannot reach {min_kappa}")
        elif value < min_kappa:
            failures.append(f"{label} {value:.3f} is below {min_kappa}")
    return failures
