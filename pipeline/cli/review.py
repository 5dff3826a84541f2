"""`autocode review`: a static site to read every draft beside its ad."""

from __future__ import annotations

import os
from pathlib import Path

import click

from pipeline.cli.options import (
    ExistingFile,
    ExistingFolder,
    Folder,
    PathArg,
    codebook_option,
    table_fields,
    table_options,
    warn,
)
from pipeline.errors import InputError


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
@click.option(
    "--ids",
    "ids_path",
    type=ExistingFile,
    help="Pages only for these ads: a list of ids (one per line) or a CSV with an ad_id "
    "column, such as `autocode sample`'s sample.csv. The index lists those ads; its charts "
    "count all.",
)
@click.option(
    "--limit",
    type=click.IntRange(0),
    help="Pages for the first N ads only (after --sort and --ids); with --serve, the "
    "editor's first N (of the queue, else of the drafts by --sort).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Serve the pages as an editor (a local web app) instead of writing a site: "
    "correct each draft and save it as gold into --gold. Stop with Ctrl-C.",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="--serve: address to listen on."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="--serve: port (0: any free port).",
)
@click.option("--no-browser", is_flag=True, help="--serve: do not open the browser.")
@click.option(
    "--coder",
    default=lambda: os.environ.get("USER") or "coder",
    show_default="$USER",
    help="--serve: your name, in the corrections log and the saved files.",
)
@click.option(
    "--blind",
    is_flag=True,
    help="--serve: code from the ad alone: no draft, no support, no gold shown.",
)
@click.option(
    "--queue",
    "queue_path",
    type=ExistingFile,
    help="--serve: the ads to code, in order: ids one per line or a CSV with an ad_id column "
    "(sample.csv); only these are read, so a large corpus opens at once. Default: every "
    "draft (or those of --ids, --limit), lowest agreement first.",
)
@table_options
@codebook_option
def command(
    out: Path,
    ads: Path | None,
    gold: Path | None,
    html: Path,
    sort: str,
    ids_path: Path | None,
    limit: int | None,
    serve: bool,
    host: str,
    port: int,
    no_browser: bool,
    coder: str,
    blind: bool,
    queue_path: Path | None,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Write a static site to read every draft beside its ad; prints the index page's path.

    OUT is the folder of `autocode code` (codings.jsonl, or the *.md drafts). Each
    ad page highlights the quotes in the ad, coloured by category, beside the coding;
    the index lists every ad with its flags, the run summary and two charts. The
    site needs no server or network: open index.html in a browser.

    With --serve, the same pages become an editor served on this machine (its first
    line on stdout is the URL, with the access token): keep, delete, recategorise or
    re-span each entry, add quotes by selecting text, set tools, profile and
    reasoning, and save each ad as gold into --gold, checked as `autocode accept`
    checks it. Work in progress is kept as you go; every save is logged in
    GOLD/corrections.jsonl, which `autocode eval` reports on.

    \b
    Example:
      autocode review drafts/ --ads raw/ --gold gold/ --html review/
      autocode review merged/ --ads raw/ --sort agreement
      xdg-open review/index.html
      autocode review drafts/ --ads raw/ --gold gold/ --serve
      autocode review drafts/ --ads raw/ --gold validation/ --serve --blind \
        --queue sample/sample.csv
    """
    from pipeline.codebook import load_codebook
    from pipeline.review.selection import Selection
    from pipeline.review.site import build_site, load_review, write_site
    from pipeline.review.workspace import read_queue

    book, fields = load_codebook(codebook_path), table_fields(id_field, text_fields)
    by_agreement = sort == "agreement"
    ids = read_queue(ids_path) if ids_path else None
    if serve:
        queue = read_queue(queue_path)[:limit] if queue_path else None  # only these are read
        chosen = Selection(ids, limit, by_agreement) if queue is None else Selection(queue)
        where = (host, port, not no_browser)
        _serve(out, ads, gold, book, fields, chosen, queue, coder, blind, where)
        return
    inp = load_review(out, ads, gold, book, fields, Selection(ids, limit, by_agreement))
    for problem in inp.problems:
        warn(problem)
    click.echo(write_site(build_site(inp, book, by_agreement), html))


def _serve(out, ads, gold, book, fields, chosen, queue, coder, blind, where) -> None:
    from pipeline.review.serve import serve
    from pipeline.review.session import make_session
    from pipeline.review.site import load_review
    from pipeline.review.workspace import Workspace

    if gold is None or ads is None:
        raise InputError("--serve needs --gold (where saved codings go) and --ads (the ad texts)")
    inp = load_review(out, ads, gold, book, fields, chosen)
    for problem in inp.problems:
        warn(problem)
    session = make_session(inp, book, Workspace(gold, book, coder, blind), queue)
    for problem in session.problems:
        warn(problem)
    if not session.queue:
        raise InputError(f"nothing to review: no ad of {inp.out} is in the queue")
    host, port, browser = where
    serve(session, host, port, browser, lambda url: click.echo(url))
