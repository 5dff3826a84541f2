"""Batch mode (issue 8): request files, ingest equal to an online run, and the Batches API.

The online side runs `autocode code` against tests.servers.simserver over real HTTP; submit,
status and fetch talk to tests.servers.batchserver, a stand-in for the Files and Batches endpoints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.ads import read_ads
from pipeline.batch import ingest
from pipeline.batch import requests as batch_mod
from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.coding.one_ad import RunOptions, prepare
from pipeline.errors import InputError
from pipeline.llm.backend import OPENAI_URL, Backend
from pipeline.llm.client import LLM
from tests.servers.batchserver import BatchServer
from tests.servers.simserver import SimServer, completion, faulty_answer

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "raw"
SECRET = "sk-test-batch-5f3c9a1e7d2b4c6a8e0f"
# What the scripted model answers for each sample ad, online and in the batch alike.
FAULTS = {
    "101_lumenpath_genai": "ok",
    "102_groenhaven_forecast": "ungrounded",
    "103_kwikstaart_backend": "400",
    "104_harborline_datascience": "ok",
    "105_copperleaf_marketing": "ok",
}
SIM_400 = {"error": {"message": "simulated 400", "type": "sim"}}


def cli(args: list, env: dict | None = None, code: int = 0):
    env = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None, **(env or {})}
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def answer_line(request: dict, fault: str, number: int) -> dict:
    """The Batch API output line the scripted model gives for one request."""
    body = request["body"]
    if fault == "400":
        response = {"status_code": 400, "request_id": f"req_{number}", "body": SIM_400}
    else:
        finish = "length" if fault == "length" else "stop"  # as SimServer answers
        response = {
            "status_code": 200,
            "request_id": f"req_{number}",
            "body": completion(body, json.dumps(faulty_answer(fault, body)), finish),
        }
    return {
        "id": f"batch_req_{number}",
        "custom_id": request["custom_id"],
        "response": response,
        "error": None,
    }


def write_results(requests: Path, path: Path, faults: dict = FAULTS) -> list[dict]:
    lines = [
        answer_line(r, faults[r["custom_id"]], n)
        for n, r in enumerate(read_lines(requests), start=1)
    ]
    lines.reverse()  # the Batch API does not keep the input order
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return lines


def outputs(out: Path) -> dict:
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.md"))}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for key in ("started", "finished"):
        manifest.pop(key)
    return {
        "drafts": files,
        "codings": read_lines(out / "codings.jsonl"),
        "failures": read_lines(out / "failures.jsonl"),
        "manifest": manifest,
    }


def line_of(results: Path, ad_id: str) -> str:
    """`results:N`, where N is the line of `ad_id`'s result: what its failure names."""
    lines = Path(results).read_text(encoding="utf-8").splitlines()
    (number,) = [n for n, line in enumerate(lines, start=1) if f'"{ad_id}"' in line]
    return f"{results}:{number}"


def without_place(failures: list[dict]) -> list[dict]:
    """Failures with the `file:line: ` their reasons start with left out."""
    return [f | {"reason": re.sub(r"^.*?\.jsonl:\d+: ", "", f["reason"])} for f in failures]


def all_text(folder: Path) -> str:
    return "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()
    )


# ------------------------------------------------------------------ prepare


def test_prepare_writes_one_batch_request_per_ad_equal_to_llm_request(tmp_path):
    out = tmp_path / "requests.jsonl"
    result = cli(["batch", "prepare", RAW, "--out", out])
    assert result.stdout.strip() == str(out)
    lines = read_lines(out)
    book = load_codebook()
    ads = read_ads([RAW]).ads
    assert [line["custom_id"] for line in lines] == [ad.id for ad in ads]
    backend = Backend("openai", OPENAI_URL, "gpt-4o-mini", "sk-no-key", "tools")
    llm = LLM(backend, create=lambda **_: None, max_retries=0, max_tokens=4096)
    for line, ad in zip(lines, ads, strict=True):
        assert set(line) == {"custom_id", "method", "url", "body"}
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        request = prepare(ad, book, llm, RunOptions(tmp_path))
        assert line["body"] == llm.request(request.messages, request.model_cls)
        assert line["body"]["model"] == "gpt-4o-mini" and line["body"]["temperature"] == 0.0
        assert line["body"]["tool_choice"]["function"]["name"] == "CodingAnswer"
        assert f"<ad>\n{ad.text}" in line["body"]["messages"][-1]["content"]


