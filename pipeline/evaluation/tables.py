"""Tables as (title, header, rows), drawn on the terminal (rich tables; long ones as aligned
plain text, printed a chunk at a time) and as Markdown, line by line: `eval` and `agree`
draw every table through these, so the terminal and the Markdown never disagree."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

Section = tuple[str, list[str], Sequence[list[str]]]


def _is_number(cell: str) -> bool:
    """Right-aligned: numbers, `a / b` counts and values with their interval."""
    number = r"-?[\d.]+( / \d+)*( \[-?[\d.]+, -?[\d.]+\])?"
    return cell in ("", "undefined") or re.fullmatch(number, cell) is not None


PLAIN_ROWS = 100  # a rich Table costs ~0.8 ms a row: 1 s for the per-ad table of 1,272 ads
PLAIN_CHUNK = 1000  # lines of a plain table printed at once (rich holds what it prints)


def _plain_lines(title: str, head: list[str], rows: Sequence[list[str]]) -> Iterator[str]:
    """A long table as aligned plain text, line by line: the same cells, drawn in
    milliseconds."""
    widths = [
        max(len(head[i]), max((len(row[i]) for row in rows), default=0)) for i in range(len(head))
    ]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    yield from (title, line(head), "  ".join("-" * w for w in widths))
    yield from map(line, rows)


def _print_plain(title: str, head: list[str], rows: Sequence[list[str]], console) -> None:
    """`_plain_lines` printed a chunk at a time: the same text as one print of them all."""
    from rich.text import Text

    chunk: list[str] = []
    for line in _plain_lines(title, head, rows):
        chunk.append(line)
        if len(chunk) == PLAIN_CHUNK:
            console.print(Text("\n".join(chunk)), soft_wrap=True)
            chunk = []
    if chunk:
        console.print(Text("\n".join(chunk)), soft_wrap=True)


def print_tables(tables: Sequence[Section], console) -> None:
    """Rich tables on the terminal (aligned plain text past PLAIN_ROWS rows)."""
    from rich.table import Table

    for title, head, rows in tables:
        if len(rows) > PLAIN_ROWS:
            _print_plain(title, head, rows, console)
            continue
        table = Table(title=title, title_justify="left")
        for i, name in enumerate(head):
            numeric = all(_is_number(row[i]) for row in rows)
            table.add_column(name, justify="right" if numeric else "left", no_wrap=i == 0)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_tables(
    tables: Sequence[Section],
) -> Iterator[str]:
    """Each (title, header, rows) as a `##` section with a Markdown table, line by line."""
    for title, head, rows in tables:
        yield from (
            f"## {title}",
            "",
            "| " + " | ".join(_md_cell(h) for h in head) + " |",
            "|" + "---|" * len(head),
        )
        yield from ("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
        yield ""
