"""The charts of `autocode stats` as inline SVG, drawn by matplotlib from the report's tables.

Figures are made with `matplotlib.figure.Figure` (no pyplot, so no GUI backend and no
global state) and saved as SVG with text kept as text. Each chart's element ids are
prefixed with its name, so several charts can live in one HTML page without clashing.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from pipeline.codebook import Codebook
from pipeline.stats.tables import Row

WIDTH = 9.0  # inches
CHART_MAX_GROUPS = 40  # rows of a breakdown heatmap; the table has them all
ANNOTATE_CELLS = 200  # a bigger heatmap is read by colour (its table has the numbers)
if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.size": 9,
    "font.family": "DejaVu Sans",
    "axes.spines.top": False,
    "axes.spines.right": False,
}
PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#72b7b2"]  # per group
# no date (the same input gives the same file) and no RDF block naming web addresses
NO_METADATA = {"Date": None, "Format": None, "Type": None, "Creator": None}
ID_ATTR = re.compile(r'\bid="([^"]+)"')
ID_REF = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')
HASHED_ID = re.compile(r"[a-z][0-9a-f]{10}")


def styled(chart: Callable[..., str]) -> Callable[..., str]:
    """Draw the chart under the house style (rcParams are read as artists are made)."""

    @functools.wraps(chart)
    def draw(*args, **kwargs) -> str:
        with matplotlib.rc_context(RC):
            return chart(*args, **kwargs)

    return draw


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an SVG element for inlining: no XML prolog, ids unique and stable."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": name}):
        fig.savefig(buffer, format="svg", metadata=NO_METADATA)
    svg = buffer.getvalue()
    return _renamed_ids(svg[svg.index("<svg") :], name).replace(
        "<svg ", f'<svg role="img" aria-labelledby="{name}-title" ', 1
    )


def _renamed_ids(svg: str, name: str) -> str:
    """Every id and reference to it, prefixed with the chart's name. Hashed ids (clip paths,
    markers) are numbered in order instead: matplotlib hashes some from object addresses,
    which differ from run to run."""
    ids: dict[str, str] = {}
    for old in ID_ATTR.findall(svg):
        hashed = HASHED_ID.fullmatch(old)
        ids[old] = f"{name}-{old[0]}{len(ids)}" if hashed else f"{name}-{old}"
    return ID_REF.sub(lambda m: m[1] + ids.get(m[2], m[2]), svg)


def _figure(height: float) -> Figure:
    return Figure(figsize=(WIDTH, max(1.6, height)), layout="constrained")


def _whiskers(rows: Sequence[Row]) -> np.ndarray:
    low = [_num(r["share"]) - _num(r["ci_low"]) for r in rows]
    high = [_num(r["ci_high"]) - _num(r["share"]) for r in rows]
    return np.array([low, high])


def _num(value) -> float:
    return float("nan") if value is None else float(value)


def _bars(ax, labels: Sequence[str], rows: Sequence[Row], colour) -> None:
    y = np.arange(len(rows))
    shares = [_num(r["share"]) for r in rows]
    ax.barh(
        y,
        shares,
        color=colour,
        height=0.6,
        xerr=_whiskers(rows),
        error_kw={"ecolor": "#333", "capsize": 2, "lw": 0.8},
        label="coded (Wilson 95%)",
    )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))


@styled
def prevalence_chart(
    categories: Sequence[Row], book: Codebook, corrected: Sequence[Row] | None = None
) -> str:
    """Horizontal bars with Wilson whiskers, one panel per part; corrected values beside."""
    parts = [p for p in book.parts if any(r["part"] == p.id for r in categories)]
    sizes = [sum(r["part"] == p.id for r in categories) for p in parts]
    fig = _figure(0.9 + 0.24 * sum(sizes) + 0.4 * len(parts))
    axes = fig.subplots(len(parts), 1, sharex=True, height_ratios=sizes, squeeze=False)[:, 0]
    fixed = {r["category"]: r for r in corrected or []}
    for ax, part in zip(axes, parts, strict=True):
        rows = [r for r in categories if r["part"] == part.id]
        groups = list(dict.fromkeys(str(r["group"]) for r in rows))
        colours = [PALETTE[groups.index(str(r["group"])) % len(PALETTE)] for r in rows]
        _bars(ax, [f"{r['category']} {r['name']}" for r in rows], rows, colours)
        ax.set_title(f"{part.id}. {part.title}", loc="left", fontsize=9)
        if corrected is not None:
            _corrected_marks(ax, [fixed.get(str(r["category"]), {}) for r in rows])
    if corrected is not None:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper right", fontsize=7)
    axes[-1].set_xlabel("share of ads")
    return to_svg(fig, "chart-prevalence")


def _corrected_marks(ax, rows: Sequence[Row]) -> None:
    y = np.arange(len(rows)) + 0.32
    value = np.array([_num(r.get("corrected")) for r in rows])
    low = value - np.array([_num(r.get("corrected_low")) for r in rows])
    high = np.array([_num(r.get("corrected_high")) for r in rows]) - value
    ax.errorbar(
        value,
        y,
        xerr=[low, high],
        fmt="D",
        ms=3,
        color="#e45756",
        lw=0.8,
        capsize=2,
        label="corrected (Rogan-Gladen, bootstrap 95%)",
    )


@styled
def profiles_chart(profiles: Sequence[Row]) -> str:
    fig = _figure(0.8 + 0.3 * len(profiles))
    ax = fig.subplots()
    _bars(ax, [str(r["profile"]) for r in profiles], profiles, "#72b7b2")
    ax.set_xlabel("share of ads with a profile")
    return to_svg(fig, "chart-profiles")


@styled
def tools_chart(tools: Sequence[Row]) -> str:
    fig = _figure(0.8 + 0.22 * len(tools))
    ax = fig.subplots()
    _bars(ax, [str(r["name"]) for r in tools], tools, "#f58518")
    ax.set_xlabel("share of ads naming the tool")
    return to_svg(fig, "chart-tools")


def _heatmap(ax, matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], **style):
    image = ax.imshow(np.ma.masked_invalid(matrix), aspect="auto", **style)
    ax.set_xticks(range(len(cols)), cols, rotation=90)
    ax.set_yticks(range(len(rows)), rows)
    ax.spines[:].set_visible(False)
    return image


def _annotate(ax, shares: np.ndarray) -> None:
    """Each cell's share in whole percent, white on the darker cells."""
    for (i, j), value in np.ndenumerate(shares):
        if not np.isnan(value):
            ax.text(
                j,
                i,
                f"{100 * value:.0f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if value > 0.6 else "#1d2330",
            )


