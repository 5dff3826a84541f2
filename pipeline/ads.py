"""Reading raw ads: folders of .txt/.md/.html files, or .jsonl/.csv tables.

A file or line that cannot be read is reported by name (and line) and skipped;
the rest of the batch is read as usual.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

AD_SUFFIXES = {".txt", ".md", ".html", ".htm"}
TABLE_SUFFIXES = {".jsonl", ".csv"}


@dataclass(frozen=True)
class Ad:
    id: str
    text: str
    source: str
    title: str | None = None
    organisation: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass
class TableFields:
    """Which columns of a .jsonl/.csv hold the id and the text (joined by a blank line)."""

    id: str = "id"
    text: tuple[str, ...] = ("title", "description")
    title: str = "title"
    organisation: str = "organisation"


@dataclass
class AdBatch:
    ads: list[Ad] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def decode(data: bytes, source: str) -> tuple[str, list[str]]:
    """Text of a file: UTF-8, else Windows-1252/Latin-1 with a warning; binary is refused."""
    if b"\x00" in data[:8192]:
        raise ValueError(f"{source}: binary file, not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        where = exc.start
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, [f"{source}: not UTF-8 (byte {where}); read as {encoding}"]
    raise ValueError(f"{source}: cannot decode as text")


def html_to_text(html: str) -> str:
    """Visible text of an HTML page: scripts, styles and templates are removed."""
    from selectolax.lexbor import LexborHTMLParser  # selectolax 1.x dropped the Modest parser

    tree = LexborHTMLParser(html)
    tree.strip_tags(["script", "style", "noscript", "template", "head"])
    root = tree.body or tree.root
    text = root.text(separator="\n") if root else ""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def first_line(text: str) -> str | None:
    return next((line.strip() for line in text.splitlines() if line.strip()), None)


def _ad_from_file(path: Path) -> Ad:
    text, warnings = decode(path.read_bytes(), str(path))
    if path.suffix.lower() in {".html", ".htm"}:
        text = html_to_text(text)
    if not text.strip():
        raise ValueError(f"{path}: empty ad (no text)")
    return Ad(path.stem, text, str(path), title=first_line(text), warnings=tuple(warnings))


def _ad_from_row(row: dict, fields: TableFields, source: str) -> Ad:
    missing = [f for f in (fields.id, *fields.text) if f not in row]
    if missing:
        raise ValueError(f"{source}: missing field {', '.join(map(repr, missing))}")
    text = "\n\n".join(str(row[f]) for f in fields.text if row[f] not in (None, ""))
    if not text.strip():
        raise ValueError(f"{source}: empty ad (no text)")
    ad_id = "" if row[fields.id] is None else str(row[fields.id])
    if not ad_id.strip() or ad_id.startswith(".") or any(c in ad_id for c in "/\\\0"):
        raise ValueError(f"{source}: id {ad_id!r} cannot name a draft file")
    title = row.get(fields.title) or first_line(text)
    return Ad(ad_id, text, source, title=title, organisation=row.get(fields.organisation))


def _read_jsonl(path: Path, fields: TableFields, batch: AdBatch) -> None:
    text, warnings = decode(path.read_bytes(), str(path))
    batch.problems += warnings
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            batch.problems.append(f"{where}: not valid JSON ({exc.msg}); line skipped")
            continue
        if not isinstance(row, dict):
            batch.problems.append(f"{where}: not a JSON object; line skipped")
            continue
        _add(batch, lambda r=row, w=where: _ad_from_row(r, fields, w))


def _read_csv(path: Path, fields: TableFields, batch: AdBatch) -> None:
    text, warnings = decode(path.read_bytes(), str(path))
    batch.problems += warnings
    reader = csv.DictReader(text.splitlines())
    missing = [f for f in (fields.id, *fields.text) if f not in (reader.fieldnames or [])]
    if missing:
        batch.problems.append(f"{path}: no column {', '.join(map(repr, missing))}; file skipped")
        return
    for lineno, row in enumerate(reader, start=2):
        _add(batch, lambda r=row, n=lineno: _ad_from_row(r, fields, f"{path}:{n}"))


def _add(batch: AdBatch, make) -> None:
    try:
        batch.ads.append(make())
    except (ValueError, OSError) as exc:
        batch.problems.append(str(exc) + ("" if "skipped" in str(exc) else "; skipped"))


def _without_duplicates(batch: AdBatch) -> AdBatch:
    seen: dict[str, str] = {}
    kept = []
    for ad in batch.ads:
        if ad.id in seen:
            batch.problems.append(
                f"{ad.source}: duplicate ad id {ad.id!r} (first in {seen[ad.id]}); skipped"
            )
            continue
        seen[ad.id] = ad.source
        kept.append(ad)
    return AdBatch(kept, batch.problems)


def read_ads(paths: list[Path], fields: TableFields | None = None) -> AdBatch:
    """Every readable ad under `paths`, in a stable order, and a message per problem."""
    fields = fields or TableFields()
    batch = AdBatch()
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(p for p in path.iterdir() if p.suffix.lower() in AD_SUFFIXES):
                _add(batch, lambda f=file: _ad_from_file(f))
        elif path.suffix.lower() == ".jsonl":
            _read_jsonl(path, fields, batch)
        elif path.suffix.lower() == ".csv":
            _read_csv(path, fields, batch)
        elif path.is_file():
            _add(batch, lambda f=path: _ad_from_file(f))
        else:
            batch.problems.append(f"{path}: no such file or folder")
    batch.problems += [w for ad in batch.ads for w in ad.warnings]
    return _without_duplicates(batch)
