"""The answer asked of the LLM and read back: the response model generated from the codebook
(whose validator grounds every quote in the ad), few-shot answers written from gold codings,
and an answer turned into a grounded coding."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, create_model, model_validator

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.grounding import fold, ground, locate
from pipeline.record import Coding, Quote, Tool


def validation_context(ad_text: str) -> dict:
    """What the response model's validator needs to ground an answer's quotes: the ad text."""
    return {"ad_text": ad_text}


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
