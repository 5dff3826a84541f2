"""Ingesting a batch's results: each answer is replayed through the online coder (an LLM whose
`create` returns the batch's completion, no re-ask), so parsing, validation, grounding and every
output file are the online path's own. Quotes that fail grounding are dropped and listed;
`--reask` codes those ads once more online."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ads import Ad
from pipeline.batch.requests import request_body
from pipeline.codebook import Codebook
from pipeline.coding.cost import batch_cost
from pipeline.coding.one_ad import Outcome, RunOptions
from pipeline.coding.run import Run
from pipeline.coding.sampling import coder_for
from pipeline.errors import InputError
from pipeline.llm.client import LLM, online_llm
from pipeline.record import Usage
from pipeline.store import read_records


def reask_llm(
    llm: LLM, cache_dir: Path, refresh: bool, max_retries: int | None, timeout: float | None
) -> LLM:
    """The online LLM of `ingest --reask`, with the batch's request parameters."""
    if not (os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY")):
        raise InputError(
            "--reask codes ads online: set OPENAI_API_KEY (OpenAI) or "
            "OPENAI_BASE_URL (another server) first"
        )
    return online_llm(
        llm.backend,
        cache_dir,
        llm.params["temperature"],
        refresh,
        max_tokens=llm.params["max_tokens"],
        max_retries=max_retries,
        timeout=timeout or None,
    )


@dataclass
class Result:
    """One line of a Batch API output or error file."""

    custom_id: str
    completion: dict | None = None  # the chat completion, when the request got a 200
    reason: str | None = None  # why there is none


def parse_result(line: dict) -> Result:
    """A Batch API output line: {id, custom_id, response: {status_code, body}, error}."""
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise ValueError("no custom_id")
    response = line.get("response") or {}
    error = line.get("error")
    status = response.get("status_code")
    body = response.get("body")
    if status == 200 and isinstance(body, dict) and not error:
        return Result(custom_id, completion=body)
    if status is not None and status != 200:
        detail = body.get("error", body) if isinstance(body, dict) else {}
        message = (detail.get("message") if isinstance(detail, dict) else None) or str(body)
        return Result(custom_id, reason=f"HTTP {status}: {str(message)[:300]}")
    if isinstance(error, dict):
        code = error.get("code") or "error"
        return Result(custom_id, reason=f"batch error ({code}): {error.get('message') or ''}"[:400])
    raise ValueError("neither a response nor an error")


def read_results(paths: list[Path]) -> tuple[dict[str, Result], list[str]]:
    """Results by ad id from output and error files; an answer beats an error for the same ad."""
    results: dict[str, Result] = {}
    problems: list[str] = []
    for path in map(Path, paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read the results: {exc}") from None
        for lineno, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                result = parse_result(line if isinstance(line, dict) else {})
            except (json.JSONDecodeError, ValueError, AttributeError) as exc:
                problems.append(f"{path}:{lineno}: not a Batch API result line ({exc}); skipped")
                continue
            known = results.get(result.custom_id)
            if known is None or known.completion is None or result.completion is not None:
                results[result.custom_id] = result
    return results, problems


def check_requests(
    paths: list[Path], ads: list[Ad], codebook: Codebook, llm: LLM, options: RunOptions
) -> None:
    """Refuse to ingest when a request file was made with other options than ingest's."""
    sent = {}
    for path in map(Path, paths):
        for line in read_records(path):
            sent[line.get("custom_id")] = line.get("body")
    differ = [
        ad.id
        for ad in ads
        if ad.id in sent and sent[ad.id] != request_body(ad, codebook, llm, options)
    ]
    if differ:
        raise InputError(
            f"{len(differ)} request(s) in {', '.join(map(str, paths))} differ from "
            f"what ingest would send with these options (codebook, model, mode, "
            f"examples, --max-ad-chars, --max-tokens, --temperature): "
            f"{', '.join(differ[:5])}{' …' if len(differ) > 5 else ''}"
        )


def replay_llm(llm: LLM, completion: dict) -> LLM:
    """An LLM whose one call returns this completion: no network, no cache, no re-ask."""
    from openai.types.chat import ChatCompletion

    answer = ChatCompletion.model_construct(**completion)  # as the SDK builds a response
    return LLM(
        llm.backend,
        create=lambda **_kwargs: answer,
        max_retries=0,
        temperature=llm.params["temperature"],
        max_tokens=llm.params["max_tokens"],
        transient_attempts=1,
        asks_again=False,
    )


@dataclass
class BatchCoder:
    """The coder for Run: each ad's batch answer through the online coder; optional re-ask."""

    results: dict[str, Result]
    sources: str
    online: LLM | None = None  # --reask
    reask_usage: Usage = field(default_factory=Usage)
    reasked: int = 0

    def __post_init__(self):
        self._lock = threading.Lock()

    def __call__(self, ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> Outcome:
        result = self.results.get(ad.id)
        if result is None:
            return Outcome(ad, reason=f"no result for this ad in {self.sources}")
        if result.completion is None:
            return Outcome(ad, reason=result.reason)
        outcome = coder_for(options)(ad, codebook, replay_llm(llm, result.completion), options)
        if self.online is None or outcome.record is None or not outcome.record.ungrounded:
            return outcome
        return self.reask(outcome, codebook, options)

    def reask(self, outcome: Outcome, codebook: Codebook, options: RunOptions) -> Outcome:
        """Code the ad once more online; keep the batch record if that fails."""
        first = outcome.record
        assert first is not None and self.online is not None  # called for such ads only
        again = coder_for(options)(outcome.ad, codebook, self.online, options)
        if again.record is None:
            first.warnings.append(
                f"re-asked online after ungrounded quotes, which failed: {again.reason}"
            )
            return outcome
        record = again.record
        with self._lock:
            self.reasked += 1
            self.reask_usage += record.usage
        dropped = [q.model_dump(mode="json") for q in first.ungrounded]
        record = record.model_copy(
            update={
                "usage": first.usage + record.usage,
                "attempts": record.attempts + first.attempts,
                "reask": {"batch_ungrounded": dropped},
            }
        )
        return Outcome(outcome.ad, record=record)


class BatchRun(Run):
    """Run, with the batch discount in the cost and where the answers came from."""

    def __init__(
        self,
        ads: list[Ad],
        codebook: Codebook,
        llm: LLM,
        options: RunOptions,
        problems: list[str],
        results: list[Path],
        coder: BatchCoder,
    ):
        super().__init__(ads, codebook, llm, options, problems, coder=coder)
        self.results = [str(p) for p in results]

    def manifest(self) -> dict:
        manifest = super().manifest()
        coder: BatchCoder = self.coder
        discount = float((self.opt.prices or {}).get("batch_discount", 0.5))
        manifest.pop("cost_usd_system_prompt_cached")  # the batch discount applies instead
        manifest["cost_usd"] = batch_cost(
            self.llm.backend.model,
            self.stats,
            coder.reask_usage.model_dump(),
            self.opt.prices,
            discount,
        )
        online = coder.online
        manifest["batch"] = {
            "results": self.results,
            "price_discount": discount,
            "reask": online is not None,
            "reasked": coder.reasked,
            "reask_max_retries": online.max_retries if online else None,
        }
        return manifest
