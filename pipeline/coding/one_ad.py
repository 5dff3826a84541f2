"""Coding one ad: the request that is sent (the one place it is built, for the online path
and for batch files alike), and the coding record made from a validated answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from pipeline import __version__
from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.answer import response_model, to_coding, validation_context
from pipeline.coding.examples import ExamplePool
from pipeline.coding.passages import ad_passages
from pipeline.coding.request import build_messages, prompt_hash, static_messages
from pipeline.llm.client import LLM
from pipeline.llm.faults import LLMFailure
from pipeline.record import CodedAd, Dropped, Provenance, Usage


@dataclass
class RunOptions:
    out: Path
    concurrency: int = 1
    limit: int | None = None
    refresh: bool = False
    max_ad_chars: int = 20000
    examples: ExamplePool = field(default_factory=lambda: ExamplePool([]))
    prices: dict | None = None
    samples: int = 1  # answers per ad; above 1 the record is their consensus
    min_support: int | None = None  # of the consensus (default: a strict majority)


@dataclass
class Outcome:
    ad: Ad
    record: CodedAd | None = None
    reason: str | None = None
    cached: bool = False
    samples: list[tuple[int, CodedAd]] = field(default_factory=list)  # (index, sample), K > 1
    samples_failed: int = 0
    fresh_usage: Usage | None = None  # tokens of the answers not from the cache, K > 1


def _prepared(ad: Ad, max_chars: int) -> Ad:
    """The ad as sent: truncated past `max_chars`, with the cut recorded as a warning."""
    if len(ad.text) <= max_chars:
        return ad
    warning = f"ad text truncated from {len(ad.text)} to {max_chars} characters for the prompt"
    return Ad(
        ad.id, ad.text[:max_chars], ad.source, ad.title, ad.organisation, (*ad.warnings, warning)
    )


@dataclass
class Request:
    """What is sent for one ad: the (possibly truncated) ad, the messages and the hash of
    their static part, the response model and the context its validators ground quotes in."""

    ad: Ad
    messages: list[dict]
    model_cls: type[BaseModel]
    prompt_sha256: str
    context: dict
    example_ids: list[str] = field(default_factory=list)


def prepare(ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> Request:
    """The one place a request is built, for the online path and for batch files alike."""
    sent = _prepared(ad, options.max_ad_chars)
    examples = options.examples.choose(ad)
    messages = build_messages(codebook, sent, examples)
    passages = ad_passages(sent.text) if llm.backend.passage_quotes else None
    model_cls = response_model(codebook, llm.backend.max_items, passages)
    example_ids = [example.id for example, _ in examples]
    context = validation_context(sent.text)
    return Request(sent, messages, model_cls, prompt_hash(messages), context, example_ids)


def prompt_sha(ad: Ad, codebook: Codebook, options: RunOptions) -> str:
    """The prompt hash `prepare` gives the ad, without rendering the ad or its response
    model (a resumed run asks it of every ad already coded)."""
    sent = _prepared(ad, options.max_ad_chars)
    static = static_messages(codebook, sent, options.examples.choose(ad))
    return prompt_hash([*static, {}])  # the hash leaves out the last message, the ad's


def record_from_answer(
    request: Request,
    answer: dict,
    codebook: Codebook,
    llm: LLM,
    usage: dict,
    attempts: int,
    options: RunOptions | None = None,
) -> CodedAd:
    """The coding record of a validated answer: grounded, with dropped quotes listed."""
    coding, dropped = to_coding(request.model_cls.model_validate(answer), request.ad, codebook)
    made = provenance(codebook, llm, request.prompt_sha256, options)
    if request.example_ids:
        made.examples = request.example_ids
    return CodedAd(
        **{**dict(coding), "provenance": made, "warnings": list(request.ad.warnings)},
        ungrounded=[Dropped(category=q.category, text=q.text, note=q.note) for q in dropped],
        usage=Usage(**usage),
        attempts=attempts,
    )


def code_one(ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> Outcome:
    """Code one ad online; every failure becomes a reason (FatalLLMError stops the run)."""
    request = prepare(ad, codebook, llm, options)
    try:
        exchange = llm.code(request.messages, request.model_cls, request.context)
    except LLMFailure as exc:
        return Outcome(ad, reason=str(exc))
    record = record_from_answer(
        request, exchange.answer, codebook, llm, exchange.usage, exchange.attempts
    )
    return Outcome(ad, record=record, cached=exchange.cached)


def provenance(
    codebook: Codebook, llm: LLM, prompt_sha: str, options: RunOptions | None = None
) -> Provenance:
    sampled = options is not None and options.samples > 1
    return Provenance(
        model=llm.backend.model,
        backend=llm.backend.kind,
        codebook_version=codebook.version,
        codebook_sha256=codebook.sha256,
        prompt_sha256=prompt_sha,
        autocode_version=__version__,
        temperature=llm.params["temperature"],
        samples=options.samples if sampled and options else None,
        min_support=options.min_support if sampled and options else None,
    )
