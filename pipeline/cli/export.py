"""`autocode export`: coding sets and their ads as a REFI-QDA project (.qdpx)."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import (
    NewFile,
    PathArg,
    codebook_option,
    offset_units,
    table_fields,
    table_options,
    warn,
)


def _coder_pair(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name.strip() or not path:
        raise click.BadParameter(f"{value!r} is not NAME=PATH")
    if not Path(path).exists():
        raise click.BadParameter(f"{path}: no such file or folder")
    return name.strip(), Path(path)


@click.command("export")
@click.argument("codings", nargs=-1, type=PathArg)
@click.option("--ads", required=True, type=PathArg, help="The coded ads (folder, .jsonl or .csv).")
@click.option("--qdpx", "qdpx_path", required=True, type=NewFile, help="The .qdpx file to write.")
@click.option(
    "--coder",
    "coders",
    multiple=True,
    metavar="NAME=PATH",
    help="A coding set and the coder (QDA user) it is shown as; repeatable.",
)
@click.option(
    "--offsets",
    type=offset_units,
    default="codepoints",
    show_default=True,
    help="What selection positions count: Unicode code points, or UTF-16 code units.",
)
@table_options
@codebook_option
def command(
    codings: tuple[Path, ...],
    ads: Path,
    qdpx_path: Path,
    coders: tuple[str, ...],
    offsets: str,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Write coding sets and their ads as one REFI-QDA project (.qdpx) for QDA software.

    CODINGS are coding sets: OUT folders of `autocode code` (their codings.jsonl),
    codings.jsonl files, folders of gold or draft *.md codings, single .md files.
    Each set becomes a user: the --coder name, else the model that drafted it, else
    its folder name. Each quote becomes a coded selection at its place in the ad;
    quotes not found in their ad are left out and counted.

    \b
    Example:
      autocode export drafts/ gold/ --ads raw/ --qdpx study.qdpx
      autocode export --coder model=drafts/ --coder anna=gold/ --ads raw/ --qdpx study.qdpx
    """
    from datetime import UTC, datetime

    from pipeline.codebook import load_codebook
    from pipeline.qdpx.export import write_qdpx
    from pipeline.tables.corpus import AdStream
    from pipeline.tables.sets import open_sets, opened

    named = [_coder_pair(value) for value in coders]
    if not codings and not named:
        raise click.UsageError("give at least one coding set (CODINGS or --coder NAME=PATH)")
    book = load_codebook(codebook_path)
    stream = AdStream([ads], table_fields(id_field, text_fields))
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with opened(open_sets(list(codings), named, book)) as sets:
        ad_texts = (ad for ad, _ in stream.read(warn))
        summary = write_qdpx(qdpx_path, sets, ad_texts, book, offsets, created)
    _print_summary(qdpx_path, summary)


def _print_summary(path: Path, summary) -> None:
    warn(
        f"wrote {path}: {summary.sources} sources, {summary.codes} codes, "
        f"{summary.users} coder(s), {summary.selections} quote selections, "
        f"{summary.tool_selections} tool selections, {summary.source_codings} tools "
        f"coded on the whole source (not named in the ad)"
    )
    for coder, ad_id, quote in summary.not_exported:
        warn(f"not exported, not found in ad {ad_id} ({coder}, {quote.category}): {quote.text!r}")
    for coder, ad_id in summary.without_ad:
        warn(f"not exported, ad {ad_id!r} is not among the ads ({coder})")
    for coder, _ad, quote, where in summary.duplicates:
        warn(
            f"{where}: listed twice under {quote.category} ({coder}), exported once: {quote.text!r}"
        )
    if summary.not_exported:
        warn(f"{len(summary.not_exported)} ungrounded quote(s) not exported")
