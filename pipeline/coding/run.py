"""The `code` stage: draft a coding for every ad, resumably, and write the outputs.

OUT holds `<id>.md` drafts, `codings.jsonl` (one record per ad), `failures.jsonl` and
`manifest.json`. Records and failures are appended as whole fsynced lines while the run
goes, so a killed run keeps what it finished; at the end codings.jsonl is rewritten in
input order, so neither order nor content depends on concurrency.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

from pipeline import __version__
from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.cost import cached_prompt_cost, estimate_cost
from pipeline.coding.one_ad import Outcome, RunOptions, code_one, prepare, provenance
from pipeline.coding.request import system_prompt_hash
from pipeline.goldmd.render import render, review_notes
from pipeline.llm.client import LLM
from pipeline.llm.faults import FatalLLMError
from pipeline.record import CodedAd, Usage
from pipeline.store import (
    append_line,
    atomic_write_text,
    read_records,
    remove_stale_temps,
    write_records,
)

SAMPLES = "samples.jsonl"  # with --samples K > 1: every sample of every coded ad


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
        self._halt = threading.Event()  # set by the first fatal error
        self.finished: str | None = None
        self.already_done = 0  # ads a resumed run finds coded
        self.not_coded: list[str] = []  # ads without a coding when the run ended
        self.status = "running"
        self._prompt_shas: dict[str, str] = {}
        self._system_share: float | None = None

    def prompt_sha(self, ad: Ad) -> str:
        """The hash of the static part of `ad`'s request (it depends on the examples chosen
        for the ad), taken from its prepared request once per run."""
        if ad.id not in self._prompt_shas:
            request = prepare(ad, self.book, self.llm, self.opt)
            self._prompt_shas[ad.id] = request.prompt_sha256
            if self._system_share is None:
                self._system_share = system_share(request.messages)
        return self._prompt_shas[ad.id]

    def expected_provenance(self) -> dict:
        return {
            ad.id: provenance(self.book, self.llm, self.prompt_sha(ad), self.opt).model_dump(
                mode="json"
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
                ads[pool.submit(self._code_unless_halted, ad)] = ad
            pending = set(ads)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                self._save_finished(done, ads)
        except KeyboardInterrupt:
            self._save_finished({f for f in ads if f.done() and not f.cancelled()}, ads)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _code_unless_halted(self, ad: Ad) -> Outcome | None:
        """Code one ad; once one has met a fatal error, the ads still queued are not sent
        (None: left uncoded, for a re-run), however late the main thread notices."""
        if self._halt.is_set():
            return None
        try:
            return self.coder(ad, self.book, self.llm, self.opt)
        except FatalLLMError:
            self._halt.set()
            raise

    def _save_finished(self, futures: set[Future], ads: dict[Future, Ad]) -> None:
        """Save every finished ad first; then let an interrupt or a fatal error through."""
        stop: BaseException | None = None
        for future in futures:
            ad = ads.pop(future)  # popped: saved once, even when an interrupt follows
            try:
                outcome = self._outcome(future, ad)
                if outcome is not None:
                    self._save(outcome)
            except (KeyboardInterrupt, FatalLLMError) as exc:
                stop = exc
        if stop is not None:
            raise stop

    @staticmethod
    def _outcome(future: Future, ad: Ad) -> Outcome | None:
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
        """The system prompt's share of the first ad's request (see `system_share`)."""
        if self.ads:
            self.prompt_sha(self.ads[0])
        return self._system_share

    def manifest(self) -> dict:
        backend = self.llm.backend
        # the system prompt: what every request starts with (examples are chosen per ad)
        static = system_prompt_hash(self.book) if self.ads else None
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


def system_share(messages: list[dict]) -> float | None:
    """The system prompt's share of a request's characters, an estimate of its share of the
    prompt tokens."""
    total = sum(len(str(m["content"])) for m in messages)
    return len(str(messages[0]["content"])) / total if total else None


def _json(value) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
