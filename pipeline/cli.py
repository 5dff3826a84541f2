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
            click.echo(
                f"autocode: {path}: no ad text at {ad_file}; quotes left ungrounded", err=True
            )
        click.echo(coding.model_dump_json())
    if failed:
        sys.exit(2)


@main.command("code")
@click.argument("ads", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("drafts"),
    show_default=True,
    help="Folder for drafts, codings.jsonl, failures.jsonl, manifest.json.",
)
@codebook_option
@click.option(
    "--model", help="Model name (default: gpt-4o-mini on OpenAI; the embedded GGUF offline)."
)
@click.option(
    "--mode",
    type=click.Choice(["tools", "json_schema", "json", "md_json"]),
    help="instructor mode (default: tools for OpenAI, json_schema for other servers).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Requests in flight (default: 1 embedded, 4 local server, 8 OpenAI).",
)
@click.option("--limit", type=click.IntRange(0), help="Code at most N ads not yet coded.")
@click.option("--refresh", is_flag=True, help="Ignore the cache and codings already in OUT.")
@click.option(
    "--max-retries",
    type=click.IntRange(0, 10),
    help="Re-asks when an answer fails validation, e.g. a quote not in the ad "
    "(default 2; 1 embedded).",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(64),
    help="Completion token limit (default 4096; 1024 embedded).",
)
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--timeout", type=float, help="Seconds per request (default 120; 600 embedded).")
@click.option(
    "--examples",
    "n_examples",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Few-shot examples from gold codings (never the ad being coded).",
)
@click.option(
    "--examples-gold",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gold"),
    show_default=True,
    help="Gold codings for --examples.",
)
@click.option(
    "--examples-ads",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("raw"),
    show_default=True,
    help="Ad texts (<id>.txt) of those gold codings.",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".autocode-cache"),
    show_default=True,
    help="LLM exchange cache.",
)
@click.option(
    "--prices",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Price table YAML (default: the bundled one, or AUTOCODE_PRICES).",
)
@click.option("--id-field", default="id", show_default=True, help="Id column of .jsonl/.csv input.")
@click.option(
    "--text-field",
    "text_fields",
    multiple=True,
    help="Text column(s) of .jsonl/.csv input, joined by a blank line "
    "[default: title, description].",
)
@click.option(
    "--max-ad-chars",
    type=click.IntRange(100),
    default=20000,
    show_default=True,
    help="Longer ads are truncated, with a warning in their record.",
)
def code_cmd(**options) -> None:
    """Draft a coding for every ad with an LLM.

    ADS are folders of .txt/.md/.html ads (id = file stem) or .jsonl/.csv files.
    Backend: OPENAI_BASE_URL (any OpenAI-compatible server), else OPENAI_API_KEY
    (OpenAI), else the embedded local model. Re-running resumes: ads already coded
    are skipped and cached exchanges cost no call.

    \b
    Example:
      autocode code raw/ --out drafts/
      OPENAI_API_KEY=... autocode code ads.jsonl --model gpt-4o-mini --concurrency 16
    """
    from pipeline.code_command import code_command

    sys.exit(code_command(**options))


@main.command("eval")
@click.option(
    "--gold",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of gold <id>.md codings.",
)
@click.option(
    "--pred",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Folder of predicted <id>.md codings, or a codings.jsonl file.",
)
@click.option(
    "--ads",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of <id>.txt ads: partial quote matching then uses character spans.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as JSON here.",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as Markdown here.",
)
@click.option(
    "--min-kappa",
    type=float,
    default=None,
    help="Exit 1 when profile kappa or presence macro kappa is below this (or undefined).",
)
@codebook_option
def eval_cmd(
    gold: Path,
    pred: Path,
    ads: Path | None,
    json_path: Path | None,
    markdown_path: Path | None,
    min_kappa: float | None,
    codebook_path: Path | None,
) -> None:
    """Score predicted codings against gold codings: profile, quotes, presence, tools.

    Ads pair by id (file stem, or the ad_id of a JSON line); unpaired ids are
    listed and left out of the metrics. Tables go to stdout, headline first.

    \b
    Example:
      autocode eval --gold gold/ --pred drafts/ --ads raw/ \\
          --json eval.json --markdown eval.md --min-kappa 0.6
    """
    from rich.console import Console

    from pipeline.codebook import load_codebook
    from pipeline.evaluate import gate_failures
    from pipeline.report import load_and_evaluate, markdown_report, print_report, write_json

    book = load_codebook(codebook_path)
    report = load_and_evaluate(
        gold, pred, ads, book, warn=lambda msg: click.echo(f"autocode: {msg}", err=True)
    )
    # Files first: a closed stdout (e.g. piped into head) must not cost the report.
    if json_path:
        write_json(report, json_path)
    if markdown_path:
        markdown_path.write_text(markdown_report(report), encoding="utf-8")
    print_report(report, Console())
    failures = gate_failures(report, min_kappa) if min_kappa is not None else []
    for failure in failures:
        click.echo(f"autocode: --min-kappa: {failure}", err=True)
    if failures:
        sys.exit(1)


