"""Ingesting a batch's results: each answer is replayed through the online coder (an LLM whose
`create` returns the batch's completion, no re-ask), so parsing, validation, grounding and every
output file are the online path's own. Quotes that fail grounding are dropped and listed;
`--reask` codes those ads once more online."""

from __future__ import annotations

import heapq
import json
import os
import re
import threading
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.ads import Ad, AdSource
from pipeline.batch.requests import request_body
from pipeline.codebook import Codebook
from pipeline.coding.cost import batch_cost
from pipeline.coding.one_ad import Outcome, RunOptions
from pipeline.coding.run import Run
from pipeline.coding.sampling import coder_for
from pipeline.errors import InputError
from pipeline.idmap import IdMap
from pipeline.llm.client import LLM, online_llm
from pipeline.record import Usage
from pipeline.store import iter_records, record_at


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
    """One line of a batch's output or error file (OpenAI's Batch API or vLLM's run-batch)."""

    custom_id: str
    completion: dict | None = None  # the chat completion, when the request got a 200
    reason: str | None = None  # why there is none
    where: str = ""  # file:line of the result line


def _message(detail) -> str | None:
    """The message of an error body: {"error": {"message"}}, {"message"} or a string."""
    if isinstance(detail, dict):
        detail = detail.get("error", detail)
        detail = detail.get("message") if isinstance(detail, dict) else detail
    return detail if isinstance(detail, str) and detail else None


def parse_result(line: dict) -> Result:
    """A result line: {id, custom_id, response: {status_code, body}, error}.

    OpenAI puts an HTTP error's message in the response body and a request it could not run
    in `error` ({code, message}) with no response; vLLM's run-batch gives a failed request a
    status code and no body, and its message in `error`: an error response ({"error":
    {message, type, param, code}}) or a plain string.
    """
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
        message = _message(body) or _message(error) or str(body if body is not None else error)
        return Result(custom_id, reason=f"HTTP {status}: {message[:300]}")
    if isinstance(error, dict):
        code = error.get("code") or "error"
        return Result(custom_id, reason=f"batch error ({code}): {error.get('message') or ''}"[:400])
    if isinstance(error, str) and error:
        return Result(custom_id, reason=f"batch error: {error}"[:400])
    raise ValueError("neither a response nor an error")


