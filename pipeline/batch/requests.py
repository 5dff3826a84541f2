"""Batch mode: request files for the OpenAI Batch API, and ingesting its results.

`prepare` writes one line per ad in the Batch API input format; the body is
`LLM.request(...)` of the very Request the online path builds (`code_ad.prepare`), so the two
cannot drift apart. `ingest` replays each answer through the online coder (`code_ad.code_one`
with an LLM whose `create` returns the batch's completion, no re-ask), so parsing,
validation, grounding and every output file are the online path's own. Quotes that fail
grounding are dropped and listed; `--reask` codes those ads once more online.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.cost import batch_cost
from pipeline.coding.one_ad import Outcome, RunOptions, prepare
from pipeline.coding.run import Run
from pipeline.coding.sampling import coder_for
from pipeline.errors import InputError
from pipeline.llm.backend import BACKEND_DEFAULTS, Backend
from pipeline.llm.client import LLM, DiskCache
from pipeline.record import Usage
from pipeline.store import read_records

ENDPOINT = "/v1/chat/completions"
# The Batch API's per-file limits (platform.openai.com/docs/api-reference/batch/create, and
# the openai SDK's batches.create docstring): 50,000 requests and 200 MB. MB read as 10^6 bytes,
# the smaller reading, so a file never passes the limit under either.
MAX_REQUESTS = 50_000
MAX_BYTES = 200_000_000


def _offline(**_kwargs):
    raise RuntimeError("batch prepare and ingest make no online call")


def offline_llm(backend: Backend, temperature: float, max_tokens: int) -> LLM:
    """The LLM that builds the requests of prepare and ingest; it never calls out."""
    return LLM(
        backend, create=_offline, max_retries=0, temperature=temperature, max_tokens=max_tokens
    )


def online_llm(
    llm: LLM, cache_dir: Path, refresh: bool, max_retries: int | None, timeout: float | None
) -> LLM:
    """The online LLM of `ingest --reask`, with the batch's request parameters."""
    if not (os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY")):
        raise InputError(
            "--reask codes ads online: set OPENAI_API_KEY (OpenAI) or "
            "OPENAI_BASE_URL (another server) first"
        )
    defaults = BACKEND_DEFAULTS[llm.backend.kind]
    return LLM(
        llm.backend,
        cache=DiskCache(cache_dir),
        temperature=llm.params["temperature"],
        max_tokens=llm.params["max_tokens"],
        refresh=refresh,
        max_retries=defaults["max_retries"] if max_retries is None else max_retries,
        timeout=timeout or defaults["timeout"],
    )


def request_body(ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> dict:
    """The body the online path would send for this ad on its first attempt; with several
    samples, one request for all of them (`n`)."""
    request = prepare(ad, codebook, llm, options)
    body = llm.request(request.messages, request.model_cls)  # llm keeps instructor's log off
    return body | {"n": options.samples} if options.samples > 1 else body


def request_line(ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> dict:
    return {
        "custom_id": ad.id,
        "method": "POST",
        "url": ENDPOINT,
        "body": request_body(ad, codebook, llm, options),
    }


def part_path(out: Path, number: int) -> Path:
    return out.with_name(f"{out.stem}-{number:03d}{out.suffix}")


def write_request_files(
    lines, out: Path, max_requests: int | None = None, max_bytes: int | None = None
) -> list[tuple[Path, int]]:
    """Write JSON lines to `out`, or to out-001, out-002… when one file would pass a limit.

    Returns (path, number of requests) per file written. Parts from an earlier, larger
    prepare of the same name are removed so they cannot be submitted twice by mistake.
    """
    max_requests = max_requests or MAX_REQUESTS
    max_bytes = max_bytes or MAX_BYTES
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts: list[tuple[Path, int]] = []  # temp path, requests
    handle, size, count = None, 0, 0
    try:
        for line in lines:
            data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
            if len(data) > max_bytes:
                raise InputError(
                    f"request for ad {line['custom_id']!r} alone is {len(data):,} "
                    f"bytes, over the {max_bytes:,}-byte file limit"
                )
            if handle is None or count == max_requests or size + len(data) > max_bytes:
                if handle is not None:
                    handle.close()
                    parts[-1] = (parts[-1][0], count)
                tmp = out.with_name(f".{out.name}.part{len(parts) + 1}.tmp")
                handle, size, count = open(tmp, "wb"), 0, 0  # closed below
                parts.append((tmp, 0))
            handle.write(data)
            size, count = size + len(data), count + 1
        if handle is not None:
            handle.close()
            parts[-1] = (parts[-1][0], count)
    except BaseException:
        if handle is not None:
            handle.close()
        for tmp, _ in parts:
            tmp.unlink(missing_ok=True)
        raise
    for stale in [out, *out.parent.glob(f"{out.stem}-[0-9][0-9][0-9]{out.suffix}")]:
        stale.unlink(missing_ok=True)
    final = [out] if len(parts) == 1 else [part_path(out, i) for i in range(1, len(parts) + 1)]
    for (tmp, _), path in zip(parts, final, strict=True):
        os.replace(tmp, path)
    return [(path, n) for path, (_, n) in zip(final, parts, strict=True)]


# ------------------------------------------------------------------ results of a batch


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
