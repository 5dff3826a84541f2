"""`autocode stats`: the tables and charts a study reports, from a coded corpus."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import (
    ExistingFile,
    Folder,
    PathArg,
    codebook_option,
    id_field_option,
    warn,
)


@click.command("stats")
@click.argument("codings", nargs=-1, required=True, type=PathArg)
@click.option(
    "--ads",
    type=PathArg,
    help="The ads table (.jsonl or .csv) whose columns --by groups by, e.g. ads.jsonl.",
)
@id_field_option
@click.option(
    "--out",
    type=Folder,
    default=Path("stats"),
    show_default=True,
    help="Folder for the CSV tables, stats.json and index.html.",
)
@click.option(
    "--by",
    multiple=True,
    metavar="COLUMN[:month|:year]",
    help="Prevalence per value of this ads-table column, with a chi-square test across them; "
    "a date column by month or year (repeatable).",
)
@click.option(
    "--validated",
    type=ExistingFile,
    help="An `autocode eval --json` report of this model against a gold sample: adds the "
    "prevalence corrected for the model's sensitivity and specificity.",
)
@click.option(
    "--top",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Tools listed overall, per tool category and per profile.",
)
@click.option(
    "--gold",
    type=PathArg,
    help="The human coding of the validation sample (folder of .md, codings.jsonl): adds "
    "the classical and PPI++ estimates (inference.csv).",
)
@click.option(
    "--sample",
    "sample_path",
    type=ExistingFile,
    help="The sample.json of `autocode sample` that --gold codes.",
)
@click.option(
    "--finite-population",
    is_flag=True,
    help="Estimate for this corpus (finite population correction) instead of the "
    "population it is drawn from.",
)
@click.option(
    "--cluster",
    metavar="COLUMN",
    help="An ads-table column (e.g. organisation) whose ads are not independent: "
    "cluster-robust standard errors.",
)
@codebook_option
def command(
    codings: tuple[Path, ...],
    ads: Path | None,
    id_field: str,
    out: Path,
    by: tuple[str, ...],
    validated: Path | None,
    top: int,
    gold: Path | None,
    sample_path: Path | None,
    finite_population: bool,
    cluster: str | None,
    codebook_path: Path | None,
) -> None:
    """Corpus statistics of coded ads: tables (CSV, JSON) and a page of charts.

    CODINGS are coding sets: an OUT folder of `autocode code` (its codings.jsonl,
    manifest and failures), a codings.jsonl, a folder of *.md codings or one .md.
    Written into --out: a CSV per table (categories, groups, parts, group_balance,
    profiles, profile_categories, profile_tests, cooccurrence, tools, …),
    stats.json with every table and the provenance, and index.html, which opens
    from disk with no network. Prints the page's path.

    With --gold and --sample (a human coding of the sample `autocode sample` drew),
    inference.csv gives each category's presence, part, group and profile share three
    ways: naive (the model alone), classical (the sample alone) and PPI++ (both; valid
    whatever the model's errors); with --by also differences.csv and group_tests.csv.

    \b
    Example:
      autocode stats drafts/ --ads ads.jsonl --by industry --by date_found:month \\
          --validated eval.json --out stats/
      autocode stats drafts/ --gold validation-gold/ --sample validation/sample.json
    """
    from pipeline.codebook import DEFAULT_CODEBOOK, load_codebook
    from pipeline.stats.inputs import Inference, load_stats_input
    from pipeline.stats.output import write_outputs
    from pipeline.stats.report import build_report

    book = load_codebook(codebook_path)
    inp = load_stats_input(
        list(codings),
        book,
        str(codebook_path or DEFAULT_CODEBOOK),
        ads,
        id_field,
        by,
        validated,
        top,
        Inference(gold, sample_path, finite_population, cluster),
    )
    try:
        report = build_report(inp)
    finally:
        if inp.corpus is not None:
            inp.corpus.close()
    for warning in report.provenance["warnings"]:
        warn(warning)
    click.echo(write_outputs(report, book, out))
