"""`autocode code` at its edge: read the codebook, ads and examples, pick the backend
(starting the embedded model when needed), run, and show progress and the summary.

Everything here is checked before any LLM call, so bad input costs nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.llm import BACKEND_DEFAULTS, LLM, FatalLLMError
from pipeline.run import Run, RunOptions, load_prices


def env_seconds(name: str, default: float) -> float:
    """A non-negative number of seconds from the environment (AUTOCODE_BACKOFF)."""
    import os

    value = os.environ.get(name, "").strip()
    try:
        seconds = float(value) if value else default
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise InputError(f"{name}={value!r}: not a number of seconds")
    return seconds


def load_examples(n: int, gold_dir: Path, ads_dir: Path, codebook: Codebook) -> list:
    """Up to n (Ad, Coding) pairs from gold codings that have a profile and an ad text."""
    from pipeline.ads import read_ads
    from pipeline.goldmd import read_coding_file

    pairs = []
    for path in sorted(Path(gold_dir).glob("*.md")):
        coding = read_coding_file(path, codebook)  # a broken gold file stops the run here
        ad_file = Path(ads_dir) / f"{path.stem}.txt"
        if coding.profile and ad_file.exists():
            pairs.append((read_ads([ad_file]).ads[0], coding))
    return pairs[: n + 1]  # one spare, for when the ad being coded is an example


def read_inputs(
    ads,
    codebook_path,
    id_field,
    text_fields,
    max_ad_chars,
    n_examples,
    examples_gold,
    examples_ads,
    say,
) -> tuple:
    """Codebook, ads and few-shot examples; each input problem is told to `say`.

    Shared by `autocode code` and `autocode batch`, so both refuse the same bad input
    before anything is sent.
    """
    from pipeline.ads import TableFields, read_ads
    from pipeline.codebook import load_codebook

    book = load_codebook(codebook_path)
    fields = TableFields(id=id_field, text=tuple(text_fields) or TableFields().text)
    batch = read_ads(list(ads), fields)
    batch.problems += [
        f"{ad.source}: {len(ad.text)} characters, more than --max-ad-chars "
        f"{max_ad_chars}; truncated for the prompt (warning in its record)"
        for ad in batch.ads
        if len(ad.text) > max_ad_chars
    ]
    for problem in batch.problems:
        say(problem)
    if not batch.ads:
        raise InputError("no readable ads in " + ", ".join(map(str, ads)))
    examples = load_examples(n_examples, examples_gold, examples_ads, book) if n_examples else []
    return book, batch, examples


def code_command(
    ads,
    out,
    codebook_path,
    model,
    mode,
    concurrency,
    limit,
    refresh,
    max_retries,
    max_tokens,
    temperature,
    timeout,
    n_examples,
    examples_gold,
    examples_ads,
    cache_dir,
    prices,
    id_field,
    text_fields,
    max_ad_chars,
) -> int:
    """`autocode code`: everything that is checked before any LLM call, then the run."""
    import contextlib

    from rich.markup import escape  # file names and server messages may hold [brackets]

    from pipeline.embedded import NOTICE, embedded_backend, embedded_server
    from pipeline.llm import DiskCache, choose_backend
    from pipeline.progress import run_progress, stderr, summary_table

    book, batch, examples = read_inputs(
        ads,
        codebook_path,
        id_field,
        text_fields,
        max_ad_chars,
        n_examples,
        examples_gold,
        examples_ads,
        say=lambda problem: stderr.print(
            f"[yellow]autocode:[/yellow] {escape(problem)}", highlight=False
        ),
    )
    options = RunOptions(
        out,
        limit=limit,
        refresh=refresh,
        max_ad_chars=max_ad_chars,
        examples=examples,
        prices=load_prices(prices),
    )
    backend = choose_backend(model, mode) or embedded_backend()
    given = {
        "concurrency": concurrency,
        "timeout": timeout,
        "max_retries": max_retries,
        "max_tokens": max_tokens,
    }
    settings = {
        k: v if v is not None else BACKEND_DEFAULTS[backend.kind][k] for k, v in given.items()
    }
    options.concurrency = settings.pop("concurrency")
    llm = LLM(
        backend,
        cache=DiskCache(cache_dir),
        temperature=temperature,
        refresh=refresh,
        backoff=env_seconds("AUTOCODE_BACKOFF", 1.0),
        **settings,
    )
    run = Run(batch.ads, book, llm, options, batch.problems)
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        if backend.kind == "embedded":
            stderr.print(
                NOTICE.format(name=backend.model), style="yellow", highlight=False, soft_wrap=True
            )
            if run.has_work():  # no server to start when every ad is already coded
                llm.backend = stack.enter_context(embedded_server(backend))
        try:
            with run_progress(len(batch.ads)) as progress:
                run.progress = progress
                manifest = run.execute()
        except FatalLLMError as exc:
            stderr.print(f"[red]autocode:[/red] {escape(str(exc))}", highlight=False)
            return 1
        except KeyboardInterrupt:
            stderr.print(
                "[yellow]autocode: interrupted; finished ads are kept, "
                "re-run the same command to code the rest[/yellow]"
            )
            return 130
    stderr.print(summary_table(manifest, time.monotonic() - start))
    return 0
