"""What a run shows on stderr: a rich progress bar while it goes and a summary table after."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

stderr = Console(stderr=True)
CACHED = "cost_usd_system_prompt_cached"


@contextlib.contextmanager
def run_progress(total: int):
    """Yield a callback for Run(progress=...) that advances a bar of `total` ads."""
    bar = Progress(
        TextColumn("coding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TextColumn("{task.fields[tokens]:,} tokens"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
    )
    task = bar.add_task("coding", total=total, failed=0, tokens=0)

    def advance(outcome, stats):
        tokens = stats["prompt_tokens"] + stats["completion_tokens"]
        # the bar counts the ads this run codes, not those a resumed run skips
        bar.update(task, advance=1, total=stats["to_code"], failed=stats["failed"], tokens=tokens)
        if outcome.reason:
            line = Text.assemble(("failed", "red"), f" {outcome.ad.id}: {outcome.reason}")
            bar.console.print(line, highlight=False, soft_wrap=True)

    with bar:
        yield advance


def summary_table(manifest: dict, seconds: float, command: str = "autocode code") -> Table:
    counts = manifest["counts"]
    table = Table(
        title=escape(f"{command}: {manifest['model']} ({manifest['backend']})"),
        show_header=False,
    )
    cost = manifest["cost_usd"]
    rows = [
        ("ads in input", counts["ads"]),
        ("already coded (skipped)", counts["already_done"]),
        ("coded now", f"{counts['coded']} ({counts['from_cache']} from cache)"),
        ("failed", counts["failed"]),
        *(
            [("samples failed (left out of their consensus)", counts["samples_failed"])]
            if "samples_failed" in counts
            else []
        ),
        ("quotes kept", counts["quotes_kept"]),
        ("quotes dropped as ungrounded", counts["quotes_dropped"]),
        (
            "prompt / completion tokens",
            f"{counts['prompt_tokens']:,} / {counts['completion_tokens']:,}",
        ),
        (
            "estimated cost",
            "unknown (model not in the price table)" if cost is None else f"${cost:.4f}",
        ),
        *(
            [("  with the system prompt cached", _dollars(manifest[CACHED]))]
            if CACHED in manifest
            else []
        ),
        ("wall time", f"{seconds:.1f} s"),
        ("status", manifest["status"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def _dollars(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"
