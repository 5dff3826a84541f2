"""What a coder changed in a draft: one corrections-log record per save (pure functions).

The record compares the draft the coder was shown with the coding saved as gold. Each draft
quote is *kept* (same category, same passage), *recategorised* (same passage, other
category), *respanned* (an overlapping passage, same category; with another category it is
both), or *deleted*; saved quotes no draft quote accounts for are *added*. Passages compare
after folding (quotes, dashes, whitespace), spans by their place in the ad. Tools compare by
(name key, category) as `autocode eval` counts them. `autocode eval` sums these records
(`pipeline.evaluation.edits`), overall and per category.
"""

from __future__ import annotations

from pipeline.grounding import fold_quote
from pipeline.matching import Passages, tool_key
from pipeline.record import Coding, Quote, Tool

KEPT, RECATEGORISED, RESPANNED, DELETED = "kept", "recategorised", "respanned", "deleted"


def _overlaps(a: tuple[int, int] | None, b: tuple[int, int] | None) -> bool:
    return a is not None and b is not None and a[0] < b[1] and b[0] < a[1]


def _quote_entry(draft: Quote, action: str, saved: Quote | None) -> dict:
    entry: dict[str, str | bool] = {
        "category": draft.category,
        "text": draft.text,
        "action": action,
    }
    if saved is not None and saved.category != draft.category:
        entry["to_category"] = saved.category
    if saved is not None and saved.text != draft.text:
        entry["to_text"] = saved.text
    if saved is not None and (saved.note or None) != (draft.note or None):
        entry["note_edited"] = True
    return entry


def pair_quotes(draft: list[Quote], saved: list[Quote], passages: Passages):
    """(draft index, saved index, action) for every draft quote a saved one accounts for, in
    passes from the closest kind of pair to the loosest (same passage and category, same
    passage, overlapping passage and same category, overlapping), so a looser pair never
    takes a saved quote a closer one would have had."""
    pairs: list[tuple[int, int, str]] = []
    free, paired = set(range(len(saved))), set()
    folded = [fold_quote(q.text) for q in saved]

    def related(quote: Quote, j: int, same_text: bool) -> bool:
        if same_text:
            return folded[j] == fold_quote(quote.text)
        return _overlaps(passages.span(quote.text), passages.span(saved[j].text))

    for same_text, same_category in ((True, True), (True, False), (False, True), (False, False)):
        for i, quote in enumerate(draft):
            if i in paired:
                continue
            j = next(
                (
                    j
                    for j in sorted(free)
                    if (saved[j].category == quote.category) == same_category
                    and related(quote, j, same_text)
                ),
                None,
            )
            if j is not None:
                action = RESPANNED if not same_text else KEPT if same_category else RECATEGORISED
                pairs.append((i, j, action))
                free.discard(j)
                paired.add(i)
    return pairs


def quote_changes(draft: Coding, saved: Coding, ad_text: str | None) -> tuple[list, list]:
    """Each draft quote with what became of it, and the saved quotes that were added."""
    pairs = pair_quotes(draft.quotes, saved.quotes, Passages(ad_text))
    by_draft = {i: (j, action) for i, j, action in pairs}
    entries = []
    for i, quote in enumerate(draft.quotes):
        j, action = by_draft.get(i, (None, DELETED))
        entries.append(_quote_entry(quote, action, saved.quotes[j] if j is not None else None))
    used = {j for _, j, _ in pairs}
    added = [
        {"category": q.category, "text": q.text}
        for j, q in enumerate(saved.quotes)
        if j not in used
    ]
    return entries, added


def _tool(tool: Tool) -> dict:
    return {"category": tool.category, "name": tool.name}


def tool_changes(draft: Coding, saved: Coding) -> dict:
    """Tools kept, recategorised (same name, other category), removed and added."""
    pair = lambda t: (tool_key(t.name), t.category)  # noqa: E731
    saved_pairs = {pair(t) for t in saved.tools}
    saved_names = {tool_key(t.name): t for t in saved.tools}
    draft_pairs = {pair(t) for t in draft.tools}
    draft_names = {tool_key(t.name) for t in draft.tools}
    kept = [_tool(t) for t in draft.tools if pair(t) in saved_pairs]
    moved = [
        _tool(t) | {"to_category": saved_names[tool_key(t.name)].category}
        for t in draft.tools
        if pair(t) not in saved_pairs and tool_key(t.name) in saved_names
    ]
    removed = [
        _tool(t)
        for t in draft.tools
        if pair(t) not in saved_pairs and tool_key(t.name) not in saved_names
    ]
    added = [
        _tool(t)
        for t in saved.tools
        if pair(t) not in draft_pairs and tool_key(t.name) not in draft_names
    ]
    return {"kept": kept, "recategorised": moved, "removed": removed, "added": added}


def correction_record(
    draft: Coding | None,
    saved: Coding,
    ad_text: str | None,
    *,
    coder: str,
    blind: bool,
    seconds: float,
    saved_at: str,
) -> dict:
    """The log line of one save. Blind (or without a draft): every saved entry is added."""
    base = draft if draft is not None and not blind else Coding(ad_id=saved.ad_id)
    quotes, added = quote_changes(base, saved, ad_text)
    return {
        "ad_id": saved.ad_id,
        "coder": coder,
        "blind": blind,
        "saved_at": saved_at,
        "seconds": round(max(0.0, seconds), 1),
        "draft_model": base.drafted_by,
        "quotes": quotes,
        "quotes_added": added,
        "tools": tool_changes(base, saved),
        "profile": {"from": base.profile, "to": saved.profile},
        "reasoning_edited": (base.reasoning or "") != (saved.reasoning or ""),
    }
