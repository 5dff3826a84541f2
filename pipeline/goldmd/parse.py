"""Reading gold and draft Markdown codings, tolerantly, driven by the codebook.

Hand-written files vary: `-`, `*`, `+` and numbered bullets at any indentation, category
labels with or without bold and colon, a profile with or without backticks, CRLF line
ends, a BOM, and coders' remarks (italic or parenthesised) after a label or as bullets of
their own. Remarks are kept as the category's `remarks`. A line that still cannot be
placed becomes a warning naming `file:line` (the record's `warnings`) and the rest is
read; `strict=True` (what `accept` uses) makes every warning an error. Only a file with no
recognisable structure, or whose category labels are all outside the codebook, is refused.
An HTML comment (a draft's review notes) is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.goldmd.render import DROPPED_NOTE, NOTES_START
from pipeline.record import Coding, Dropped, Quote, Remark, Tool

TITLE_LINE = re.compile(r"^# (?P<kind>.+?): Job Ad #(?P<num>.+?)(?: \((?P<org>.*)\))?$")
INTRO = re.compile(r'for the "(?P<title>.*)" position')
BULLET = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?P<content>.*)$")
BOLD_LABEL = re.compile(r"^\*\*(?P<label>[^*]+?):?\*\*:?\s*(?P<rest>.*)$")
FIELD_LABEL = re.compile(
    r"^(?P<label>assigned profile|profile|reasoning)\s*:\s*(?P<rest>.*)$", re.IGNORECASE
)
RULE = re.compile(r"-{3,}|\*{3,}|_{3,}")
# a consensus draft: how many codings it merges, and an entry found in fewer of them
CONSENSUS_LINE = re.compile(r"^Consensus of (?P<n>\d+) codings\b")
SUPPORT = re.compile(r"\s+\(support (?P<k>\d+)/(?P<n>\d+)\)$")
TRAILING_PUNCT = " .,;:!?"
ENTRY_MARKS = '"“`'
PROFILE_MARKUP = "`*_\"'“”‘’ "


# ----------------------------------------------------------------- entries and notes


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
    if re.fullmatch(r"([_*])\(.*\)\1", rest):
        rest = rest[1:-1]  # an italic parenthetical: the parentheses are the note's
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


def is_remark(content: str) -> bool:
    """A coder's remark: wholly italic (`_…_`, `*…*`), or wholly parenthesised."""
    text = content.strip()
    if len(text) >= 3 and text[0] in "_*" and text[-1] == text[0] and text[:2] != "**":
        return True
    inner = text.strip("*_").strip()
    return inner.startswith("(") and _balanced_note(inner) is not None


