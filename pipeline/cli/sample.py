"""`autocode sample`: the validation sample a coder codes by hand, blind to the model."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.options import Folder, PathArg, codebook_option, id_field_option, warn


@click.command("sample")
@click.argument("codings", nargs=-1, required=True, type=PathArg)
@click.option("--n", "n", type=click.IntRange(1), required=True, help="Ads to sample.")
@click.option(
    "--out", type=Folder, required=True, help="Folder for sample.csv, sample.json and sheets/."
)
@click.option(
    "--design",
    default="srs",
    show_default=True,
    metavar="srs|stratified:COLUMN|confidence",
    help="Simple random sample; proportional allocation over an ads-table column "
    "(e.g. industry, date_found:month) or the drafted profile; or more ads where the model "
    "is unsure (needs a coding set made with --samples K).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draw.")
@click.option("--ads", type=PathArg, help="The ads table (.jsonl or .csv) for stratified:COLUMN.")
@id_field_option
@codebook_option
def command(
    codings: tuple[Path, ...],
    n: int,
    out: Path,
    design: str,
    seed: int,
    ads: Path | None,
    id_field: str,
    codebook_path: Path | None,
) -> None:
    """Draw the ads a coder validates by hand, blind to the model's codings.

    CODINGS are the model's codings of the corpus (OUT folders of `autocode code`,
    codings.jsonl files). Written into --out: sample.csv (ad_id, inclusion_probability,
    stratum), sample.json (the design, seed, every ad's inclusion probability and a hash
    of the codings, so `autocode stats --sample` can check it uses this draw) and
    sheets/<id>.md, a blank coding sheet per sampled ad. The same inputs and seed give the
    same sample. Code the sheets (or the ads, blind) into a gold folder, then run
    `autocode stats CODINGS --gold GOLD --sample OUT/sample.json`.

    \b
    Example:
      autocode sample drafts/ --n 60 --out validation/ --seed 7
      autocode sample drafts/ --n 60 --design stratified:industry --ads ads.jsonl --out v/
      autocode sample drafts-k5/ --n 60 --design confidence --out v/
    """
    from pipeline.codebook import load_codebook
    from pipeline.stats.draw import draw_sample

    book = load_codebook(codebook_path)
    path = draw_sample(list(codings), book, n, out, design, seed, ads, id_field)
    warn(f"sampled {n} ads ({design}, seed {seed}) into {path}")
