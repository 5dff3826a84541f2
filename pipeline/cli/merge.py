"""`autocode merge`: the consensus of existing coding sets."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import (
    Folder,
    PathArg,
    codebook_option,
    table_fields,
    table_options,
    warn,
)
from pipeline.errors import InputError


@click.command("merge")
@click.argument("codings", nargs=-1, required=True, type=PathArg)
@click.option(
    "--out", type=Folder, required=True, help="Folder for drafts, codings.jsonl, manifest.json."
)
@click.option(
    "--min-support",
    type=click.IntRange(1),
    help="Keep an entry coded by at least M of the sets [default: more than half of the sets "
    "that coded the ad].",
)
@click.option(
    "--ads",
    type=PathArg,
    help="The ads (folder, .jsonl or .csv): passages overlap on character spans, and the "
    "merged quotes get their spans.",
)
@table_options
@codebook_option
def command(
    codings: tuple[Path, ...],
    out: Path,
    min_support: int | None,
    ads: Path | None,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Merge several codings of the same ads into their consensus, with support on every entry.

    CODINGS are OUT folders, codings.jsonl files or folders of .md codings: several
    models' drafts, or human coders and a model. Quotes of one category that overlap by
    at least half of the shorter are one entry; its support is how many sets have it.
    Tools merge by name and category; the profile is the plurality.

    \b
    Example:
      autocode merge drafts-gpt/ drafts-claude/ drafts-qwen/ --out merged/ --ads raw/
      autocode merge coder-a/ coder-b/ drafts/codings.jsonl --out merged/ --min-support 2
    """
    from pipeline.codebook import load_codebook
    from pipeline.coding.inputs import read_ad_texts
    from pipeline.codings.merge import (
        distinct_names,
        index_sets,
        manifest,
        merge_index,
        write_manifest,
        write_merge,
    )

    if len(codings) < 2:
        raise InputError("merge needs at least two sets of codings")
    book = load_codebook(codebook_path)
    if min_support is not None and min_support > len(codings):
        raise InputError(f"--min-support {min_support}: only {len(codings)} coding sets given")
    index = index_sets(codings, book)
    try:
        names = distinct_names(codings)
        texts = read_ad_texts(ads, table_fields(id_field, text_fields), warn) if ads else None
        merged = merge_index(index, names, book, min_support, texts)
        label = "consensus of " + ", ".join(names)
        counts = write_merge(out, merged, book, label, len(codings))
    finally:
        index.close()
    inputs = [(n, p, s.ads) for n, p, s in zip(names, codings, index.sets, strict=True)]
    write_manifest(out, manifest(inputs, counts, book, min_support))
    click.echo(
        f"autocode: merged {counts['ads']} ads from {len(names)} coding sets into {out}", err=True
    )
