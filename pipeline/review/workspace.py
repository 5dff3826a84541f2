"""What the editor keeps on disk: gold files, work in progress, the corrections log, a queue.

Everything lives in the gold folder, so a study's gold, the coders' unsaved work and the log
of what they changed travel together:

    GOLD/<id>.md                       saved codings (the gold format, as `accept` writes)
    GOLD/corrections.jsonl             one line per save (`review.corrections`)
    GOLD/.autocode/wip/<coder>/<id>.json   work in progress, written as the coder goes

A gold file's ETag is the SHA-256 of its bytes (or "absent"), so a save can refuse to
replace a file that changed since the page loaded. Saves go through `accept`'s checks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.goldmd.parse import parse
from pipeline.goldmd.render import render
from pipeline.grounding import ground
from pipeline.record import Coding, without_support
from pipeline.review.accept import check_draft
from pipeline.review.corrections import correction_record
from pipeline.store import append_line, atomic_write_text, read_records

LOG_NAME = "corrections.jsonl"
ABSENT = '"absent"'
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def etag_of(path: Path) -> str:
    """The gold file's state: a strong ETag of its bytes, or "absent"."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ABSENT
    return f'"{hashlib.sha256(data).hexdigest()}"'


def safe_name(name: str) -> str:
    """A coder name as a folder name (no separators, no dots first)."""
    return SAFE_NAME.sub("_", name).lstrip(".") or "coder"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def provenance_comment(coder: str, blind: bool, draft_model: str | None, when: str) -> str:
    """A line the gold parser skips (an HTML comment) saying who coded the file and how."""
    how = "coded blind" if blind else "corrected"
    source = f" from a draft by {draft_model}" if draft_model and not blind else ""
    return f"<!-- autocode review --serve: {how} by {coder}{source}, {when} -->\n"


@dataclass
class SaveResult:
    """A save's outcome: the written coding and its ETag, or the problems (nothing written)."""

    status: int
    coding: Coding | None = None
    etag: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Workspace:
    gold: Path
    book: Codebook
    coder: str
    blind: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def gold_path(self, ad_id: str) -> Path:
        return self.gold / f"{ad_id}.md"

    def wip_path(self, ad_id: str) -> Path:
        return self.gold / ".autocode" / "wip" / safe_name(self.coder) / f"{ad_id}.json"

    @property
    def log_path(self) -> Path:
        return self.gold / LOG_NAME

    def etag(self, ad_id: str) -> str:
        return etag_of(self.gold_path(ad_id))

    def read_gold(self, ad_id: str) -> Coding | None:
        """The saved coding, or None (absent or unreadable: the editor starts from the draft)."""
        path = self.gold_path(ad_id)
        try:
            return parse(path.read_text(encoding="utf-8-sig"), self.book, ad_id, str(path))
        except (OSError, UnicodeDecodeError, InputError):
            return None

    def read_wip(self, ad_id: str) -> dict | None:
        try:
            data = json.loads(self.wip_path(ad_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_wip(self, ad_id: str, state: dict) -> None:
        atomic_write_text(self.wip_path(ad_id), json.dumps(state | {"saved_at": now()}))

    def save(
        self,
        coding: Coding,
        if_match: str,
        draft: Coding | None,
        ad_text: str | None,
        seconds: float,
    ) -> SaveResult:
        """Check `coding` as `accept` does, then write it unless the file changed since
        `if_match`; log what changed against the draft and drop the work in progress."""
        when = now()
        gold = without_support(coding)
        text = render(gold, self.book) + provenance_comment(
            self.coder, self.blind, draft.drafted_by if draft else None, when
        )
        path = self.gold_path(coding.ad_id)
        checked = check_draft(path, text, self.book, ad_text)
        if checked.problems:
            return SaveResult(422, problems=checked.problems)
        with self.lock:
            if if_match != self.etag(coding.ad_id):
                return SaveResult(409, etag=self.etag(coding.ad_id), problems=[conflict(path)])
            atomic_write_text(path, text)
            saved = parse(text, self.book, coding.ad_id, str(path))
            record = correction_record(
                draft,
                saved,
                ad_text,
                coder=self.coder,
                blind=self.blind,
                seconds=seconds,
                saved_at=when,
            )
            append_line(self.log_path, record)
            self.wip_path(coding.ad_id).unlink(missing_ok=True)
            tag = self.etag(coding.ad_id)
        return SaveResult(200, ground(saved, ad_text) if ad_text else saved, tag)

    def saved_by(self) -> dict[str, str]:
        """Ad id -> the coder of its last save, from the log."""
        return {r["ad_id"]: r.get("coder", "?") for r in read_records(self.log_path)}


def conflict(path: Path) -> str:
    return (
        f"{path} changed on disk since this page loaded (another tab or coder saved it). "
        "Nothing was written; your work is kept as work in progress. Reload the ad to see the "
        "saved version, or copy your changes over it."
    )


def read_queue(path: Path) -> list[str]:
    """Ad ids in order: a CSV with an `ad_id` (or `id`) column, such as `autocode sample`'s
    sample.csv, or a plain list with one id per line (blank lines and # comments skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the queue: {exc}") from None
    first = text.splitlines()[0] if text.strip() else ""
    if "," in first or first.strip() in ("ad_id", "id"):
        rows = csv.DictReader(text.splitlines())
        column = next((c for c in ("ad_id", "id") if c in (rows.fieldnames or [])), None)
        if column is None:
            raise InputError(f"{path}:1: a CSV queue needs an `ad_id` or `id` column")
        return [row[column].strip() for row in rows if (row.get(column) or "").strip()]
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]
