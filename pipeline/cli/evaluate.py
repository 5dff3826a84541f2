"""`autocode eval`: score predicted codings against gold codings."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli.options import (
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
    from pipeline.evaluation.evaluate import load_and_evaluate
    from pipeline.evaluation.render import print_report, write_json, write_markdown
    from pipeline.evaluation.scores import gate_failures

    book = load_codebook(codebook_path)
    fields = table_fields(id_field, text_fields)
    report = load_and_evaluate(gold, pred, ads, book, warn, n_boot, seed, fields)
    # Files first: a closed stdout (e.g. piped into head) must not cost the report.
    if json_path:
        write_json(report, json_path)
    if markdown_path:
        write_markdown(report, markdown_path)
    print_report(report, Console())
    failures = gate_failures(report, min_kappa) if min_kappa is not None else []
    for failure in failures:
        warn(f"--min-kappa: {failure}")
    if failures:
        sys.exit(1)
