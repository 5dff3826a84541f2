"""Benchmark part `scale`: the commands of a study on corpora of 10^4, 10^5 and 10^6 ads.

The 1,272-ad corpus is coded once by the simulated server (bench.throughput), then its ads
and codings are replicated under new ids (bench.scale_data) to each size. At each size, each
command runs as its own process, measured side by side in one run (wall time and peak
resident memory, from the kernel's accounting of that process):

    code       autocode code ADS --out OUT (simulated server, no latency, concurrency 16)
    stats      autocode stats RUN --ads ADS --by industry
    merge      autocode merge RUN RUN2 --out MERGED (two coding sets of the corpus)
    export     autocode export RUN --ads ADS --table DIR --format parquet
    eval       autocode eval --gold GOLD --pred RUN/codings.jsonl (gold: 200 of the ads)

Reported per command: time per ad, and peak memory with its growth per 10x as ratios.

    python -m bench.run --only scale [--scale-sizes 10000,100000,1000000]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench import scale_data, throughput
from pipeline.codebook import load_codebook
from pipeline.codings.load import load_jsonl
from pipeline.goldmd.render import render

SIZES = (10_000, 100_000, 1_000_000)
GOLD_ADS = 200
COMMANDS = ("code", "stats", "merge", "export", "eval")
AUTOCODE = [sys.executable, "-m", "pipeline.cli"]


def _gold(run: Path, folder: Path) -> Path:
    """Gold Markdown of the first GOLD_ADS codings of the run (their copy-0 ids pair)."""
    book = load_codebook(None)
    folder.mkdir(parents=True, exist_ok=True)
    for coding in load_jsonl(run / "codings.jsonl", book)[:GOLD_ADS]:
        (folder / f"{coding.ad_id}.md").write_text(render(coding, book), encoding="utf-8")
    return folder


def argv_of(command: str, n: int, work: Path, data: dict) -> list[str]:
    size = work / str(n)
    run, ads = size / "run", size / "ads.jsonl"
    return {
        "code": [
            *AUTOCODE,
            "code",
            str(ads),
            "--out",
            str(size / "coded"),
            "--concurrency",
            "16",
            "--cache",
            str(size / "cache"),
        ],
        "stats": [
            *AUTOCODE,
            "stats",
            str(run),
            "--ads",
            str(ads),
            "--by",
            "industry",
            "--out",
            str(size / "stats"),
        ],
        "merge": [*AUTOCODE, "merge", str(run), str(size / "run2"), "--out", str(size / "merged")],
        "export": [
            *AUTOCODE,
            "export",
            str(run),
            "--ads",
            str(ads),
            "--table",
            str(size / "tables"),
            "--format",
            "parquet",
        ],
        "eval": [
            *AUTOCODE,
            "eval",
            "--gold",
            str(data["gold"]),
            "--pred",
            str(run / "codings.jsonl"),
            "--bootstrap",
            "0",
            "--json",
            str(size / "eval.json"),
        ],
    }[command]


def prepare(n: int, work: Path, data: dict, commands) -> None:
    """The ads table at size n, and the coding sets the commands read (merge: two)."""
    size = work / str(n)
    scale_data.replicate_ads(data["ads"], size / "ads.jsonl", n)
    if set(commands) - {"code"}:
        scale_data.replicate_run(data["run"], size / "run", n)
    if "merge" in commands:
        scale_data.replicate_run(data["run"], size / "run2", n)


def scale(data_dir: Path, sizes=SIZES, commands=COMMANDS) -> dict:
    """{command: {size: {seconds, peak_mb, status}}} and the ratios."""
    book = load_codebook(None)
    ads_table = data_dir / "ads.jsonl"
    from pipeline.ads import read_ads

    with tempfile.TemporaryDirectory(prefix="autocode-scale-") as tmp:
        work = Path(tmp)
        base = work / "base"
        with throughput.sim_server(0.0) as url:
            ads = read_ads([ads_table]).ads
            throughput.run_ads(ads, book, throughput.make_llm(url, None), base, 8)
            data = {"run": base, "ads": ads_table, "gold": _gold(base, work / "gold")}
            env = os.environ | {"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-bench"}
            results: dict = {c: {} for c in commands}
            for n in sizes:
                prepare(n, work, data, commands)
                for command in commands:
                    print(f"bench: scale {command} {n:,} ...", file=sys.stderr, flush=True)
                    res = scale_data.measure(argv_of(command, n, work, data), env=env)
                    res.pop("stderr") if res["status"] == 0 else None
                    results[command][str(n)] = res
                _remove(work / str(n))
    return {"sizes": list(sizes), "commands": results, "ratios": ratios(results, sizes)}


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def ratios(results: dict, sizes) -> dict:
    """Per command: seconds per ad at each size, and peak memory per 10x (size i / size i-1)."""
    out = {}
    for command, by_size in results.items():
        rows = [by_size.get(str(n)) for n in sizes]
        out[command] = {
            "ms_per_ad": [
                None if r is None else round(1000 * r["seconds"] / n, 3)
                for r, n in zip(rows, sizes, strict=True)
            ],
            "memory_growth": [
                None if a is None or b is None else round(b["peak_mb"] / a["peak_mb"], 2)
                for a, b in zip(rows, rows[1:], strict=False)
            ],
        }
    return out


def main(argv=None) -> None:
    """Run some commands at some sizes alone, the figures as JSON (bench.run merges them)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/jobads"))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    res = scale(args.data, sizes, args.commands.split(","))
    args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