def test_prepare_options_shape_the_body(tmp_path):
    out = tmp_path / "r.jsonl"
    cli(
        [
            "batch",
            "prepare",
            RAW,
            "--out",
            out,
            "--model",
            "gpt-4.1-mini",
            "--mode",
            "json_schema",
            "--max-tokens",
            "900",
            "--temperature",
            "0.2",
            "--limit",
            "2",
            "--max-ad-chars",
            "300",
        ]
    )
    lines = read_lines(out)
    assert len(lines) == 2
    body = lines[0]["body"]
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("gpt-4.1-mini", 900, 0.2)
    assert body["response_format"]["type"] == "json_schema" and "tools" not in body
    assert "<ad>" in body["messages"][-1]["content"]
    assert len(body["messages"][-1]["content"]) < 500  # the ad was truncated to 300 characters


def test_prepare_splits_past_the_request_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_mod, "MAX_REQUESTS", 2)
    whole = tmp_path / "whole.jsonl"
    cli(["batch", "prepare", RAW, "--out", whole])  # limit patched: split even this one
    out = tmp_path / "requests.jsonl"
    out.write_text("stale\n")
    (tmp_path / "requests-004.jsonl").write_text("stale part of a bigger, older prepare\n")
    result = cli(["batch", "prepare", RAW, "--out", out])
    parts = [tmp_path / f"requests-00{i}.jsonl" for i in (1, 2, 3)]
    assert result.stdout.split() == [str(p) for p in parts]
    assert [len(read_lines(p)) for p in parts] == [2, 2, 1]
    assert not out.exists() and not (tmp_path / "requests-004.jsonl").exists()
    assert not list(tmp_path.glob(".*.tmp"))
    ids = [line["custom_id"] for p in parts for line in read_lines(p)]
    assert ids == [ad.id for ad in read_ads([RAW]).ads]


def test_request_files_split_past_the_size_limit(tmp_path):
    lines = [{"custom_id": f"ad{i}", "body": {"text": "x" * 100}} for i in range(5)]
    size = len(json.dumps(lines[0]).encode()) + 1
    written = batch_mod.write_request_files(
        iter(lines), tmp_path / "r.jsonl", max_bytes=2 * size + 5
    )
    assert [(p.name, n) for p, n in written] == [
        ("r-001.jsonl", 2),
        ("r-002.jsonl", 2),
        ("r-003.jsonl", 1),
    ]
    assert all(p.stat().st_size <= 2 * size + 5 for p, _ in written)
    one = batch_mod.write_request_files(iter(lines), tmp_path / "one.jsonl")
    assert [(p.name, n) for p, n in one] == [("one.jsonl", 5)]
    with pytest.raises(InputError, match="alone is"):
        batch_mod.write_request_files(iter(lines), tmp_path / "tiny.jsonl", max_bytes=size - 1)
    assert not (tmp_path / "tiny.jsonl").exists() and not list(tmp_path.glob(".*.tmp"))


# ------------------------------------------------------------------ ingest = online


@pytest.fixture()
def online_and_batch(tmp_path):
    """The same scripted answers once online (`autocode code`) and once as batch results."""
    with SimServer(script=[FAULTS[ad.id] for ad in read_ads([RAW]).ads]) as sim:
        env = {"OPENAI_BASE_URL": sim.url, "OPENAI_API_KEY": SECRET}
        cli(
            [
                "code",
                RAW,
                "--out",
                tmp_path / "online",
                "--model",
                "gpt-4o-mini",
                "--mode",
                "tools",
                "--concurrency",
                "1",
                "--max-retries",
                "0",
                "--cache",
                tmp_path / "cache",
            ],
            env,
        )
        requests = tmp_path / "requests.jsonl"
        cli(["batch", "prepare", RAW, "--out", requests], env)
        write_results(requests, tmp_path / "results.jsonl")
        cli(
            [
                "batch",
                "ingest",
                tmp_path / "results.jsonl",
                "--ads",
                RAW,
                "--out",
                tmp_path / "batch",
                "--requests",
                requests,
            ],
            env,
        )
    return tmp_path, sim


