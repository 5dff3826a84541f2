"""`autocode agree`: reliability among several coding sets."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import (
    PathArg,
    codebook_option,
    report_options,
    table_fields,
    table_options,
    warn,
)
from pipeline.errors import InputError


@click.command("agree")
@click.argument("codings", nargs=-1, required=True, type=PathArg)
@click.option(
    "--ads",
    type=PathArg,
    help="The ads (folder, .jsonl or .csv): partial quote matching then uses character spans.",
)
@report_options
@table_options
@codebook_option
def command(
    codings: tuple[Path, ...],
    ads: Path | None,
    json_path: Path | None,
    markdown_path: Path | None,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Reliability among two or more sets of codings of the same ads.

    CODINGS are OUT folders, codings.jsonl files or folders of .md codings (coders,
    models or runs). Reports Krippendorff's alpha (nominal; an ad a coder did not code
    is missing, not absent) over ad x category presence, overall and per category;
    Fleiss' kappa for the profile; and for every pair, quote partial F1 and profile
    agreement over the ads both coded.

    \b
    Example:
      autocode agree coder-a/ coder-b/ drafts/codings.jsonl --ads raw/ --json agree.json
    """
    from rich.console import Console

    from pipeline.codebook import load_codebook
    from pipeline.coding.inputs import read_ad_texts
    from pipeline.codings.merge import load_sets
    from pipeline.evaluation.reliability import agree
    from pipeline.evaluation.render import agree_sections, markdown_tables, print_tables, write_json
    from pipeline.store import atomic_write_text

    if len(codings) < 2:
        raise InputError("agree needs at least two sets of codings")
    book = load_codebook(codebook_path)
    sets = load_sets(codings, book)
    texts = read_ad_texts(ads, table_fields(id_field, text_fields), warn) if ads else None
    report = agree(sets, book, texts)
    tables = agree_sections(report)
    if json_path:
        write_json(report, json_path)
    if markdown_path:
        atomic_write_text(markdown_path, "\n".join(["# Reliability", "", *markdown_tables(tables)]))
    print_tables(tables, Console())
