"""The `autocode` command. Each subcommand's docstring is its --help.

Heavy modules are imported inside the commands so `autocode --help` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.errors import InputError


class Group(click.Group):
    """Turns InputError into one clear message and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"autocode: {exc}", err=True)
            sys.exit(2)


codebook_option = click.option(
    "--codebook",
    "codebook_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Codebook YAML (default: codebook.yaml of the project).",
)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autocode")
def main() -> None:
    """autocode: LLM-assisted coding of job ads against a codebook.

    \b
    Workflow:
      autocode code raw/ --out drafts/      draft a coding for every ad
      autocode review drafts/ --ads raw/    read drafts beside their ads
      autocode accept drafts/X.md --gold gold/
      autocode eval --gold gold/ --pred drafts/ --ads raw/
    """


@main.command("parse")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--ads",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of <stem>.txt ads: ground each quote and add its span.",
)
@codebook_option
def parse_cmd(files: tuple[Path, ...], ads: Path | None, codebook_path: Path | None) -> None:
    """Print one coding record per gold or draft Markdown file, as JSON lines.

    \b
    Example:
      autocode parse gold/*.md --ads raw/
    """
    from pipeline.codebook import load_codebook
    from pipeline.goldmd import read_coding_file
    from pipeline.grounding import ground

    book = load_codebook(codebook_path)
    failed = False
    for path in files:
        try:
            coding = read_coding_file(path, book)
        except InputError as exc:
            click.echo(f"autocode: {exc}", err=True)
            failed = True
            continue
        ad_file = ads / f"{path.stem}.txt" if ads else None
        if ad_file and ad_file.exists():
            coding = ground(coding, ad_file.read_text(encoding="utf-8"))
        elif ad_file:
            click.echo(f"autocode: {path}: no ad text at {ad_file}; quotes left ungrounded", err=True)
        click.echo(coding.model_dump_json())
    if failed:
        sys.exit(2)
