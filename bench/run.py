"""`make bench [DATA=../shared/data/jobads]`: speed, scale, cost and quality, side by side.

    python -m bench.run --data ../shared/data/jobads            # everything (~13 min)
    python -m bench.run --data ... --only concurrency,eval      # re-run some parts

Parts: concurrency, overhead (with start-up), eval, stats, embedded, tokens (with cost),
coverage (the intervals' coverage, by simulation; needs no data), editor (opening a long ad
in the editor of `review --serve`, beside its static page; needs Chromium), scale (code,
stats, merge, export --table and eval at 10^4, 10^5 and 10^6 ads: time and peak memory).
Each part's figures replace that part's in bench/results.json; the others are kept from the
last run, so a disturbed part can be re-run alone. The tables are printed and rewritten in
BENCHMARKS.md. A part whose data is missing is skipped with the reason. Nothing of the data
is written into the repository: work files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = (
    "concurrency",
    "overhead",
    "eval",
    "stats",
    "embedded",
    "tokens",
    "coverage",
    "editor",
    "scale",
)
PACKAGES = (
    "openai",
    "instructor",
    "pydantic",
    "llama_cpp_python",
    "jinja2",
    "rapidfuzz",
    "scikit-learn",
    "rich",
    "matplotlib",
)


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(mem / 2**20, 1),
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in PACKAGES},
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _corpus(data: Path):
    """(ads, codebook) of ads.jsonl, or the reason it cannot be read."""
    from pipeline.ads import read_ads
    from pipeline.codebook import load_codebook

    path = data / "ads.jsonl"
    if not path.is_file():
        return None, f"no {path} (pass --data; DATA= for make)"
    return (read_ads([path]).ads, load_codebook(None)), None


def run_parts(parts: list[str], data: Path, args, work: Path, results: dict) -> None:
    from bench import cost, evalspeed, statsspeed, throughput

    corpus, missing = _corpus(data)
    ads, book = corpus if corpus else (None, None)
    for part in parts:
        if part in ("concurrency", "overhead", "eval", "stats", "tokens") and corpus is None:
            results["skipped"][part] = missing
            if part == "overhead":  # the start-up time needs no data
                results["details"]["startup"] = throughput.startup()
                results["startup_s"] = results["details"]["startup"]["help_s"]
            continue
        start, load = time.perf_counter(), _load()
        print(f"bench: {part} ...", file=sys.stderr, flush=True)
        if part == "concurrency":
            res = throughput.concurrency_scaling(
                ads[: args.ads], ads[-1], book, args.levels, args.latency
            )
            results["concurrency"] = [
                {k: row[k] for k in ("concurrency", "ads_per_s", "efficiency")}
                for row in res["rows"]
            ]
        elif part == "overhead":
            res = throughput.overhead(ads, book, data / "ads.jsonl", work)
            results["overhead_ms_per_ad"] = res["ms_per_ad"]
            results["details"]["startup"] = throughput.startup()
            results["startup_s"] = results["details"]["startup"]["help_s"]
        elif part == "eval":
            res = evalspeed.eval_speed(
                _coded_corpus(ads, book, work),
                ads,
                work,
                list(book.ids_of_kind("quotes")),
                book.profile_names,
            )
            results["eval_s"] = res["seconds"]
        elif part == "stats":
            res = statsspeed.stats_speed(_coded_corpus(ads, book, work), data / "ads.jsonl", work)
            results["stats_s"] = res["seconds"]
        elif part == "embedded":
            res = _embedded(data, args, work, results)
            if res is None:
                continue
        elif part == "tokens":
            res = cost.count_tokens(ads, book)
            results["tokens"] = res
            _cost(results)
        elif part == "coverage":
            res = _coverage(args, results)
        elif part == "editor":
            from bench import editor

            res = results["editor"] = editor.editor_speed()
        elif part == "scale":
            res = _scale(data, args, results)
        if part != "embedded":  # its figures are all under results["embedded"]
            results["details"][part] = res
        results["conditions"][part] = {
            "load_before": load,
            "load_after": _load(),
            "seconds": round(time.perf_counter() - start, 1),
            "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        results["skipped"].pop(part, None)


def _coded_corpus(ads, book, work: Path) -> Path:
    """The corpus coded by the simulated server (the overhead part leaves it in work/coded)."""
    from bench import throughput

    coded = work / "coded"
    if not (coded / "codings.jsonl").exists():
        with throughput.sim_server(0.0) as url:
            throughput.run_ads(ads, book, throughput.make_llm(url, None), coded, 8)
    return coded


def _embedded(data: Path, args, work: Path, results: dict) -> dict | None:
    from bench import embedded
    from pipeline.ads import read_ads
    from pipeline.codebook import load_codebook
    from pipeline.errors import InputError
    from pipeline.llm.embedded import gguf_path

    raw, gold = data / "dev" / "raw", data / "dev" / "gold"
    if not (raw.is_dir() and gold.is_dir()):
        results["skipped"]["embedded"] = f"no {raw} or {gold}"
        return None
    try:
        gguf_path()
    except InputError as exc:
        results["skipped"]["embedded"] = str(exc)
        return None
    res = embedded.embedded_bench(
        raw,
        gold,
        read_ads([raw]).ads[: args.embedded_ads],
        load_codebook(None),
        work / "embedded",
        args.off_ads,
    )
    results["embedded"] = res
    _cost(results)
    return res


def _scale(data: Path, args, results: dict) -> dict:
    """The study's commands at 10^4 .. 10^6 ads; sizes and commands from the options, the
    figures of other sizes and commands kept from the last run."""
    from bench import scale

    sizes = [int(s) for s in args.scale_sizes.split(",")]
    res = scale.scale(data, sizes, args.scale_commands.split(","))
    kept = results.get("scale") or {"commands": {}}
    for command, by_size in res["commands"].items():
        kept["commands"].setdefault(command, {}).update(by_size)
    every = sorted({int(n) for by in kept["commands"].values() for n in by})
    kept["sizes"] = every
    kept["ratios"] = scale.ratios(kept["commands"], every)
    results["scale"] = kept
    return res


def _coverage(args, results: dict) -> dict:
    """The intervals' coverage by simulation (no data needed); the table goes to stderr."""
    from bench import coverage

    res = coverage.coverage(args.corpora)
    results["coverage"] = {
        design: {method: row["coverage"] for method, row in r["methods"].items()}
        for design, r in res.items()
    }
    print(coverage.markdown(res), file=sys.stderr)
    return res