@styled
def crosstab_chart(rows: Sequence[Row], key: str, name: str) -> str:
    """Levels (profiles, industries…) x categories: share of the level's ads coding it."""
    levels = list(dict.fromkeys(str(r[key]) for r in rows if r[f"{key}_ads"]))
    levels = levels[:CHART_MAX_GROUPS]
    cats = list(dict.fromkeys(str(r["category"]) for r in rows))
    value = {(str(r[key]), str(r["category"])): _num(r["share"]) for r in rows}
    matrix = np.array([[value[(lv, c)] for c in cats] for lv in levels])
    fig = _figure(1.3 + 0.26 * len(levels))
    ax = fig.subplots()
    image = _heatmap(ax, matrix, levels, cats, cmap="Blues", vmin=0, vmax=1)
    if matrix.size <= ANNOTATE_CELLS:
        _annotate(ax, matrix)
    fig.colorbar(image, ax=ax, format=PercentFormatter(1.0), shrink=0.8, label="share of ads")
    return to_svg(fig, name)


@styled
def cooccurrence_chart(pairs: Sequence[Row], categories: Sequence[str]) -> str:
    """Phi of every pair of categories, symmetric, the diagonal left blank."""
    index = {c: i for i, c in enumerate(categories)}
    matrix = np.full((len(categories), len(categories)), np.nan)
    for r in pairs:
        i, j = index[str(r["category_a"])], index[str(r["category_b"])]
        matrix[i, j] = matrix[j, i] = _num(r["phi"])
    fig = _figure(WIDTH * 0.8)
    ax = fig.subplots()
    image = _heatmap(ax, matrix, categories, categories, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_aspect("equal")
    fig.colorbar(image, ax=ax, shrink=0.7, label="phi")
    return to_svg(fig, "chart-cooccurrence")


FOREST = {"naive": ("#999999", -0.25), "classical": ("#1f77b4", 0.0), "ppi++": ("#d62728", 0.25)}


@styled
def forest_chart(rows: Sequence[Row], categories: Sequence[str], caption: str) -> str:
    """Per category (overall rows of the inference table): the naive, classical and PPI++
    estimates with their 95% intervals, side by side."""
    fig = _figure(1.0 + 0.32 * len(categories))
    ax = fig.subplots()
    y = np.arange(len(categories))
    for method, (colour, offset) in FOREST.items():
        found = {str(r["target"]): r for r in rows if r["method"] == method and not r["group"]}
        picked = [found.get(c) for c in categories]
        est = np.array([_num(r["estimate"]) if r else np.nan for r in picked])
        low = np.array([_num(r["ci_low"]) if r else np.nan for r in picked])
        high = np.array([_num(r["ci_high"]) if r else np.nan for r in picked])
        ax.errorbar(
            est,
            y + offset,
            xerr=np.array([est - low, high - est]),
            fmt="o",
            ms=3,
            color=colour,
            elinewidth=1,
            capsize=2,
            label=method,
        )
    ax.set_yticks(y, categories)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(caption)
    ax.legend(loc="lower right", fontsize=7)
    return to_svg(fig, "chart-inference")
