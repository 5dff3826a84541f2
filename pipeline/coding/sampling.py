"""Several samples per ad (`autocode code --samples K`) and the record of their consensus.

Samples come from one request with `n: K` where the backend takes it (the prompt is billed
once), else, and for the samples a server that ignores `n` did not return, from one request
each. Every sample is cached on its own (sample 0 under the key a single coding would use),
so a re-run makes no call and an interrupted one asks only for what is missing. A sample
that fails validation is left out and counted; the ad fails only when none is left.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from pydantic import BaseModel

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.one_ad import Outcome, RunOptions, code_one, prepare, record_from_answer
from pipeline.codings.consensus import consensus
from pipeline.grounding import fold_quote
from pipeline.llm.client import LLM, Exchange
from pipeline.llm.faults import LLMFailure
from pipeline.record import CodedAd, Dropped, Usage


def sample_key(llm: LLM, messages: list[dict], model_cls: type[BaseModel], sample: int) -> str:
    key = llm.cache_key(messages, model_cls)
    return key if sample == 0 else hashlib.sha256(f"{key}/sample {sample}".encode()).hexdigest()


def _one_by_one(llm, messages, model_cls, context, key) -> Exchange | LLMFailure:
    try:
        return llm.code(messages, model_cls, context, key=key)
    except LLMFailure as exc:
        return exc


def _from_one_request(llm, messages, model_cls, context, keys, found) -> None:
    """Fill `found` from one request with `n`; a server that refuses `n` (HTTP 400) or
    ignores it leaves samples missing, to be asked for one by one."""
    missing = [i for i, answer in enumerate(found) if answer is None]
    try:
        answers = llm.ask_choices(messages, model_cls, context, len(missing))
    except LLMFailure as exc:
        answers = [] if exc.status == 400 else [exc] * len(missing)
    for i, answer in zip(missing, answers, strict=False):
        found[i] = answer
        if isinstance(answer, Exchange):
            llm.remember(keys[i], answer)


def ask_samples(
    llm: LLM,
    messages: list[dict],
    model_cls: type[BaseModel],
    context: dict,
    k: int,
) -> list[Exchange | LLMFailure]:
    """K answers, cached ones first. An LLM that replays answers (batch ingest) cannot be
    asked again: the samples its one answer lacks count as failed."""
    keys = [sample_key(llm, messages, model_cls, i) for i in range(k)]
    found: list[Exchange | LLMFailure | None] = [llm.cached(key) for key in keys]
    if sum(answer is None for answer in found) > 1 and llm.backend.n_choices:
        _from_one_request(llm, messages, model_cls, context, keys, found)
    for i in [i for i, answer in enumerate(found) if answer is None]:
        found[i] = (
            _one_by_one(llm, messages, model_cls, context, keys[i])
            if llm.asks_again
            else LLMFailure("the answer holds fewer samples than asked for")
        )
    return [answer for answer in found if answer is not None]


def _dropped(samples: list[CodedAd]) -> list[Dropped]:
    """The quotes dropped as ungrounded in any sample, each once."""
    seen: dict[tuple[str, str], Dropped] = {}
    for sample in samples:
        for quote in sample.ungrounded:
            seen.setdefault((quote.category, fold_quote(quote.text)), quote)
    return list(seen.values())


def consensus_record(
    samples: list[CodedAd],
    failed: list[str],
    k: int,
    codebook: Codebook,
    ad: Ad,
    min_support: int | None,
) -> CodedAd:
    """The record of the ad: the samples' consensus, their tokens, attempts and warnings."""
    merged = consensus(samples, codebook, min_support, ad.text)
    usage = sum((s.usage for s in samples), Usage())
    warnings = list(ad.warnings)
    if failed:
        warnings.append(f"{len(failed)} of {k} samples failed and were left out: {failed[0]}")
    return CodedAd.model_validate(
        merged.model_dump()
        | {
            "provenance": samples[0].provenance,
            "ungrounded": [d.model_dump() for d in _dropped(samples)],
            "usage": usage.model_dump(),
            "attempts": sum(s.attempts for s in samples),
            "warnings": warnings,
        }
    )


def code_samples(ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> Outcome:
    """K samples of one ad and their consensus; the ad fails only when no sample is left."""
    request = prepare(ad, codebook, llm, options)
    answers = ask_samples(
        llm, request.messages, request.model_cls, request.context, options.samples
    )
    samples, failed = [], []
    for index, answer in enumerate(answers):
        if isinstance(answer, LLMFailure):
            failed.append(f"sample {index + 1}: {answer}")
            continue
        record = record_from_answer(
            request, answer.answer, codebook, llm, answer.usage, answer.attempts, options
        )
        samples.append((index, record))
    if not samples:
        return Outcome(ad, reason=f"no sample of {len(answers)} was usable; {failed[0]}")
    record = consensus_record(
        [s for _, s in samples], failed, len(answers), codebook, request.ad, options.min_support
    )
    fresh = [Usage(**a.usage) for a in answers if isinstance(a, Exchange) and not a.cached]
    cached = all(isinstance(a, Exchange) and a.cached for a in answers)
    return Outcome(ad, record, None, cached, samples, len(failed), sum(fresh, Usage()))


def coder_for(options: RunOptions) -> Callable[[Ad, Codebook, LLM, RunOptions], Outcome]:
    """The coder of one ad: one answer, or with --samples K > 1 the consensus of K."""
    return code_samples if options.samples > 1 else code_one