CUSTOM_ID = re.compile(rb'"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def torn_custom_id(raw: bytes) -> str | None:
    """The custom_id of a result line that is not whole JSON (a run cut short), if it has one."""
    match = CUSTOM_ID.search(raw)
    try:
        return json.loads(b'"' + match.group(1) + b'"') if match else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, line) of a file, a line (ending at \\n) at a time."""
    try:
        with open(path, "rb") as handle:
            offset = 0
            for lineno, raw in enumerate(handle, start=1):
                yield lineno, offset, raw
                offset += len(raw)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the results: {exc}") from None


# Where a line is, as one int per ad: the file's number, the line number and the byte
# offset, each in its own bits. Kept in an IdMap as its decimal text (it can pass the 64 bits
# of a SQLite integer).
LINE_BITS, OFFSET_BITS = 40, 48


def pack(number: int, lineno: int, offset: int) -> int:
    return (number << LINE_BITS | lineno) << OFFSET_BITS | offset


def unpack(packed: int) -> tuple[int, int, int]:
    """(file number, line number, offset) of `pack`."""
    offset, rest = packed & (1 << OFFSET_BITS) - 1, packed >> OFFSET_BITS
    return rest >> LINE_BITS, rest & (1 << LINE_BITS) - 1, offset


def _read(raw: bytes) -> Result:
    line = json.loads(raw)
    return parse_result(line if isinstance(line, dict) else {})


class Results:
    """Where each ad's result is in a batch's output and error files: an answer beats an
    error line for the same ad, a later answer an earlier one. Lines are read again one at a
    time as their ads are coded, so the files are never held. A line that is not a result
    is a problem; when its custom_id can still be read, it is that ad's failure."""

    def __init__(self, paths: list[Path]):
        self.paths = [Path(p) for p in paths]
        self.where = IdMap()  # ad id -> packed (file, line, offset, answered), on disk
        self.problems: list[str] = []
        for number, path in enumerate(self.paths):
            for lineno, offset, raw in _lines(path):
                if raw.strip():
                    self._note(number, lineno, offset, raw)

    def _note(self, number: int, lineno: int, offset: int, raw: bytes) -> None:
        custom_id: str | None
        try:
            result = _read(raw)
            custom_id, answered = result.custom_id, result.completion is not None
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError, AttributeError) as exc:
            path = self.paths[number]
            self.problems.append(f"{path}:{lineno}: not a Batch API result line ({exc}); skipped")
            custom_id, answered = torn_custom_id(raw), False
            if custom_id is None:
                return
        known = self.where.get(custom_id)
        if known is None or not int(known) & 1 or answered:  # the lowest bit: an answer
            self.where[custom_id] = str(pack(number, lineno, offset) << 1 | answered)

    def get(self, ad_id: str) -> Result | None:
        """The result of `ad_id`, read from its line; None when the files hold none."""
        packed = self.where.get(ad_id)
        if packed is None:
            return None
        number, lineno, offset = unpack(int(packed) >> 1)
        where = f"{self.paths[number]}:{lineno}"
        with open(self.paths[number], "rb") as handle:
            handle.seek(offset)
            raw = handle.readline()
        try:
            result = _read(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError, AttributeError) as exc:
            return Result(ad_id, reason=f"not a whole result line ({exc})", where=where)
        return replace(result, where=where)

    def unknown(self, ad_ids: Container[str]) -> tuple[int, list[str]]:
        """How many results are for ads not in `ad_ids`, and the first five of them."""
        others = (ad_id for ad_id in self.where if ad_id not in ad_ids)
        count = sum(1 for ad_id in self.where if ad_id not in ad_ids)
        return count, heapq.nsmallest(5, others)


def check_requests(
    paths: list[Path], ads: Iterable[Ad], codebook: Codebook, llm: LLM, options: RunOptions
) -> None:
    """Refuse to ingest when a request file was made with other options than ingest's.
    The request files are read twice, a line at a time: where each request is, then its
    body as its ad comes."""
    paths = [Path(p) for p in paths]
    where = IdMap()  # ad id -> packed (file, offset), as text
    for number, path in enumerate(paths):
        for offset, line in iter_records(path):
            if isinstance(line.get("custom_id"), str):
                where[line["custom_id"]] = str(pack(number, 0, offset))  # a later line wins
    handles = [open(path, "rb") for path in paths]  # noqa: SIM115 - closed below
    try:
        differ = [
            ad.id
            for ad in ads
            if ad.id in where
            and _sent(handles, where[ad.id]) != request_body(ad, codebook, llm, options)
        ]
    finally:
        for handle in handles:
            handle.close()
    if differ:
        raise InputError(
            f"{len(differ)} request(s) in {', '.join(map(str, paths))} differ from "
            f"what ingest would send with these options (codebook, model, mode, "
            f"examples, --max-ad-chars, --max-tokens, --temperature): "
            f"{', '.join(differ[:5])}{' …' if len(differ) > 5 else ''}"
        )


def _sent(handles: list, packed: str):
    number, _, offset = unpack(int(packed))
    return record_at(handles[number], offset).get("body")


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
    """The coder for Run: each ad's batch answer through the online coder; optional re-ask.
    A failure that comes from a result line names its file and line."""

    results: Results
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
            return Outcome(ad, reason=f"{result.where}: {result.reason}")
        outcome = coder_for(options)(ad, codebook, replay_llm(llm, result.completion), options)
        if outcome.record is None:
            return replace(outcome, reason=f"{result.where}: {outcome.reason}")
        if self.online is None or not outcome.record.ungrounded:
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
        ads: AdSource,
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
