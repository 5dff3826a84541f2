"""The files of `autocode stats`: one CSV per table, stats.json and a static index.html.

The page opens from disk with no network: its charts are inline SVG and it has no script
at all (its Content-Security-Policy forbids every fetch and every script). jinja2
autoescaping is on, so a category, profile or tool name is always shown as text.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from markupsafe import Markup

from pipeline.codebook import Codebook
from pipeline.resources import packaged, page_templates
from pipeline.stats.charts import (
    CHART_MAX_GROUPS,
    cooccurrence_chart,
    crosstab_chart,
    forest_chart,
    prevalence_chart,
    profiles_chart,
    tools_chart,
)
from pipeline.stats.report import Report
from pipeline.stats.tables import Table
from pipeline.store import atomic_write_text

TEMPLATES = packaged("stats/templates")
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
FOLD_ROWS = 40  # longer tables are folded in a <details> on the page
PERCENT = {
    "share",
    "ci_low",
    "ci_high",
    "corrected",
    "corrected_low",
    "corrected_high",
    "a_dominates",
    "b_dominates",
    "ties",
    "sensitivity",
    "specificity",
}


# ------------------------------------------------------------------ CSV and JSON


def csv_text(table: Table) -> str:
    """The table as CSV: a header, then one line per row; None is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if table.rows:
        writer.writerow(table.columns)
        writer.writerows([["" if v is None else v for v in row.values()] for row in table.rows])
    return buffer.getvalue()


def json_text(report: Report) -> str:
    data = {"provenance": report.provenance, "tables": {t.name: t.rows for t in report.tables}}
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


# ------------------------------------------------------------------ page


def _cell(column: str, value) -> dict:
    if value is None:
        return {"text": "–", "num": True}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return {"text": str(value), "num": False}
    if isinstance(value, int):
        return {"text": f"{value:,}", "num": True}
    if column in PERCENT:
        return {"text": f"{100 * value:.1f}%", "num": True}
    if column in ("p_value", "fisher_p"):
        return {"text": "< 0.001" if value < 0.001 else f"{value:.3f}", "num": True}
    return {"text": f"{value:.3f}", "num": True}


def _view(table: Table) -> dict:
    return {
        "name": table.name,
        "title": table.title,
        "description": table.description,
        "columns": table.columns,
        "rows": table.rows,
        "cells": [[_cell(c, v) for c, v in row.items()] for row in table.rows],
    }


def _chart(name: str, caption: str, svg: str) -> dict:
    return {"name": name, "caption": caption, "svg": Markup(svg)}


def _section(sid: str, title: str, charts: list[dict], tables: list[Table]) -> dict:
    return {"id": sid, "title": title, "charts": charts, "tables": [_view(t) for t in tables]}


def _has(report: Report, name: str) -> bool:
    return any(t.name == name for t in report.tables)


def _prevalence_section(report: Report, book: Codebook) -> dict:
    corrected = report.table("corrected").rows if _has(report, "corrected") else None
    caption = "Share of ads coding each category, with Wilson 95% intervals, by part"
    if corrected is not None:
        caption += "; red diamonds: prevalence corrected for the model's measured error"
    names = ["categories", "corrected", "groups", "parts", "group_balance"]
    chart = prevalence_chart(report.table("categories").rows, book, corrected)
    return _section(
        "prevalence",
        "Prevalence",
        [_chart("chart-prevalence", caption, chart)],
        [report.table(n) for n in names if _has(report, n)],
    )


def _any_level(rows, key: str) -> bool:
    """Whether a crosstab has a level with ads (none: no chart, e.g. codings with no profile)."""
    return any(r[f"{key}_ads"] for r in rows)


