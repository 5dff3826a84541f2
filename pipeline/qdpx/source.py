"""REFI-QDA export of one ad: a TextSource with every coder's selections, codings of the
whole source, notes and profile (`export` writes the project around it, a source at a time)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from xml.etree import ElementTree as ET

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.goldmd.render import review_notes
from pipeline.grounding import fold, fold_quote, ground
from pipeline.qdpx.format import (
    REVIEW_HEADING,
    entry_text,
    guid,
    node,
    profile_variable,
    reasoning_label,
    sub,
    to_offset,
)
from pipeline.record import Coding, Quote


@dataclass
class Summary:
    """What an export holds; the quotes it left out (not in their ad), and the codings (their
    ad was not given)."""

    sources: int = 0
    codes: int = 0
    users: int = 0
    selections: int = 0
    tool_selections: int = 0
    source_codings: int = 0
    not_exported: list[tuple[str, str, Quote]] = field(default_factory=list)
    # (coder, ad, quote, where): a quote the coder listed twice, exported once
    duplicates: list[tuple[str, str, Quote, str]] = field(default_factory=list)
    without_ad: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Source:
    """What the coders put on one source, collected before the XML is written."""

    selections: list[tuple[tuple[int, int], int, ET.Element]] = field(default_factory=list)
    codings: list[ET.Element] = field(default_factory=list)
    note_refs: list[str] = field(default_factory=list)
    values: list[ET.Element] = field(default_factory=list)


Folded = Callable[[], tuple[str, list[int]]]


def tool_span(name: str, ad_text: str, folded: Folded | None = None) -> tuple[int, int] | None:
    """First whole-word occurrence of a tool name, verbatim or after grounding's folding;
    without its parenthetical (`Azure (OpenAI)` → `Azure`) when the full name is absent.
    `folded` gives the folded ad (an ad's tools share it; it is made only for a name not
    found verbatim, the costliest step of an export when every ad was folded)."""
    bare = re.sub(r"\s*\([^)]*\)", "", name).strip()
    for candidate in dict.fromkeys([name, bare]):
        if not candidate:
            continue
        hit = re.search(rf"(?<!\w){re.escape(candidate)}(?!\w)", ad_text)
        if hit:
            return hit.span()
        needle = fold_quote(candidate)
        if not needle:
            continue
        hay, origin = folded() if folded is not None else fold(ad_text)
        hit = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", hay)
        if hit:
            return origin[hit.start()], origin[hit.end() - 1] + 1
    return None


class Builder:
    """Builds each source's entries for one export; each Note they refer to goes to `notes`
    when it is made (the project lists the notes after every source)."""

    def __init__(
        self,
        book: Codebook,
        offsets: str,
        created: str,
        several: bool,
        notes: Callable[[ET.Element], None],
    ):
        self.book, self.offsets, self.created, self.several = book, offsets, created, several
        self.notes = notes
        self.summary = Summary()
        self.order = {cat_id: i for i, cat_id in enumerate(book.categories)}
        # the same few GUIDs on every selection: made once (uuid5 is a SHA-1 each time)
        self._stamps: dict[str, dict[str, str]] = {}
        self._codes = {cat_id: guid("code", cat_id) for cat_id in book.categories}

    def stamp(self, user: str) -> dict[str, str]:
        if user not in self._stamps:
            self._stamps[user] = {
                "creatingUser": guid("user", user),
                "creationDateTime": self.created,
            }
        return self._stamps[user]

    def selection(
        self,
        ad: Ad,
        user: str,
        key: tuple,
        span: tuple[int, int],
        category: str,
        name: str,
        description: str | None,
    ) -> tuple:
        start, end = (to_offset(ad.text, i, self.offsets) for i in span)
        sel = node(
            "PlainTextSelection",
            guid=guid("selection", *key),
            name=name,
            startPosition=str(start),
            endPosition=str(end),
            **self.stamp(user),
        )
        if description:
            sub(sel, "Description", description)
        coding = sub(sel, "Coding", guid=guid("coding", *key), **self.stamp(user))
        sub(coding, "CodeRef", targetGUID=self._codes[category])
        return span, self.order[category], sel

    def note(self, key: tuple, user: str, name: str, text: str) -> str:
        note_guid = guid("note", *key)
        note = node("Note", guid=note_guid, name=name, **self.stamp(user))
        sub(note, "PlainTextContent", text)
        self.notes(note)
        return note_guid

    def quotes(self, ad: Ad, user: str, coding: Coding, into: _Source) -> None:
        seen: set[tuple[str, tuple[int, int]]] = set()
        for i, quote in enumerate(coding.quotes):
            if quote.span is None:
                self.summary.not_exported.append((user, ad.id, quote))
                continue
            if (quote.category, quote.span) in seen:  # QDA programs load one selection of it
                self.summary.duplicates.append((user, ad.id, quote, _listed_twice(coding, quote)))
                continue
            seen.add((quote.category, quote.span))
            key = (user, ad.id, "quote", str(i))
            into.selections.append(
                self.selection(ad, user, key, quote.span, quote.category, quote.text, quote.note)
            )
            self.summary.selections += 1

    def tools(self, ad: Ad, user: str, coding: Coding, into: _Source) -> None:
        folded = cache(partial(fold, ad.text))
        for i, tool in enumerate(coding.tools):
            key = (user, ad.id, "tool", str(i))
            span = tool_span(tool.name, ad.text, folded)
            text = entry_text(tool.name, tool.note)
            if span is not None:
                into.selections.append(
                    self.selection(ad, user, key, span, tool.category, tool.name, text)
                )
                self.summary.tool_selections += 1
                continue
            code = node("Coding", guid=guid("coding", *key), **self.stamp(user))
            sub(code, "CodeRef", targetGUID=self._codes[tool.category])
            sub(code, "NoteRef", targetGUID=self.note(key, user, tool.name, text))
            into.codings.append(code)
            self.summary.source_codings += 1

    def remarks(self, ad: Ad, user: str, coding: Coding, into: _Source) -> None:
        """The profile as a variable value; reasoning and review notes as one Note."""
        if coding.profile:
            value = node("VariableValue")
            name = profile_variable(user, self.several)
            sub(value, "VariableRef", targetGUID=guid("variable", name))
            sub(value, "TextValue", coding.profile)
            into.values.append(value)
        text = note_text(coding.reasoning, review_notes(coding))
        if text:
            key = (user, ad.id, "reasoning")
            into.note_refs.append(self.note(key, user, f"Reasoning: {ad.id} ({user})", text))


def _listed_twice(coding: Coding, quote: Quote) -> str:
    """Where the coder's file lists `quote` twice (the Markdown parser's file:line warning),
    else the ad."""
    needle = f"listed twice under {quote.category}: {quote.text!r}"
    return next(
        (w.split(": the same quote")[0] for w in coding.warnings if needle in w), coding.ad_id
    )


def note_text(reasoning: str | None, notes: list[str]) -> str:
    text = reasoning or ""
    if notes:
        text += f"\n\n{REVIEW_HEADING}\n" + "\n".join(f"- {n}" for n in notes)
    return text.strip()


def source_description(ad: Ad, entries: list[tuple[str, Coding]], several: bool) -> str:
    """Title, organisation and every coder's reasoning and review notes: QDA programs show a
    source's description beside it (QualCoder as its memo), where a note may not arrive."""
    codings = [c for _, c in entries]
    title = next((c.title for c in codings if c.title), None) or ad.title
    org = next((c.organisation for c in codings if c.organisation), None) or ad.organisation
    lines = [f"Title: {title}" if title else "", f"Organisation: {org}" if org else ""]
    for user, coding in entries:
        if coding.reasoning:
            lines.append(f"{reasoning_label(user, several)}: {coding.reasoning}")
        notes = review_notes(coding)
        if notes:
            heading = REVIEW_HEADING.replace("autocode", user) if several else REVIEW_HEADING
            lines += [heading, *(f"- {note}" for note in notes)]
    return "\n".join(line for line in lines if line) or f"Job ad {ad.id}"


def source_element(ad: Ad, entries: list[tuple[str, Coding]], builder: Builder) -> ET.Element:
    """One TextSource with every coder's selections, codings, note refs and profile."""
    source_guid = guid("source", ad.id)
    source = node(
        "TextSource",
        guid=source_guid,
        name=ad.id,
        plainTextPath=f"internal://{source_guid}.txt",
        **builder.stamp(entries[0][0]),  # owned by its first coder, as its values are
    )
    sub(source, "Description", source_description(ad, entries, builder.several))
    collected = _Source()
    for user, coding in entries:
        coding = ground(coding, ad.text)  # spans in this text, whatever the set recorded
        builder.quotes(ad, user, coding, collected)
        builder.tools(ad, user, coding, collected)
        builder.remarks(ad, user, coding, collected)
    # positions first, so a QDA tool lists the selections in reading order
    source.extend(sel for *_, sel in sorted(collected.selections, key=lambda s: (s[0], s[1])))
    source.extend(collected.codings)
    for note_guid in collected.note_refs:
        sub(source, "NoteRef", targetGUID=note_guid)
    source.extend(collected.values)
    return source
