"""The `code` stage: draft a coding for every ad, resumably, and write the outputs.

OUT holds `<id>.md` drafts, `codings.jsonl` (one record per ad), `failures.jsonl` and
`manifest.json`. Records and failures are appended as whole fsynced lines while the run
goes, so a killed run keeps what it finished; at the end codings.jsonl is rewritten in
input order, so neither order nor content depends on concurrency. Memory does not grow with
the corpus beyond a few numbers per ad: ads are read as they are coded, a bounded number in
flight, and the outputs are rewritten a line at a time (`outfiles`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

from pipeline import __version__
from pipeline.ads import Ad, AdList, AdSource
from pipeline.codebook import Codebook
from pipeline.coding.cost import cached_prompt_cost, estimate_cost
from pipeline.coding.one_ad import (
    Outcome,
    RunOptions,
    code_one,
    prepare,
    prompt_sha,
    provenance,
)
from pipeline.coding.outfiles import (
    CodedIndex,
    codings_in_order,
    failures_in_order,
    keep_records,
    provenance_key,
    samples_in_order,
)
from pipeline.coding.request import system_prompt_hash
from pipeline.goldmd.render import render, review_notes
from pipeline.idmap import IdMap
from pipeline.llm.client import LLM
from pipeline.llm.faults import FatalLLMError
from pipeline.record import CodedAd, Usage
from pipeline.store import append_line, atomic_write_text, copy_records, remove_stale_temps

SAMPLES = "samples.jsonl"  # with --samples K > 1: every sample of every coded ad


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def in_flight(concurrency: int) -> int:
    """Ads submitted and not yet saved: enough to keep every worker busy while the main
    thread saves, few enough that a million ads never sit in the queue at once."""
    return 2 * max(1, concurrency)


class Run:
    """One invocation of `autocode code`; `progress` is told about every finished ad.

    The ads are read twice and never held: `survey` reads them (read only) to note where
    each is, which are coded already and every problem; the run reads the ads to code
    again as it codes them, a bounded number in flight.
    """

    def __init__(
        self,
        ads: AdSource | Sequence[Ad],
        codebook: Codebook,
        llm: LLM,
        options: RunOptions,
        problems: Sequence[str] = (),
        progress=None,
        coder=code_one,
    ):
        self.source: AdSource = AdList(ads) if isinstance(ads, Sequence) else ads
        self.book, self.llm, self.opt = codebook, llm, options
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
        self.started = now()
        self._halt = threading.Event()  # set by the first fatal error
        self.finished: str | None = None
        self.n_ads = 0  # ads read (all of them, unless --limit stopped the reading)
        self.already_done = 0  # ads a resumed run finds coded
        self.done = IdMap()  # their ids (on disk: a resumed corpus may hold millions)
        self.not_coded: list[str] = []  # ads without a coding when the run ended
        self.status = "running"
        self._surveyed = False
        self._coded: CodedIndex | None = None  # OUT's codings, from survey to plan
        self._system_share: float | None = None

    def expected_key(self, ad: Ad) -> tuple:
        """The provenance a coding of `ad` made now would have (PROVENANCE_KEYS)."""
        sha = prompt_sha(ad, self.book, self.opt)
        return provenance_key(
            provenance(self.book, self.llm, sha, self.opt).model_dump(mode="json")
        )

    def _coded_already(self, ad: Ad, coded: CodedIndex) -> bool:
        """Coded under the same model, codebook, prompt and samples: no call needed."""
        return ad.id in coded and coded.matches(ad.id, self.expected_key(ad))

    def survey(self) -> list[str]:
        """Read the ads once, writing nothing: where each is, which OUT holds a coding of
        (none with --refresh), and every problem, to show before any call. With --limit N
        the reading stops at the N-th ad to code. Returns the problems (once)."""
        if self._surveyed:
            return []
        self._surveyed = True
        coded = CodedIndex(None if self.opt.refresh else self.out / "codings.jsonl")
        long, to_code, limit = [], 0, self.opt.limit
        with contextlib.closing(self.source.read()) as ads:
            for ad in ads if limit != 0 else ():
                self.n_ads += 1
                if self._system_share is None:
                    self._system_share = system_share(
                        prepare(ad, self.book, self.llm, self.opt).messages
                    )
                if len(ad.text) > self.opt.max_ad_chars:
                    long.append(
                        f"{ad.source}: {len(ad.text)} characters, more than --max-ad-chars "
                        f"{self.opt.max_ad_chars}; truncated for the prompt (warning in its record)"
                    )
                if self._coded_already(ad, coded):
                    self.done.add(ad.id)
                    continue
                to_code += 1
                if to_code == limit:
                    break
        self.already_done, self.stats["to_code"], self._coded = len(self.done), to_code, coded
        problems = self.source.problems.all() + long
        self.problems += problems
        return problems

    @property
    def nothing_readable(self) -> bool:
        """The whole input was read and held no ad."""
        return self.source.complete and self.source.readable == 0

    def has_work(self) -> bool:
        """Whether any ad still needs the LLM (read only: nothing is written)."""
        self.survey()
        return self.stats["to_code"] > 0

    def todo(self) -> Iterator[Ad]:
        """The ads to code, read again in input order (at most the survey's count)."""
        self.survey()
        left = self.stats["to_code"]
        if not left:
            return
        with contextlib.closing(self.source.again()) as ads:
            for ad in ads:
                if ad.id in self.done:
                    continue
                yield ad
                left -= 1
                if not left:
                    return

    def plan(self) -> None:
        """Ready OUT: what a killed run left half-written goes, and so do codings made
        under another provenance (their ads are coded again) and samples without a coding."""
        self.survey()
        self.out.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.out)  # half-written drafts of a killed run
        coded, found, done = self._coded or CodedIndex(None), self.source.found, self.done

        def kept(ad_id: str) -> bool:  # coded already, or not an ad of this run
            return ad_id in done or ad_id not in found

        keep_records(self.out / "codings.jsonl", kept)  # drops torn lines and stale records
        if self.opt.samples > 1 or (self.out / SAMPLES).exists():
            # samples of an ad whose consensus was not written (killed) are asked again
            keep_records(self.out / SAMPLES, lambda ad_id: ad_id in coded and kept(ad_id))
        atomic_write_text(self.out / "failures.jsonl", "")
        self._coded = None

    def execute(self) -> dict:
        self.plan()
        try:
            self._code_all(self.todo())
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

    def _code_all(self, todo: Iterator[Ad]) -> None:
        workers = max(1, self.opt.concurrency)
        pool = ThreadPoolExecutor(max_workers=workers)
        ads: dict[Future, Ad] = {}
        try:
            for ad in todo:
                while len(ads) >= in_flight(workers):
                    self._save_some(ads)
                if self._halt.is_set():
                    break  # the fatal error is raised when its ad is saved, below
                ads[pool.submit(self._code_unless_halted, ad)] = ad
            while ads:
                self._save_some(ads)
        except KeyboardInterrupt:
            self._save_finished({f for f in ads if f.done() and not f.cancelled()}, ads)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _save_some(self, ads: dict[Future, Ad]) -> None:
        """Wait for at least one ad in flight to finish (or half a second), save those done."""
        done, _ = wait(set(ads), timeout=0.5, return_when=FIRST_COMPLETED)
        self._save_finished(done, ads)

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
        """Every output in input order (records were appended as ads finished), then the
        manifest; a line at a time, so the length of a file does not matter."""
        found, codings = self.source.found, self.out / "codings.jsonl"
        order, self.not_coded = codings_in_order(codings, found)  # failed, or never tried
        copy_records(codings, order, codings)
        if (self.out / SAMPLES).exists():
            copy_records(
                self.out / SAMPLES, samples_in_order(self.out / SAMPLES, found), self.out / SAMPLES
            )
        failures = self.out / "failures.jsonl"
        copy_records(failures, failures_in_order(failures, found), failures)
        self.finished = now()
        atomic_write_text(self.out / "manifest.json", _json(self.manifest()))

    def system_share(self) -> float | None:
        """The system prompt's share of the first ad's request (see `system_share`)."""
        self.survey()
        return self._system_share

    def manifest(self) -> dict:
        backend = self.llm.backend
        # the system prompt: what every request starts with (examples are chosen per ad)
        static = system_prompt_hash(self.book) if self.n_ads else None
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
                "ads": self.n_ads,
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
