"""`autocode accept`: check corrected drafts and turn them into gold codings.

A draft is accepted when it parses strictly (every line placed, every category and profile
in the codebook: what the tolerant reading only warns about is an error here), has a
profile and, when its ad is given, every quote is found in the ad.
It is then written as gold Markdown (`goldmd.render`: the gold title, no review notes).
Every problem is reported as `file:line: message`; with any problem nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ads import AD_SUFFIXES, TableFields, read_ads
from pipeline.codebook import Codebook
from pipeline.codings.load import read_markdown_text
from pipeline.errors import InputError
from pipeline.goldmd.parse import BULLET, parse
from pipeline.goldmd.render import render
from pipeline.grounding import ground
from pipeline.record import Coding, one_line, without_support
from pipeline.store import atomic_write_text


@dataclass
class Checked:
    """One draft after checking: the gold text to write, or the problems that stop it."""

    source: Path
    coding: Coding | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def quote_lines(lines: list[str], quotes: list) -> list[int]:
    """1-based line of each quote in the draft; quotes are parsed in file order, so each
    is looked for after the previous one (the same passage may be under two categories)."""
    found, pos = [], 0
    for quote in quotes:
        hits = [i for i in range(len(lines)) if _quotes(one_line(lines[i]), quote.text)]
        after = [i for i in hits if i >= pos]
        line = (after or hits or [-1])[0]  # -1: not found, reported at line 1
        found.append(line + 1 if line >= 0 else 1)
        pos = line + 1 if line >= 0 else pos
    return found


def _quotes(line: str, text: str) -> bool:
    """Whether the line is a bullet holding this quote, opened by a straight or typographic
    mark (a label's own line may hold one too)."""
    return BULLET.match(line) is not None and (f'"{text}' in line or f"“{text}" in line)


def _profile_line(lines: list[str]) -> int:
    """Where a missing profile belongs: before the first `##` section."""
    return next((i for i, line in enumerate(lines, start=1) if line.startswith("## ")), 1)


def check_draft(path: Path, text: str, book: Codebook, ad_text: str | None) -> Checked:
    """Parse and check one draft's text; `ad_text` None means quotes are not checked."""
    checked = Checked(path)
    try:
        coding = parse(text, book, path.stem, str(path), strict=True)
    except InputError as exc:
        checked.problems = str(exc).splitlines()
        return checked
    lines = text.splitlines()
    if not coding.profile:
        checked.problems.append(
            f"{path}:{_profile_line(lines)}: no profile: add a line "
            "`- **Assigned Profile:** `<profile>`` naming a codebook profile"
        )
    if ad_text is not None:
        grounded = ground(coding, ad_text).quotes
        for quote, lineno in zip(grounded, quote_lines(lines, grounded), strict=True):
            where = f"{path}:{lineno}: {quote.category}"
            if quote.grounding == "not_found":
                checked.problems.append(f"{where}: quote not found in the ad: {quote.text!r}")
            elif quote.grounding == "fuzzy":
                checked.warnings.append(
                    f"{where}: quote only approximately in the ad (fuzzy): {quote.text!r}"
                )
    checked.coding = None if checked.problems else coding
    return checked


def ad_texts(ads: Path, ad_ids: list[str], fields: TableFields | None = None) -> dict[str, str]:
    """Texts of the given ads: <id>.<txt|md|html> in a folder, or rows of a .jsonl/.csv."""
    ads = Path(ads)
    if ads.is_dir():
        files = [
            f
            for i in ad_ids
            for f in sorted(ads.glob(f"{glob_escape(i)}.*"))
            if f.suffix.lower() in AD_SUFFIXES
        ]
        batch = read_ads(files, fields) if files else None
    else:
        batch = read_ads([ads], fields)
    wanted = set(ad_ids)
    return {ad.id: ad.text for ad in (batch.ads if batch else []) if ad.id in wanted}


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def check_drafts(
    paths: list[Path], book: Codebook, ads: Path | None, fields: TableFields | None = None
) -> list[Checked]:
    """Check every draft; a missing ad (when `ads` is given) is a problem too."""
    texts = ad_texts(ads, [Path(p).stem for p in paths], fields) if ads else {}
    results: list[Checked] = []
    stems: dict[str, Path] = {}
    for path in map(Path, paths):
        try:
            text = read_markdown_text(path)
        except InputError as exc:
            results.append(Checked(path, problems=[str(exc)]))
            continue
        if ads and path.stem not in texts:
            results.append(Checked(path, problems=[f"{path}: no ad {path.stem!r} in {ads}"]))
            continue
        checked = check_draft(path, text, book, texts.get(path.stem))
        if path.stem in stems:
            checked.problems.append(f"{path}: same ad id as {stems[path.stem]}")
            checked.coding = None
        stems[path.stem] = path
        results.append(checked)
    return results


def write_gold(results: list[Checked], gold: Path, book: Codebook) -> list[Path]:
    """Write every checked draft as gold; call only when no draft has a problem."""
    if any(r.problems or r.coding is None for r in results):
        raise ValueError("write_gold needs drafts without problems")
    written = []
    for checked in results:
        target = Path(gold) / f"{checked.source.stem}.md"
        gold_coding = without_support(checked.coding)  # type: ignore[arg-type]  # checked above
        atomic_write_text(target, render(gold_coding, book))
        written.append(target)
    return written