# ------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, codebook: Codebook, ad_id: str, source: str):
        self.book = codebook
        self.source = source
        self.coding = Coding(ad_id=ad_id)
        self.category: str | None = None
        self.warnings: list[str] = []
        self.recognised = False  # a title, a `##` section or a label was seen
        self.labels: list[tuple[int, str, bool]] = []  # (line, id, in the codebook)
        self.n_codings: int | None = None  # a consensus draft's number of codings

    def warn(self, lineno: int, message: str) -> None:
        self.warnings.append(f"{self.source}:{lineno}: {message}")

    def header(self, line: str) -> None:
        match = TITLE_LINE.match(line)
        if match:
            self.recognised = True
            self.coding.organisation = match["org"] or None

    # ------------------------------------------------------------------ labels

    def label_of(self, content: str) -> tuple[str, str] | None:
        """(label, rest) of a label line, bold or plain; None when it is not one."""
        for pattern in (BOLD_LABEL, FIELD_LABEL):
            match = pattern.match(content)
            if match:
                return match["label"], match["rest"]
        return self.plain_category_label(content)

    def plain_category_label(self, content: str) -> tuple[str, str] | None:
        """`ID. Name: rest` or `ID Name rest`, ID being a codebook category id."""
        first, _, after = content.partition(" ")
        cat_id = first.rstrip(".:")
        if cat_id not in self.book.categories:
            return None
        name = self.book.categories[cat_id].name
        if after.casefold().startswith(name.casefold()):
            return cat_id, after[len(name) :].lstrip(":").strip()
        if not after or first.endswith(":"):
            return cat_id, after
        if ":" in after:
            return cat_id, after.partition(":")[2]
        return None

    def labelled(self, lineno: int, label: str, rest: str) -> None:
        self.recognised = True
        key = label.strip().rstrip(":").strip().lower()
        if key in ("assigned profile", "profile"):
            self.profile(lineno, rest.strip())
        elif key == "reasoning":
            self.coding.reasoning = rest.strip() or None
        else:
            self.category_label(lineno, label.split()[0].rstrip(".:"), rest.strip())

    def profile(self, lineno: int, rest: str) -> None:
        ticked = re.match(r"`([^`]*)`(?P<after>.*)$", rest)
        name, after = (ticked[1], ticked["after"]) if ticked else (rest, "")
        known = {n.casefold(): n for n in self.book.profile_names}
        profile = known.get(name.strip().casefold()) or known.get(
            name.strip(PROFILE_MARKUP).rstrip(".").strip(PROFILE_MARKUP).casefold()
        )
        if name.strip(PROFILE_MARKUP) and profile is None:
            self.warn(
                lineno, f"profile {name.strip()!r} is not in the codebook; read as no profile"
            )
        elif after.strip(TRAILING_PUNCT):
            self.warn(lineno, f"text after the profile not kept: {after.strip()!r}")
        self.coding.profile = profile

    def category_label(self, lineno: int, cat_id: str, rest: str) -> None:
        known = cat_id in self.book.categories
        self.labels.append((lineno, cat_id, known))
        if not known:
            self.warn(
                lineno, f"category {cat_id!r} is not in the codebook; its entries are not read"
            )
            self.category = None
            return
        self.category = cat_id
        if not rest:
            return
        if rest[0] in ENTRY_MARKS:
            self.entry(lineno, rest)  # an entry written on the label's own line
            return
        if not is_remark(rest):
            self.warn(
                lineno, f"unexpected text after the category label, kept as a remark: {rest!r}"
            )
        label_remark = next(
            (r for r in self.coding.remarks if r.category == cat_id and not r.bullet), None
        )
        if label_remark:  # the same label twice: one remark, as it renders
            label_remark.text = f"{label_remark.text} {rest}"
        else:
            self.coding.remarks.append(Remark(category=cat_id, text=rest))

    # ----------------------------------------------------------------- entries

    def entry(self, lineno: int, content: str) -> None:
        support = SUPPORT.search(content)
        if support:
            content = content[: support.start()]
        extra = {"support": int(support["k"])} if support else {}
        is_quote = content[0] in '"“'
        # only an opening typographic mark is normalised; one inside the text is content
        split = split_quote('"' + content[1:]) if is_quote else split_tool(content)
        if split is None or not split[0].strip():
            self.warn(lineno, f"cannot read this entry: {content!r}")
            return
        if self.category is None:
            self.warn(lineno, f"entry outside any known category: {content!r}")
            return
        kind = self.book.part_of[self.category].kind
        text, note = split
        entry = {"category": self.category, "note": note, **extra}
        if is_quote and kind == "quotes":
            quote = Quote.model_validate(entry | {"text": text})
            if any(
                (q.category, q.text) == (quote.category, quote.text) for q in self.coding.quotes
            ):
                # kept (eval counts what the coder wrote), but a QDA program loads it once
                self.warn(lineno, f"the same quote is listed twice under {self.category}: {text!r}")
            self.coding.quotes.append(quote)
        elif not is_quote and kind == "tools":
            self.coding.tools.append(Tool.model_validate(entry | {"name": text}))
        else:
            expected = "a quote" if kind == "quotes" else "a tool name in backticks"
            self.warn(lineno, f"category {self.category} takes {expected}: {content!r}")

    def remark_bullet(self, content: str) -> None:
        if self.category is None:
            return  # a remark under a heading, as one without a bullet
        cat = self.category
        after = sum(q.category == cat for q in self.coding.quotes)
        after += sum(t.category == cat for t in self.coding.tools)
        self.coding.remarks.append(Remark(category=cat, text=content, bullet=True, after=after))

    # ------------------------------------------------------------------- lines

    def line(self, lineno: int, line: str, in_body: bool) -> None:
        stripped = line.strip()
        if not stripped or RULE.fullmatch(stripped):
            return
        if stripped.startswith("###"):
            self.category = None  # entries under a new heading need their own category label
            return
        bullet = BULLET.match(line)
        content = bullet["content"].strip() if bullet else stripped
        if content and content[0] in ENTRY_MARKS and (bullet or in_body):
            self.entry(lineno, content)  # most lines: no label or remark starts with a mark
        elif is_remark(content):
            if bullet:
                self.remark_bullet(content)
            # an italic remark under a heading is not part of any category
        elif label := self.label_of(content):
            self.labelled(lineno, *label)
        elif in_body or bullet:
            self.warn(lineno, f"cannot understand this line: {stripped!r}")
        elif self.coding.title is None and (intro := INTRO.search(stripped)):
            self.coding.title = intro["title"]
        elif consensus := CONSENSUS_LINE.match(stripped):
            self.n_codings = int(consensus["n"])

    def finish_support(self) -> None:
        """A consensus draft: entries without a support mark are in every coding."""
        if self.n_codings is None:
            return
        data = self.coding.model_dump() | {"n_codings": self.n_codings}
        for entry in [*data["quotes"], *data["tools"]]:
            entry.setdefault("support", self.n_codings)
        self.coding = Coding.model_validate(data)

    def finish(self, strict: bool) -> Coding:
        if not self.recognised:
            raise InputError(
                f"{self.source}: not a coding: no `# … Job Ad #…` title, no `##` "
                "section and no category or profile label"
            )
        if self.labels and not any(known for _, _, known in self.labels):
            lineno, first, _ = self.labels[0]
            raise InputError(
                f"{self.source}:{lineno}: category {first!r} is not in the codebook "
                f"{self.book.name!r}, nor is any other category of this file "
                "(another codebook? see --codebook)"
            )
        if strict and self.warnings:
            raise InputError("\n".join(self.warnings))
        self.coding.warnings = list(self.warnings)
        self.finish_support()
        return self.coding


