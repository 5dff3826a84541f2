"""What is asked of the LLM: the messages (static part first, the ad last) and the
response model generated from the codebook, whose validator grounds every quote."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, Field, ValidationInfo, create_model, model_validator

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.grounding import fold, ground, locate
from pipeline.record import Coding, Quote, Tool
from pipeline.resources import packaged

PROMPTS_DIR = packaged("prompts")


@lru_cache(maxsize=4)
def _templates(folder: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, keep_trailing_newline=False
    )


def render_template(name: str, prompts_dir: Path = PROMPTS_DIR, **values) -> str:
    return _templates(str(prompts_dir)).get_template(name).render(**values).strip() + "\n"


class CodingAnswer(BaseModel):
    """Base of the generated response model: rejects quotes that are not in the ad.

    The validation context carries the ad text, the re-ask budget and a per-call
    `state` whose `attempts` the LLM layer counts; on the last attempt ungrounded
    quotes are accepted here and dropped later, so one bad quote does not cost the ad.
    """

    @model_validator(mode="after")
    def _quotes_in_ad(self, info: ValidationInfo):
        ctx = info.context if info.context is not None else {}  # llm's is falsy
        if "ad_text" not in ctx:
            return self
        text = ctx["ad_text"]
        quotes = self.quotes  # type: ignore[attr-defined]  # declared by the codebook's model
        missing = [q.text for q in quotes if not (q.text and q.text in text)]  # verbatim
        if missing:  # folding the ad costs more than the rest of the check
            folded = fold(text)
            missing = [m for m in missing if locate(m, text, folded)[1] == "not_found"]
        state = ctx.get("state", {})
        if missing and state.get("attempts", 1) <= ctx.get("max_retries", 0):
            listed = "; ".join(json.dumps(m, ensure_ascii=False) for m in missing)
            raise ValueError(
                f"These quotes are not verbatim passages of the ad: {listed}. "
                "Copy the exact words of the ad, or leave the quote out."
            )
        return self


_MODELS: dict[tuple, tuple[Codebook, type[CodingAnswer]]] = {}


def response_model(
    codebook: Codebook, max_items: int | None = None, passages: tuple[str, ...] | None = None
) -> type[CodingAnswer]:
    """The response model: category ids and profiles are enums taken from the codebook.

    For small models under constrained decoding, `max_items` caps the quote and tool
    lists (so they stop repeating themselves) and `passages` makes the quote text an
    enum of the ad's own passages (so every quote is verbatim by construction).
    """
    if passages:
        return _build_response_model(codebook, max_items, passages)
    key = (id(codebook), max_items)
    cached = _MODELS.get(key)
    if cached is None or cached[0] is not codebook:
        cached = _MODELS[key] = (codebook, _build_response_model(codebook, max_items, None))
    return cached[1]


def ad_passages(text: str, limit: int = 80) -> tuple[str, ...]:
    """The ad's lines split into sentences, bullets stripped: what a quote may be, each made
    safe for llama.cpp's grammar (`grammar_safe`) or left out."""
    found: list[str] = []
    for line in text.splitlines():
        for sentence in re.split(r"(?<=[.!?;])\s+", line.strip(" \t-*•")):
            safe = grammar_safe(sentence)
            # three words at least: punctuation alone is no evidence (and folds to nothing)
            words = len(re.findall(r"\w+", safe or ""))
            if safe and words >= 3 and len(safe) <= 300 and safe not in found:
                found.append(safe)
    return tuple(found[:limit])


def grammar_safe(passage: str) -> str | None:
    """`passage` as an enum value llama.cpp's grammar reproduces exactly, or None.

    llama-cpp-python writes an enum value's JSON escapes into the grammar unescaped: `\"` ends
    the grammar's string (the server fails and dies), `\t` or `\u0001` makes the model write
    a raw control character (the answer is not JSON), `\\` a lone backslash. So whitespace
    runs (tabs, form feeds) become one space and `"` a typographic quote, which grounding
    folds back (the quote is found `normalized`); what still needs an escape is left out:
    a backslash, another control character, a character outside the BMP (a surrogate pair).
    """
    safe = re.sub(r'"([^"]*)"', r"“\1”", " ".join(passage.split())).replace('"', "”")
    if "\\" in safe or any(ord(ch) < 0x20 or ord(ch) > 0xFFFF for ch in safe):
        return None
    return safe or None


# Small models under constrained decoding: every free string has a length cap, so the
# longest answer the grammar allows is finite and --max-tokens can be sized to it.
TOOL_NAME_CHARS = 40
REASONING_CHARS = 300


