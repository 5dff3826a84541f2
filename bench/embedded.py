"""Benchmark 5: the embedded model (default GGUF) on the dev ads: time, prefix cache, scores.

Prefix reuse in llama-cpp-python comes from two places. `--cache true` keeps a RAM cache
of saved states and restores the one with the longest common prefix. But a `Llama` also
keeps the tokens of its previous evaluation in its context and evaluates only what
follows the common prefix, whatever `--cache` says: coding ads one after another, every
ad after the first reuses the system prompt either way. Turning `--cache` off therefore
changes nothing for a sequential run; what reuse is worth shows only when it is defeated:
on a fresh server, or after an unrelated request has replaced the context (a filler
request, whose time is not counted).

Full codings take ~2 minutes an ad, almost all of it generation, which reuse does not
touch; so reuse is measured on one-token answers to the real coding requests (prompt
evaluation only), and the seconds per ad without reuse are estimated from them.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import openai

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.one_ad import RunOptions, code_one, prepare
from pipeline.coding.run import Run
from pipeline.llm.backend import settings_of
from pipeline.llm.cache import DiskCache
from pipeline.llm.client import LLM
from pipeline.llm.embedded import embedded_server
from pipeline.llm.llamacpp import json_object_schema

FILLER = [{"role": "user", "content": "Name a colour."}]


class Evicting:
    """A `create` for the LLM seam that first replaces the server's context (time kept)."""

    def __init__(self, client: openai.OpenAI, model: str, evict: bool):
        self.client, self.model, self.evict = client, model, evict
        self.create = json_object_schema(client.chat.completions.create)
        self.evict_s = 0.0
        self.requests = 0

    def __call__(self, **kwargs):
        self.requests += 1
        if self.evict:
            start = time.perf_counter()
            self.client.chat.completions.create(model=self.model, messages=FILLER, max_tokens=1)
            self.evict_s += time.perf_counter() - start
        return self.create(**kwargs)


def _llm(backend, evict: bool) -> tuple[LLM, Evicting]:
    defaults = settings_of("embedded", timeout=None, max_retries=None, max_tokens=None)
    client = openai.OpenAI(
        base_url=backend.base_url,
        api_key=backend.api_key,
        max_retries=0,
        timeout=defaults["timeout"],
    )
    seam = Evicting(client, backend.model, evict)
    llm = LLM(
        backend,
        create=seam,
        cache=DiskCache(None),
        max_retries=defaults["max_retries"],
        max_tokens=defaults["max_tokens"],
        timeout=defaults["timeout"],
    )
    return llm, seam


def _code(ads: list[Ad], book: Codebook, llm: LLM, seam: Evicting, out: Path) -> list[dict]:
    """Code `ads` one at a time through Run; per ad: seconds (eviction excluded) and usage."""
    timings: list[dict] = []

    def timed(ad, codebook, llm_, options):
        evicted, sent, start = seam.evict_s, seam.requests, time.perf_counter()
        outcome = code_one(ad, codebook, llm_, options)
        timings.append(
            {
                "ad": ad.id,
                "seconds": round(time.perf_counter() - start - (seam.evict_s - evicted), 1),
                "requests": seam.requests - sent,
                "coded": outcome.record is not None,
                "reason": outcome.reason,
                "completion_tokens": outcome.record.usage.completion_tokens
                if outcome.record
                else None,
            }
        )
        return outcome

    Run(ads, book, llm, RunOptions(out, concurrency=1), coder=timed).execute()
    return timings


def _renamed(ad: Ad, tag: str) -> Ad:
    """The ad under another id: its prompt then differs right after the static part, so no
    cache can hold more than the static prefix of it."""
    return Ad(f"{tag}-{ad.id}", ad.text, ad.source, ad.title, ad.organisation)


def _probe(llm: LLM, seam: Evicting, book: Codebook, steps: list[tuple[str, Ad, bool]]) -> dict:
    """Seconds of one-token answers to real coding requests: prompt evaluation only."""
    seconds = {}
    for label, ad, evict in steps:
        seam.evict = evict
        request = prepare(ad, book, llm, RunOptions(Path("unused")))
        kwargs = llm.request(request.messages, request.model_cls) | {"max_tokens": 1}
        evicted, start = seam.evict_s, time.perf_counter()
        seam(**kwargs)
        seconds[label] = round(time.perf_counter() - start - (seam.evict_s - evicted), 2)
    seam.evict = False
    return seconds


