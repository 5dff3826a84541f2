"""The data of the review site's pages: pure functions, no disk, no HTML.

An ad page is its text cut into segments at every quote boundary (each segment knows the
quotes covering it, so nested and overlapping quotes stay readable), the coding panel in
codebook order, and, with a gold coding, every quote marked matched, missed or extra by
`matching.match_ad` in the review mode: the same matching `autocode eval` reports.
The index page is in `pipeline.review.index`. `pipeline.review.site` reads the inputs and
renders both with the templates in `templates/`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.grounding import ground
from pipeline.matching import REVIEW_MODE, match_ad, tool_key
from pipeline.record import Coding, Dropped, Quote

# ------------------------------------------------------------------ segmentation


@dataclass(frozen=True)
class Segment:
    """A piece of the ad text and the keys of the spans covering all of it."""

    start: int
    end: int
    text: str
    keys: tuple[str, ...] = ()


def segments(text: str, spans: Sequence[tuple[str, int, int]]) -> list[Segment]:
    """Cut `text` at every span boundary; each piece lists the (key, start, end) spans that
    cover it, longest first. Spans are clipped to the text; empty ones are left out."""
    clipped = [(k, max(0, s), min(len(text), e)) for k, s, e in spans]
    clipped = sorted((c for c in clipped if c[1] < c[2]), key=lambda c: (c[1] - c[2], c[1]))
    cuts = sorted({0, len(text), *(c[1] for c in clipped), *(c[2] for c in clipped)})
    return [
        Segment(a, b, text[a:b], tuple(k for k, s, e in clipped if s <= a and b <= e))
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]


def category_colours(book: Codebook) -> dict[str, str]:
    """A light, distinct background per quote category, in codebook order (golden angle)."""
    ids = book.ids_of_kind("quotes")
    return {cat: f"hsl({i * 137.508 % 360:.0f}, 72%, 82%)" for i, cat in enumerate(ids)}


OTHER_COLOUR = "hsl(0, 0%, 85%)"
FAINTEST = 0.3  # opacity of the highlight of an entry only one of many codings has


def shade(colour: str, support: int | None, n_codings: int | None) -> str:
    """The colour, fainter the fewer codings support the entry (as is at full support)."""
    if not support or not n_codings or support >= n_codings or not colour.startswith("hsl("):
        return colour
    opacity = FAINTEST + (1 - FAINTEST) * (support - 1) / max(1, n_codings - 1)
    return f"hsla({colour[4:-1]}, {opacity:.2f})"


# ------------------------------------------------------------------ an ad's page


@dataclass
class Item:
    """A quote on an ad page: a draft quote (key q<n>) or a missed gold quote (g<n>)."""

    key: str
    category: str
    text: str
    note: str | None
    span: tuple[int, int] | None
    grounding: str | None
    match: str | None = None  # matched / missed / extra, with a gold coding only
    gold_text: str | None = None  # the matched gold quote, where it reads differently
    ad_passage: str | None = None  # the ad's own words, where grounding was not exact
    gold: bool = False
    kind: str = "quote"
    support: int | None = None  # how many of the merged codings have it (a consensus)


@dataclass
class ToolItem:
    category: str
    name: str
    note: str | None
    match: str | None = None
    kind: str = "tool"
    support: int | None = None


def _item(key: str, quote: Quote, ad_text: str | None, match=None, partner=None, gold=False):
    passage = None
    if ad_text is not None and quote.span and quote.grounding in ("normalized", "fuzzy"):
        passage = ad_text[quote.span[0] : quote.span[1]]
    gold_text = partner.text if partner is not None and partner.text != quote.text else None
    return Item(
        key,
        quote.category,
        quote.text,
        quote.note,
        quote.span,
        quote.grounding,
        match,
        gold_text,
        passage,
        gold,
        support=quote.support,
    )


def quote_items(pred: Coding, gold: Coding | None, ad_text: str | None) -> list[Item]:
    """The draft's quotes, marked against `gold` when given, then the missed gold quotes."""
    if gold is None:
        return [_item(f"q{i}", q, ad_text) for i, q in enumerate(pred.quotes)]
    if ad_text is not None:
        gold = ground(gold, ad_text)  # spans for the missed gold quotes
    result = match_ad(gold, pred, ad_text, REVIEW_MODE)
    partner = {id(p): g for g, p in result.matched}
    items = [
        _item(f"q{i}", q, ad_text, "matched" if id(q) in partner else "extra", partner.get(id(q)))
        for i, q in enumerate(pred.quotes)
    ]
    return items + [
        _item(f"g{i}", q, ad_text, "missed", gold=True) for i, q in enumerate(result.missed)
    ]


def tool_items(pred: Coding, gold: Coding | None) -> list[ToolItem]:
    """Tools, marked by (name, category) as `autocode eval` counts them, when gold is given."""
    if gold is None:
        return [ToolItem(t.category, t.name, t.note, support=t.support) for t in pred.tools]
    key = lambda t: (tool_key(t.name), t.category)  # noqa: E731
    gold_keys, pred_keys = {key(t) for t in gold.tools}, {key(t) for t in pred.tools}
    items = [
        ToolItem(
            t.category,
            t.name,
            t.note,
            "matched" if key(t) in gold_keys else "extra",
            support=t.support,
        )
        for t in pred.tools
    ]
    return items + [
        ToolItem(t.category, t.name, t.note, "missed")
        for t in gold.tools
        if key(t) not in pred_keys
    ]


