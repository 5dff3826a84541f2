"""Benchmark 3: `autocode eval` on the coded corpus against a perturbed copy of itself.

The coded ads (drafts from the simulated server, one `<id>.md` each) are the gold side;
the prediction side is their codings.jsonl after a seeded perturbation that leaves every
metric with work to do: quotes dropped, cut shorter (partial matches), moved to another
category; tools dropped or renamed; profiles changed. The ad texts are written as
`<id>.txt` so partial matching uses character spans, as a real evaluation would.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from pipeline.ads import Ad

ROOT = Path(__file__).resolve().parent.parent


def perturb(record: dict, rng: random.Random, categories: list[str], profiles: list[str]) -> dict:
    """A copy of one coding record, changed the way a second coder might change it."""
    quotes = []
    for quote in record["quotes"]:
        roll = rng.random()
        if roll < 0.15:
            continue  # missed
        quote = dict(quote, span=None, grounding=None)
        words = quote["text"].split()
        if roll < 0.35 and len(words) > 4:
            quote["text"] = " ".join(words[1:-1])  # cut at both ends: a partial match
        elif roll < 0.45:
            quote["category"] = rng.choice(categories)
        quotes.append(quote)
    tools = [
        dict(t, name=t["name"] + " (cloud)") if rng.random() < 0.2 else t
        for t in record["tools"]
        if rng.random() > 0.15
    ]
    profile = rng.choice(profiles) if rng.random() < 0.25 else record["profile"]
    return dict(record, quotes=quotes, tools=tools, profile=profile)


def prepare(
    coded_dir: Path,
    ads: list[Ad],
    work: Path,
    categories: list[str],
    profiles: list[str],
    seed: int = 7,
) -> tuple[Path, Path]:
    """Write the perturbed codings.jsonl and the ad texts; return (pred file, ads folder)."""
    rng = random.Random(seed)
    records = [json.loads(line) for line in (coded_dir / "codings.jsonl").open(encoding="utf-8")]
    pred = work / "perturbed.jsonl"
    with pred.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(perturb(record, rng, categories, profiles)) + "\n")
    texts = work / "ads"
    texts.mkdir(exist_ok=True)
    for ad in ads:
        (texts / f"{ad.id}.txt").write_text(ad.text, encoding="utf-8")
    return pred, texts


def bootstrap_seconds(coded_dir: Path, pred: Path, texts: Path, runs: int = 3) -> float:
    """Median seconds of the bootstrap alone, in process: per-ad counts and 1000 resamples."""
    from pipeline.codebook import load_codebook
    from pipeline.codings.load import load_codings
    from pipeline.evaluation.evaluate import load_ad_texts
    from pipeline.evaluation.scores import match_all, pair_codings
    from pipeline.evaluation.uncertainty import ad_counts, intervals

    book = load_codebook(None)
    pairing = pair_codings(load_codings(coded_dir, book), load_codings(pred, book))
    ad_texts, _, _ = load_ad_texts(texts, [g.ad_id for g, _ in pairing.paired])
    matches = match_all(pairing.paired, ad_texts)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        intervals(ad_counts(pairing.paired, matches, book), n_boot=1000, seed=0)
        times.append(time.perf_counter() - start)
    return round(sorted(times)[len(times) // 2], 3)


def eval_speed(
    coded_dir: Path,
    ads: list[Ad],
    work: Path,
    categories: list[str],
    profiles: list[str],
    runs: int = 5,
) -> dict:
    """Median wall seconds of the whole `autocode eval` command (start-up included), which
    computes bootstrap intervals with 1000 resamples by default; and of the bootstrap alone."""
    pred, texts = prepare(coded_dir, ads, work, categories, profiles)
    report = work / "report.json"
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "eval",
        "--gold",
        str(coded_dir),
        "--pred",
        str(pred),
        "--ads",
        str(texts),
        "--json",
        str(report),
    ]
    # alternated, so both commands see the same load on a shared machine
    times, without, cpu = _alternated(cmd, [*cmd, "--bootstrap", "0"], runs)
    result = json.loads(report.read_text(encoding="utf-8"))
    return {
        "seconds": round(times[len(times) // 2], 2),
        "runs": [round(t, 2) for t in times],
        "cpu_s": round(cpu[len(cpu) // 2], 2),
        "seconds_without_bootstrap": round(without[len(without) // 2], 2),
        "paired_ads": len(result["ads"]["paired"]),
        "quote_tp_fp_fn_partial": [result["quotes"]["partial"][k] for k in ("tp", "fp", "fn")],
        "quote_f1_partial": round(result["quotes"]["partial"]["f1"], 3),
        "quote_f1_strict": round(result["quotes"]["strict"]["f1"], 3),
        "profile_kappa": _round(result["profile"]["kappa"]),
        "n_boot": result["ci"]["quotes.partial.f1"]["n_boot"],
        "quote_f1_partial_ci": [
            _round(result["ci"]["quotes.partial.f1"][k]) for k in ("low", "high")
        ],
        "bootstrap_s": bootstrap_seconds(coded_dir, pred, texts),
    }


def _alternated(first: list[str], second: list[str], runs: int) -> tuple[list, list, list]:
    """Sorted wall seconds of `runs` runs of each command, run in turn (the first last),
    and the first command's CPU seconds (user + system): on a shared machine wall time
    also waits for other work."""
    times: tuple[list[float], list[float]] = ([], [])
    cpu: list[float] = []
    for _ in range(runs):
        for cmd, kept in ((second, times[1]), (first, times[0])):
            start, used = time.perf_counter(), _children_cpu()
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            kept.append(time.perf_counter() - start)
            if kept is times[0]:
                cpu.append(_children_cpu() - used)
            if done.returncode != 0:
                raise RuntimeError(f"autocode eval failed: {done.stderr[-800:]}")
    return sorted(times[0]), sorted(times[1]), sorted(cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _round(value):
    return None if value is None else round(value, 3)