def _profile_section(report: Report) -> dict:
    crosstab = report.table("profile_categories").rows
    charts = [
        _chart(
            "chart-profiles",
            "Profile distribution (Wilson 95% intervals)",
            profiles_chart(report.table("profiles").rows),
        ),
    ]
    if _any_level(crosstab, "profile"):
        charts.append(
            _chart(
                "chart-profile-categories",
                "Profile x category: share of each profile's ads coding the category",
                crosstab_chart(crosstab, "profile", "chart-profile-categories"),
            )
        )
    names = ["profiles", "profile_categories", "profile_tests"]
    return _section("profiles", "Profiles", charts, [report.table(n) for n in names])


def _cooccurrence_section(report: Report, book: Codebook) -> dict:
    chart = cooccurrence_chart(report.table("cooccurrence").rows, list(book.categories))
    caption = "Category co-occurrence: phi of every pair of categories (ids; names in the table)"
    return _section(
        "cooccurrence",
        "Category co-occurrence",
        [_chart("chart-cooccurrence", caption, chart)],
        [report.table("cooccurrence")],
    )


def _tools_section(report: Report) -> dict:
    top = report.table("tools")
    charts = (
        [
            _chart(
                "chart-tools",
                f"{top.title}: share of ads naming each (Wilson 95%)",
                tools_chart(top.rows),
            )
        ]
        if top.rows
        else []
    )
    names = ["tools", "tools_by_category", "tools_by_profile", "tool_cooccurrence"]
    return _section("tools", "Tools", charts, [report.table(n) for n in names])


def _breakdown_sections(report: Report) -> list[dict]:
    sections = []
    for by in report.provenance["by"]:
        table, name = report.table(f"by_{by}"), f"chart-by-{by}"
        caption = (
            f"Share of ads coding each category, per {by} (the {CHART_MAX_GROUPS} "
            "first groups of the table)"
        )
        charts = []
        if _any_level(table.rows, by):
            charts.append(_chart(name, caption, crosstab_chart(table.rows, by, name)))
        sections.append(
            _section(
                f"by-{by}",
                f"By {by}",
                charts,
                [table, report.table(f"by_{by}_tests")],
            )
        )
    return sections


def _inference_section(report: Report, book: Codebook) -> list[dict]:
    """The estimates with the validation sample, when there is one: a forest plot of the
    categories' naive, classical and PPI++ intervals, and the tables."""
    if not _has(report, "inference"):
        return []
    inference = report.provenance["inference"]
    n_gold = len(inference["sampled_without_gold"])
    design = (
        f"design {inference['design']}, {inference['n_sampled'] - n_gold} validated ads of "
        f"{report.provenance['ads']}, estimand: the {inference['estimand']}"
    )
    chart = forest_chart(report.table("inference").rows, list(book.categories), design)
    caption = (
        f"Share of ads coding each category: naive, classical and PPI++ 95% intervals ({design})"
    )
    names = [n for n in ("inference", "differences", "group_tests") if _has(report, n)]
    tables = [report.table(n) for n in names]
    return [_section("inference", "Estimates", [_chart("chart-inference", caption, chart)], tables)]


def page_html(report: Report, book: Codebook) -> str:
    sections = [
        *_inference_section(report, book),
        _prevalence_section(report, book),
        _profile_section(report),
        _cooccurrence_section(report, book),
        _tools_section(report),
        *_breakdown_sections(report),
    ]
    env = page_templates(TEMPLATES)
    css = Markup((TEMPLATES / "stats.css").read_text(encoding="utf-8"))
    return env.get_template("index.html.j2").render(
        prov=report.provenance, sections=sections, css=css, csp=CSP, fold_rows=FOLD_ROWS
    )


def write_outputs(report: Report, book: Codebook, out: Path) -> Path:
    """Every CSV, stats.json and index.html into `out` (each atomically); the page's path."""
    out = Path(out)
    for table in report.tables:
        atomic_write_text(out / f"{table.name}.csv", csv_text(table))
    atomic_write_text(out / "stats.json", json_text(report))
    atomic_write_text(out / "index.html", page_html(report, book))
    return out / "index.html"