def cache_on(ads: list[Ad], book: Codebook, out: Path) -> dict:
    """The default server (`--cache true`): code every ad, then probe both kinds of reuse."""
    start = time.perf_counter()
    with embedded_server(prefix_cache=True) as backend:
        started = time.perf_counter() - start
        llm, seam = _llm(backend, evict=False)
        timings = _code(ads, book, llm, seam, out)
        probe_ad = ads[len(ads) // 2]
        probe = _probe(
            llm,
            seam,
            book,
            [  # the last coding request is still in the context
                ("cache_true_next_ad", _renamed(probe_ad, "c"), False),
                ("cache_true_after_filler", _renamed(probe_ad, "e"), True),
            ],
        )
    return {
        "server_start_s": round(started, 1),
        "per_ad": timings,
        "probe": probe,
        "model": backend.model,
    }


def cache_off(ads: list[Ad], book: Codebook, off_ads: int, out: Path) -> dict:
    """`--cache false`: a cold request, the next ad's, then `off_ads` codings with eviction."""
    with embedded_server(prefix_cache=False) as backend:
        llm, seam = _llm(backend, evict=False)
        probe_ad = ads[len(ads) // 2]
        probe = _probe(
            llm,
            seam,
            book,
            [
                ("cache_false_cold", _renamed(probe_ad, "a"), False),
                ("cache_false_next_ad", _renamed(probe_ad, "c"), False),
            ],
        )
        seam.evict = True
        timings = _code(ads[:off_ads], book, llm, seam, out) if off_ads else []
    return {"per_ad": timings, "probe": probe}


def scores(gold: Path, out: Path, raw: Path, book: Codebook) -> dict:
    """Headline agreement of the drafts with the dev gold (the eval command's numbers)."""
    from pipeline.evaluation.evaluate import load_and_evaluate

    report = load_and_evaluate(gold, out / "codings.jsonl", raw, book, warn=lambda _: None)
    quotes, tools = report["quotes"], report["tools"]
    return {
        "paired_ads": len(report["ads"]["paired"]),
        "profile_accuracy": report["profile"]["accuracy"],
        "profile_kappa": report["profile"]["kappa"],
        "quote_f1_strict": quotes["strict"]["f1"],
        "quote_f1_partial": quotes["partial"]["f1"],
        "presence_macro_kappa": report["presence"]["macro_kappa"],
        "tool_f1_name": tools["name"]["f1"],
    }


def embedded_bench(
    raw: Path, gold: Path, ads: list[Ad], book: Codebook, work: Path, off_ads: int = 0
) -> dict:
    """Every ad coded with the prefix cache on (and scored); reuse probed on and off.

    Cache off costs the prompt evaluation that reuse saves, once per request: the estimate
    is the measured seconds per ad plus (cold - reused) prompt seconds per request. Full
    codings with reuse defeated (`off_ads`) are measured too when asked for, but their
    answers may differ from the cached run's (the prompt is evaluated in other batches, so
    greedy decoding can take another path), so they are not a like-for-like ratio.
    """
    on = cache_on(ads, book, work / "on")
    off = cache_off(ads, book, off_ads, work / "off")
    probe = off["probe"] | on["probe"]
    coded = [t for t in on["per_ad"] if t["coded"]]
    on_s = statistics.mean(t["seconds"] for t in on["per_ad"])
    requests = statistics.mean(t["requests"] for t in on["per_ad"])
    off_s = on_s + requests * (probe["cache_false_cold"] - probe["cache_true_next_ad"])
    return {
        "model": on["model"],
        "ads": len(ads),
        "coded": len(coded),
        "failed": {t["ad"]: t["reason"] for t in on["per_ad"] if not t["coded"]},
        "seconds_per_ad_on": round(on_s, 1),
        "requests_per_ad": round(requests, 2),
        "seconds_per_ad_off_estimated": round(off_s, 1),
        "ratio_off_to_on": round(off_s / on_s, 2),
        "completion_tokens_per_ad": round(statistics.mean(t["completion_tokens"] for t in coded), 1)
        if coded
        else None,
        "server_start_s": on["server_start_s"],
        "probe_ad": ads[len(ads) // 2].id,
        "probe_s": probe,
        "per_ad_on": on["per_ad"],
        "per_ad_off": off["per_ad"],
        "scores": scores(gold, work / "on", raw, book),
    }
