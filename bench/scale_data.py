"""Corpora at scale for measuring `stats`, `merge` and `eval`: real codings replicated under
new ids, written into a folder outside the repository, and a command's wall time and peak
memory.

    python -m bench.scale_data --run drafts/ --ads ads.jsonl --n 1000000 --out /tmp/scale/1e6
    python -m bench.scale_data --measure -- autocode stats /tmp/scale/1e6/drafts --out /tmp/s

Copy 0 keeps the original ids (so gold and eval reports of the corpus still pair); copy k
renames ad `id` to `id~k`, in the codings and in the ads table alike, so `--by` and
`--ads` find every copy. Records are copied as text with only the id replaced: the
figures of N copies are those of the original corpus repeated, at N times the size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

RUN_FILES = ("manifest.json", "failures.jsonl")


def scaled_id(ad_id: str, copy: int) -> str:
    return ad_id if copy == 0 else f"{ad_id}~{copy}"


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def replicated(lines: list[str], n: int, id_field: str) -> Iterator[str]:
    """`n` JSON lines: the given ones over and over, copy k with every id renamed."""
    records = [json.loads(line) for line in lines]
    for i in range(n):
        copy, record = divmod(i, len(records))
        row = records[record]
        yield json.dumps({**row, id_field: scaled_id(str(row[id_field]), copy)}, ensure_ascii=False)


def write_lines(path: Path, lines: Iterator[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
    return path


def replicate_run(run: Path, out: Path, n: int, records: str = "codings.jsonl") -> Path:
    """An OUT folder of `n` codings from the run folder `run` (its manifest and failures
    copied as they are, so the failed ads stay failed once)."""
    write_lines(out / records, replicated(_lines(run / records), n, "ad_id"))
    for name in RUN_FILES:
        if (run / name).is_file():
            shutil.copyfile(run / name, out / name)
    return out


def replicate_ads(table: Path, out: Path, n: int, id_field: str = "id") -> Path:
    """The ads table (.jsonl) with `n` rows under the same ids as `replicate_run`'s."""
    return write_lines(out, replicated(_lines(table), n, id_field))


# Linux counts a child's peak memory from its fork, when it still maps all of its parent's
# pages, and keeps that count across exec: a command started by the bench (which holds the
# corpus it coded, ~160 MB) showed at least the bench's size. So the command is started by
# this small launcher, a fresh interpreter of ~10 MB, which reports its child's own peak.
LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
print(json.dumps([seconds, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def measure(argv: list[str], env: dict | None = None) -> dict:
    """Wall seconds and peak resident memory (MB) of one command, run to its end."""
    launcher = [sys.executable, "-c", LAUNCHER, *argv]
    with tempfile.TemporaryFile() as err:  # a pipe could fill up and stall the command
        done = subprocess.run(launcher, env=env, stdout=subprocess.PIPE, stderr=err, check=True)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    seconds, peak_kb, status = json.loads(done.stdout)
    return {
        "seconds": round(seconds, 2),
        "peak_mb": round(peak_kb / 1024),  # kilobytes on Linux
        "status": status,
        "stderr": stderr[-2000:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="an OUT folder of `autocode code`")
    parser.add_argument("--ads", type=Path, help="its ads table (.jsonl)")
    parser.add_argument("--n", type=int, help="codings (and ads) to write")
    parser.add_argument("--out", type=Path, help="folder for run/ and ads.jsonl")
    parser.add_argument("--measure", nargs=argparse.REMAINDER, help="a command to measure")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure([a for a in args.measure if a != "--"])))
        return 0
    if args.run:
        replicate_run(args.run, args.out / args.run.name, args.n)
    if args.ads:
        replicate_ads(args.ads, args.out / "ads.jsonl", args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
