"""Options that several commands share, declared once; and the one way commands speak."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.llm.backend import MODES, TEMPERATURE_WITH_SAMPLES, temperature_for

PathArg = click.Path(exists=True, path_type=Path)
Folder = click.Path(file_okay=False, path_type=Path)
ExistingFolder = click.Path(exists=True, file_okay=False, path_type=Path)
NewFile = click.Path(dir_okay=False, path_type=Path)
ExistingFile = click.Path(exists=True, dir_okay=False, path_type=Path)
# What REFI-QDA selection positions count (export and import)
offset_units = click.Choice(["codepoints", "utf16"])


def stack(*options):
    """One decorator applying `options` in the order they are listed (as --help shows them)."""

    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command

    return apply


codebook_option = click.option(
    "--codebook",
    "codebook_path",
    type=NewFile,
    default=None,
    help="Codebook YAML (default: codebook.yaml of the project).",
)

id_field_option = click.option(
    "--id-field", default="id", show_default=True, help="Id column of .jsonl/.csv ads."
)
text_field_option = click.option(
    "--text-field",
    "text_fields",
    multiple=True,
    help="Text column(s) of .jsonl/.csv ads, joined by a blank line [default: title, description].",
)
table_options = stack(id_field_option, text_field_option)


def table_fields(id_field: str, text_fields: tuple[str, ...]):
    """The columns of .jsonl/.csv ads named by --id-field and --text-field."""
    from pipeline.ads import TableFields

    return TableFields(id=id_field, text=tuple(text_fields) or TableFields().text)


sampling_options = stack(
    click.option(
        "--temperature",
        type=float,
        help="Sampling temperature "
        f"[default: 0; {TEMPERATURE_WITH_SAMPLES} with --samples above 1].",
    ),
    click.option(
        "--samples",
        type=click.IntRange(1, 20),
        default=1,
        show_default=True,
        help="Answers per ad; above 1 the draft is their consensus, each entry with its "
        "support, and every sample is kept in OUT/samples.jsonl.",
    ),
    click.option(
        "--min-support",
        type=click.IntRange(1),
        help="With --samples K: keep an entry at least M samples have [default: more "
        "than half of those that succeeded].",
    ),
)


def coding_options(model_help: str, mode_help: str, max_tokens_help: str):
    """The options that shape a request: `code`, `batch prepare` and `batch ingest` share them,
    so a prepared request and the online one cannot differ."""
    return stack(
        codebook_option,
        click.option("--model", help=model_help),
        click.option("--mode", type=click.Choice(MODES), help=mode_help),
        click.option("--max-tokens", type=click.IntRange(64), help=max_tokens_help),
        sampling_options,
        click.option(
            "--examples",
            "n_examples",
            type=click.IntRange(0),
            default=0,
            show_default=True,
            help="Few-shot examples per ad from gold codings (never the ad being coded, "
            "nor a near-copy of it).",
        ),
        click.option(
            "--examples-by",
            type=click.Choice(["similar", "first"]),
            default="similar",
            show_default=True,
            help="Which examples: the gold codings whose ads read most like the ad (TF-IDF "
            "cosine; most similar last), or the first files of --examples-gold.",
        ),
        click.option(
            "--examples-max-chars",
            type=click.IntRange(1),
            help="Cap on the examples' ad text, in characters, per request.",
        ),
        click.option(
            "--examples-gold",
            type=Folder,
            default=Path("gold"),
            show_default=True,
            help="Gold codings for --examples.",
        ),
        click.option(
            "--examples-ads",
            type=Folder,
            default=Path("raw"),
            show_default=True,
            help="Ad texts (<id>.txt) of those gold codings.",
        ),
        table_options,
        click.option(
            "--max-ad-chars",
            type=click.IntRange(100),
            default=20000,
            show_default=True,
            help="Longer ads are truncated, with a warning in their record.",
        ),
    )


report_options = stack(
    click.option("--json", "json_path", type=NewFile, help="Write the report as JSON here."),
    click.option(
        "--markdown", "markdown_path", type=NewFile, help="Write the report as Markdown here."
    ),
)

out_option = click.option(
    "--out",
    type=Folder,
    default=Path("drafts"),
    show_default=True,
    help="Folder for drafts, codings.jsonl, failures.jsonl, manifest.json.",
)
max_retries_option = click.option(
    "--max-retries",
    type=click.IntRange(0, 10),
    help="Re-asks when an answer fails validation, e.g. a quote not in the ad "
    "(default 2; 1 embedded).",
)
timeout_option = click.option(
    "--timeout", type=float, help="Seconds per request (default 120; 600 embedded)."
)
concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Requests in flight (default: 1 embedded, 4 local server, 8 OpenAI).",
)
cache_option = click.option(
    "--cache",
    "cache_dir",
    type=Folder,
    default=Path(".autocode-cache"),
    show_default=True,
    help="LLM exchange cache.",
)
prices_option = click.option(
    "--prices",
    type=NewFile,
    help="Price table YAML (default: the bundled one, or AUTOCODE_PRICES).",
)


def sampling(temperature: float | None, samples: int, min_support: int | None) -> dict:
    """The run's temperature (`temperature_for`), samples and support."""
    from pipeline.errors import InputError

    if min_support is not None and min_support > samples:
        raise InputError(f"--min-support {min_support} is more than --samples {samples}")
    return {
        "temperature": temperature_for(samples, temperature),
        "samples": samples,
        "min_support": min_support,
    }


def say(message: str, style: str | None = None) -> None:
    """One message on stderr, unwrapped, never read as rich markup."""
    from rich.markup import escape

    from pipeline.coding.progress import stderr

    label = f"[{style}]autocode:[/{style}]" if style else "autocode:"
    stderr.print(f"{label} {escape(message)}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    """A problem worth a line that does not stop the command."""
    click.echo(f"autocode: {message}", err=True)
