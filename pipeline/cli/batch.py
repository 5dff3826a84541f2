"""`autocode batch …`: the OpenAI Batch API path. Each subcommand's docstring is its --help.

The work is in pipeline.batch.requests (request files, results, the ingest coder) and
pipeline.batch.api (submit, status, fetch); this module reads options and shows results.
"""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.code import read_run_inputs, run_options_of
from pipeline.cli.options import (
    ExistingFile,
    NewFile,
    PathArg,
    cache_option,
    coding_options,
    out_option,
    sampling,
    say,
    stack,
)

ExistingFile = ExistingFile

batch_options = stack(
    coding_options(
        model_help="Model name "
        "(default: gpt-4o-mini; with OPENAI_BASE_URL, AUTOCODE_MODEL if set).",
        mode_help="instructor mode (default: tools, as for OpenAI).",
        max_tokens_help="Completion token limit (default 4096).",
    ),
    click.option(
        "--shard",
        metavar="I/N",
        help="Only the ads of part I of N (by a hash of the ad id, whatever the input's "
        "order): split a corpus over machines or jobs; ingest each part with the same "
        "--shard into one OUT folder.",
    ),
)


@click.group("batch")
def command() -> None:
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


def offline_setup(
    ads,
    out,
    model,
    mode,
    max_tokens,
    temperature,
    samples,
    min_support,
    limit=None,
    refresh=False,
    prices=None,
    shard=None,
    **read,
):
    """What prepare and ingest share: inputs, run options and the LLM that never calls out."""
    from pipeline.batch.requests import in_shard, offline_llm, parse_shard
    from pipeline.llm.backend import batch_backend

    sampled = sampling(temperature, samples, min_support)
    part = parse_shard(shard) if shard else None
    inputs = read_run_inputs(ads, **read)
    if part:
        inputs.ads.keep = in_shard(*part)
    options = run_options_of(
        inputs,
        out,
        prices,
        limit=limit,
        refresh=refresh,
        samples=samples,
        min_support=min_support,
    )
    backend = batch_backend(model, mode)
    return inputs, options, offline_llm(backend, sampled["temperature"], max_tokens)


@command.command("prepare")
@click.argument("ads", nargs=-1, required=True, type=PathArg)
@click.option(
    "--out",
    type=NewFile,
    required=True,
    help="Request file; split into OUT-001.jsonl, OUT-002.jsonl… past 50,000 requests or 200 MB.",
)
@click.option(
    "--coded",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="An OUT folder of `code` or `batch ingest`: leave out ads already coded there "
    "(same model, codebook and prompt).",
)
@click.option("--limit", type=click.IntRange(0), help="Prepare at most N ads.")
@batch_options
def prepare_cmd(ads, out, coded, limit, **common) -> None:
    """Write Batch API requests, one line per ad, without any network call.

    Each line is {custom_id: ad id, method: POST, url: /v1/chat/completions,
    body: the exact request `autocode code` would send for that ad}; with --samples K
    the body asks for K answers (`n`). The paths of the files written go to stdout.

    \b
    Example:
      autocode batch prepare ads.jsonl --out requests.jsonl --model gpt-4o-mini
      autocode batch prepare raw/ --out requests.jsonl --coded drafts/ --examples 2
    """
    from pipeline.batch.requests import request_line, write_request_files
    from pipeline.cli.code import survey
    from pipeline.coding.run import Run

    inputs, options, llm = offline_setup(ads, coded or Path(out).parent, limit=limit, **common)
    options.refresh = not coded  # without --coded, no folder's codings leave an ad out
    run = Run(inputs.ads, inputs.book, llm, options)
    survey(run, ads)
    if coded:
        say(f"{run.already_done} ad(s) already coded in {coded}, left out")
    if not run.has_work():
        say("no ads left to prepare; nothing written")
        return
    lines = (request_line(ad, inputs.book, llm, options) for ad in run.todo())
    for path, count in write_request_files(lines, Path(out)):
        click.echo(path)
        say(
            f"{count} request(s) for {llm.backend.model} ({llm.backend.mode} mode) in {path} "
            f"({path.stat().st_size:,} bytes)"
        )


