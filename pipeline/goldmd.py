"""The gold Markdown format: render a coding to it and parse it back, driven by the codebook.

The layout is the one of the hand-made KLM coding (gold/769_klm.md). The parser also
reads the variations of hand-written files (indentation, `-   ` bullets, italic remarks,
a category under another heading) and reports, with file and line, any line it cannot
place instead of dropping it. An HTML comment (a draft's review notes) is skipped.
"""

from __future__ import annotations

import re

from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.record import Coding, Quote, Tool, extra_of

GOLD_KIND = "Manual Coding Analysis"
DRAFT_KIND = "Draft Coding Analysis"

TITLE_LINE = re.compile(r"^# (?P<kind>.+?): Job Ad #(?P<num>.+?)(?: \((?P<org>.*)\))?$")
INTRO = re.compile(r'for the "(?P<title>.*)" position')
BULLET = re.compile(r"^\s*[-*+]\s+(?P<content>.*)$")
LABEL = re.compile(r"^\*\*(?P<label>[^*]+?):?\*\*:?\s*(?P<rest>.*)$")
TRAILING_PUNCT = " .,;:!?"
# a consensus draft: how many codings it merges, and an entry found in fewer of them
CONSENSUS_LINE = re.compile(r"^Consensus of (?P<n>\d+) codings\b")
SUPPORT = re.compile(r"\s+\(support (?P<k>\d+)/(?P<n>\d+)\)$")


def ad_number(ad_id: str) -> str:
    match = re.match(r"\d+", ad_id)
    return match.group(0) if match else ad_id


# ---------------------------------------------------------------------------- render


def _intro(coding: Coding, draft_model: str | None) -> str:
    who = (
        f"a draft coding by autocode (model `{draft_model}`)"
        if draft_model
        else "the manual coding"
    )
    if coding.title:
        at = f" at {coding.organisation}" if coding.organisation else ""
        return f'This document contains {who} for the "{coding.title}" position{at}.'
    return f"This document contains {who} for job ad {coding.ad_id}."


def _suffix(note: str | None) -> str:
    return f" ({note})" if note else ""


def _support(entry: Quote | Tool, n_codings: int | None) -> str:
    """` (support k/n)` for an entry of a consensus found in fewer than all its codings."""
    support = extra_of(entry, "support")
    if not n_codings or support is None or support == n_codings:
        return ""
    return f" (support {support}/{n_codings})"


def _category_block(coding: Coding, cat_id: str, name: str) -> list[str]:
    n = extra_of(coding, "n_codings")
    entries = [
        f'  - "{q.text}"{_suffix(q.note)}{_support(q, n)}'
        for q in coding.quotes
        if q.category == cat_id
    ]
    entries += [
        f"  - `{t.name}`{_suffix(t.note)}{_support(t, n)}"
        for t in coding.tools
        if t.category == cat_id
    ]
    return [f"- **{cat_id}. {name}:**", *entries] if entries else []


def render(
    coding: Coding,
    codebook: Codebook,
    draft_model: str | None = None,
    review_notes: list[str] | None = None,
) -> str:
    """The coding as gold Markdown; with `draft_model`, titled as a draft from that model."""
    kind = f"{DRAFT_KIND} by {draft_model}" if draft_model else GOLD_KIND
    org = f" ({coding.organisation})" if coding.organisation else ""
    lines = [
        f"# {kind}: Job Ad #{ad_number(coding.ad_id)}{org}",
        "",
        _intro(coding, draft_model),
        "",
    ]
    n_codings = extra_of(coding, "n_codings")
    if n_codings and n_codings > 1:  # one coding: nothing to mark
        lines += [
            f"Consensus of {n_codings} codings: an entry in fewer than {n_codings} of "
            f'them ends with "(support k/{n_codings})".',
            "",
        ]
    if coding.profile:
        lines.append(f"- **Assigned Profile:** `{coding.profile}`")
    if coding.reasoning:
        lines.append(f"- **Reasoning:** {coding.reasoning}")
    if coding.profile or coding.reasoning:
        lines.append("")
    for part in codebook.parts:
        lines += ["---", "", f"## {part.heading}", ""]
        sections: list[tuple[str | None, list]] = [(g.title, g.categories) for g in part.groups]
        sections += [(None, part.categories)] if part.categories else []
        for title, categories in sections:
            block = [ln for c in categories for ln in _category_block(coding, c.id, c.name)]
            if block:
                lines += ([f"### {title}", ""] if title else []) + block + [""]
    text = "\n".join(lines)
    if review_notes:
        text += "\n" + render_review_notes(review_notes)
    return text


def render_review_notes(notes: list[str]) -> str:
    """A block the parser skips, so a corrected draft can become gold unchanged."""
    body = "\n".join(f"- {n}".replace("-->", "-- >") for n in notes)
    return f"<!-- autocode review notes (skipped when parsed)\n{body}\n-->\n"


# ----------------------------------------------------------------------------- parse


def _balanced_note(rest: str) -> str | None:
    """`(note)` plus optional trailing punctuation, or None when `rest` is not that."""
    depth = 0
    for i, ch in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            trailing = rest[i + 1 :]
            if trailing.strip(TRAILING_PUNCT):
                return None
            return rest[1:i] + trailing.strip()
    return None


def _note_of(rest: str) -> str | None:
    rest = rest.strip()
    if not rest:
        return None
    if rest.startswith("("):
        note = _balanced_note(rest)
        return note if note is not None else rest[1:].removesuffix(")")
    return rest.lstrip("-–: ") or None


