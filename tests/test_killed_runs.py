"""A run killed part way (Ctrl-C, SIGTERM or SIGKILL) loses nothing: the next run codes exactly
the rest, and OUT ends with every ad once, whole lines only, no partial draft.

`autocode code` runs as a subprocess over 50 ads, 4 in flight, against a simulated server that
answers 10 requests and then holds every later one unanswered. The signal goes out only once
the server holds 4 requests (every worker waits on an answer) and the 10 answered ads are in
codings.jsonl: the run is mid-flight and cannot get further, however slow the machine, so the
signal never races the end of the run. The held requests are let go only after the run has
taken the signal (for SIGINT, once manifest.json says "interrupted").
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
KILL_AFTER = 10  # requests answered (ads coded) before the server holds every request
CONCURRENCY = 4
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def wait_until(done, proc: subprocess.Popen, what: str, limit: float = 60) -> None:
    """Poll `done()` until it is true; the run ending first, or `limit` s, fail the test
    (a run stuck on its held requests is killed, to show its stderr)."""
    deadline = time.monotonic() + limit
    while not done():
        if proc.poll() is not None and not done():  # done just before the end counts
            raise AssertionError(f"the run ended before {what}:\n{proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"not {what} after {limit} s:\n{proc.communicate()[1]}")
        time.sleep(0.02)


def wait_mid_flight(server: SimServer, out: Path, proc: subprocess.Popen) -> None:
    """Every worker waits on a held request and the answered ads are saved: the run can get
    no further until the server lets the held requests go."""
    wait_until(lambda: server.held >= CONCURRENCY, proc, f"{CONCURRENCY} requests held")
    path = out / "codings.jsonl"
    wait_until(
        lambda: path.exists() and path.read_text(encoding="utf-8").count("\n") >= KILL_AFTER,
        proc,
        f"{KILL_AFTER} answered ads saved",
    )
    assert proc.poll() is None and server.held == CONCURRENCY
    assert len(server.requests) == KILL_AFTER + CONCURRENCY


def status_of(out: Path) -> str | None:
    path = out / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8"))["status"] if path.exists() else None


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
    """What a SIGKILL (or an uncaught SIGTERM) can leave at worst: a torn last line and a
    temp file beside a draft."""
    with open(out / "codings.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"ad_id": "ad07", "quotes": [{"categ')
    (out / ".ad07.md.x1y2z3.tmp").write_text("# Draft coding by sim: Job Ad #", encoding="utf-8")


@pytest.mark.parametrize("how", list(SIGNALS))
def test_killed_run_resumes_and_ends_with_every_ad_once(tmp_path, how):
    texts = {f"ad{i:02d}": ad_text(f"kill-{i:02d}", f"Engineer number {i}") for i in range(N_ADS)}
    (tmp_path / "ads").mkdir()
    for ad_id, text in texts.items():
        (tmp_path / "ads" / f"{ad_id}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    argv = code_argv(
        tmp_path / "ads", "--out", out, "--cache", tmp_path / "cache", "--concurrency", CONCURRENCY
    )
    with SimServer(latency=0.05, hold_after=KILL_AFTER) as server:
        env = env_for(server.url)
        proc = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_mid_flight(server, out, proc)
            proc.send_signal(SIGNALS[how])
            # the run ends without waiting for its requests, which the server still holds
            _, stderr = proc.communicate(timeout=30)
            assert server.held == CONCURRENCY
            server.release()  # answers the held requests, and every later one at once
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
            assert proc.returncode == -SIGNALS[how]
        kept = whole_records(out / "codings.jsonl")
        assert len(kept) == KILL_AFTER  # the answered ads, and no held one
        if how != "SIGINT":
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
    assert counts["already_done"] == KILL_AFTER and counts["coded"] == N_ADS - KILL_AFTER
    assert counts["failed"] == 0
    # The re-run coded only the rest: ads finished before the kill cost no call; ads in
    # flight at the kill came from the cache when the killed run had stored their answer
    # (after SIGINT it takes the answers to its held requests before it exits).
    assert new_requests == counts["coded"] - counts["from_cache"]