def segment_views(
    text: str, items: list[Item], colours: dict[str, str], n_codings: int | None = None
) -> list[dict]:
    """The ad text as pieces to render: plain, or marked with bands of the covering quotes
    (fainter for entries of a consensus fewer codings support)."""
    by_key = {it.key: it for it in items}
    views = []
    for seg in segments(text, [(it.key, *it.span) for it in items if it.span]):
        covering = [by_key[k] for k in seg.keys]
        drafts = [it for it in covering if not it.gold]
        bands = [
            shade(colours.get(it.category, OTHER_COLOUR), it.support, n_codings) for it in drafts
        ]
        classes = [
            "hl",
            *(["overlap"] if len(drafts) > 1 else []),
            *(["fuzzy"] if any(it.grounding == "fuzzy" for it in drafts) else []),
            *(["gold"] if len(drafts) < len(covering) else []),
            *(["gold-only"] if covering and not drafts else []),
        ]
        views.append(
            {
                "text": seg.text,
                "quotes": " ".join(seg.keys),
                "tips": " ".join(f"tip-{k}" for k in seg.keys),
                "classes": " ".join(classes),
                "style": _bands(bands),
            }
        )
    return views


def _bands(colours: list[str]) -> str:
    if len(colours) <= 1:
        return f"background-color: {colours[0]}" if colours else ""
    step = 100 / len(colours)
    stops = ", ".join(f"{c} {i * step:.1f}% {(i + 1) * step:.1f}%" for i, c in enumerate(colours))
    return f"background-image: linear-gradient(to bottom, {stops})"


def coding_panel(book: Codebook, entries: list) -> list[dict]:
    """Quotes and tools by part, group and category in codebook order, as in the Markdown."""
    by_cat: dict[str, list] = defaultdict(list)
    for entry in entries:
        by_cat[entry.category].append(entry)
    parts = []
    for part in book.parts:
        sections: list[tuple[str | None, list]] = [(g.title, g.categories) for g in part.groups]
        sections += [(None, part.categories)] if part.categories else []
        blocks = []
        for title, cats in sections:
            rows = [
                {"id": c.id, "name": c.name, "entries": by_cat.pop(c.id)}
                for c in cats
                if c.id in by_cat
            ]
            blocks += [{"title": title, "categories": rows}] if rows else []
        parts.append({"heading": part.heading, "blocks": blocks})
    if by_cat:  # a record coded under an older codebook
        rows = [{"id": c, "name": "(not in the codebook)", "entries": e} for c, e in by_cat.items()]
        parts.append(
            {"heading": "Not in the codebook", "blocks": [{"title": None, "categories": rows}]}
        )
    return parts


@dataclass
class Draft:
    """One coded ad as read from OUT: its coding, what was dropped, and the file to correct."""

    coding: Coding
    dropped: list[Dropped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None


def _counts(items: list[Item], tools: list[ToolItem], draft: Draft) -> dict:
    drafts = [it for it in items if not it.gold]
    marks = Counter(e.match for e in items if e.match)
    return {
        "quotes": len(drafts),
        "tools": sum(t.match != "missed" for t in tools),
        "highlighted": sum(it.span is not None for it in drafts),
        "fuzzy": sum(it.grounding == "fuzzy" for it in drafts),
        "not_found": sum(it.grounding == "not_found" for it in drafts),
        "dropped": len(draft.dropped),
        "matched": marks["matched"],
        "missed": marks["missed"],
        "extra": marks["extra"],
    }


def ad_page(draft: Draft, ad: Ad | None, gold: Coding | None, book: Codebook) -> dict:
    """Everything one ad's page shows."""
    pred, text = draft.coding, ad.text if ad else None
    colours, n_codings = category_colours(book), draft.coding.n_codings
    items, tools = quote_items(pred, gold, text), tool_items(pred, gold)
    shown = sorted(
        {it.category for it in items if it.span},
        key=lambda c: list(colours).index(c) if c in colours else len(colours),
    )
    return {
        "ad_id": pred.ad_id,
        "title": pred.title or (ad.title if ad else None),
        "organisation": pred.organisation or (ad.organisation if ad else None),
        "profile": pred.profile,
        "reasoning": pred.reasoning,
        "gold": None if gold is None else {"profile": gold.profile},
        "segments": segment_views(text, items, colours, n_codings) if text is not None else None,
        "legend": [
            {
                "id": c,
                "name": book.categories[c].name if c in book.categories else "?",
                "colour": colours.get(c, OTHER_COLOUR),
            }
            for c in shown
        ],
        "quotes": items,
        "panel": coding_panel(book, [*items, *tools]),
        "colours": colours,
        "names": {cat_id: cat.name for cat_id, cat in book.categories.items()},
        "dropped": draft.dropped,
        "warnings": draft.warnings,
        "draft_path": str(draft.path) if draft.path else None,
        "counts": _counts(items, tools, draft),
        **consensus_view(pred),
    }


def consensus_view(coding: Coding) -> dict:
    """How sure a consensus draft is: codings merged, profile support and tie, agreement."""
    return {
        key: getattr(coding, key)
        for key in ("n_codings", "profile_support", "profile_tie", "agreement")
    }