def _cost(results: dict) -> None:
    """Cost needs the token counts and the embedded run's completion tokens per ad."""
    from bench.cost import cost_per_1000
    from pipeline.coding.cost import load_prices

    completion = (results.get("embedded") or {}).get("completion_tokens_per_ad")
    if results.get("tokens") and completion:
        results["cost_per_1000_ads"] = cost_per_1000(
            results["tokens"], completion, load_prices(None)
        )


def conditions_note(results: dict) -> str:
    parts = "; ".join(
        f"{p} {c['seconds']} s, load {c['load_before']} -> {c['load_after']}"
        + (f", {c['at']}" if c.get("at") else "")
        for p, c in results["conditions"].items()
    )
    return (
        f"each part's wall time and 1-minute load average before -> after it, on "
        f"{os.cpu_count()} CPUs shared with other work (a part re-run alone with --only "
        f"carries its own time): {parts}."
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/jobads")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--ads", type=int, default=200, help="ads for the concurrency part")
    parser.add_argument("--levels", default="1,4,16,32", help="concurrency levels")
    parser.add_argument("--latency", type=float, default=0.5, help="simulated s per request")
    parser.add_argument(
        "--embedded-ads",
        type=int,
        default=6,
        help="dev ads coded by the embedded model (default: all six, about 2 minutes each)",
    )
    parser.add_argument(
        "--off-ads",
        type=int,
        default=0,
        help="of those, also coded in full with prefix reuse defeated",
    )
    parser.add_argument(
        "--scale-sizes", default="10000,100000,1000000", help="corpus sizes (scale)"
    )
    parser.add_argument(
        "--scale-commands",
        default="code,stats,merge,export,eval",
        help="commands measured at each size (scale)",
    )
    parser.add_argument(
        "--corpora", type=int, default=20_000, help="simulated corpora per design (coverage)"
    )
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--markdown", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.levels = tuple(int(x) for x in args.levels.split(","))
    args.parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; parts: {', '.join(PARTS)}")
    return args


def main(argv=None) -> int:
    from rich.console import Console

    from bench import report

    args = parse_args(argv)
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    for key in ("details", "conditions", "skipped"):
        results.setdefault(key, {})
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="autocode-bench-") as tmp:
        run_parts(args.parts, args.data.resolve(), args, Path(tmp), results)
    if args.parts or "machine" not in results:  # --only "" re-renders the tables only
        results["machine"] = machine()
    elapsed = round(time.perf_counter() - start, 1)
    if set(args.parts) == set(PARTS):
        results["full_run_s"] = elapsed
    results.pop("total_s", None)  # (older results)
    results["conditions_note"] = conditions_note(results)
    args.results.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    report.print_tables(results, Console())
    report.rewrite(args.markdown, results)
    print(f"bench: {elapsed} s; wrote {args.results} and {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
