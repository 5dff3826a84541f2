"""Loading coding sets: an OUT folder, a codings.jsonl file, a folder of *.md codings or
one .md file. Eval, review, accept and every command that reads codings use this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.goldmd.parse import read_coding_file
from pipeline.idmap import IdMap
from pipeline.record import CodedAd, Coding
from pipeline.store import read_records


@dataclass
class CodingSet:
    """One coding set: its name (the coder, or the folder it came from), its codings, and the
    path it was read from. merge, agree and the REFI-QDA export all take these."""

    name: str
    codings: list[Coding]
    path: str = ""


RECORDS = "codings.jsonl"


Warn = Callable[[str], None]


def read_markdown(path: Path, book: Codebook, warn: Warn | None = None) -> Coding:
    """One Markdown coding; each line it could not place goes to `warn` (and its record)."""
    coding = read_coding_file(path, book, strict=False)
    for warning in coding.warnings:
        if warn is not None:
            warn(warning)
    return coding


def load_markdown_dir(folder: Path, book: Codebook, warn: Warn | None = None) -> list[Coding]:
    """Every *.md coding in `folder`; all unreadable files are reported together."""
    files = sorted(Path(folder).glob("*.md"))
    if not files:
        raise InputError(f"{folder}: no *.md codings in this folder")
    codings, problems = [], []
    for path in files:
        try:
            codings.append(read_markdown(path, book, warn))
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        raise InputError("\n".join(problems))
    return codings


def check_codes(coding: Coding, book: Codebook) -> str | None:
    """What in a coding the codebook does not allow, or None."""
    if coding.profile and coding.profile not in book.profile_names:
        return f"profile {coding.profile!r} is not in the codebook"
    for kind, entries in (("quotes", coding.quotes), ("tools", coding.tools)):
        for entry in entries:
            part = book.part_of.get(entry.category)
            if part is None:
                return f"category {entry.category!r} is not in the codebook"
            if part.kind != kind:
                return f"category {entry.category} takes {part.kind}, not {kind}"
    return None


def _jsonl_record(line: str, where: str, book: Codebook) -> Coding:
    try:
        coding = Coding.model_validate_json(line)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "(record)"
        raise InputError(f"{where}: {field}: {err['msg']}") from None
    problem = check_codes(coding, book)
    if problem:
        raise InputError(f"{where}: {problem}")
    return coding


def _decode_error(path: Path, offset: int, exc: UnicodeDecodeError) -> InputError:
    """The message decoding the whole file would give: positions count from its start."""
    start, end = offset + exc.start, offset + exc.end
    if exc.end - exc.start == 1:
        byte = exc.object[exc.start]
        detail = f"can't decode byte 0x{byte:02x} in position {start}: {exc.reason}"
    else:
        detail = f"can't decode bytes in position {start}-{end - 1}: {exc.reason}"
    return InputError(f"{path}: cannot read: 'utf-8' codec {detail}")


def _lines(path: Path, handle: BinaryIO, start: int = 0) -> Iterator[tuple[int, int, str]]:
    """(offset, length, text) of every line from byte `start`, cut where str.splitlines cuts
    the decoded file (a line break inside a b"\n" line shares its offset and length)."""
    offset = start
    for raw in handle:
        try:
            text = raw.decode("utf-8")  # with its b"\n", as decoding the whole file sees it
        except UnicodeDecodeError as exc:
            raise _decode_error(path, offset, exc) from None
        for part in text.splitlines():
            yield offset, len(raw), part
        offset += len(raw)


def decode_error_after(path: Path, offset: int) -> InputError | None:
    """The error reading the file as text from byte `offset` on, if any. Reading the whole
    file first, as `load_jsonl` did, reported it before any bad line: a reader that streams
    checks the rest of the file before it reports a line."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        try:
            for _ in _lines(path, handle, offset):
                pass
        except InputError as exc:
            return exc
    return None


