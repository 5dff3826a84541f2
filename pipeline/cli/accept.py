"""`autocode accept`: corrected drafts into the gold folder."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import (
    ExistingFile,
    Folder,
    PathArg,
    codebook_option,
    table_fields,
    table_options,
)
from pipeline.errors import InputError


@click.command("accept")
@click.argument("drafts", nargs=-1, required=True, type=ExistingFile)
@click.option(
    "--gold",
    required=True,
    type=Folder,
    help="Gold folder: each draft is written there as <id>.md.",
)
@click.option(
    "--ads",
    type=PathArg,
    help="The ads (folder, .jsonl or .csv): every quote must be found in its ad.",
)
@table_options
@codebook_option
def command(
    drafts: tuple[Path, ...],
    gold: Path,
    ads: Path | None,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Check corrected drafts and write them into the gold folder, without review notes.

    A draft must parse, use only categories and profiles of the codebook, name a
    profile and, with --ads, quote only passages found in its ad. Every problem is
    printed as file:line: message; with any problem nothing is written (exit 2).
    A gold file of the same name is replaced.

    \b
    Example:
      autocode accept drafts/769_klm.md --gold gold/ --ads raw/
    """
    from pipeline.codebook import load_codebook
    from pipeline.review.accept import check_drafts, write_gold

    book = load_codebook(codebook_path)
    results = check_drafts(list(drafts), book, ads, table_fields(id_field, text_fields))
    for line in [w for r in results for w in r.warnings] + [p for r in results for p in r.problems]:
        click.echo(line, err=True)
    if any(r.problems for r in results):
        raise InputError(f"nothing written to {gold}")
    replaced = {r.source.stem for r in results if (gold / f"{r.source.stem}.md").exists()}
    for path in write_gold(results, gold, book):
        click.echo(f"autocode: {'replaced' if path.stem in replaced else 'wrote'} {path}", err=True)
