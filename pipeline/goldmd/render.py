"""The gold Markdown format: render a coding to it, driven by the codebook.

The layout is the one of the hand-made KLM coding (gold/769_klm.md); rendering a parsed
KLM file reproduces it byte for byte. Reading, with the variations of hand-written files,
is in `pipeline.goldmd.parse`.
"""

from __future__ import annotations

import re

from pipeline.codebook import Codebook
from pipeline.record import CodedAd, Coding, Quote, Tool

__all__ = ["GOLD_KIND", "render", "render_review_notes", "review_notes", "consensus_notes"]

GOLD_KIND = "Manual Coding Analysis"
# a review note on a quote of the answer dropped as not in the ad (goldmd.parse reads it back)
DROPPED_NOTE = 'Dropped, not found in the ad ({category}): "{text}"'
NOTES_START = "<!-- autocode review notes (skipped when parsed)"
DRAFT_KIND = "Draft Coding Analysis"


def ad_number(ad_id: str) -> str:
    match = re.match(r"\d+", ad_id)
    return match.group(0) if match else ad_id


# ---------------------------------------------------------------------------- render


def _intro(coding: Coding, draft_model: str | None) -> str:
    who = (
        f"a draft coding by autocode (model `{draft_model}`)"
        if draft_model
        else "the manual coding"
    )
    if coding.title:
        at = f" at {coding.organisation}" if coding.organisation else ""
        return f'This document contains {who} for the "{coding.title}" position{at}.'
    return f"This document contains {who} for job ad {coding.ad_id}."


def _suffix(note: str | None) -> str:
    return f" ({note})" if note else ""


def _support(entry: Quote | Tool, n_codings: int | None) -> str:
    """` (support k/n)` for an entry of a consensus found in fewer than all its codings."""
    support = entry.support
    if not n_codings or support is None or support == n_codings:
        return ""
    return f" (support {support}/{n_codings})"


def _category_block(coding: Coding, cat_id: str, name: str, blank: bool = False) -> list[str]:
    n = coding.n_codings
    entries = [
        f'  - "{q.text}"{_suffix(q.note)}{_support(q, n)}'
        for q in coding.quotes
        if q.category == cat_id
    ]
    entries += [
        f"  - `{t.name}`{_suffix(t.note)}{_support(t, n)}"
        for t in coding.tools
        if t.category == cat_id
    ]
    remarks = [r for r in coding.remarks if r.category == cat_id]
    if not entries and not remarks and not blank:
        return []
    on_label = " ".join(r.text for r in remarks if not r.bullet)
    lines = [f"- **{cat_id}. {name}:**" + (f" {on_label}" if on_label else "")]
    bullets = [r for r in remarks if r.bullet]
    for i in range(len(entries) + 1):
        # a remark bullet goes back where it was: after as many entries as preceded it
        lines += [f"  - {r.text}" for r in bullets if min(r.after, len(entries)) == i]
        lines += entries[i : i + 1]
    return lines


def render(
    coding: Coding,
    codebook: Codebook,
    draft_model: str | None = None,
    review_notes: list[str] | None = None,
    blank: bool = False,
) -> str:
    """The coding as gold Markdown; with `draft_model`, titled as a draft from that model;
    `blank`: a sheet to code on, with the profile, reasoning and every category's label."""
    kind = f"{DRAFT_KIND} by {draft_model}" if draft_model else GOLD_KIND
    org = f" ({coding.organisation})" if coding.organisation else ""
    lines = [
        f"# {kind}: Job Ad #{ad_number(coding.ad_id)}{org}",
        "",
        _intro(coding, draft_model),
        "",
    ]
    n_codings = coding.n_codings
    if n_codings and n_codings > 1:  # one coding: nothing to mark
        lines += [
            f"Consensus of {n_codings} codings: an entry in fewer than {n_codings} of "
            f'them ends with "(support k/{n_codings})".',
            "",
        ]
    if coding.profile or blank:
        lines.append(f"- **Assigned Profile:** `{coding.profile or ''}`")
    if coding.reasoning or blank:
        lines.append(f"- **Reasoning:** {coding.reasoning or ''}".rstrip())
    if coding.profile or coding.reasoning or blank:
        lines.append("")
    for part in codebook.parts:
        lines += ["---", "", f"## {part.heading}", ""]
        sections: list[tuple[str | None, list]] = [(g.title, g.categories) for g in part.groups]
        sections += [(None, part.categories)] if part.categories else []
        for title, categories in sections:
            block = [ln for c in categories for ln in _category_block(coding, c.id, c.name, blank)]
            if block:
                lines += ([f"### {title}", ""] if title else []) + block + [""]
    text = "\n".join(lines)
    if review_notes:
        text += "\n" + render_review_notes(review_notes)
    return text


def render_review_notes(notes: list[str]) -> str:
    """A block the parser skips, so a corrected draft can become gold unchanged."""
    body = "\n".join(f"- {n}".replace("-->", "-- >") for n in notes)
    return f"{NOTES_START}\n{body}\n-->\n"


def consensus_notes(coding: Coding) -> list[str]:
    """Review-note lines on how sure the consensus profile is (none at full support)."""
    n, votes, tied = coding.n_codings, coding.profile_support, coding.profile_tie
    notes = []
    if n and coding.profile and votes is not None and votes < n:
        notes.append(f"Profile chosen by {votes} of {n} codings")
    if tied:
        notes.append(f"Profile tie between {', '.join(tied)}: the first in the codebook is kept")
    return notes


def review_notes(coding: Coding) -> list[str]:
    """A draft's review notes: how sure a consensus profile is, quotes dropped as not in the
    ad, fuzzy ones, warnings. A plain
    Coding read from codings.jsonl carries the drafting fields as extras."""
    coded = coding if isinstance(coding, CodedAd) else CodedAd.model_validate(coding.model_dump())
    notes = consensus_notes(coded)
    notes += [DROPPED_NOTE.format(category=q.category, text=q.text) for q in coded.ungrounded]
    notes += [
        f'Fuzzy match, check the wording ({q.category}): "{q.text}"'
        for q in coded.quotes
        if q.grounding == "fuzzy"
    ]
    return notes + [f"Warning: {w}" for w in coded.warnings]