from pipeline.batch_cli import batch  # noqa: E402 - the `autocode batch` group (OpenAI Batch API)

main.add_command(batch)


id_field_option = click.option(
    "--id-field", default="id", show_default=True, help="Id column of .jsonl/.csv ads."
)
text_field_option = click.option(
    "--text-field",
    "text_fields",
    multiple=True,
    help="Text column(s) of .jsonl/.csv ads, as given to `autocode code` "
    "[default: title, description].",
)


def _fields(id_field: str, text_fields: tuple[str, ...]):
    from pipeline.ads import TableFields

    return TableFields(id=id_field, text=tuple(text_fields) or TableFields().text)


@main.command("review")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--ads",
    type=click.Path(exists=True, path_type=Path),
    help="The ads that were coded (folder, .jsonl or .csv): shown with every quote highlighted.",
)
@click.option(
    "--gold",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of gold <id>.md codings: each quote is marked matched, missed or "
    "extra, as `autocode eval` matches them.",
)
@click.option(
    "--html",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("review"),
    show_default=True,
    help="Folder for the site: index.html and a page per ad.",
)
@id_field_option
@text_field_option
@codebook_option
def review_cmd(
    out: Path,
    ads: Path | None,
    gold: Path | None,
    html: Path,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Write a static site to read every draft beside its ad; prints the index page's path.

    OUT is the folder of `autocode code` (codings.jsonl, or the *.md drafts). Each
    ad page highlights the quotes in the ad, coloured by category, beside the coding;
    the index lists every ad with its flags, the run summary and two charts. The
    site needs no server or network: open index.html in a browser.

    \b
    Example:
      autocode review drafts/ --ads raw/ --gold gold/ --html review/
      xdg-open review/index.html
    """
    from pipeline.review import review_command

    index = review_command(
        out,
        ads,
        gold,
        html,
        codebook_path,
        _fields(id_field, text_fields),
        warn=lambda msg: click.echo(f"autocode: {msg}", err=True),
    )
    click.echo(index)


@main.command("accept")
@click.argument(
    "drafts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--gold",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Gold folder: each draft is written there as <id>.md.",
)
@click.option(
    "--ads",
    type=click.Path(exists=True, path_type=Path),
    help="The ads (folder, .jsonl or .csv): every quote must be found in its ad.",
)
@id_field_option
@text_field_option
@codebook_option
def accept_cmd(
    drafts: tuple[Path, ...],
    gold: Path,
    ads: Path | None,
    id_field: str,
    text_fields: tuple[str, ...],
    codebook_path: Path | None,
) -> None:
    """Check corrected drafts and write them into the gold folder, without review notes.

    A draft must parse, use only categories and profiles of the codebook, name a
    profile and, with --ads, quote only passages found in its ad. Every problem is
    printed as file:line: message; with any problem nothing is written (exit 2).
    A gold file of the same name is replaced.

    \b
    Example:
      autocode accept drafts/769_klm.md --gold gold/ --ads raw/
    """
    from pipeline.accept import check_drafts, write_gold
    from pipeline.codebook import load_codebook

    book = load_codebook(codebook_path)
    results = check_drafts(list(drafts), book, ads, _fields(id_field, text_fields))
    for line in [w for r in results for w in r.warnings] + [p for r in results for p in r.problems]:
        click.echo(line, err=True)
    if any(r.problems for r in results):
        click.echo(f"autocode: nothing written to {gold}", err=True)
        sys.exit(2)
    replaced = {r.source.stem for r in results if (gold / f"{r.source.stem}.md").exists()}
    for path in write_gold(results, gold, book):
        click.echo(f"autocode: {'replaced' if path.stem in replaced else 'wrote'} {path}", err=True)


if __name__ == "__main__":
    main(prog_name="autocode")
