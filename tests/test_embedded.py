"""End to end with the real embedded model: llama.cpp's server, the openai SDK and instructor
over HTTP, on a short ad. Slow (about a minute on two cores); marked `embedded`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.goldmd.parse import parse
from pipeline.record import Coding

pytestmark = pytest.mark.embedded

AD = """Machine Learning Engineer

Vectorhuis is a small Utrecht company that builds a chatbot for housing corporations.
- Fine-tune open language models on our support conversations
- Build Python APIs that serve the chatbot to tenants
- Monitor answer quality in production and retrain when it drops
You work closely with our customer team and explain results in plain language.
"""


def autocode(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    cmd = [sys.executable, "-m", "pipeline.cli", "code", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    work = tmp_path_factory.mktemp("embedded")
    (work / "ads").mkdir()
    (work / "ads" / "900_vectorhuis.txt").write_text(AD, encoding="utf-8")
    first = autocode(["ads", "--out", "out", "--cache", "cache"], work)
    first.manifest = json.loads((work / "out" / "manifest.json").read_text())
    second = autocode(["ads", "--out", "out", "--cache", "cache"], work)
    return work, first, second


def test_embedded_model_codes_the_ad(embedded_run, codebook):
    work, first, _ = embedded_run
    assert first.returncode == 0, first.stderr
    assert "tiny model for trying the pipeline offline" in first.stderr
    assert "Traceback" not in first.stderr
    records = [json.loads(x) for x in (work / "out" / "codings.jsonl").read_text().splitlines()]
    assert [r["ad_id"] for r in records] == ["900_vectorhuis"]
    record = records[0]
    coding = Coding.model_validate(record)  # schema-valid
    assert coding.profile in codebook.profile_names
    assert all(q.category in codebook.categories for q in coding.quotes)
    for quote in coding.quotes:  # every kept quote is grounded at its span
        assert quote.grounding in ("exact", "normalized", "fuzzy")
        start, end = quote.span
        assert AD[start:end].strip()
        if quote.grounding == "exact":
            assert AD[start:end] == quote.text
    assert record["provenance"]["model"] == "gemma-3-270m-q4_k_m"
    assert record["usage"]["completion_tokens"] > 0
    draft = (work / "out" / "900_vectorhuis.md").read_text()
    assert draft.startswith("# Draft Coding Analysis by gemma-3-270m-q4_k_m")
    parsed = parse(draft, codebook, "900_vectorhuis")
    assert [q.text for q in parsed.quotes] == [q.text for q in coding.quotes]
    assert first.manifest["backend"] == "embedded" and first.manifest["counts"]["coded"] == 1


def test_running_again_makes_no_llm_call(embedded_run):
    work, _, second = embedded_run
    assert second.returncode == 0, second.stderr
    manifest = json.loads((work / "out" / "manifest.json").read_text())
    assert manifest["counts"]["already_done"] == 1
    assert manifest["counts"]["coded"] == 0
    assert manifest["counts"]["prompt_tokens"] == 0


# A real ad of the study that the embedded model used to fail on: the model wrote a raw
# newline inside a JSON string (grammar-valid, not JSON). Read through the shared path.
REAL_AD = "38_creative_fabrica"


def test_embedded_model_codes_a_real_dev_ad(shared_jobads, tmp_path, codebook):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    ad = (shared_jobads / "dev" / "raw" / f"{REAL_AD}.txt").read_text(encoding="utf-8")
    (tmp_path / "ads").mkdir()
    (tmp_path / "ads" / f"{REAL_AD}.txt").write_text(ad, encoding="utf-8")
    done = autocode(["ads", "--out", "out", "--cache", "cache"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "failures.jsonl").read_text() == ""
    (record,) = [
        json.loads(x) for x in (tmp_path / "out" / "codings.jsonl").read_text().splitlines()
    ]
    coding = Coding.model_validate(record)
    assert coding.ad_id == REAL_AD and coding.profile in codebook.profile_names
    for quote in coding.quotes:  # every kept quote is the ad's own, found at its span
        start, end = quote.span
        assert quote.grounding in ("exact", "normalized") and ad[start:end].strip()
