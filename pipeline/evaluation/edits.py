"""What correcting the drafts cost the coders: figures from the editor's corrections log.

`autocode review --serve` appends one record per save to GOLD/corrections.jsonl
(`pipeline.review.corrections`). An ad saved several times counts once, by its last save
(whose record compares the draft with the final coding), with the seconds of all its saves.
Corrected and blind codings are reported apart: the minutes per ad of the two are what the
drafts save a coder, the shares of draft entries kept, modified and deleted are how good
the drafts were to work from.
"""

from __future__ import annotations

from collections import defaultdict

ACTIONS = ("kept", "modified", "deleted")


def last_saves(records: list[dict]) -> list[dict]:
    """One record per (ad, coder, blind): the last save, with the seconds of every save."""
    last: dict[tuple, dict] = {}
    seconds: dict[tuple, float] = defaultdict(float)
    for record in records:
        key = (record.get("ad_id"), record.get("coder"), bool(record.get("blind")))
        seconds[key] += float(record.get("seconds") or 0)
        last[key] = record
    return [record | {"seconds": seconds[key]} for key, record in last.items()]


def _action(entry: dict) -> str:
    """kept (unchanged), modified (re-spanned, recategorised or its note edited), deleted."""
    if entry["action"] == "deleted":
        return "deleted"
    if entry["action"] == "kept" and not entry.get("note_edited"):
        return "kept"
    return "modified"


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _per_ad(total: float, ads: int) -> float | None:
    return total / ads if ads else None


def corrected_summary(saves: list[dict]) -> dict:
    """Figures over the corrected (not blind) ads, overall and per draft category."""
    counts = {a: 0 for a in ACTIONS}
    by_cat: dict[str, dict[str, int]] = defaultdict(lambda: {a: 0 for a in (*ACTIONS, "added")})
    added = tools_added = tools_removed = profile_changed = 0
    for save in saves:
        for entry in save.get("quotes", []):
            action = _action(entry)
            counts[action] += 1
            by_cat[entry["category"]][action] += 1
        for entry in save.get("quotes_added", []):
            added += 1
            by_cat[entry["category"]]["added"] += 1
        tools = save.get("tools", {})
        tools_added += len(tools.get("added", []))
        tools_removed += len(tools.get("removed", []))
        profile = save.get("profile", {})
        profile_changed += profile.get("from") != profile.get("to")
    entries, ads = sum(counts.values()), len(saves)
    return {
        "ads": ads,
        "draft_entries": entries,
        **{f"share_{a}": _share(counts[a], entries) for a in ACTIONS},
        "added_per_ad": _per_ad(added, ads),
        "tools_added_per_ad": _per_ad(tools_added, ads),
        "tools_removed_per_ad": _per_ad(tools_removed, ads),
        "profile_changed": profile_changed,
        "minutes_per_ad": _per_ad(sum(s["seconds"] for s in saves) / 60, ads),
        "by_category": {cat: dict(c) for cat, c in sorted(by_cat.items())},
    }


def blind_summary(saves: list[dict]) -> dict:
    entries = sum(len(s.get("quotes_added", [])) for s in saves)
    return {
        "ads": len(saves),
        "entries_per_ad": _per_ad(entries, len(saves)),
        "minutes_per_ad": _per_ad(sum(s["seconds"] for s in saves) / 60, len(saves)),
    }


def edit_report(records: list[dict], source: str) -> dict:
    """The `edits` section of `autocode eval`'s report."""
    saves = last_saves(records)
    return {
        "source": source,
        "saves": len(records),
        "corrected": corrected_summary([s for s in saves if not s.get("blind")]),
        "blind": blind_summary([s for s in saves if s.get("blind")]),
    }


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:.0%}" if percent else f"{value:.2f}"


def edit_rows(report: dict) -> list[tuple[str, str]]:
    """The headline figures as (label, value) rows, for the terminal and the Markdown."""
    c, b = report["corrected"], report["blind"]
    rows = [
        ("corrected ads (draft entries)", f"{c['ads']} ({c['draft_entries']})"),
        ("draft entries kept unchanged", _fmt(c["share_kept"], True)),
        ("draft entries modified", _fmt(c["share_modified"], True)),
        ("draft entries deleted", _fmt(c["share_deleted"], True)),
        ("entries added per ad", _fmt(c["added_per_ad"])),
        (
            "tools added / removed per ad",
            f"{_fmt(c['tools_added_per_ad'])} / {_fmt(c['tools_removed_per_ad'])}",
        ),
        ("profile changed", f"{c['profile_changed']} of {c['ads']}"),
        ("minutes per corrected ad", _fmt(c["minutes_per_ad"])),
    ]
    if b["ads"]:
        rows += [
            ("blind ads", str(b["ads"])),
            ("entries per blind ad", _fmt(b["entries_per_ad"])),
            ("minutes per blind ad", _fmt(b["minutes_per_ad"])),
        ]
    return rows


def category_rows(report: dict) -> list[tuple[str, str, str, str, str, str]]:
    """Per draft category: entries, kept, modified, deleted (shares) and entries added."""
    rows = []
    for cat, c in report["corrected"]["by_category"].items():
        n = c["kept"] + c["modified"] + c["deleted"]
        shares = [_fmt(_share(c[a], n), True) for a in ACTIONS]
        rows.append((cat, str(n), *shares, str(c["added"])))
    return rows


def edits_markdown(report: dict) -> str:
    lines = [
        "## Corrections (what coders changed in the drafts)",
        "",
        f"From `{report['source']}`: {report['saves']} saves; each ad counted once, by its "
        "last save, with the time of all its saves.",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {label} | {value} |" for label, value in edit_rows(report)],
        "",
        "| category | draft entries | kept | modified | deleted | added |",
        "|---|---:|---:|---:|---:|---:|",
        *["| " + " | ".join(row) + " |" for row in category_rows(report)],
        "",
    ]
    return "\n".join(lines)