def test_batch_bodies_are_what_the_online_path_sent(online_and_batch):
    tmp_path, sim = online_and_batch
    bodies = [line["body"] for line in read_lines(tmp_path / "requests.jsonl")]
    assert sim.requests == bodies  # over HTTP, through the SDK: the two cannot drift


def test_bodies_agree_for_an_ad_that_looks_like_a_template(tmp_path):
    """instructor Jinja-renders messages when given a truthy context: online must not drift."""
    ads = tmp_path / "ads"
    ads.mkdir()
    (ads / "tpl.txt").write_text(
        "Data Engineer\n\nSalary: {{ salary }} per month, "
        "{% if senior %}lead the team{% endif %}.\n"
        "Build reliable pipelines for our analytics platform.\n"
    )
    with SimServer() as sim:
        env = {"OPENAI_BASE_URL": sim.url, "OPENAI_API_KEY": SECRET}
        cli(
            [
                "code",
                ads,
                "--out",
                tmp_path / "online",
                "--model",
                "gpt-4o-mini",
                "--mode",
                "tools",
                "--max-retries",
                "0",
                "--cache",
                tmp_path / "cache",
            ],
            env,
        )
        cli(["batch", "prepare", ads, "--out", tmp_path / "r.jsonl"], env)
    body = read_lines(tmp_path / "r.jsonl")[0]["body"]
    assert "{{ salary }}" in body["messages"][-1]["content"]
    assert sim.requests == [body]


def test_ingest_writes_the_outputs_of_an_online_run(online_and_batch):
    tmp_path, _ = online_and_batch
    online, batch = outputs(tmp_path / "online"), outputs(tmp_path / "batch")
    assert batch["codings"] == online["codings"]
    assert batch["drafts"] == online["drafts"]
    # a failure from a result line names it; the reason after that is the online one
    assert without_place(batch["failures"]) == online["failures"]
    results = tmp_path / "results.jsonl"
    assert batch["failures"] and all(
        f["reason"].startswith(f"{line_of(results, f['ad_id'])}: ") for f in batch["failures"]
    )
    extra = batch["manifest"].pop("batch")
    assert extra["results"] == [str(tmp_path / "results.jsonl")] and extra["reasked"] == 0
    batch_cost, online_cost = batch["manifest"].pop("cost_usd"), online["manifest"].pop("cost_usd")
    assert online["manifest"].pop("cost_usd_system_prompt_cached") <= online_cost
    assert "cost_usd_system_prompt_cached" not in batch["manifest"]  # the discount applies
    assert batch["manifest"] == online["manifest"]
    assert batch_cost == pytest.approx(online_cost * 0.5, abs=2e-6) and batch_cost > 0


def test_ingest_drops_ungrounded_quotes_and_records_error_lines(online_and_batch):
    tmp_path, _ = online_and_batch
    out = tmp_path / "batch"
    records = {r["ad_id"]: r for r in read_lines(out / "codings.jsonl")}
    assert sorted(records) == sorted(ad for ad, fault in FAULTS.items() if fault != "400")
    dropped = records["102_groenhaven_forecast"]["ungrounded"]
    assert [q["text"] for q in dropped] == ["Invent a perpetual motion machine for us"]
    kept = records["102_groenhaven_forecast"]["quotes"]
    assert kept and all(q["text"] != dropped[0]["text"] for q in kept)
    assert "perpetual motion" in (out / "102_groenhaven_forecast.md").read_text()
    assert all(
        r["attempts"] == 1 and not r["ungrounded"]
        for ad, r in records.items()
        if FAULTS[ad] == "ok"
    )
    assert read_lines(out / "failures.jsonl") == [
        {
            "ad_id": "103_kwikstaart_backend",
            "source": str(RAW / "103_kwikstaart_backend.txt"),
            "reason": f"{line_of(tmp_path / 'results.jsonl', '103_kwikstaart_backend')}: "
            "HTTP 400: simulated 400",
        }
    ]
    assert SECRET not in all_text(out)


