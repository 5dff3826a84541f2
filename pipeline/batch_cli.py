"""`autocode batch …`: the OpenAI Batch API path. Each subcommand's docstring is its --help.

Only click is imported here, so `autocode --help` stays fast; the work is in pipeline.batch
(prepare, ingest) and pipeline.batch_api (submit, status, fetch).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

PathArg = click.Path(exists=True, path_type=Path)
Folder = click.Path(file_okay=False, path_type=Path)


def coding_options(command):
    """The options of `autocode code` that shape a request; prepare and ingest must agree."""
    options = [
        click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Codebook YAML (default: codebook.yaml of the project)."),
        click.option("--model", help="Model name (default: gpt-4o-mini; with OPENAI_BASE_URL, "
                                      "AUTOCODE_MODEL if set)."),
        click.option("--mode", type=click.Choice(["tools", "json_schema", "json", "md_json"]),
                     help="instructor mode (default: tools, as for OpenAI)."),
        click.option("--max-tokens", type=click.IntRange(64),
                     help="Completion token limit (default 4096)."),
        click.option("--temperature", type=float, default=0.0, show_default=True),
        click.option("--examples", "n_examples", type=click.IntRange(0), default=0,
                     show_default=True,
                     help="Few-shot examples from gold codings (never the ad being coded)."),
        click.option("--examples-gold", type=Folder, default=Path("gold"), show_default=True,
                     help="Gold codings for --examples."),
        click.option("--examples-ads", type=Folder, default=Path("raw"), show_default=True,
                     help="Ad texts (<id>.txt) of those gold codings."),
        click.option("--id-field", default="id", show_default=True,
                     help="Id column of .jsonl/.csv input."),
        click.option("--text-field", "text_fields", multiple=True,
                     help="Text column(s) of .jsonl/.csv input, joined by a blank line "
                          "[default: title, description]."),
        click.option("--max-ad-chars", type=click.IntRange(100), default=20000, show_default=True,
                     help="Longer ads are truncated, with a warning in their record."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _api(call, *args) -> None:
    from pipeline.batch_api import BatchAPIError

    try:
        code = call(*args)
    except BatchAPIError as exc:
        click.echo(f"autocode: {exc}", err=True)
        code = 1
    sys.exit(code)


@click.group("batch")
def batch() -> None:
    """Code a large corpus through the OpenAI Batch API: half the price, within 24 hours.

    The outputs are those of `autocode code`: ingest validates and grounds every
    answer as the online path does. Use the same coding options for prepare and ingest.

    \b
    Workflow:
      autocode batch prepare raw/ --out requests.jsonl --coded drafts/
      autocode batch submit requests.jsonl            # prints the batch id
      autocode batch status batch_abc123              # until it says completed
      autocode batch fetch batch_abc123 --out results.jsonl
      autocode batch ingest results.jsonl --ads raw/ --out drafts/
    """


@batch.command("prepare")
@click.argument("ads", nargs=-1, required=True, type=PathArg)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Request file; split into OUT-001.jsonl, OUT-002.jsonl… past 50,000 "
                   "requests or 200 MB.")
@click.option("--coded", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="An OUT folder of `code` or `batch ingest`: leave out ads already coded there "
                   "(same model, codebook and prompt).")
@click.option("--limit", type=click.IntRange(0), help="Prepare at most N ads.")
@coding_options
def prepare_cmd(**options) -> None:
    """Write Batch API requests, one line per ad, without any network call.

    Each line is {custom_id: ad id, method: POST, url: /v1/chat/completions,
    body: the exact request `autocode code` would send for that ad}. The paths of
    the files written go to stdout.

    \b
    Example:
      autocode batch prepare ads.jsonl --out requests.jsonl --model gpt-4o-mini
      autocode batch prepare raw/ --out requests.jsonl --coded drafts/ --examples 2
    """
    from pipeline.batch import prepare_command

    sys.exit(prepare_command(**options))


@batch.command("submit")
@click.argument("requests", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def submit_cmd(requests: tuple[Path, ...]) -> None:
    """Upload request files and start one batch per file; print the batch ids.

    Uses OPENAI_API_KEY (and OPENAI_BASE_URL for another server with the Files
    and Batches APIs). Endpoint /v1/chat/completions, completion window 24h.

    \b
    Example:
      autocode batch submit requests.jsonl
      autocode batch submit requests-001.jsonl requests-002.jsonl
    """
    from pipeline.batch_api import submit

    _api(submit, list(requests))


@batch.command("status")
@click.argument("batch_id")
def status_cmd(batch_id: str) -> None:
    """Print a batch's status and request counts.

    Exits with status 1 when the batch failed, expired or was cancelled, and says why.

    \b
    Example:
      autocode batch status batch_abc123
    """
    from pipeline.batch_api import status

    _api(status, batch_id)


@batch.command("fetch")
@click.argument("batch_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Results file: the batch's output lines, then its error lines.")
def fetch_cmd(batch_id: str, out: Path) -> None:
    """Download a finished batch's results (answers and errors) into one file.

    Fails with a clear message while the batch is still running or when it
    failed. An expired or cancelled batch yields the requests it finished; the
    others appear as error lines, and ingest lists them in failures.jsonl.

    \b
    Example:
      autocode batch fetch batch_abc123 --out results.jsonl
    """
    from pipeline.batch_api import fetch

    _api(fetch, batch_id, out)


@batch.command("ingest")
@click.argument("results", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ads", multiple=True, required=True, type=PathArg,
              help="The ads the requests were prepared from (repeat for several).")
@click.option("--out", type=Folder, default=Path("drafts"), show_default=True,
              help="Folder for drafts, codings.jsonl, failures.jsonl, manifest.json.")
@click.option("--refresh", is_flag=True, help="Ignore codings already in OUT.")
@click.option("--prices", type=click.Path(dir_okay=False, path_type=Path),
              help="Price table YAML (default: the bundled one, or AUTOCODE_PRICES); its "
                   "batch_discount applies.")
@click.option("--requests", multiple=True, type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
              help="Request file(s) of this batch: check they match these options first.")
@click.option("--reask", is_flag=True,
              help="Code ads whose answer had quotes not found in the ad once more online.")
@click.option("--max-retries", type=click.IntRange(0, 10),
              help="Re-asks of the online path for --reask (default 2).")
@click.option("--timeout", type=float, help="Seconds per online request for --reask.")
@click.option("--concurrency", type=click.IntRange(1, 256),
              help="Ads in flight (default 1; the backend's default with --reask).")
@click.option("--cache", "cache_dir", type=Folder, default=Path(".autocode-cache"),
              show_default=True, help="LLM exchange cache of the online path (--reask).")
@coding_options
def ingest_cmd(**options) -> None:
    """Turn Batch API results into drafts, codings.jsonl, failures.jsonl and manifest.json.

    Each answer is validated and grounded as `autocode code` does, without re-asks:
    quotes not found in the ad are dropped and listed in the draft and record.
    Error lines and ads without a result go to failures.jsonl with the reason.
    Ads already coded in OUT are kept as they are. The manifest's cost applies the
    price table's batch discount.

    \b
    Example:
      autocode batch ingest results.jsonl --ads raw/ --out drafts/
      autocode batch ingest results-*.jsonl --ads ads.jsonl --out coded/ --reask
    """
    from pipeline.batch import ingest_command

    sys.exit(ingest_command(**options))
