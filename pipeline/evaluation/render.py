"""The edges of `autocode eval`: load gold/predicted codings and ad texts, render the report.

The terminal tables and the Markdown report are drawn from the same list of
sections, so the two never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

from pipeline.evaluation.edits import edits_markdown
from pipeline.evaluation.tables import Section, markdown_tables, print_tables

__all__ = ["markdown_tables", "print_tables"]  # drawn here for `eval`, and for `agree`


def fmt(value) -> str:
    if value is None:
        return "undefined"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


# ----------------------------------------------------------------------- load


# --------------------------------------------------------------------- render


def _prf_row(label: str, block: dict) -> list[str]:
    keys = ("precision", "recall", "f1", "tp", "fp", "fn")
    return [label, *(fmt(block[k]) for k in keys)]


PRF_HEAD = ["", "precision", "recall", "F1", "TP", "FP", "FN"]


def with_interval(value, ci: dict | None) -> str:
    """`0.640 [0.520, 0.750]`; the value alone without an interval."""
    if ci is None or value is None:
        return fmt(value)
    if ci["low"] is None:
        return f"{fmt(value)} [no interval: undefined in {ci['n_undefined']} of {ci['n_boot']}]"
    return f"{fmt(value)} [{fmt(ci['low'])}, {fmt(ci['high'])}]"


def _headline_title(r: dict) -> str:
    ci = next(iter(r.get("ci", {}).values()), None)
    if ci is None:
        return "Headline"
    return (
        f"Headline ({ci['level']:.0%} bootstrap intervals over paired ads, "
        f"{ci['n_boot']} resamples)"
    )


def _headline(r: dict) -> tuple[str, list[str], list[list[str]]]:
    prof, quotes, pres, tools = r["profile"], r["quotes"], r["presence"], r["tools"]
    defined = sum(v["kappa"] is not None for v in pres["per_category"].values())
    counts = " / ".join(str(len(r["ads"][k])) for k in ("paired", "gold_only", "pred_only"))
    ci = r.get("ci", {})

    def value(figure: str, number) -> str:
        return with_interval(number, ci.get(figure))

    rows = [
        ["ads paired / gold only / predicted only", counts],
        [f"profile kappa (n={prof['n']})", value("profile.kappa", prof["kappa"])],
        ["profile accuracy", value("profile.accuracy", prof["accuracy"])],
        ["quote F1 strict", value("quotes.strict.f1", quotes["strict"]["f1"])],
        ["quote F1 partial", value("quotes.partial.f1", quotes["partial"]["f1"])],
        [
            f"presence macro kappa ({defined} of {len(pres['per_category'])} defined)",
            value("presence.macro_kappa", pres["macro_kappa"]),
        ],
        ["presence Krippendorff alpha", value("presence.alpha", pres["alpha"])],
        ["tool F1 name", value("tools.name.f1", tools["name"]["f1"])],
        ["tool F1 name + category", fmt(tools["name_and_category"]["f1"])],
    ]
    return _headline_title(r), ["metric", "value"], rows


def _by_support(r: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    levels = r["quotes"]["partial"].get("by_support")
    if not levels:
        return []
    rows = [[k, str(v["tp"]), str(v["fp"]), fmt(v["precision"])] for k, v in levels.items()]
    title = "Predicted quotes by support (partial matching): is support informative?"
    return [(title, ["support", "TP", "FP", "precision"], rows)]


class Unpaired(Sequence[list[str]]):
    """The rows (ad, side) of the unpaired ads, made as they are read: a million predicted
    ads without gold would otherwise be a million lists before a line is printed."""

    def __init__(self, gold_only: Sequence[str], pred_only: Sequence[str]):
        self.gold_only, self.pred_only = gold_only, pred_only

    def __len__(self) -> int:
        return len(self.gold_only) + len(self.pred_only)

    @overload
    def __getitem__(self, i: int) -> list[str]: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[list[str]]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if i < len(self.gold_only):
            return [self.gold_only[i], "gold only"]
        return [self.pred_only[i - len(self.gold_only)], "predicted only"]

    def __iter__(self) -> Iterator[list[str]]:
        yield from ([i, "gold only"] for i in self.gold_only)
        yield from ([i, "predicted only"] for i in self.pred_only)


def _ads_and_profile(r: dict) -> list[Section]:
    ads = r["ads"]
    unpaired = Unpaired(ads["gold_only"], ads["pred_only"])
    profiles = [a["profile"] for a in r["per_ad"]]
    no_gold = sum(p["gold"] is None for p in profiles)
    no_pred = sum(p["gold"] is not None and p["pred"] is None for p in profiles)
    conf = r["profile"]["confusion"]
    used = [
        i
        for i, _ in enumerate(conf["labels"])
        if any(conf["matrix"][i]) or any(row[i] for row in conf["matrix"])
    ]
    # Columns carry the row numbers only: full profile names would not fit a terminal.
    matrix = [
        [f"{n}. {conf['labels'][i]}", *(str(conf["matrix"][i][j]) for j in used)]
        for n, i in enumerate(used, start=1)
    ]
    sections: list[Section] = []
    if unpaired:
        sections.append(("Unpaired ads (not scored)", ["ad", "side"], unpaired))
    sections.append(
        (
            "Profile",
            ["", "value"],
            [
                ["paired ads with both profiles (n)", str(r["profile"]["n"])],
                ["paired ads whose gold has no profile", str(no_gold)],
                ["paired ads with gold but no predicted profile", str(no_pred)],
                ["accuracy", fmt(r["profile"]["accuracy"])],
                ["Cohen's kappa", fmt(r["profile"]["kappa"])],
            ],
        )
    )
    if used:
        head = ["gold \\ predicted", *(str(n) for n in range(1, len(used) + 1))]
        sections.append(("Profile confusion (profiles that occur)", head, matrix))
    return sections


def _quotes(r: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    q = r["quotes"]
    sections = []
    for mode in ("strict", "partial"):
        rows = [_prf_row("all quotes", q[mode])]
        rows += [_prf_row(f"{pid}. {v['title']}", v[mode]) for pid, v in q["per_part"].items()]
        rows += [_prf_row(f"{cid} {v['name']}", v[mode]) for cid, v in q["per_category"].items()]
        sections.append((f"Quotes, {mode} matching", PRF_HEAD, rows))
    return sections


def _presence_and_tools(r: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    pres = r["presence"]
    rows = [
        [f"{cid} {v['name']}", str(v["gold"]), str(v["pred"]), fmt(v["agreement"]), fmt(v["kappa"])]
        for cid, v in pres["per_category"].items()
    ]
    rows.append(["macro mean kappa (defined only)", "", "", "", fmt(pres["macro_kappa"])])
    rows.append(["Krippendorff alpha (all cells)", "", "", "", fmt(pres["alpha"])])
    tools = [
        _prf_row("names", r["tools"]["name"]),
        _prf_row("name + category", r["tools"]["name_and_category"]),
    ]
    return [
        ("Category presence (ads coded)", ["category", "gold", "pred", "agreement", "kappa"], rows),
        ("Tools", PRF_HEAD, tools),
    ]


def _profile_pair(profile: dict) -> str:
    gold, pred = fmt(profile["gold"]), fmt(profile["pred"])
    return gold if gold == pred else f"{gold} -> {pred}"


def _per_ad_summary(r: dict) -> tuple[str, list[str], list[list[str]]]:
    rows = [
        [
            a["ad_id"],
            _profile_pair(a["profile"]),
            *(str(len(a[k])) for k in ("missed", "spurious", "missed_tools", "spurious_tools")),
        ]
        for a in r["per_ad"]
    ]
    head = [
        "ad",
        "profile (gold -> predicted)",
        "missed quotes",
        "spurious quotes",
        "missed tools",
        "spurious tools",
    ]
    return "Per ad (partial matching; the quotes are in --markdown and --json)", head, rows


def sections(report: dict) -> list[Section]:
    """(title, header, rows) of every table, headline first."""
    return [
        _headline(report),
        *_ads_and_profile(report),
        *_quotes(report),
        *_by_support(report),
        *_presence_and_tools(report),
        _per_ad_summary(report),
    ]


def print_report(report: dict, console) -> None:
    """The eval report's tables on the terminal."""
    print_tables(sections(report), console)