def iter_jsonl(path: Path, book: Codebook) -> Iterator[tuple[int, int, int, Coding]]:
    """(line number, byte offset, byte length, coding) of each record of a codings.jsonl,
    one line at a time; a bad line is an error naming file and line, as in `load_jsonl`.
    Ad ids are not checked for repeats: that is the reader's job (it may not hold them)."""
    try:
        handle = open(path, "rb")  # closed below, when the reader is done
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    with handle:
        for lineno, (offset, length, line) in enumerate(_lines(path, handle), start=1):
            if not line.strip():
                continue
            try:
                coding = _jsonl_record(line, f"{path}:{lineno}", book)
            except InputError as exc:
                raise decode_error_after(path, offset) or exc from None
            yield lineno, offset, length, coding


def read_line(handle: BinaryIO, offset: int, length: int, part: int = 0) -> str:
    """The text of a line `iter_jsonl` found at (offset, length): the `part`-th piece where
    a rare line break (\r, \u2028...) cut one b"\n" line into several."""
    handle.seek(offset)
    return handle.read(length).decode("utf-8").splitlines()[part]


def read_jsonl(
    path: Path, book: Codebook, keep: Callable[[Coding], bool] | None = None
) -> tuple[list[Coding], IdMap]:
    """The records of a codings.jsonl that `keep` wants (all without it; the others are
    read and checked, not held) and every ad id in file order, with its line (on disk: a
    million ids); a bad line, or an ad twice, is an error naming file and line."""
    codings: list[Coding] = []
    lines = IdMap()
    for lineno, offset, _, coding in iter_jsonl(path, book):
        first = lines.earlier(coding.ad_id, lineno)
        if first is not None:
            again = InputError(
                f"{path}:{lineno}: ad {coding.ad_id!r} again (first on line {first})"
            )
            raise decode_error_after(path, offset) or again
        if keep is None or keep(coding):
            codings.append(coding)
    return codings, lines


def load_jsonl(path: Path, book: Codebook) -> list[Coding]:
    """Coding records, one JSON object a line; a bad line is an error naming file and line."""
    return read_jsonl(path, book)[0]


def records_file(path: Path, prefer_records: bool = False) -> Path | None:
    """The codings.jsonl `load_codings` reads for `path`, or None where it reads Markdown."""
    path = Path(path)
    if path.is_dir():
        records = path / RECORDS
        if records.is_file() and (prefer_records or not any(path.glob("*.md"))):
            return records
        return None
    return None if path.suffix.lower() == ".md" else path


def load_codings(
    path: Path, book: Codebook, prefer_records: bool = False, warn: Warn | None = None
) -> list[Coding]:
    """One coding set. A folder is read as its *.md codings (what a coder edits), or as
    its codings.jsonl when it has no *.md or `prefer_records` (the records carry spans
    and provenance); a file as JSON lines, or as one Markdown coding when it ends in .md.
    `warn` gets each Markdown line that could not be placed (the file is read all the same).
    """
    path = Path(path)
    records = records_file(path, prefer_records)
    if records is not None:
        return load_jsonl(records, book)
    if path.is_dir():
        return load_markdown_dir(path, book, warn)
    return [read_markdown(path, book, warn)]


def coding_set_name(path: Path) -> str:
    """A readable name for a coding set: its folder's name for OUT/codings.jsonl."""
    path = Path(path)
    if path.name == RECORDS:
        return path.parent.name or str(path)
    return path.stem if path.is_file() else path.name


def read_coded_leniently(path: Path) -> tuple[list[CodedAd], list[str]]:
    """The records of a codings.jsonl that `code` wrote, skipping (and listing) a record that
    does not validate or repeats an ad: for readers that show what they can, like review."""
    records, problems, seen = [], [], set()
    for n, record in enumerate(read_records(path), start=1):
        try:
            coded = CodedAd.model_validate(record)
        except ValidationError as exc:
            problems.append(f"{path}: record {n}: {exc.errors()[0]['msg']}; skipped")
            continue
        if coded.ad_id in seen:
            problems.append(f"{path}: record {n}: ad {coded.ad_id!r} again; skipped")
            continue
        seen.add(coded.ad_id)
        records.append(coded)
    return records, problems


def read_markdown_text(path: Path) -> str:
    """The text of a Markdown coding; an InputError naming the file when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
