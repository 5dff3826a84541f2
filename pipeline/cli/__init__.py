"""The `autocode` command: the click group, and the one mapping from error to exit status.

Each command lives in its own module here and imports its stage modules inside the
command, so `autocode --help` starts fast. No module outside this package imports click.
"""

from __future__ import annotations

import sys

import click

from pipeline.errors import AutocodeError


class Group(click.Group):
    """Turns every AutocodeError into one clear message and its exit status, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AutocodeError as exc:
            click.echo(f"autocode: {exc}", err=True)
            sys.exit(exc.exit_status)


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
      autocode stats drafts/ --ads ads.jsonl --by industry

    \b
    Several codings of the same ads:
      autocode code raw/ --samples 3        three samples per ad, and their consensus
      autocode merge A/ B/ C/ --out merged/ consensus of existing coding sets
      autocode agree A/ B/ C/               reliability among them
    """


def _register() -> None:
    from pipeline.cli import (
        accept,
        agree,
        batch,
        code,
        evaluate,
        export,
        import_qdpx,
        merge,
        parse,
        review,
        sample,
        stats,
    )

    commands = (parse, code, evaluate, batch, review, accept, export, import_qdpx, sample, stats)
    for module in (*commands, merge, agree):
        main.add_command(module.command)


_register()
