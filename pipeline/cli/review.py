"""`autocode review`: a static site to read every draft beside its ad."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import (
    ExistingFolder,
    Folder,
    PathArg,
    codebook_option,
    table_fields,
    table_options,
    warn,
)


@click.command("review")
@click.argument("out", type=ExistingFolder)
@click.option(
    "--ads",
    type=PathArg,
    help="The ads that were coded (folder, .jsonl or .csv): shown with every quote highlighted.",
)
@click.option(
    "--gold",
    type=ExistingFolder,
    help="Folder of gold <id>.md codings: each quote is marked matched, missed or "
    "extra, as `autocode eval` matches them.",
)
@click.option(
    "--html",
    type=Folder,
    default=Path("review"),
    show_default=True,
    help="Folder for the site: index.html and a page per ad.",
)
@click.option(
    "--sort",
    type=click.Choice(["input", "agreement"]),
    default="input",
    show_default=True,
    help="Order of the index and of the previous/next links: as in OUT, or consensus drafts "
    "by agreement among their codings, lowest first (the index page can also sort so).",
)
@table_options
@codebook_option
def command(
    out: Path,
    ads: Path | None,
    gold: Path | None,
    html: Path,
    sort: str,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Write a static site to read every draft beside its ad; prints the index page's path.

    OUT is the folder of `autocode code` (codings.jsonl, or the *.md drafts). Each
    ad page highlights the quotes in the ad, coloured by category, beside the coding;
    the index lists every ad with its flags, the run summary and two charts. The
    site needs no server or network: open index.html in a browser.

    \b
    Example:
      autocode review drafts/ --ads raw/ --gold gold/ --html review/
      autocode review merged/ --ads raw/ --sort agreement
      xdg-open review/index.html
    """
    from pipeline.codebook import load_codebook
    from pipeline.review.site import build_site, load_review, write_site

    book = load_codebook(codebook_path)
    inp = load_review(out, ads, gold, book, table_fields(id_field, text_fields))
    for problem in inp.problems:
        warn(problem)
    click.echo(write_site(build_site(inp, book, by_agreement=sort == "agreement"), html))
