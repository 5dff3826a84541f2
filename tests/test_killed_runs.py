"""A run killed part way (Ctrl-C, or SIGKILL) loses nothing: the next run codes exactly the
rest, and OUT ends with every ad once, whole lines only, no partial draft.

`autocode code` runs as a subprocess over 50 ads against a slow simulated server
(0.2 s a request, 4 in flight) and is killed once 10 ads are in codings.jsonl.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from autocode_run import TRACEBACK, ad_text, assert_clean_out, code_argv, env_for, json_lines

from tests.servers.simserver import SimServer

N_ADS = 50
KILL_AFTER = 10  # records in codings.jsonl


def wait_for_records(out: Path, proc: subprocess.Popen, n: int, limit: float = 60) -> None:
    path, deadline = out / "codings.jsonl", time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended before it was killed:\n{proc.stderr.read()}"
        if path.exists() and path.read_text(encoding="utf-8").count("\n") >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} ads coded after {limit} s")


def whole_records(path: Path) -> set[str]:
    """Ids of the lines of codings.jsonl that are whole JSON records."""
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            ids.add(json.loads(line)["ad_id"])
        except (json.JSONDecodeError, KeyError):
            pass
    return ids


def tear(out: Path) -> None:
    """What a SIGKILL can leave at worst: a torn last line and a temp file beside a draft."""
    with open(out / "codings.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"ad_id": "ad07", "quotes": [{"categ')
    (out / ".ad07.md.x1y2z3.tmp").write_text("# Draft coding by sim: Job Ad #", encoding="utf-8")


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_killed_run_resumes_and_ends_with_every_ad_once(tmp_path, how):
    texts = {f"ad{i:02d}": ad_text(f"kill-{i:02d}", f"Engineer number {i}") for i in range(N_ADS)}
    (tmp_path / "ads").mkdir()
    for ad_id, text in texts.items():
        (tmp_path / "ads" / f"{ad_id}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    argv = code_argv(
        tmp_path / "ads", "--out", out, "--cache", tmp_path / "cache", "--concurrency", 4
    )
    with SimServer(latency=0.2) as server:
        env = env_for(server.url)
        proc = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_for_records(out, proc, KILL_AFTER)
            proc.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGKILL)
            _, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
        if how == "SIGINT":
            assert proc.returncode == 130
            assert "interrupted; finished ads are kept" in stderr
            assert TRACEBACK not in stderr
            assert json_lines(out / "failures.jsonl") == []
            assert {r["ad_id"] for r in json_lines(out / "codings.jsonl")}  # whole lines
            interrupted = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
            assert interrupted["status"] == "interrupted"
        else:
            assert proc.returncode == -signal.SIGKILL
        kept = whole_records(out / "codings.jsonl")
        assert KILL_AFTER <= len(kept) < N_ADS
        if how == "SIGKILL":
            tear(out)  # the worst a kill can leave, whether or not this one did
        before = len(server.requests)

        rerun = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90
        )
        new_requests = len(server.requests) - before

    assert rerun.returncode == 0, rerun.stderr
    assert TRACEBACK not in rerun.stderr
    records = json_lines(out / "codings.jsonl")
    assert [r["ad_id"] for r in records] == sorted(texts)  # each once, in input order
    assert json_lines(out / "failures.jsonl") == []
    assert_clean_out(out, texts)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete"
    counts = manifest["counts"]
    assert counts["already_done"] + counts["coded"] == N_ADS and counts["failed"] == 0
    # The re-run coded only the rest: ads finished before the kill cost no call; ads in
    # flight at the kill came from the cache when the killed run had stored their answer.
    assert counts["already_done"] == len(kept)
    assert new_requests == counts["coded"] - counts["from_cache"]
