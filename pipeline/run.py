"""The `code` stage: draft a coding for every ad, resumably, and write the outputs.

OUT holds `<id>.md` drafts, `codings.jsonl` (one record per ad), `failures.jsonl` and
`manifest.json`. Records and failures are appended as whole fsynced lines while the run
goes, so a killed run keeps what it finished; at the end codings.jsonl is rewritten in
input order, so neither order nor content depends on concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from pipeline import __version__
from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.examples import ExamplePool
from pipeline.goldmd import render
from pipeline.llm import LLM
from pipeline.llm_faults import FatalLLMError, LLMFailure
from pipeline.prompt import ad_passages, build_messages, prompt_hash, response_model, to_coding
from pipeline.record import CodedAd, Dropped, Usage, review_notes
from pipeline.resources import packaged
from pipeline.store import (
    append_line,
    atomic_write_text,
    read_records,
    remove_stale_temps,
    write_records,
)

SAMPLES = "samples.jsonl"  # with --samples K > 1: every sample of every coded ad


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


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    """What is sent for one ad: the (possibly truncated) ad, messages and response model."""

    ad: Ad
    messages: list[dict]
    model_cls: type[BaseModel]
    example_ids: list[str] = field(default_factory=list)


def prepare(ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> Request:
    """The one place a request is built, for the online path and for batch files alike."""
    sent = _prepared(ad, options.max_ad_chars)
    examples = options.examples.choose(ad)
    messages = build_messages(codebook, sent, examples)
    passages = ad_passages(sent.text) if llm.backend.passage_quotes else None
    model_cls = response_model(codebook, llm.backend.max_items, passages)
    return Request(sent, messages, model_cls, [example.id for example, _ in examples])


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
    made = provenance(codebook, llm, prompt_hash(request.messages), options)
    if request.example_ids:
        made["examples"] = request.example_ids
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
        exchange = llm.code(request.messages, request.model_cls, request.ad.text)
    except LLMFailure as exc:
        return Outcome(ad, reason=str(exc))
    record = record_from_answer(
        request, exchange.answer, codebook, llm, exchange.usage, exchange.attempts
    )
    return Outcome(ad, record=record, cached=exchange.cached)


def provenance(
    codebook: Codebook, llm: LLM, prompt_sha: str, options: RunOptions | None = None
) -> dict:
    sampled = (
        {"samples": options.samples, "min_support": options.min_support}
        if options is not None and options.samples > 1
        else {}
    )
    return {
        "model": llm.backend.model,
        "backend": llm.backend.kind,
        "codebook_version": codebook.version,
        "codebook_sha256": codebook.sha256,
        "prompt_sha256": prompt_sha,
        "autocode_version": __version__,
        "temperature": llm.params["temperature"],
        **sampled,
    }


def coded_ids(records: list[dict], expected: dict) -> set[str]:
    """Ads already coded under the same model, codebook, prompt and samples need no call."""
    keys = ("model", "codebook_sha256", "prompt_sha256", "samples", "min_support")
    return {
        r["ad_id"]
        for r in records
        if all(
            (r.get("provenance") or {}).get(k) == expected.get(r["ad_id"], {}).get(k) for k in keys
        )
    }


class Run:
    """One invocation of `autocode code`; `progress` is told about every finished ad."""

    def __init__(
        self,
        ads: list[Ad],
        codebook: Codebook,
        llm: LLM,
        options: RunOptions,
        problems: Sequence[str] = (),
        progress=None,
        coder=code_one,
    ):
        self.ads, self.book, self.llm, self.opt = ads, codebook, llm, options
        self.coder = coder  # (ad, codebook, llm, options) -> Outcome; batch ingest brings its own
        self.problems = list(problems)
        self.progress = progress
        self.out = Path(options.out)
        self.stats = {
            "to_code": 0,
            "coded": 0,
            "from_cache": 0,
            "failed": 0,
            "quotes_kept": 0,
            "quotes_dropped": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            **({"samples_failed": 0} if options.samples > 1 else {}),
        }
        self.failures: list[dict] = []
        self.started = now()
        self.finished: str | None = None
        self.already_done = 0  # ads a resumed run finds coded
        self.not_coded: list[str] = []  # ads without a coding when the run ended
        self.status = "running"

    def expected_provenance(self) -> dict:
        return {
            ad.id: provenance(
                self.book,
                self.llm,
                prompt_hash(prepare(ad, self.book, self.llm, self.opt).messages),
                self.opt,
            )
            for ad in self.ads
        }

    def _done(self, records: list[dict]) -> set[str]:
        return set() if self.opt.refresh else coded_ids(records, self.expected_provenance())

    def not_yet_coded(self, out: Path) -> list[Ad]:
        """The ads that `out` (an OUT folder) holds no coding of under this run's provenance."""
        done = coded_ids(read_records(Path(out) / "codings.jsonl"), self.expected_provenance())
        return [ad for ad in self.ads if ad.id not in done]

    def has_work(self) -> bool:
        """Whether any ad still needs the LLM (read only: nothing is written)."""
        done = self._done(read_records(self.out / "codings.jsonl"))
        return any(ad.id not in done for ad in self.ads) and self.opt.limit != 0

    def plan(self) -> tuple[list[dict], list[Ad]]:
        self.out.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.out)  # half-written drafts of a killed run
        records = read_records(self.out / "codings.jsonl")
        done = self._done(records)
        input_ids = {ad.id for ad in self.ads}
        kept = [r for r in records if r["ad_id"] in done or r["ad_id"] not in input_ids]
        write_records(self.out / "codings.jsonl", kept)  # drops torn lines and stale records
        if self.opt.samples > 1 or (self.out / SAMPLES).exists():
            # samples of an ad whose consensus was not written (killed) are asked again
            kept_ids = {r["ad_id"] for r in kept}
            samples = [s for s in read_records(self.out / SAMPLES) if s["ad_id"] in kept_ids]
            write_records(self.out / SAMPLES, samples)
        atomic_write_text(self.out / "failures.jsonl", "")
        todo = [ad for ad in self.ads if ad.id not in done]
        self.already_done = len(self.ads) - len(todo)
        todo = todo[: self.opt.limit] if self.opt.limit is not None else todo
        self.stats["to_code"] = len(todo)
        return kept, todo

    def execute(self) -> dict:
        kept, todo = self.plan()
        try:
            self._code_all(todo)
            self.status = "complete"
        except KeyboardInterrupt:
            self.status = "interrupted"
            raise
        except FatalLLMError as exc:
            self.status = f"aborted: {exc}"
            raise
        finally:
            self._finish()
        return self.manifest()

    def _code_all(self, todo: list[Ad]) -> None:
        pool = ThreadPoolExecutor(max_workers=max(1, self.opt.concurrency))
        ads: dict[Future, Ad] = {}
        try:
            for ad in todo:
                ads[pool.submit(self.coder, ad, self.book, self.llm, self.opt)] = ad
            pending = set(ads)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                self._save_finished(done, ads)
        except KeyboardInterrupt:
            self._save_finished({f for f in ads if f.done() and not f.cancelled()}, ads)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _save_finished(self, futures: set[Future], ads: dict[Future, Ad]) -> None:
        """Save every finished ad first; then let an interrupt or a fatal error through."""
        stop: BaseException | None = None
        for future in futures:
            ad = ads.pop(future)  # popped: saved once, even when an interrupt follows
            try:
                self._save(self._outcome(future, ad))
            except (KeyboardInterrupt, FatalLLMError) as exc:
                stop = exc
        if stop is not None:
            raise stop

    @staticmethod
    def _outcome(future: Future, ad: Ad) -> Outcome:
        try:
            return future.result()
        except (FatalLLMError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one broken ad must not stop the batch
            return Outcome(ad, reason=f"internal error ({type(exc).__name__}): {exc}")

    def _save(self, outcome: Outcome) -> None:
        if outcome.record is None:
            failure = {
                "ad_id": outcome.ad.id,
                "source": outcome.ad.source,
                "reason": outcome.reason,
            }
            append_line(self.out / "failures.jsonl", failure)
            self.failures.append(failure)
            self.stats["failed"] += 1
        else:
            record = outcome.record
            draft = render(
                record,
                self.book,
                draft_model=self.llm.backend.model,
                review_notes=review_notes(record),
            )
            atomic_write_text(self.out / f"{outcome.ad.id}.md", draft)
            for index, sample in outcome.samples:  # before the record: it marks the ad done
                append_line(self.out / SAMPLES, sample.to_json() | {"sample": index})
            append_line(self.out / "codings.jsonl", record.to_json())
            self._count(outcome, record)
        if self.progress:
            self.progress(outcome, self.stats)

    def _count(self, outcome: Outcome, record: CodedAd) -> None:
        self.stats["coded"] += 1
        self.stats["from_cache"] += outcome.cached
        self.stats["quotes_kept"] += len(record.quotes)
        self.stats["quotes_dropped"] += len(record.ungrounded)
        if outcome.samples:
            self.stats["samples_failed"] += outcome.samples_failed
        usage = outcome.fresh_usage or (Usage() if outcome.cached else record.usage)
        self.stats["prompt_tokens"] += usage.prompt_tokens
        self.stats["completion_tokens"] += usage.completion_tokens

    def _finish(self) -> None:
        records = read_records(self.out / "codings.jsonl")
        by_id = {r["ad_id"]: r for r in records}
        # failed, or never tried (an aborted or interrupted run): a re-run codes these
        self.not_coded = [ad.id for ad in self.ads if ad.id not in by_id]
        ordered = [by_id.pop(ad.id) for ad in self.ads if ad.id in by_id]
        write_records(self.out / "codings.jsonl", ordered + list(by_id.values()))
        if (self.out / SAMPLES).exists():
            order = {ad.id: i for i, ad in enumerate(self.ads)}
            samples = read_records(self.out / SAMPLES)
            samples.sort(key=lambda s: (order.get(s["ad_id"], len(order)), s["sample"]))
            write_records(self.out / SAMPLES, samples)
        failures = sorted(self.failures, key=lambda f: [a.id for a in self.ads].index(f["ad_id"]))
        write_records(self.out / "failures.jsonl", failures)
        self.finished = now()
        atomic_write_text(self.out / "manifest.json", _json(self.manifest()))

    def system_share(self) -> float | None:
        """The system prompt's share of a request's characters (the first ad's), an estimate
        of its share of the prompt tokens."""
        if not self.ads:
            return None
        messages = prepare(self.ads[0], self.book, self.llm, self.opt).messages
        total = sum(len(str(m["content"])) for m in messages)
        return len(str(messages[0]["content"])) / total if total else None

    def manifest(self) -> dict:
        backend = self.llm.backend
        sample = self.ads[0] if self.ads else None
        # the system prompt: what every request starts with (examples are chosen per ad)
        static = prompt_hash(build_messages(self.book, sample)) if sample else None
        return {
            "tool": "autocode",
            "version": __version__,
            "status": self.status,
            "model": backend.model,
            "backend": backend.kind,
            "host": backend.host,
            "mode": backend.mode,
            "codebook": {
                "name": self.book.name,
                "version": self.book.version,
                "sha256": self.book.sha256,
            },
            "prompt_sha256": static,
            "parameters": {
                "concurrency": self.opt.concurrency,
                "limit": self.opt.limit,
                "refresh": self.opt.refresh,
                "max_ad_chars": self.opt.max_ad_chars,
                "examples": self.opt.examples.n,
                "examples_by": self.opt.examples.by,
                "examples_max_chars": self.opt.examples.max_chars,
                "example_pool": [ad.id for ad, _ in self.opt.examples.pairs],
                **(
                    {"samples": self.opt.samples, "min_support": self.opt.min_support}
                    if self.opt.samples > 1
                    else {}
                ),
                **self.llm.params,
                "max_retries": self.llm.max_retries,
            },
            "counts": {
                "ads": len(self.ads),
                "input_problems": len(self.problems),
                "already_done": self.already_done,
                **self.stats,
            },
            "not_coded": self.not_coded,
            "cost_usd": estimate_cost(backend.model, self.stats, self.opt.prices),
            "cost_usd_system_prompt_cached": cached_prompt_cost(
                backend.model, self.stats, self.opt.prices, self.system_share()
            ),
            "input_problems": self.problems,
            "started": self.started,
            "finished": self.finished,
        }


def cached_prompt_cost(
    model: str, stats: dict, prices: dict | None, system_share: float | None
) -> float | None:
    """USD as above, with the system prompt's share of the prompt tokens at the cached-input
    price: what a provider that caches the shared prefix bills. Examples chosen per ad
    differ from ad to ad, so they are billed in full like the ad itself."""
    price = (prices or {}).get("models", {}).get(model)
    full = estimate_cost(model, stats, prices)
    if full is None or system_share is None or not price.get("cached_input"):
        return full
    saving = stats["prompt_tokens"] * system_share * (price["input"] - price["cached_input"])
    return round(full - saving / 1e6, 6)


def estimate_cost(model: str, stats: dict, prices: dict | None) -> float | None:
    """USD for the tokens of this run, where the model's price is known."""
    price = (prices or {}).get("models", {}).get(model)
    if not price:
        return None
    total = stats["prompt_tokens"] * price["input"] + stats["completion_tokens"] * price["output"]
    return round(total / 1e6, 6)


def _json(value) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def load_prices(path) -> dict:
    import os

    import yaml

    path = path or os.environ.get("AUTOCODE_PRICES") or packaged("prices.yaml")
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the price table: {exc}") from None
