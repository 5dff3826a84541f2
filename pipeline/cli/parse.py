"""`autocode parse`: gold or draft Markdown files as coding records (JSON lines)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli.options import ExistingFolder, PathArg, codebook_option, warn


@click.command("parse")
@click.argument("files", nargs=-1, required=True, type=PathArg)
@click.option(
    "--ads",
    type=ExistingFolder,
    help="Folder of <stem>.txt ads: ground each quote and add its span.",
)
@codebook_option
def command(files: tuple[Path, ...], ads: Path | None, codebook_path: Path | None) -> None:
    """Print one coding record per gold or draft Markdown file, as JSON lines.

    A line that cannot be placed is a warning (file:line, also in the record's
    `warnings`) and the rest of the file is read; a file with no coding in it is an error.

    \b
    Example:
      autocode parse gold/*.md --ads raw/
    """
    from pipeline.codebook import load_codebook
    from pipeline.errors import InputError
    from pipeline.goldmd.parse import read_coding_file
    from pipeline.grounding import ground

    book = load_codebook(codebook_path)
    failed = False
    for path in files:
        try:
            coding = read_coding_file(path, book)
        except InputError as exc:
            warn(str(exc))
            failed = True
            continue
        for warning in coding.warnings:  # a line that could not be placed; the rest is read
            warn(warning)
        ad_file = ads / f"{path.stem}.txt" if ads else None
        if ad_file and ad_file.exists():
            coding = ground(coding, ad_file.read_text(encoding="utf-8"))
        elif ad_file:
            warn(f"{path}: no ad text at {ad_file}; quotes left ungrounded")
        click.echo(coding.model_dump_json())
    if failed:
        sys.exit(2)
