"""`autocode import`: a REFI-QDA project (.qdpx) back as gold Markdown codings."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import (
    ExistingFile,
    Folder,
    codebook_option,
    offset_units,
    warn,
)
from pipeline.errors import InputError


@click.command("import")
@click.argument("qdpx_path", metavar="FILE.qdpx", type=ExistingFile)
@click.option("--out", required=True, type=Folder, help="Folder for one gold <id>.md per source.")
@click.option(
    "--coder",
    "coders",
    multiple=True,
    metavar="NAME",
    help="The user whose codings to read (default: the only one); repeat to merge several.",
)
@click.option(
    "--skip-unknown",
    is_flag=True,
    help="Skip codings of codes that are not codebook categories, with a warning.",
)
@click.option(
    "--offsets",
    type=offset_units,
    help="What selection positions count (default: what autocode recorded, else code points).",
)
@codebook_option
def command(
    qdpx_path: Path,
    out: Path,
    coders: tuple[str, ...],
    skip_unknown: bool,
    offsets: str | None,
    codebook_path: Path | None,
) -> None:
    """Read a REFI-QDA project (.qdpx) back as gold codings, one <id>.md per text source.

    The file may come from `autocode export` or from QDA software after correction.
    Codes map to categories by the id their name starts with, else by name; a
    selection's text becomes a quote, its description the note; the "Profile"
    variable gives the profile, the source's note the reasoning. The files are
    in the gold format: `autocode parse`, `accept` and `eval` read them.

    \b
    Example:
      autocode import corrected.qdpx --out gold/ --coder anna
      autocode eval --gold gold/ --pred drafts/ --ads raw/
    """
    from pipeline.codebook import load_codebook
    from pipeline.qdpx.importer import import_codings, write_gold_files
    from pipeline.qdpx.read import read_qdpx

    book = load_codebook(codebook_path)
    imported = import_codings(read_qdpx(qdpx_path), book, list(coders), offsets, skip_unknown)
    for warning in imported.warnings:
        warn(warning)
    if not imported.codings:
        raise InputError(f"{qdpx_path}: no text source holds a coding of the chosen coder(s)")
    written = write_gold_files(imported.codings, book, out)
    warn(f"wrote {len(written)} gold file(s) into {out}")