def test_prepare_coded_leaves_out_what_ingest_coded(online_and_batch):
    tmp_path, _ = online_and_batch
    rest = tmp_path / "rest.jsonl"
    cli(["batch", "prepare", RAW, "--out", rest, "--coded", tmp_path / "batch"])
    assert [line["custom_id"] for line in read_lines(rest)] == ["103_kwikstaart_backend"]
    other_model = tmp_path / "other.jsonl"
    cli(
        [
            "batch",
            "prepare",
            RAW,
            "--out",
            other_model,
            "--coded",
            tmp_path / "batch",
            "--model",
            "gpt-4o",
        ]
    )
    assert len(read_lines(other_model)) == 5  # coded by another model: not done for this one


def test_ingest_again_keeps_what_is_coded_and_codes_new_results(online_and_batch):
    tmp_path, _ = online_and_batch
    before = outputs(tmp_path / "batch")
    rest = tmp_path / "rest.jsonl"
    cli(["batch", "prepare", RAW, "--out", rest, "--coded", tmp_path / "batch"])
    write_results(rest, tmp_path / "results2.jsonl", {"103_kwikstaart_backend": "ok"})
    result = cli(
        ["batch", "ingest", tmp_path / "results2.jsonl", "--ads", RAW, "--out", tmp_path / "batch"]
    )
    after = outputs(tmp_path / "batch")
    assert [r["ad_id"] for r in after["codings"]] == list(FAULTS)  # input order
    assert after["failures"] == []
    assert after["manifest"]["counts"]["already_done"] == 4
    assert {r["ad_id"]: r for r in after["codings"]}["101_lumenpath_genai"] == before["codings"][0]
    assert "batch ingest" in result.stderr


# ------------------------------------------------------------------ results parsing, --reask


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            {
                "custom_id": "a",
                "response": {"status_code": 200, "body": {"id": "x"}},
                "error": None,
            },
            ingest.Result("a", completion={"id": "x"}),
        ),
        (
            {
                "custom_id": "a",
                "response": {"status_code": 429, "body": {"error": {"message": "slow"}}},
                "error": None,
            },
            ingest.Result("a", reason="HTTP 429: slow"),
        ),
        (
            {
                "custom_id": "a",
                "response": None,
                "error": {"code": "batch_expired", "message": "late"},
            },
            ingest.Result("a", reason="batch error (batch_expired): late"),
        ),
    ],
    ids=["answer", "http-error", "error-object"],
)
def test_parse_result(line, expected):
    assert ingest.parse_result(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        {"response": {"status_code": 200, "body": {}}},
        {"custom_id": "a", "response": None, "error": None},
    ],
    ids=["no-custom-id", "neither"],
)
def test_parse_result_refuses_other_lines(line):
    with pytest.raises(ValueError):
        ingest.parse_result(line)


def test_ingest_reports_bad_lines_missing_ads_and_prefers_answers(tmp_path):
    requests = tmp_path / "requests.jsonl"
    cli(["batch", "prepare", RAW, "--out", requests])
    lines = write_results(requests, tmp_path / "results.jsonl", {ad: "ok" for ad in FAULTS})
    by_id = {line["custom_id"]: line for line in lines}
    expired = {
        "id": "e1",
        "custom_id": "101_lumenpath_genai",
        "response": None,
        "error": {"code": "batch_expired", "message": "too late"},
    }
    errors = tmp_path / "errors.jsonl"
    errors.write_text(
        "\n".join(
            [
                json.dumps(expired),  # an answer for the same ad in results.jsonl wins
                json.dumps({**expired, "custom_id": "104_harborline_datascience"}),
                "{not json",
                json.dumps({**expired, "custom_id": "999_unknown"}),
            ]
        )
        + "\n"
    )
    kept = [
        by_id[a]
        for a in ("101_lumenpath_genai", "102_groenhaven_forecast", "103_kwikstaart_backend")
    ]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in kept))
    result = cli(
        [
            "batch",
            "ingest",
            tmp_path / "results.jsonl",
            errors,
            "--ads",
            RAW,
            "--out",
            tmp_path / "out",
        ]
    )
    assert "errors.jsonl:3: not a Batch API result line" in result.stderr
    assert "1 result(s) for ads not in the input" in result.stderr
    failures = {f["ad_id"]: f["reason"] for f in read_lines(tmp_path / "out/failures.jsonl")}
    assert failures == {
        "104_harborline_datascience": f"{errors}:2: batch error (batch_expired): too late",
        "105_copperleaf_marketing": "no result for this ad in "
        f"{tmp_path / 'results.jsonl'}, {errors}",
    }
    assert len(read_lines(tmp_path / "out/codings.jsonl")) == 3


