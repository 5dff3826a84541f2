"""Run `autocode code` as a subprocess against a tests.servers.simserver, and check what it left.

Used by the reliability tests (hostile server, killed runs, bad input, secrets): the real
CLI, the real openai SDK and instructor, real HTTP on 127.0.0.1; only the model is simulated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.codebook import load_codebook
from pipeline.goldmd.parse import read_coding_file

# The API key every run is given: it must never come out again (see test_reliability).
API_KEY = "sk-test-SECRET-4f9c2e7a1b6d8e0f3a5c7b9d"
# A short first retry wait and a wide terminal, so the tests are fast and messages unwrapped.
FAST_ENV = {"AUTOCODE_BACKOFF": "0.005", "COLUMNS": "400", "NO_COLOR": "1"}
TRACEBACK = "Traceback (most recent call last)"


def ad_text(case: str, title: str = "Machine Learning Engineer") -> str:
    """A short ad whose lines the simulated model quotes; `[case:X]` is its server-script key."""
    return (
        f"{title} at Acme Analytics [case:{case}]\n"
        "We are looking for an engineer to build retrieval augmented generation systems.\n"
        "You will deploy large language models into production with Python and Docker.\n"
        "Experience with PyTorch and Kubernetes is a plus for this position.\n"
    )


def case_key(case: str) -> str:
    """The marker of `ad_text(case)`: SimServer.by_text picks that ad's own fault script."""
    return f"[case:{case}]"


def env_for(server_url: str, **extra: str) -> dict:
    """The environment of one run: the simulated server, the test key, no user settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOCODE_"))}
    env.update(FAST_ENV, OPENAI_BASE_URL=server_url, OPENAI_API_KEY=API_KEY, **extra)
    return env


def code_argv(*args) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "code", *map(str, args)]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    out: Path

    def records(self) -> dict[str, dict]:
        return {r["ad_id"]: r for r in json_lines(self.out / "codings.jsonl")}

    def failures(self) -> dict[str, dict]:
        return {f["ad_id"]: f for f in json_lines(self.out / "failures.jsonl")}

    def manifest(self) -> dict:
        return json.loads((self.out / "manifest.json").read_text(encoding="utf-8"))


def run_code(cwd: Path, server_url: str, *args, timeout: float = 90, **env) -> Result:
    """`autocode code ARGS --out OUT --cache CACHE` in `cwd`, to its end."""
    out = Path(cwd) / "out"
    argv = code_argv(*args, "--out", out, "--cache", Path(cwd) / "cache")
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env_for(server_url, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, out)


def json_lines(path: Path) -> list[dict]:
    """Every line of a JSONL output; a line that is not whole, valid JSON fails the test."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", f"{path}: last line is not terminated: {lines[-1][:80]!r}"
    return [json.loads(line) for line in lines[:-1]]


def requests_for(server, case: str) -> list[dict]:
    """The request bodies the server received for the ad of `case`."""
    key = case_key(case)
    return [
        body
        for body in server.requests
        if any(key in (m.get("content") or "") for m in body["messages"] if m.get("role") == "user")
    ]


def assert_clean_out(out: Path, ad_texts: dict[str, str], codebook_path=None) -> None:
    """OUT as a finished run must leave it, whatever happened before.

    Whole JSON lines only, one record per ad, no temp file, every draft parses back to its
    record, and every kept quote is a grounded passage of its ad (dropped ones are listed).
    """
    book = load_codebook(codebook_path)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp")), "temp file left in OUT"
    records = json_lines(out / "codings.jsonl")
    ids = [r["ad_id"] for r in records]
    assert len(ids) == len(set(ids)), f"an ad coded twice: {sorted(ids)}"
    for record in records:
        text = ad_texts[record["ad_id"]]
        for quote in record["quotes"]:
            assert quote["grounding"] in {"exact", "normalized", "fuzzy"}, quote
            start, end = quote["span"]
            assert 0 <= start < end <= len(text) and text[start:end].strip(), quote
        draft = read_coding_file(out / f"{record['ad_id']}.md", book)
        assert [q.text for q in draft.quotes] == [q["text"] for q in record["quotes"]]
        assert draft.profile == record["profile"]
    drafts = {p.stem for p in out.glob("*.md")}
    assert drafts == set(ids), f"a draft without a record or the reverse: {drafts ^ set(ids)}"
