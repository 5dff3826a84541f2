"""`autocode code`: read the codebook, ads and examples, pick the backend (starting the
embedded model when needed), run, and show progress and the summary.

Everything here is checked before any LLM call, so bad input costs nothing.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from pipeline.cli.options import (
    PathArg,
    cache_option,
    coding_options,
    concurrency_option,
    max_retries_option,
    out_option,
    prices_option,
    sampling,
    say,
    stack,
    table_fields,
    timeout_option,
)
from pipeline.errors import InputError

INTERRUPTED = 130  # the exit status of a run stopped by Ctrl-C (128 + SIGINT)

code_options = coding_options(
    model_help="Model name (default: gpt-4o-mini on OpenAI; the embedded GGUF offline).",
    mode_help="instructor mode (default: tools for OpenAI, json_schema for other servers).",
    max_tokens_help="Completion token limit (default 4096; embedded: the longest answer "
    "its capped response schema allows, per ad).",
)


def env_seconds(name: str, default: float) -> float:
    """A non-negative number of seconds from the environment (AUTOCODE_BACKOFF)."""
    value = os.environ.get(name, "").strip()
    try:
        seconds = float(value) if value else default
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise InputError(f"{name}={value!r}: not a number of seconds")
    return seconds


def read_run_inputs(ads, codebook_path, id_field, text_fields, max_ad_chars, **examples):
    """The inputs of `code` and `batch` (the ads are read by the run: see `survey`);
    `examples` are the --examples… options."""
    from pipeline.coding.inputs import read_inputs

    return read_inputs(
        list(ads),
        codebook_path,
        table_fields(id_field, text_fields),
        max_ad_chars,
        **examples,
    )


def survey(run, ads) -> None:
    """Read the ads of `run` once before any call: each problem is shown as a warning, and
    input without a readable ad is refused."""
    for problem in run.survey():
        say(problem, "yellow")
    if run.nothing_readable:
        raise InputError("no readable ads in " + ", ".join(map(str, ads)))


@click.command("code")
@click.argument("ads", nargs=-1, required=True, type=PathArg)
@stack(out_option, code_options, concurrency_option)
@click.option("--limit", type=click.IntRange(0), help="Code at most N ads not yet coded.")
@click.option("--refresh", is_flag=True, help="Ignore the cache and codings already in OUT.")
@stack(max_retries_option, timeout_option, cache_option, prices_option)
def command(
    ads,
    out,
    limit,
    refresh,
    cache_dir,
    prices,
    model,
    mode,
    temperature,
    samples,
    min_support,
    **options,
):
    """Draft a coding for every ad with an LLM.

    ADS are folders of .txt/.md/.html ads (id = file stem) or .jsonl/.csv files.
    Backend: OPENAI_BASE_URL (any OpenAI-compatible server), else OPENAI_API_KEY
    (OpenAI), else the embedded local model. Re-running resumes: ads already coded
    are skipped and cached exchanges cost no call.

    \b
    Example:
      autocode code raw/ --out drafts/
      OPENAI_API_KEY=... autocode code ads.jsonl --model gpt-4o-mini --concurrency 16
      autocode code raw/ --samples 3          # three samples per ad, and their consensus
    """
    from pipeline.coding.run import Run
    from pipeline.coding.sampling import coder_for

    temperature = sampling(temperature, samples, min_support)["temperature"]
    given = {k: options.pop(k) for k in ("concurrency", "timeout", "max_retries", "max_tokens")}
    inputs = read_run_inputs(ads, **options)
    llm, concurrency = chosen_llm(model, mode, temperature, refresh, cache_dir, given)
    run_options = run_options_of(
        inputs,
        out,
        prices,
        concurrency=concurrency,
        limit=limit,
        refresh=refresh,
        samples=samples,
        min_support=min_support,
    )
    run = Run(inputs.ads, inputs.book, llm, run_options, coder=coder_for(run_options))
    survey(run, ads)
    exit_after_run(execute(run, "autocode code"))


def run_options_of(inputs, out, prices, **given):
    """The options of a run over `inputs`, shared by `code` and `batch prepare/ingest`."""
    from pipeline.coding.cost import load_prices
    from pipeline.coding.one_ad import RunOptions

    return RunOptions(
        out,
        max_ad_chars=inputs.max_ad_chars,
        examples=inputs.examples,
        prices=load_prices(prices),
        **given,
    )


def chosen_llm(model, mode, temperature, refresh, cache_dir, given: dict):
    """The LLM of the chosen backend, and the concurrency; settings not given are the
    backend's defaults."""
    from pipeline.llm.backend import choose_backend, settings_of
    from pipeline.llm.client import online_llm
    from pipeline.llm.embedded import embedded_backend

    backend = choose_backend(model, mode) or embedded_backend()
    concurrency = settings_of(backend.kind, concurrency=given.pop("concurrency"))["concurrency"]
    backoff = env_seconds("AUTOCODE_BACKOFF", 1.0)
    return online_llm(backend, cache_dir, temperature, refresh, backoff, **given), concurrency


def exit_after_run(status: int) -> NoReturn:
    """Exit with `status`. After an interrupt, at once: every finished ad and the manifest
    are saved, and the requests still in flight cannot be stopped, so waiting for their
    threads (as Python does at exit) would hold Ctrl-C up for as long as a hung server does."""
    if status == INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


def execute(run, title: str) -> int:
    """Run with a progress bar (starting the embedded model if it has work), then the
    summary; the exit status."""
    import contextlib
    import time

    from pipeline.coding.progress import run_progress, stderr, summary_table
    from pipeline.llm.embedded import NOTICE, embedded_server
    from pipeline.llm.faults import FatalLLMError

    backend = run.llm.backend
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        if backend.kind == "embedded":
            stderr.print(
                NOTICE.format(name=backend.model), style="yellow", highlight=False, soft_wrap=True
            )
            if run.has_work():  # no server to start when every ad is already coded
                run.llm.backend = stack.enter_context(embedded_server(backend))
        try:
            with run_progress(run.n_ads) as progress:
                run.progress = progress
                manifest = run.execute()
        except FatalLLMError as exc:
            say(str(exc), "red")
            return 1
        except KeyboardInterrupt:
            say(
                "interrupted; finished ads are kept, re-run the same command to code the rest",
                "yellow",
            )
            return INTERRUPTED
    stderr.print(summary_table(manifest, time.monotonic() - start, title))
    counts = manifest["counts"]
    if counts["failed"] and not counts["coded"]:
        say(f"every ad failed ({counts['failed']}); reasons in {run.out / 'failures.jsonl'}", "red")
        return 1
    return 0