def test_ingest_requests_check_refuses_other_options(tmp_path):
    requests = tmp_path / "requests.jsonl"
    cli(["batch", "prepare", RAW, "--out", requests])
    write_results(requests, tmp_path / "results.jsonl", {ad: "ok" for ad in FAULTS})
    result = cli(
        [
            "batch",
            "ingest",
            tmp_path / "results.jsonl",
            "--ads",
            RAW,
            "--out",
            tmp_path / "out",
            "--requests",
            requests,
            "--max-ad-chars",
            "200",
        ],
        code=2,
    )
    assert "differ from what ingest would send" in result.stderr
    assert not (tmp_path / "out").exists()


def test_ingest_answer_that_fails_validation_is_a_failure(tmp_path):
    requests = tmp_path / "requests.jsonl"
    cli(["batch", "prepare", RAW, "--out", requests])
    faults = {
        **{ad: "ok" for ad in FAULTS},
        "101_lumenpath_genai": "bad-profile",
        "104_harborline_datascience": "length",
    }
    write_results(requests, tmp_path / "results.jsonl", faults)
    cli(["batch", "ingest", tmp_path / "results.jsonl", "--ads", RAW, "--out", tmp_path / "o"])
    failures = {f["ad_id"]: f["reason"] for f in read_lines(tmp_path / "o/failures.jsonl")}
    assert set(failures) == {"101_lumenpath_genai", "104_harborline_datascience"}
    where = line_of(tmp_path / "results.jsonl", "101_lumenpath_genai")
    assert failures["101_lumenpath_genai"].startswith(f"{where}: invalid answer after 1 attempt(s)")
    assert "finish_reason=length" in failures["104_harborline_datascience"]


def test_reask_codes_ads_with_dropped_quotes_once_more_online(tmp_path):
    requests = tmp_path / "requests.jsonl"
    cli(["batch", "prepare", RAW, "--out", requests])
    faults = {
        **{ad: "ok" for ad in FAULTS},
        "102_groenhaven_forecast": "ungrounded",
        "105_copperleaf_marketing": "ungrounded",
    }
    lines = write_results(requests, tmp_path / "results.jsonl", faults)
    batch_usage = {line["custom_id"]: line["response"]["body"]["usage"] for line in lines}
    with SimServer(script=["ok", "400"]) as sim:  # 102 is answered, 105 fails online
        env = {"OPENAI_BASE_URL": sim.url, "OPENAI_API_KEY": SECRET}
        cli(
            [
                "batch",
                "ingest",
                tmp_path / "results.jsonl",
                "--ads",
                RAW,
                "--out",
                tmp_path / "out",
                "--reask",
                "--concurrency",
                "1",
                "--cache",
                tmp_path / "c",
            ],
            env,
        )
    bodies = {line["custom_id"]: line["body"] for line in read_lines(requests)}
    assert sim.requests == [bodies["102_groenhaven_forecast"], bodies["105_copperleaf_marketing"]]
    records = {r["ad_id"]: r for r in read_lines(tmp_path / "out/codings.jsonl")}
    again = records["102_groenhaven_forecast"]
    assert again["ungrounded"] == [] and again["attempts"] == 2
    assert again["reask"]["batch_ungrounded"][0]["text"].startswith("Invent a perpetual")
    assert (
        again["usage"]["prompt_tokens"]
        == 2 * batch_usage["102_groenhaven_forecast"]["prompt_tokens"]
    )
    kept = records["105_copperleaf_marketing"]
    assert kept["ungrounded"] and "reask" not in kept
    assert any("re-asked online" in w and "HTTP 400" in w for w in kept["warnings"])
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["batch"]["reask"] and manifest["batch"]["reasked"] == 1
    assert manifest["batch"]["reask_max_retries"] == 2
    assert SECRET not in all_text(tmp_path / "out") + all_text(tmp_path / "c")


def test_reask_needs_a_backend(tmp_path):
    requests = tmp_path / "requests.jsonl"
    cli(["batch", "prepare", RAW, "--out", requests, "--limit", "1"])
    write_results(requests, tmp_path / "results.jsonl", {ad: "ok" for ad in FAULTS})
    result = cli(
        [
            "batch",
            "ingest",
            tmp_path / "results.jsonl",
            "--ads",
            RAW,
            "--out",
            tmp_path / "out",
            "--reask",
        ],
        code=2,
    )
    assert "OPENAI_API_KEY" in result.stderr


