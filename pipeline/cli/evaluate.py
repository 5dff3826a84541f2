"""`autocode eval`: score predicted codings against gold codings."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli.options import (
    ExistingFile,
    ExistingFolder,
    PathArg,
    codebook_option,
    report_options,
    table_fields,
    table_options,
    warn,
)


@click.command("eval")
@click.option("--gold", required=True, type=ExistingFolder, help="Folder of gold <id>.md codings.")
@click.option(
    "--pred",
    required=True,
    type=PathArg,
    help="Folder of predicted <id>.md codings, or a codings.jsonl file.",
)
@click.option(
    "--ads",
    type=PathArg,
    help="The coded ads (folder, .jsonl or .csv, as `code` reads them): partial quote "
    "matching then uses character spans.",
)
@table_options
@report_options
@click.option(
    "--min-kappa",
    type=float,
    default=None,
    help="Exit 1 when profile kappa or presence macro kappa is below this (or undefined).",
)
@click.option(
    "--bootstrap",
    "n_boot",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Resamples of the paired ads for the 95% interval of each headline figure (0: none).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap resampling."
)
@click.option(
    "--corrections",
    "corrections_path",
    type=ExistingFile,
    help="The editor's corrections log (default: GOLD/corrections.jsonl when it exists): "
    "adds what coders changed in the drafts and their minutes per ad.",
)
@codebook_option
def command(
    gold: Path,
    pred: Path,
    ads: Path | None,
    id_field: str,
    text_fields: tuple[str, ...],
    json_path: Path | None,
    markdown_path: Path | None,
    min_kappa: float | None,
    n_boot: int,
    seed: int,
    corrections_path: Path | None,
    codebook_path: Path | None,
) -> None:
    """Score predicted codings against gold codings: profile, quotes, presence, tools.

    Ads pair by id (file stem, or the ad_id of a JSON line); unpaired ids are
    listed and left out of the metrics. Tables go to stdout, headline first, each
    headline figure with its 95% bootstrap interval over the paired ads.

    \b
    Example:
      autocode eval --gold gold/ --pred drafts/ --ads raw/ \\
          --json eval.json --markdown eval.md --min-kappa 0.6
    """
    from rich.console import Console

    from pipeline.codebook import load_codebook
    from pipeline.evaluation.edits import edit_report
    from pipeline.evaluation.evaluate import load_and_evaluate
    from pipeline.evaluation.render import print_report, write_json, write_markdown
    from pipeline.evaluation.scores import gate_failures
    from pipeline.store import read_records

    book = load_codebook(codebook_path)
    fields = table_fields(id_field, text_fields)
    report = load_and_evaluate(gold, pred, ads, book, warn, n_boot, seed, fields)
    log = corrections_path or gold / "corrections.jsonl"
    if log.exists():
        report["edits"] = edit_report(read_records(log), str(log))
    # Files first: a closed stdout (e.g. piped into head) must not cost the report.
    if json_path:
        write_json(report, json_path)
    if markdown_path:
        write_markdown(report, markdown_path)
    print_report(report, Console())
    if "edits" in report:
        print_edits(report["edits"], Console())
    failures = gate_failures(report, min_kappa) if min_kappa is not None else []
    for failure in failures:
        warn(f"--min-kappa: {failure}")
    if failures:
        sys.exit(1)


def print_edits(report: dict, console) -> None:
    from rich.table import Table

    from pipeline.evaluation.edits import category_rows, edit_rows

    table = Table(title=f"Corrections ({report['source']})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in edit_rows(report):
        table.add_row(label, value)
    console.print(table)
    per = Table(title="Corrections per draft category")
    for name in ("category", "draft entries", "kept", "modified", "deleted", "added"):
        per.add_column(name, justify="left" if name == "category" else "right")
    for cells in category_rows(report):
        per.add_row(*cells)
    console.print(per)