def _build_response_model(
    codebook: Codebook, max_items: int | None, passages: tuple[str, ...] | None
) -> type[CodingAnswer]:
    # built from the codebook at run time, so typed Any for the checker
    quote_ids: Any = Literal[tuple(codebook.ids_of_kind("quotes"))]
    tool_ids: Any = Literal[tuple(codebook.ids_of_kind("tools"))]
    profiles: Any = Literal[tuple(codebook.profile_names)]
    small = max_items is not None
    quote: Any = create_model("QuoteAnswer", **_quote_fields(quote_ids, passages))
    tool: Any = create_model(
        "ToolAnswer",
        category=(tool_ids, Field(description="Codebook category id")),
        name=(
            str,
            Field(
                min_length=1,
                max_length=TOOL_NAME_CHARS if small else None,
                description="Tool name as the ad writes it",
            ),
        ),
    )
    return create_model(
        "CodingAnswer",
        __base__=CodingAnswer,
        quotes=(list[quote], Field(max_length=max_items)),
        tools=(list[tool], Field(max_length=max_items)),
        reasoning=(
            str,
            Field(
                max_length=REASONING_CHARS if small else None,
                description="Why this profile, in 1-3 sentences",
            ),
        ),
        profile=(profiles, Field(description="Exactly one profile from the codebook")),
    )


def _quote_fields(quote_ids: Any, passages: tuple[str, ...] | None) -> dict:
    """A quote's fields. With `passages` (a small model) the text is one of them and there
    is no translation: a tiny model's translations are noise, and cost tokens."""
    fields: dict = {
        "category": (quote_ids, Field(description="Codebook category id")),
        "text": (
            Literal[passages] if passages else str,
            Field(min_length=1, description="Verbatim passage"),
        ),
    }
    if not passages:
        optional_text: Any = str | None
        fields["translation"] = (
            optional_text,
            Field(default=None, description="English translation if not English"),
        )
    return fields


def example_answer(coding: Coding) -> str:
    """A gold coding written as the answer the LLM is asked for (for few-shot examples)."""
    answer = {
        "quotes": [
            {"category": q.category, "text": q.text, "translation": q.note} for q in coding.quotes
        ],
        "tools": [{"category": t.category, "name": t.name} for t in coding.tools],
        "reasoning": coding.reasoning or "",
        "profile": coding.profile,
    }
    return json.dumps(answer, ensure_ascii=False)


_SYSTEM: dict[tuple, tuple[Codebook, str]] = {}


def system_prompt(codebook: Codebook, prompts_dir=PROMPTS_DIR) -> str:
    """The rendered system.j2, once per codebook and template version (a run asks per ad)."""
    template = Path(prompts_dir) / "system.j2"
    key = (id(codebook), str(template), template.stat().st_mtime_ns)
    cached = _SYSTEM.get(key)
    if cached is None or cached[0] is not codebook:
        cached = _SYSTEM[key] = (
            codebook,
            render_template("system.j2", prompts_dir, codebook=codebook),
        )
    return cached[1]


def build_messages(
    codebook: Codebook, ad: Ad, examples: Sequence[tuple[Ad, Coding]] = (), prompts_dir=PROMPTS_DIR
) -> list[dict]:
    """System prompt and few-shot examples (identical for every ad), then the ad."""
    messages = [{"role": "system", "content": system_prompt(codebook, prompts_dir)}]
    for example_ad, coding in examples:
        if example_ad.id == ad.id:
            continue  # never show the model the coding of the ad it is coding
        messages.append(
            {"role": "user", "content": render_template("ad.j2", prompts_dir, ad=example_ad)}
        )
        messages.append({"role": "assistant", "content": example_answer(coding)})
    messages.append({"role": "user", "content": render_template("ad.j2", prompts_dir, ad=ad)})
    return messages


def prompt_hash(messages: list[dict]) -> str:
    """SHA-256 of the static part (everything before the ad), computed once per run."""
    try:
        return _static_hash(tuple(tuple(sorted(m.items())) for m in messages[:-1]))
    except TypeError:  # a value that cannot be a dict key
        return _static_hash.__wrapped__(tuple(tuple(sorted(m.items())) for m in messages[:-1]))


@lru_cache(maxsize=16)
def _static_hash(static: tuple) -> str:
    blob = json.dumps([dict(m) for m in static], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _unique(items: list, key) -> list:
    """One entry per (category, passage): a repeated entry adds nothing."""
    seen: set = set()
    unique = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            unique.append(item)
    return unique


def to_coding(answer: Any, ad: Ad, codebook: Codebook) -> tuple[Coding, list[Quote]]:
    """The answer as a grounded coding, and the quotes dropped because they are not in the ad."""
    coding = Coding(
        ad_id=ad.id,
        title=ad.title,
        organisation=ad.organisation,
        profile=answer.profile,
        reasoning=answer.reasoning or None,
        quotes=_unique(
            [
                Quote(category=q.category, text=q.text, note=getattr(q, "translation", None))
                for q in answer.quotes
            ],
            lambda q: (q.category, q.text),
        ),
        tools=_unique(
            [Tool(category=t.category, name=t.name) for t in answer.tools],
            lambda t: (t.category, t.name.casefold()),
        ),
    )
    order = {cat_id: i for i, cat_id in enumerate(codebook.categories)}
    coding.quotes.sort(key=lambda q: order[q.category])  # codebook order, as drafts show them
    coding.tools.sort(key=lambda t: order[t.category])
    grounded = ground(coding, ad.text)
    kept = [q for q in grounded.quotes if q.grounding != "not_found"]
    dropped = [q for q in grounded.quotes if q.grounding == "not_found"]
    return grounded.model_copy(update={"quotes": kept}), dropped