# ------------------------------------------------------------------ submit, status, fetch


@pytest.fixture()
def api(tmp_path):
    """The Files and Batches stand-in, the environment that points at it, and a request file."""
    requests = tmp_path / "requests.jsonl"
    cli(["batch", "prepare", RAW, "--out", requests])
    with BatchServer() as server:
        yield server, {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": SECRET}, requests


def submit(api) -> str:
    server, env, requests = api
    result = cli(["batch", "submit", requests], env)
    batch_id = result.stdout.strip()
    assert batch_id in server.batches and "5 requests" in result.stderr
    return batch_id


def test_submit_status_fetch_ingest_happy_path(api, tmp_path):
    server, env, requests = api
    batch_id = submit(api)
    batch = server.batches[batch_id]
    uploaded = server.files[batch["input_file_id"]]
    assert uploaded["data"] == requests.read_bytes() and uploaded["purpose"] == "batch"
    assert (batch["endpoint"], batch["completion_window"]) == ("/v1/chat/completions", "24h")
    auth = [{k.lower(): v for k, v in h.items()}.get("authorization") for h in server.headers]
    assert auth and all(a == f"Bearer {SECRET}" for a in auth)
    status = cli(["batch", "status", batch_id], env)
    assert status.stdout.splitlines()[:2] == [
        f"{batch_id}: completed",
        "requests: 5 total, 5 completed, 0 failed",
    ]
    results = tmp_path / "results.jsonl"
    fetched = cli(["batch", "fetch", batch_id, "--out", results], env)
    assert "wrote 5 answer(s) and 0 error line(s)" in fetched.stderr
    assert sorted(line["custom_id"] for line in read_lines(results)) == sorted(FAULTS)
    cli(["batch", "ingest", results, "--ads", RAW, "--out", tmp_path / "out"], env)
    assert len(read_lines(tmp_path / "out/codings.jsonl")) == 5
    assert read_lines(tmp_path / "out/failures.jsonl") == []
    for output in (status, fetched):
        assert SECRET not in output.output


def test_fetch_writes_the_files_as_they_arrive_one_line_each(api, tmp_path):
    """The output is copied a chunk at a time: a file larger than a chunk whose last line
    has no line break, then the error file, each line whole and counted once."""
    server, env, _ = api
    server.outcome = "expired"
    batch = server.batches[submit(api)]
    cli(["batch", "status", batch["id"]], env, code=1)  # the stand-in finishes the batch
    output, errors = (server.files[batch[k]] for k in ("output_file_id", "error_file_id"))
    lines = output["data"].splitlines() * 400  # ~1 MB: many chunks
    assert len(b"\n".join(lines)) > 10 * (1 << 16)
    output["data"] = b"\n".join(lines)  # no break after the last line
    results = tmp_path / "results.jsonl"
    fetched = cli(["batch", "fetch", batch["id"], "--out", results], env)
    assert f"wrote {len(lines)} answer(s) and 3 error line(s)" in fetched.stderr
    assert results.read_bytes() == output["data"] + b"\n" + errors["data"]


def test_fetch_waits_for_a_batch_in_progress(api, tmp_path):
    server, env, _ = api
    server.outcome = "in_progress"
    batch_id = submit(api)
    status = cli(["batch", "status", batch_id], env)
    assert status.stdout.startswith(f"{batch_id}: in_progress")
    fetched = cli(["batch", "fetch", batch_id, "--out", tmp_path / "r.jsonl"], env, code=1)
    assert "is in_progress, not completed" in fetched.stderr
    assert not (tmp_path / "r.jsonl").exists()
    server.finish(batch_id)
    cli(["batch", "fetch", batch_id, "--out", tmp_path / "r.jsonl"], env)
    assert len(read_lines(tmp_path / "r.jsonl")) == 5


def test_failed_batch(api, tmp_path):
    server, env, _ = api
    server.outcome = "failed"
    batch_id = submit(api)
    status = cli(["batch", "status", batch_id], env, code=1)
    assert f"{batch_id}: failed" in status.stdout
    assert f"batch {batch_id} failed: token_limit_exceeded: Enqueued token limit" in status.stderr
    fetched = cli(["batch", "fetch", batch_id, "--out", tmp_path / "r.jsonl"], env, code=1)
    assert "failed" in fetched.stderr and "nothing to fetch" in fetched.stderr


def test_expired_batch_yields_its_finished_requests(api, tmp_path):
    server, env, _ = api
    server.outcome = "expired"
    batch_id = submit(api)
    status = cli(["batch", "status", batch_id], env, code=1)
    assert f"batch {batch_id} expired with 2 of 5 requests done" in status.stderr
    results = tmp_path / "results.jsonl"
    fetched = cli(["batch", "fetch", batch_id, "--out", results], env)
    assert "wrote 2 answer(s) and 3 error line(s)" in fetched.stderr
    assert "warning" in fetched.stderr
    out = tmp_path / "out"
    cli(["batch", "ingest", results, "--ads", RAW, "--out", out], env)
    failures = read_lines(out / "failures.jsonl")
    assert len(failures) == 3 and len(read_lines(out / "codings.jsonl")) == 2
    assert all(
        f["reason"].startswith(f"{line_of(results, f['ad_id'])}: batch error (batch_expired)")
        for f in failures
    )
    rest = tmp_path / "rest.jsonl"
    cli(["batch", "prepare", RAW, "--out", rest, "--coded", out], env)
    assert sorted(line["custom_id"] for line in read_lines(rest)) == sorted(
        f["ad_id"] for f in failures
    )


def test_api_errors_are_clear_and_keyless(api):
    server, env, requests = api
    result = cli(["batch", "status", "batch_nope"], env, code=1)
    assert "HTTP 404" in result.stderr and "No such batch" in result.stderr
    assert SECRET not in result.output
    bad = requests.with_name("bad.jsonl")
    bad.write_text(json.dumps({"custom_id": "x", "url": "/v1/embeddings", "body": {}}) + "\n")
    result = cli(["batch", "submit", bad], env, code=2)
    assert "not a Batch API request" in result.stderr and not server.files
    result = cli(["batch", "submit", requests], code=2)  # no OPENAI_* at all
    assert "OPENAI_API_KEY" in result.stderr


def test_submit_refuses_a_file_over_the_request_limit(api, monkeypatch):
    server, env, requests = api
    monkeypatch.setattr("pipeline.batch.api.MAX_REQUESTS", 4)
    result = cli(["batch", "submit", requests], env, code=2)
    assert "over the Batch API's 4 per file" in result.stderr and not server.files


def test_help_shows_examples():
    for command in ("prepare", "submit", "status", "fetch", "ingest"):
        result = cli(["batch", command, "--help"])
        assert "Example:" in result.stdout and "autocode batch " + command in result.stdout


# ------------------------------------------------------------------ shards


def test_shards_split_the_corpus_and_ingest_into_one_folder(tmp_path):
    parts = []
    for i in (1, 2, 3):
        out = tmp_path / f"requests-{i}.jsonl"
        cli(["batch", "prepare", RAW, "--out", out, "--shard", f"{i}/3"])
        parts.append([line["custom_id"] for line in read_lines(out)] if out.exists() else [])
    ids = [p.stem for p in sorted(RAW.glob("*.txt"))]
    assert sorted(a for part in parts for a in part) == ids  # each ad in exactly one part
    coded = tmp_path / "coded"
    for i, part in enumerate(parts, start=1):
        if not part:
            continue
        results = tmp_path / f"results-{i}.jsonl"
        faults = dict.fromkeys(part, "ok")
        write_results(tmp_path / f"requests-{i}.jsonl", results, faults)
        cli(["batch", "ingest", results, "--ads", RAW, "--out", coded, "--shard", f"{i}/3"])
    assert sorted(r["ad_id"] for r in read_lines(coded / "codings.jsonl")) == ids
    assert read_lines(coded / "failures.jsonl") == []


@pytest.mark.parametrize("spec", ["0/3", "4/3", "two/3", "1"])
def test_a_bad_shard_is_refused(tmp_path, spec):
    result = cli(["batch", "prepare", RAW, "--out", tmp_path / "r.jsonl", "--shard", spec], code=2)
    assert f"--shard {spec!r}" in result.stderr