@command.command("submit")
@click.argument("requests", nargs=-1, required=True, type=ExistingFile)
def submit_cmd(requests: tuple[Path, ...]) -> None:
    """Upload request files and start one batch per file; print the batch ids.

    Uses OPENAI_API_KEY (and OPENAI_BASE_URL for another server with the Files
    and Batches APIs). Endpoint /v1/chat/completions, completion window 24h.

    \b
    Example:
      autocode batch submit requests.jsonl
      autocode batch submit requests-001.jsonl requests-002.jsonl
    """
    from pipeline.batch.api import submit

    for path, count, batch in submit(list(requests)):
        click.echo(batch.id)
        click.echo(
            f"autocode: {path} ({count} requests) submitted as batch {batch.id} "
            f"({batch.status}); follow it with `autocode batch status {batch.id}`",
            err=True,
        )


@command.command("status")
@click.argument("batch_id")
def status_cmd(batch_id: str) -> None:
    """Print a batch's status and request counts.

    Exits with status 1 when the batch failed, expired or was cancelled, and says why.

    \b
    Example:
      autocode batch status batch_abc123
    """
    from pipeline.batch.api import BatchAPIError, status

    try:
        lines = status(batch_id)
    except BatchAPIError as exc:
        for line in exc.lines:  # what is known of the batch, before why it ended badly
            click.echo(line)
        raise
    for line in lines:
        click.echo(line)


@command.command("fetch")
@click.argument("batch_id")
@click.option(
    "--out",
    type=NewFile,
    required=True,
    help="Results file: the batch's output lines, then its error lines.",
)
def fetch_cmd(batch_id: str, out: Path) -> None:
    """Download a finished batch's results (answers and errors) into one file.

    Fails with a clear message while the batch is still running or when it
    failed. An expired or cancelled batch yields the requests it finished; the
    others appear as error lines, and ingest lists them in failures.jsonl.

    \b
    Example:
      autocode batch fetch batch_abc123 --out results.jsonl
    """
    from pipeline.batch.api import fetch

    for message in fetch(batch_id, out):
        click.echo(f"autocode: {message}", err=True)
    click.echo(str(out))


@command.command("ingest")
@click.argument("results", nargs=-1, required=True, type=ExistingFile)
@click.option(
    "--ads",
    multiple=True,
    required=True,
    type=PathArg,
    help="The ads the requests were prepared from (repeat for several).",
)
@out_option
@click.option("--refresh", is_flag=True, help="Ignore codings already in OUT.")
@click.option(
    "--prices",
    type=NewFile,
    help="Price table YAML (default: the bundled one, or AUTOCODE_PRICES); its "
    "batch_discount applies.",
)
@click.option(
    "--requests",
    multiple=True,
    type=ExistingFile,
    help="Request file(s) of this batch: check they match these options first.",
)
@click.option(
    "--reask",
    is_flag=True,
    help="Code ads whose answer had quotes not found in the ad once more online.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 10),
    help="Re-asks of the online path for --reask (default 2).",
)
@click.option("--timeout", type=float, help="Seconds per online request for --reask.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Ads in flight (default 1; the backend's default with --reask).",
)
@stack(cache_option, batch_options)
def ingest_cmd(
    results,
    ads,
    out,
    refresh,
    prices,
    requests,
    reask,
    max_retries,
    timeout,
    concurrency,
    cache_dir,
    **common,
) -> None:
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
    from pipeline.batch.ingest import BatchCoder, BatchRun, Results, check_requests, reask_llm
    from pipeline.cli.code import execute, exit_after_run, survey
    from pipeline.llm.backend import settings_of

    inputs, options, llm = offline_setup(ads, out, refresh=refresh, prices=prices, **common)
    online = reask_llm(llm, cache_dir, refresh, max_retries, timeout) if reask else None
    # replaying answers needs no concurrency; re-asking online takes the backend's default
    default = settings_of(llm.backend.kind, concurrency=None)["concurrency"] if reask else 1
    options.concurrency = concurrency or default
    found = Results(list(results))
    coder = BatchCoder(found, ", ".join(map(str, results)), online)
    run = BatchRun(inputs.ads, inputs.book, llm, options, [], results=list(results), coder=coder)
    survey(run, ads)
    warn_about_results(found, run.source.found)
    if requests:
        check_requests(list(requests), run.source.again(), inputs.book, llm, options)
    exit_after_run(execute(run, "autocode batch ingest"))


def warn_about_results(results, ad_ids) -> None:
    """Warnings for the lines that are not results, and for results of ads not in the input
    (or not in this --shard)."""
    for problem in results.problems:
        say(problem, "yellow")
    count, first = results.unknown(ad_ids)
    if count:
        say(f"{count} result(s) for ads not in the input, ignored: {', '.join(first)}", "yellow")