def _md_ad_detail(ad: dict) -> list[str]:
    gold, pred = fmt(ad["profile"]["gold"]), fmt(ad["profile"]["pred"])
    lines = [f"### {ad['ad_id']}", "", f"Profile: gold `{gold}`, predicted `{pred}`", ""]
    for key, label in (("missed", "Missed gold quotes"), ("spurious", "Spurious predicted quotes")):
        lines += [f"{label}:", ""] + [f'- {q["category"]}: "{q["text"]}"' for q in ad[key]]
        lines += ["- none"] if not ad[key] else []
        lines.append("")
    for key, label in (("missed_tools", "Missed tools"), ("spurious_tools", "Spurious tools")):
        if ad[key]:
            names = ", ".join(f"`{t['name']}` ({t['category']})" for t in ad[key])
            lines += [f"{label}: {names}", ""]
    return lines


def markdown_lines(report: dict) -> Iterator[str]:
    """The lines of `markdown_report`, made one at a time."""
    yield from ("# Agreement report", "")
    yield from markdown_tables(sections(report))
    yield from calibration_markdown(report["calibration"])
    yield from ("## Disagreements per ad (partial matching)", "")
    for ad in report["per_ad"]:
        yield from _md_ad_detail(ad)
    if "edits" in report:  # from the editor's corrections log (evaluation.edits)
        yield edits_markdown(report["edits"])


