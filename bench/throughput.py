"""Benchmarks 1 and 2: concurrency scaling and per-ad pipeline overhead, and start-up time.

The simulated server runs in its own process (`python -m tests.servers.simserver PORT LATENCY`),
so its work does not compete with the pipeline's for the GIL, as a real provider's would
not. The pipeline runs in this process: `Run.execute()` is what `autocode code` runs after
its imports and argument checks, and is timed on its own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.one_ad import RunOptions, code_one
from pipeline.coding.run import Run
from pipeline.llm.backend import Backend, settings_of
from pipeline.llm.client import LLM, online_llm

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def sim_server(latency: float, port: int | None = None):
    """Yield the base URL of a simulated server running in a child process."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.simserver", str(port), str(latency)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # printed once it listens
        if "127.0.0.1" not in line:
            raise RuntimeError(f"simulated server did not start: {line!r}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_llm(url: str, cache_dir: Path | None) -> LLM:
    """The LLM layer as `autocode code` builds it for an OpenAI-compatible server."""
    backend = Backend("openai-compatible", url, "sim", "sk-bench", "json_schema")
    return online_llm(backend, cache_dir, temperature=0.0)


def run_ads(ads: list[Ad], book: Codebook, llm: LLM, out: Path, concurrency: int) -> tuple:
    """(seconds, manifest) of one `Run.execute()`."""
    start = time.perf_counter()
    manifest = Run(ads, book, llm, RunOptions(out, concurrency=concurrency)).execute()
    return time.perf_counter() - start, manifest


def concurrency_scaling(
    ads: list[Ad], spare: Ad, book: Codebook, levels=(1, 4, 16, 32), latency: float = 0.5
) -> dict:
    """Code `ads` at each concurrency with an empty cache; efficiency = ads/s / (c / latency).

    Each level gets a fresh LLM client, warmed by one request for `spare` (not timed: the
    openai SDK imports its chat resources on first use, a one-time cost reported apart).
    """
    rows, warmups = [], []
    with sim_server(latency) as url, tempfile.TemporaryDirectory() as tmp:
        for level in levels:
            llm = make_llm(url, Path(tmp) / f"cache{level}")
            start = time.perf_counter()
            code_one(spare, book, llm, RunOptions(Path(tmp) / f"warm{level}"))
            warmups.append(time.perf_counter() - start)
            seconds, manifest = run_ads(ads, book, llm, Path(tmp) / f"out{level}", level)
            rate = manifest["counts"]["coded"] / seconds
            rows.append(
                {
                    "concurrency": level,
                    "ads_per_s": round(rate, 2),
                    "efficiency": round(rate / (level / latency), 3),
                    "seconds": round(seconds, 2),
                    "failed": manifest["counts"]["failed"],
                }
            )
    return {
        "rows": rows,
        "ads": len(ads),
        "latency_s": latency,
        "first_request_s": round(warmups[0], 2),
    }


def overhead(ads: list[Ad], book: Codebook, data_file: Path, work: Path, repeats: int = 3) -> dict:
    """Per-ad wall time of a re-run whose every ad is a cache hit (fresh OUT each time).

    The first pass codes every ad through the simulated server at latency 0, filling the
    cache; each re-run then reads, validates, grounds, renders and writes every ad. The
    median of `repeats` re-runs is reported, and one `autocode code` command for context.
    The first pass's OUT is left in `work/coded` for the evaluation benchmark.
    """
    with tempfile.TemporaryDirectory() as tmp, sim_server(0.0) as url:
        cache = Path(tmp) / "cache"  # the cache key holds the server address: one server
        first_s, first = run_ads(ads, book, make_llm(url, cache), work / "coded", 8)
        reruns = []
        for i in range(repeats):
            seconds, manifest = run_ads(
                ads,
                book,
                make_llm(url, cache),
                Path(tmp) / f"re{i}",
                settings_of("openai-compatible", concurrency=None)["concurrency"],
            )
            if manifest["counts"]["from_cache"] != len(ads):
                raise RuntimeError(f"cached re-run missed the cache: {manifest['counts']}")
            reruns.append(seconds)
        command_s = _cached_command(data_file, url, cache, Path(tmp) / "cmd")
    rerun = statistics.median(reruns)
    return {
        "ads": len(ads),
        "first_pass_s": round(first_s, 2),
        "first_pass_failed": first["counts"]["failed"],
        "rerun_s": [round(s, 3) for s in reruns],
        "ms_per_ad": round(1000 * rerun / len(ads), 2),
        "command_s": round(command_s, 2),
        "command_ms_per_ad": round(1000 * command_s / len(ads), 2),
    }


def _cached_command(data_file: Path, url: str, cache: Path, out: Path) -> float:
    """Wall seconds of the whole `autocode code` command over the cached ads."""
    env = {**os.environ, "OPENAI_BASE_URL": url, "AUTOCODE_MODEL": "sim"}
    env.pop("OPENAI_API_KEY", None)
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "code",
        str(data_file),
        "--out",
        str(out),
        "--cache",
        str(cache),
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"autocode code failed: {done.stderr[-800:]}")
    return seconds


def startup(runs: int = 7) -> dict:
    """Median wall time of `autocode --help`, and of a bare interpreter for scale."""
    autocode = Path(sys.executable).with_name("autocode")
    help_cmd = (
        [str(autocode), "--help"]
        if autocode.exists()
        else [sys.executable, "-m", "pipeline.cli", "--help"]
    )

    def median_of(cmd: list[str]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    help_s = median_of(help_cmd)
    python_s = median_of([sys.executable, "-c", "pass"])
    return {
        "help_s": round(help_s, 3),
        "python_s": round(python_s, 3),
        "ratio_to_python": round(help_s / python_s, 1),
        "runs": runs,
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(help_cmd)),
    }
