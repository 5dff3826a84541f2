"""Matching one coding against another: quotes one to one within ad x category (strict:
equal after folding; partial: overlapping by at least half of the shorter passage), and
tool names folded to one key. Eval, review, consensus, agree and calibration all count
agreement through these functions, so they can never disagree on what a match is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

from pipeline.grounding import fold, fold_quote, fold_text, locate
from pipeline.record import Coding, Quote, Tool

MODES = ("strict", "partial")
#: The mode the review page should use: it forgives a quote cut a little shorter or
#: longer than the coder's, which is a boundary choice rather than a disagreement.
REVIEW_MODE = "partial"
MIN_OVERLAP = 0.5  # of the shorter passage


@dataclass
class AdMatch:
    """One ad's quotes: matched (gold, pred) pairs, missed gold ones, extra predicted ones."""

    matched: list[tuple[Quote, Quote]] = field(default_factory=list)
    missed: list[Quote] = field(default_factory=list)
    extra: list[Quote] = field(default_factory=list)


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", fold_quote(text))


def _common_run(a: list[str], b: list[str]) -> int:
    """Length of the longest run of tokens the two share (an overlap is contiguous)."""
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match().size


class Passages:
    """Per-ad cache of folded text, tokens and spans, computed once per distinct quote."""

    def __init__(self, ad_text: str | None):
        self.ad_text = ad_text
        # folded on the first quote not found verbatim (most are)
        self.folded_ad: tuple[str, list[int]] | None = None
        self._spans: dict[str, tuple[int, int] | None] = {}

    def span(self, text: str) -> tuple[int, int] | None:
        if self.ad_text is None:
            return None
        if text not in self._spans:
            if self.folded_ad is None and not (text and text in self.ad_text):
                self.folded_ad = fold(self.ad_text)
            self._spans[text] = locate(text, self.ad_text, self.folded_ad)[0]
        return self._spans[text]

    def overlap(self, a: str, b: str) -> float | None:
        """Overlap as a fraction of the shorter passage, None below MIN_OVERLAP."""
        if fold_quote(a) == fold_quote(b):
            return 1.0
        sa, sb = self.span(a), self.span(b)
        if sa and sb:
            common = min(sa[1], sb[1]) - max(sa[0], sb[0])
            shorter = min(sa[1] - sa[0], sb[1] - sb[0])
        else:
            ta, tb = _tokens(a), _tokens(b)
            common, shorter = _common_run(ta, tb), min(len(ta), len(tb))
        if common <= 0 or shorter <= 0 or common < MIN_OVERLAP * shorter:
            return None
        return common / shorter


def assign_pairs(scores: list[list[float | None]]) -> list[tuple[int, int]]:
    """Maximum one-to-one matching: most matches first, then most total overlap."""
    if not scores or not scores[0]:
        return []
    candidates = [
        (i, j) for i, row in enumerate(scores) for j, s in enumerate(row) if s is not None
    ]
    if len({i for i, _ in candidates}) == len(candidates) == len({j for _, j in candidates}):
        return candidates  # no quote has two candidates: every candidate pair is matched
    # Only a real choice needs the solver; scipy.optimize costs 0.3 s to import.
    from scipy.optimize import linear_sum_assignment

    k = min(len(scores), len(scores[0]))
    # Each match is worth 1 plus less than 1/k of overlap, so one more match always
    # outweighs any gain in overlap.
    weights = [[0.0 if s is None else 1.0 + s / (k + 1) for s in row] for row in scores]
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if weights[r][c] > 0]


def _match_category(gold: list[Quote], pred: list[Quote], mode: str, cache: Passages):
    if not gold or not pred:
        return [], gold, pred
    if mode == "strict":
        score = lambda a, b: 1.0 if fold_quote(a) == fold_quote(b) else None  # noqa: E731
    else:
        score = cache.overlap
    pairs = assign_pairs([[score(g.text, p.text) for p in pred] for g in gold])
    used_g, used_p = {i for i, _ in pairs}, {j for _, j in pairs}
    return (
        [(gold[i], pred[j]) for i, j in sorted(pairs)],
        [q for i, q in enumerate(gold) if i not in used_g],
        [q for j, q in enumerate(pred) if j not in used_p],
    )


def match_ad(gold: Coding, pred: Coding, ad_text: str | None = None, mode: str = REVIEW_MODE):
    """One ad's quote matching, category by category; use mode="partial" for review."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    cache = Passages(ad_text)
    by_cat: dict[str, tuple[list[Quote], list[Quote]]] = defaultdict(lambda: ([], []))
    for q in gold.quotes:
        by_cat[q.category][0].append(q)
    for q in pred.quotes:
        by_cat[q.category][1].append(q)
    result = AdMatch()
    for g, p in by_cat.values():
        matched, missed, extra = _match_category(g, p, mode, cache)
        result.matched += matched
        result.missed += missed
        result.extra += extra
    return result


@lru_cache(maxsize=65536)  # a corpus names the same few hundred tools over and over
def tool_key(name: str) -> str:
    """A tool name folded for matching: case, punctuation and a parenthetical dropped.

    `+` and `#` stay because they tell languages apart (C, C++, C#).
    """
    bare = re.sub(r"\([^)]*\)", " ", name)
    folded = fold_text(bare)
    key = "".join(ch for ch in folded if ch.isalnum() or ch in "+#")
    return key or folded.strip()


def coded_categories(coding: Coding) -> set[str]:
    return {q.category for q in coding.quotes} | {t.category for t in coding.tools}


def tool_pair(tool: Tool) -> tuple[str, str]:
    return tool_key(tool.name), tool.category


def tool_sets(coding: Coding) -> tuple[set[str], set[tuple[str, str]]]:
    return {tool_key(t.name) for t in coding.tools}, {tool_pair(t) for t in coding.tools}
