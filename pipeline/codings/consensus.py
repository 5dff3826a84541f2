"""Consensus of several codings of one ad: samples of one model, runs of several models, or
human coders. A pure function over `Coding` records.

- Quotes of the same category whose passages overlap by at least half of the shorter one
  (`autocode eval`'s partial rule, `evaluate.Passages`) are one entry. Codings are taken in
  order; each one's quotes are assigned one to one to the entries found so far (the eval's
  assignment: most matches, then most overlap), against the closest member of each entry,
  so one coding supports an entry at most once. The rest start new entries.
- Tools are one entry per (normalised name, category) (`evaluate.tool_key`).
- An entry's `support` is how many codings have it; it is kept when support >= min_support
  (default: a strict majority of the codings). Its text is the passage most codings chose
  (compared folded), ties going to the shortest, then to the first coding's.
- The profile is the plurality; a tie goes to the profile first in the codebook, and the
  record lists the tied profiles under `profile_tie`.
- The record carries `n_codings`, `profile_support` and `agreement`: the mean, over every
  entry of every coding, of its entry's support / n_codings (1.0 when all codings agree).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.codebook import Codebook
from pipeline.grounding import fold_quote
from pipeline.matching import Passages, assign_pairs, tool_key
from pipeline.record import Coding, Quote, Tool

Entry = TypeVar("Entry", Quote, Tool)


@dataclass
class _Group:
    """One consensus entry in the making: (coding index, entry) of every coding that has it."""

    category: str
    members: list[tuple[int, Quote | Tool]] = field(default_factory=list)

    @property
    def support(self) -> int:
        return len(self.members)


def strict_majority(n_codings: int) -> int:
    """The default --min-support: more than half of the codings."""
    return n_codings // 2 + 1


def _closest(group: _Group, text: str, passages: Passages) -> float | None:
    overlaps = [passages.overlap(m.text, text) for _, m in group.members if isinstance(m, Quote)]
    found = [o for o in overlaps if o is not None]
    return max(found) if found else None


def _by_category(entries: Sequence[Entry]) -> dict[str, list[Entry]]:
    grouped: dict[str, list[Entry]] = {}
    for entry in entries:
        grouped.setdefault(entry.category, []).append(entry)
    return grouped


def quote_groups(codings: Sequence[Coding], ad_text: str | None = None) -> list[_Group]:
    """Quotes of all codings grouped into entries by the partial-overlap rule."""
    passages = Passages(ad_text)
    groups: list[_Group] = []
    for index, coding in enumerate(codings):
        for category, quotes in _by_category(coding.quotes).items():
            known = [g for g in groups if g.category == category]
            scores = [[_closest(g, q.text, passages) for q in quotes] for g in known]
            taken = set()
            for g, q in assign_pairs(scores):
                known[g].members.append((index, quotes[q]))
                taken.add(q)
            groups += [
                _Group(category, [(index, quote)])
                for q, quote in enumerate(quotes)
                if q not in taken
            ]
    return groups


def tool_groups(codings: Sequence[Coding]) -> list[_Group]:
    """Tools of all codings grouped by (normalised name, category); one vote per coding."""
    groups: dict[tuple[str, str], _Group] = {}
    for index, coding in enumerate(codings):
        for tool in coding.tools:
            group = groups.setdefault((tool_key(tool.name), tool.category), _Group(tool.category))
            if all(i != index for i, _ in group.members):
                group.members.append((index, tool))
    return list(groups.values())


def _wording(entry: Quote | Tool) -> str:
    return entry.text if isinstance(entry, Quote) else entry.name


def chosen_member(group: _Group) -> Quote | Tool:
    """The wording most codings chose (folded); ties: the shortest, then the first."""
    votes = Counter(fold_quote(_wording(m)) for _, m in group.members)
    return min(
        (m for _, m in group.members),
        key=lambda m: (-votes[fold_quote(_wording(m))], len(_wording(m))),
    )


def _kept(groups: list[_Group], min_support: int, order: dict[str, int]) -> list[dict]:
    """The entries with enough support, in codebook order, each carrying its support."""
    kept = [g for g in groups if g.support >= min_support]
    kept.sort(key=lambda g: order.get(g.category, len(order)))  # stable: first seen first
    return [chosen_member(g).model_dump(mode="json") | {"support": g.support} for g in kept]


def plurality_profile(codings: Sequence[Coding], book: Codebook) -> tuple[str | None, int, list]:
    """(profile, its votes, the tied profiles when there is a tie) of the codings."""
    votes = Counter(c.profile for c in codings if c.profile)
    if not votes:
        return None, 0, []
    top = max(votes.values())
    order = {name: i for i, name in enumerate(book.profile_names)}
    tied = sorted(
        (p for p, n in votes.items() if n == top), key=lambda p: (order.get(p, len(order)), p)
    )
    return tied[0], top, tied if len(tied) > 1 else []


def agreement(groups: Sequence[_Group], n_codings: int) -> float:
    """Mean over every coding's entries of (support of its entry) / n_codings."""
    entries = sum(g.support for g in groups)
    if not entries:
        return 1.0  # no coding has any entry: they all agree
    return sum(g.support * g.support for g in groups) / (n_codings * entries)


def _first(values) -> str | None:
    return next((v for v in values if v), None)


def consensus(
    codings: Sequence[Coding],
    book: Codebook,
    min_support: int | None = None,
    ad_text: str | None = None,
) -> Coding:
    """The consensus record of codings of one ad (see the module docstring)."""
    if not codings:
        raise ValueError("consensus needs at least one coding")
    if len({c.ad_id for c in codings}) > 1:
        raise ValueError("consensus merges codings of one ad, not of several")
    n = len(codings)
    threshold = strict_majority(n) if min_support is None else min_support
    if threshold < 1:
        raise ValueError(f"min_support must be at least 1, not {threshold}")
    quotes, tools = quote_groups(codings, ad_text), tool_groups(codings)
    profile, votes, tied = plurality_profile(codings, book)
    order = {cat_id: i for i, cat_id in enumerate(book.categories)}
    extra = {"profile_tie": tied} if tied else {}
    return Coding.model_validate(
        {
            "ad_id": codings[0].ad_id,
            "title": _first(c.title for c in codings),
            "organisation": _first(c.organisation for c in codings),
            "profile": profile,
            "reasoning": _first(c.reasoning for c in codings if c.profile == profile),
            "quotes": _kept(quotes, threshold, order),
            "tools": _kept(tools, threshold, order),
            "n_codings": n,
            "profile_support": votes,
            "agreement": agreement(quotes + tools, n),
            **extra,
        }
    )