def split_quote(content: str) -> tuple[str, str | None] | None:
    """Split `"text" (note)` into text and note; None when there is no closing mark."""
    body = content[1:]
    if body.endswith('"') and len(body) > 1:
        return body[:-1], None
    closings = [m.start() for m in re.finditer(r'" \(', body)]
    for pos in reversed(closings):
        note = _balanced_note(body[pos + 2 :])
        if note is not None:
            return body[:pos], note
    if closings:
        return body[: closings[-1]], _note_of(body[closings[-1] + 2 :])
    end = body.rfind('"')
    if end > 0:
        return body[:end], _note_of(body[end + 1 :])
    return None


def split_tool(content: str) -> tuple[str, str | None] | None:
    end = content.find("`", 1)
    if end <= 1:
        return None
    return content[1:end], _note_of(content[end + 1 :])


class _Parser:
    def __init__(self, codebook: Codebook, ad_id: str, source: str):
        self.book = codebook
        self.source = source
        self.coding = Coding(ad_id=ad_id)
        self.category: str | None = None
        self.problems: list[str] = []
        self.n_codings: int | None = None

    def finish_support(self) -> None:
        """A consensus draft: entries without a support mark are in every coding."""
        if self.n_codings is None:
            return
        data = self.coding.model_dump() | {"n_codings": self.n_codings}
        for entry in [*data["quotes"], *data["tools"]]:
            entry.setdefault("support", self.n_codings)
        self.coding = Coding.model_validate(data)

    def problem(self, lineno: int, message: str) -> None:
        self.problems.append(f"{self.source}:{lineno}: {message}")

    def header(self, line: str) -> None:
        match = TITLE_LINE.match(line)
        if match:
            self.coding.organisation = match["org"] or None

    def labelled(self, lineno: int, label: str, rest: str) -> None:
        key = label.strip().rstrip(":").lower()
        if key in ("assigned profile", "profile"):
            profile = rest.strip().strip("`").strip()
            if profile not in self.book.profile_names:
                self.problem(lineno, f"profile {profile!r} is not in the codebook")
            self.coding.profile = profile or None
        elif key == "reasoning":
            self.coding.reasoning = rest.strip() or None
        else:
            cat_id = label.split()[0].rstrip(".:")
            known = cat_id in self.book.categories
            if not known:
                self.problem(lineno, f"category {cat_id!r} is not in the codebook")
            self.category = cat_id if known else None
            if rest.strip():
                self.problem(lineno, f"unexpected text after the category label: {rest!r}")

    def entry(self, lineno: int, content: str) -> None:
        support = SUPPORT.search(content)
        if support:
            content = content[: support.start()]
        extra = {"support": int(support["k"])} if support else {}
        is_quote = content[0] in '"“'
        # only an opening typographic mark is normalised; one inside the text is content
        split = split_quote('"' + content[1:]) if is_quote else split_tool(content)
        if split is None or not split[0].strip():
            self.problem(lineno, f"cannot read this entry: {content!r}")
            return
        if self.category is None:
            self.problem(lineno, "entry outside any known category")
            return
        kind = self.book.part_of[self.category].kind
        text, note = split
        entry = {"category": self.category, "note": note, **extra}
        if is_quote and kind == "quotes":
            self.coding.quotes.append(Quote.model_validate(entry | {"text": text}))
        elif not is_quote and kind == "tools":
            self.coding.tools.append(Tool.model_validate(entry | {"name": text}))
        else:
            expected = "a quote" if kind == "quotes" else "a tool name in backticks"
            self.problem(lineno, f"category {self.category} takes {expected}: {content!r}")

    def line(self, lineno: int, line: str, in_body: bool) -> None:
        stripped = line.strip()
        bullet = BULLET.match(line)
        if not stripped or re.fullmatch(r"-{3,}|\*{3,}", stripped):
            return
        if stripped.startswith("###"):
            self.category = None  # entries under a new heading need their own category label
            return
        italic = stripped.startswith(("*(", "_(")) or re.fullmatch(r"([*_]).+\1", stripped)
        if italic and not bullet:
            return  # an italic remark under a heading (a `* ` bullet is not one)
        if bullet:
            content = bullet["content"].strip()
            label = LABEL.match(content)
            if label:
                self.labelled(lineno, label["label"], label["rest"])
            elif content[:1] in '"“`':
                self.entry(lineno, content)
            else:
                self.problem(lineno, f"cannot understand this line: {stripped!r}")
        elif in_body:
            self.problem(lineno, f"cannot understand this line: {stripped!r}")
        elif self.coding.title is None and (intro := INTRO.search(stripped)):
            self.coding.title = intro["title"]
        elif consensus := CONSENSUS_LINE.match(stripped):
            self.n_codings = int(consensus["n"])


def _lines_outside_comments(text: str):
    in_comment = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_comment or line.lstrip().startswith("<!--"):
            in_comment = "-->" not in line
            continue
        yield lineno, line


def parse(text: str, codebook: Codebook, ad_id: str, source: str = "<text>") -> Coding:
    """Read a gold or draft Markdown coding; raise InputError listing every problem line."""
    parser = _Parser(codebook, ad_id, source)
    in_body = False
    for lineno, line in _lines_outside_comments(text):
        if line.startswith("# ") and not in_body:
            parser.header(line)
        elif line.startswith("## "):
            in_body = True
            parser.category = None
        else:
            parser.line(lineno, line, in_body)
    if parser.problems:
        raise InputError("\n".join(parser.problems))
    parser.finish_support()
    return parser.coding


def read_coding_file(path, codebook: Codebook) -> Coding:
    """Parse one Markdown coding file; its stem is the ad id."""
    from pathlib import Path

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, codebook, path.stem, str(path))