def _lines_outside_comments(text: str):
    in_comment = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        starts = line.lstrip().startswith("<!--")
        if in_comment or starts:
            in_comment = "-->" not in line
            continue
        yield lineno, line


def parse(
    text: str, codebook: Codebook, ad_id: str, source: str = "<text>", strict: bool = False
) -> Coding:
    """Read a gold or draft Markdown coding.

    Lines that cannot be placed are listed, as `file:line: problem`, in the record's
    `warnings`; with `strict`, they raise InputError instead.
    """
    parser = _Parser(codebook, ad_id, source)
    in_body = False
    for lineno, line in _lines_outside_comments(text.removeprefix("\ufeff")):
        if line.startswith("# ") and not in_body:
            parser.header(line)
        elif line.startswith("## "):
            in_body = parser.recognised = True
            parser.category = None
        else:
            parser.line(lineno, line, in_body)
    return parser.finish(strict)


def read_coding_file(path, codebook: Codebook, strict: bool = False) -> Coding:
    """Parse one Markdown coding file; its stem is the ad id. A coding used as it is
    (a few-shot example, a gold file being written) is read with `strict=True`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, codebook, path.stem, str(path), strict)


def dropped_in_notes(text: str) -> list[Dropped]:
    """The quotes a draft's review notes (`render.review_notes`) list as dropped because they
    are not in the ad: what a folder of Markdown drafts, without its codings.jsonl, keeps of
    them."""
    if NOTES_START not in text:
        return []
    block = text.split(NOTES_START, 1)[1].split("\n-->", 1)[0]
    pattern = re.compile(
        "^- "
        + re.escape(DROPPED_NOTE)
        .replace(r"\{category\}", "(?P<category>[^)]*)")
        .replace(r"\{text\}", "(?P<text>.*)")
        + "$"
    )
    return [
        Dropped(category=m["category"], text=m["text"])
        for line in block.splitlines()
        if (m := pattern.match(line))
    ]
