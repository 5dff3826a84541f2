"""`autocode export`: coding sets and their ads as a REFI-QDA project (.qdpx) for QDA
software, or as tidy tables (CSV or Parquet) for R, pandas, Polars or DuckDB."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import (
    Folder,
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
@click.option("--qdpx", "qdpx_path", type=NewFile, help="The .qdpx file to write.")
@click.option(
    "--table",
    "table_dir",
    type=Folder,
    help="Folder to write the tables entries and ads into (entries.csv and ads.csv, or "
    ".parquet; earlier ones are replaced).",
)
@click.option(
    "--format",
    "table_format",
    type=click.Choice(["csv", "parquet"]),
    help="The tables' format (--table).  [default: csv]",
)
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
    help="What the .qdpx's selection positions count: Unicode code points, or UTF-16 code "
    "units (the tables count code points).",
)
@table_options
@codebook_option
def command(
    codings: tuple[Path, ...],
    ads: Path,
    qdpx_path: Path | None,
    table_dir: Path | None,
    table_format: str | None,
    coders: tuple[str, ...],
    offsets: str,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Write coding sets and their ads as a REFI-QDA project (.qdpx) for QDA software, or as
    two long tables for R, pandas, Polars or DuckDB (or both).

    CODINGS are coding sets: OUT folders of `autocode code` (their codings.jsonl),
    codings.jsonl files, folders of gold or draft *.md codings, single .md files.
    Each set becomes a user (a coder) of the project, and the `run` of the tables' rows:
    the --coder name, else the model that drafted it, else its folder name.

    --qdpx: each quote becomes a coded selection at its place in the ad; quotes not found
    in their ad are left out and counted. --table DIR: DIR/entries (a row per quote or
    tool) and DIR/ads (a row per ad and coding set, with the ads table's own columns),
    as CSV or Parquet (--format). Both read the ads and codings one ad at a time.

    \b
    Example:
      autocode export drafts/ gold/ --ads raw/ --qdpx study.qdpx
      autocode export --coder model=drafts/ --coder anna=gold/ --ads raw/ --qdpx study.qdpx
      autocode export drafts/ --ads ads.jsonl --table tables/ --format parquet
    """
    from pipeline.codebook import load_codebook
    from pipeline.tables.corpus import AdStream
    from pipeline.tables.sets import open_sets, opened

    named = [_coder_pair(value) for value in coders]
    if not codings and not named:
        raise click.UsageError("give at least one coding set (CODINGS or --coder NAME=PATH)")
    if qdpx_path is None and table_dir is None:
        raise click.UsageError("give --qdpx FILE, --table DIR or both: what to write")
    if table_format is not None and table_dir is None:
        raise click.UsageError("--format is the format of the --table tables; give --table DIR")
    book = load_codebook(codebook_path)
    stream = AdStream([ads], table_fields(id_field, text_fields))
    with opened(open_sets(list(codings), named, book)) as sets:
        if qdpx_path is not None:
            _write_qdpx(qdpx_path, sets, stream, book, offsets)
        if table_dir is not None:
            from pipeline.tables.export import write_tables

            # the ads' problems are told once, by the first export that reads the ads
            told = warn if qdpx_path is None else _quiet
            done = write_tables(table_dir, table_format or "csv", sets, stream, book, told)
            _print_tables(done)


def _write_qdpx(path: Path, sets, stream, book, offsets: str) -> None:
    from datetime import UTC, datetime

    from pipeline.qdpx.export import write_qdpx

    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ad_texts = (ad for ad, _ in stream.read(warn))
    _print_summary(path, write_qdpx(path, sets, ad_texts, book, offsets, created))


def _quiet(_: str) -> None:
    return None


def _print_summary(path: Path, summary) -> None:
    warn(
        f"wrote {path}: {summary.sources} sources, {summary.codes} codes, "
        f"{summary.users} coder(s), {summary.selections} quote selections, "
        f"{summary.tool_selections} tool selections, {summary.source_codings} tools "
        f"coded on the whole source (not named in the ad)"
    )
    for coder, ad_id, quote in summary.not_exported:
        warn(f"not exported, not found in ad {ad_id} ({coder}, {quote.category}): {quote.text!r}")
    _print_without_ad(summary.without_ad)
    for coder, _ad, quote, where in summary.duplicates:
        warn(
            f"{where}: listed twice under {quote.category} ({coder}), exported once: {quote.text!r}"
        )
    if summary.not_exported:
        warn(f"{len(summary.not_exported)} ungrounded quote(s) not exported")


def _print_without_ad(without_ad: list[tuple[str, str]]) -> None:
    for coder, ad_id in without_ad:
        warn(f"not exported, ad {ad_id!r} is not among the ads ({coder})")


def _print_tables(summary) -> None:
    entries, ads = summary.paths
    sets = f"{summary.sets} coding set{'s' if summary.sets != 1 else ''}"
    warn(
        f"wrote {entries}: {summary.quotes + summary.tools} rows ({summary.quotes} quotes, "
        f"{summary.tools} tools); {ads}: {summary.ad_rows} rows ({summary.ads} ads × {sets}, "
        f"{summary.coded} with a coding)"
    )
    _print_without_ad(summary.without_ad)
