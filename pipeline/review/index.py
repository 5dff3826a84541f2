"""The data of the review site's index page: a row per ad, the run summary from the
manifest, and two bar charts (profiles, entries per category) as plain geometry that the
template draws as inline SVG. Pure functions, no disk, no HTML.
"""

from __future__ import annotations

import re

from pipeline.codebook import Codebook
from pipeline.record import Coding
from pipeline.review.selection import Tally, tally_of


def bar_chart(title: str, rows: list[tuple[str, str, list[int]]], series: list[str]) -> dict:
    """Geometry of a horizontal bar chart: rows of (label, full label, one value a series)."""
    label_w, plot_w, bar_h, gap, top = 230, 220, 12, 8, 26
    vmax = max((v for _, _, values in rows for v in values), default=0) or 1
    row_h = bar_h * len(series) + gap
    out_rows = []
    for r, (label, full, values) in enumerate(rows):
        y = top + r * row_h
        bars = [
            {
                "x": label_w,
                "y": y + s * bar_h,
                "w": round(v / vmax * plot_w, 1),
                "h": bar_h - 2,
                "value": v,
                "series": s,
            }
            for s, v in enumerate(values)
        ]
        out_rows.append(
            {
                "label": label if len(label) <= 36 else label[:35] + "…",
                "full": full,
                "y": y + len(series) * bar_h / 2 + 4,
                "bars": bars,
            }
        )
    legend = [{"name": name, "x": label_w + i * 90, "series": i} for i, name in enumerate(series)]
    return {
        "title": title,
        "width": label_w + plot_w + 40,
        "height": top + len(rows) * row_h,
        "rows": out_rows,
        "legend": legend,
        "label_x": label_w - 6,
    }


def charts(pages: list[dict], golds: dict[str, Coding], drafts: Tally, book: Codebook):
    """Profile distribution and entries per category, of every draft (counted as they were
    read) and of the gold codings of the pages."""
    gold = [golds[p["ad_id"]] for p in pages if p["ad_id"] in golds]
    sides = [("drafts", drafts)] + ([("gold", tally_of(gold))] if gold else [])
    names = [s for s, _ in sides]
    profiles = [t.profiles for _, t in sides]
    labels = book.profile_names + sorted({p for c in profiles for p in c} - set(book.profile_names))
    prof_rows = [(p, p, [c[p] for c in profiles]) for p in labels]
    cats = [t.categories for _, t in sides]
    cat_rows = [
        (f"{cid} {cat.name}", f"{cid} {cat.name}", [c[cid] for c in cats])
        for cid, cat in book.categories.items()
    ]
    return [
        bar_chart("Profiles", prof_rows, names),
        bar_chart("Entries per category", cat_rows, names),
    ]


def merge_summary(manifest: dict) -> list[tuple[str, str]]:
    """The rows of the run table for a merged set (`autocode merge`): what it merged."""
    c, book = manifest.get("counts") or {}, manifest.get("codebook") or {}
    inputs = [f"{i.get('name')} ({i.get('ads')} ads, {i.get('path')})" for i in manifest["inputs"]]
    rows = [
        ("merged from", "; ".join(inputs)),
        ("minimum support", manifest.get("min_support")),
        ("codebook", f"{book.get('name')} {book.get('version')}"),
        ("ads", c.get("ads")),
        ("ads coded by every set", c.get("ads_coded_by_every_set")),
        ("entries kept", c.get("entries_kept")),
        ("created", manifest.get("created")),
    ]
    return [(label, "" if value is None else str(value)) for label, value in rows]


def run_summary(manifest: dict | None) -> list[tuple[str, str]]:
    """The rows of the run table, from manifest.json (a run's, or a merge's)."""
    if not manifest:
        return []
    if manifest.get("command") == "merge":
        return merge_summary(manifest)
    c, book = manifest.get("counts") or {}, manifest.get("codebook") or {}
    cost = manifest.get("cost_usd")
    rows = [
        ("status", manifest.get("status")),
        ("model", f"{manifest.get('model')} ({manifest.get('backend')})"),
        ("codebook", f"{book.get('name')} {book.get('version')}"),
        ("ads in input", c.get("ads")),
        (
            "coded now / from cache / already done",
            f"{c.get('coded')} / {c.get('from_cache')} / {c.get('already_done')}",
        ),
        ("failed", c.get("failed")),
        (
            "quotes kept / dropped as ungrounded",
            f"{c.get('quotes_kept')} / {c.get('quotes_dropped')}",
        ),
        ("prompt / completion tokens", f"{c.get('prompt_tokens')} / {c.get('completion_tokens')}"),
        ("estimated cost", "unknown" if cost is None else f"${cost:.4f}"),
        ("started", manifest.get("started")),
        ("finished", manifest.get("finished")),
    ]
    return [(label, "" if value is None else str(value)) for label, value in rows]


def index_row(page: dict, href: str | None, failure: dict | None = None) -> dict:
    counts = page.get("counts", {})
    ungrounded = counts.get("dropped", 0) + counts.get("not_found", 0)
    flags = [
        {"name": name, "n": n}
        for name, n in (("ungrounded", ungrounded), ("fuzzy", counts.get("fuzzy", 0)))
        if n
    ]
    keys = ("ad_id", "title", "organisation", "profile", "gold", "agreement", "n_codings")
    return {
        **{k: page.get(k) for k in keys},
        "href": href,
        "counts": counts,
        "flags": flags,
        "failed": failure["reason"] if failure else None,
    }


def page_names(ad_ids: list[str]) -> dict[str, str]:
    """A safe, distinct file name per ad id (ids from a table may hold any character)."""
    names, taken = {}, set()
    for ad_id in ad_ids:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ad_id).strip("._") or "ad"
        name, n = f"ad-{stem}.html", 1
        while name.lower() in taken:
            n += 1
            name = f"ad-{stem}-{n}.html"
        taken.add(name.lower())
        names[ad_id] = name
    return names