def markdown_report(report: dict) -> str:
    """The same tables as Markdown, then every ad's missed and spurious quotes."""
    return "\n".join(markdown_lines(report))


def write_markdown(report: dict, path: Path) -> None:
    """`markdown_report` into `path` (atomically), written a line at a time."""
    from pipeline.store import write_joined

    write_joined(Path(path), markdown_lines(report))


class _Listed(list):
    """A sequence that `json.dump` writes as a list, item by item as it reads them: its
    encoder (indented, to a file: the pure-Python one) asks a list only for its length and
    its items, so a million ids read from disk are never held (`pred_only`)."""

    def __init__(self, items: Sequence):
        super().__init__()
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


class _ReportEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, Sequence):
            return _Listed(o)
        return super().default(o)


def write_json(report: dict, path: Path) -> None:
    """The report as indented JSON (atomically), encoded and written a piece at a time."""
    from pipeline.store import atomic_writer

    with atomic_writer(Path(path), "w") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False, cls=_ReportEncoder)
        handle.write("\n")


def _num(value) -> str:
    return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def _passages(texts: list[str]) -> str:
    return "<br>".join(f"“{t}”".replace("|", "\\|") for t in texts) or "–"


def calibration_markdown(cal: dict) -> list[str]:
    """The section "Where the model and the coder part ways" of the Markdown report."""
    lines = ["## Where the model and the coder part ways", ""]
    for side, label, sign in (
        ("over_coded", "coded more often", "+"),
        ("under_coded", "coded less often", "-"),
    ):
        gaps = ", ".join(
            f"{g['category']} {g['name']} ({sign}{g['difference']})" for g in cal["gaps"][side]
        )
        lines += [f"The model {label} than the coder: {gaps or 'none'}.", ""]
    lines += [
        "| category | gold | model | ratio | precision | recall | missed (up to 5) | "
        "spurious (up to 5) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cat_id, row in cal["per_category"].items():
        cells = [
            f"{cat_id} {row['name']}",
            row["gold_entries"],
            row["pred_entries"],
            row["ratio"],
            row["precision"],
            row["recall"],
        ]
        lines.append(
            "| " + " | ".join(_num(c) for c in cells) + f" | {_passages(row['missed'])}"
            f" | {_passages(row['spurious'])} |"
        )
    overall = cal["quote_length"]["overall"]
    lines += [
        "",
        f"Quote length (median characters of matched quotes): coder "
        f"{_num(overall['gold_median'])}, model {_num(overall['pred_median'])} "
        f"over {overall['matched']} matched pairs.",
        "",
    ]
    lines += _profile_markdown(cal["profile"])
    return lines


def _profile_markdown(profile: dict) -> list[str]:
    lines = ["### Profiles the model and the coder chose differently", ""]
    if not profile["ads"]:
        return lines + ["None.", ""]
    for ad in profile["ads"]:
        lines += [
            f"**{ad['ad_id']}**: coder `{ad['gold']}`, model `{ad['pred']}`",
            "",
            f"- coder: {ad['gold_reasoning'] or '(no reasoning)'}",
            f"- model: {ad['pred_reasoning'] or '(no reasoning)'}",
            "",
        ]
    return lines


def agree_sections(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table of the agreement report."""
    coded = ", ".join(f"{name} {n}" for name, n in report["coded"].items())
    headline = [
        ["coders", str(len(report["coders"]))],
        ["ads (coded by each: " + coded + ")", str(len(report["ads"]))],
        ["presence Krippendorff alpha (nominal)", fmt(report["presence"]["alpha"])],
        [
            f"profile Fleiss kappa (n={report['profile']['n']})",
            fmt(report["profile"]["fleiss_kappa"]),
        ],
    ]
    per_category = [
        [f"{cat_id} {v['name']}", fmt(v["alpha"])]
        for cat_id, v in report["presence"]["per_category"].items()
    ]
    pairs = [
        [
            p["a"],
            p["b"],
            str(p["n_ads"]),
            fmt(p["quote_partial_f1"]),
            f"{fmt(p['profile_agreement'])} (n={p['profile_n']})",
        ]
        for p in report["pairwise"]
    ]
    return [
        ("Reliability", ["", "value"], headline),
        ("Presence alpha per category", ["category", "alpha"], per_category),
        (
            "Pairwise (ads both coded)",
            ["a", "b", "ads", "quote partial F1", "profile agreement"],
            pairs,
        ),
    ]
