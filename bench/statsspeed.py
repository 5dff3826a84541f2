"""Benchmark: `autocode stats --by industry` on the coded corpus with the ads table's columns.

The coded corpus is the same simulated one the eval benchmark scores (`<id>.md` drafts,
codings.jsonl, manifest.json); the ads table is the shared ads.jsonl, whose `industry`
column the breakdown groups by. The whole command is timed, start-up and page included.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stats_speed(coded_dir: Path, ads_table: Path, work: Path, runs: int = 3) -> dict:
    """Median wall seconds of the whole `autocode stats` command, and what it wrote."""
    out = work / "stats"
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "stats",
        str(coded_dir),
        "--ads",
        str(ads_table),
        "--by",
        "industry",
        "--out",
        str(out),
    ]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"autocode stats failed: {done.stderr[-800:]}")
    result = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    industries = {row["industry"] for row in result["tables"]["by_industry"]}
    return {
        "seconds": round(statistics.median(times), 2),
        "runs": [round(t, 2) for t in sorted(times)],
        "ads": result["provenance"]["ads"],
        "tables": len(result["tables"]),
        "industries": len(industries),
        "page_kb": round((out / "index.html").stat().st_size / 1024),
    }
