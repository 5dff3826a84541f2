"""Batch results from vLLM's batch runner (`vllm run-batch`, vLLM 0.33.0) ingested as codings.

tests/fixtures/vllm_run_batch_0.33.0.jsonl holds what run-batch writes for the requests
`autocode batch prepare --mode json_schema` makes of tests/fixtures/vllm_ads.jsonl, in the
schema of vLLM 0.33.0 (`BatchRequestOutput.model_dump_json()` in
vllm/entrypoints/launchers/run_batch.py): one line per request, in input order, every field
written, null ones too. Line by line:

1. v1 answered (status 200, a chat completion whose content is the JSON answer);
2. v2 refused with an error response: status 400, no body, `error` = {"error": {message,
   type, param, code}} (a prompt longer than the model's context);
3. v3 answered, cut off at max_tokens (finish_reason "length"): content that is no answer;
4. v4 refused with a plain string in `error` (what run-batch writes for a request it cannot
   route, `make_error_request_output`);
5. v5 answered, with a raw U+2028 in the answer's text (JSON allows it; a line may only be
   split at \\n);
6. v6's line cut short, as a run-batch killed mid-write leaves the file's last line.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ADS = FIXTURES / "vllm_ads.jsonl"
RESULTS = FIXTURES / "vllm_run_batch_0.33.0.jsonl"
MODEL = "Qwen/Qwen2.5-7B-Instruct"  # the model the fixture's run served (--model of run-batch)
OPTIONS = ["--mode", "json_schema", "--model", MODEL]


def cli(args: list) -> object:
    env = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None}
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_fixture_answers_the_requests_prepare_writes(tmp_path):
    requests = tmp_path / "requests.jsonl"
    cli(["batch", "prepare", ADS, "--out", requests, *OPTIONS])
    sent = read_lines(requests)
    raw = RESULTS.read_bytes().split(b"\n")
    assert [json.loads(line)["custom_id"] for line in raw[:5]] == [r["custom_id"] for r in sent][:5]
    assert b'"custom_id":"v6"' in raw[5] and not RESULTS.read_bytes().endswith(b"\n")
    for request in sent:
        assert request["url"] == "/v1/chat/completions"
        assert request["body"]["model"] == MODEL  # what vLLM serves, or it answers 404
        assert request["body"]["response_format"]["type"] == "json_schema"
    answered = json.loads(raw[0])["response"]["body"]
    assert answered["model"] == MODEL and "tool_calls" not in answered["choices"][0]["message"]


def test_ingest_reads_vllm_results(tmp_path):
    requests, out = tmp_path / "requests.jsonl", tmp_path / "out"
    cli(["batch", "prepare", ADS, "--out", requests, *OPTIONS])
    args = ["batch", "ingest", RESULTS, "--ads", ADS, "--out", out, "--requests", requests]
    result = cli([*args, *OPTIONS])
    assert "Traceback" not in result.output
    assert f"{RESULTS}:6: not a Batch API result line" in result.stderr

    records = {r["ad_id"]: r for r in read_lines(out / "codings.jsonl")}
    assert sorted(records) == ["v1", "v5"]
    texts = {row["id"]: f"{row['title']}\n\n{row['description']}" for row in read_lines(ADS)}
    for ad_id, record in records.items():
        assert record["quotes"] and not record["ungrounded"]
        for quote in record["quotes"]:
            start, end = quote["span"]
            assert texts[ad_id][start:end] == quote["text"]
        assert record["provenance"]["model"] == MODEL
    assert records["v1"]["usage"] == {"prompt_tokens": 3412, "completion_tokens": 187}
    # v5's line was read whole, its U+2028 and all (the record keeps text on one line)
    assert records["v5"]["reasoning"].endswith("(A). The models are generative throughout.")

    failures = {f["ad_id"]: f["reason"] for f in read_lines(out / "failures.jsonl")}
    assert sorted(failures) == ["v2", "v3", "v4", "v6"]
    assert failures["v2"].startswith(
        f"{RESULTS}:2: HTTP 400: This model's maximum context length is 4096 tokens."
    )
    assert failures["v3"].startswith(f"{RESULTS}:3: ")
    assert "finish_reason=length" in failures["v3"]
    assert failures["v4"] == f"{RESULTS}:4: HTTP 400: Request must not be sent in stream mode"
    assert failures["v6"].startswith(f"{RESULTS}:6: not a whole result line")

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete"
    assert (manifest["counts"]["coded"], manifest["counts"]["failed"]) == (2, 4)
    assert manifest["not_coded"] == ["v2", "v3", "v4", "v6"]
