"""`autocode code --samples K` against the simulated server: K samples per ad (one request
with `n`, or K requests where the server takes no `n`), samples.jsonl, the consensus with
its support counts, resume and cache, and samples that fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from autocode_run import ad_text, assert_clean_out, case_key, json_lines, run_code
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.goldmd.parse import read_coding_file
from tests.servers.simserver import SimServer

BOOK = load_codebook()
CASES = ("alpha", "beta")
RAW = Path(__file__).resolve().parents[1] / "raw"


def write_ads(work) -> dict[str, str]:
    (work / "ads").mkdir(exist_ok=True)
    texts = {case: ad_text(case) for case in CASES}
    for case, text in texts.items():
        (work / "ads" / f"{case}.txt").write_text(text, encoding="utf-8")
    return texts


def supports(record: dict) -> dict[str, int]:
    return {q["text"]: q["support"] for q in record["quotes"]}


@pytest.fixture(scope="module", params=[True, False], ids=["one-request-n", "k-requests"])
def sampled(request, tmp_path_factory):
    """Two ads coded with --samples 3, then the same command again (from the cache)."""
    work = tmp_path_factory.mktemp("samples")
    texts = write_ads(work)
    with SimServer(takes_n=request.param, vary_samples=True) as server:
        first = run_code(work, server.url, work / "ads", "--samples", 3)
        calls = len(server.requests)
        again = run_code(work, server.url, work / "ads", "--samples", 3)
        recalls = len(server.requests) - calls
    return {
        "first": first,
        "again": again,
        "server": server,
        "calls": calls,
        "recalls": recalls,
        "texts": texts,
        "takes_n": request.param,
    }


def test_samples_jsonl_holds_every_sample(sampled):
    first = sampled["first"]
    assert first.returncode == 0, first.stderr
    samples = json_lines(first.out / "samples.jsonl")
    assert [(s["ad_id"], s["sample"]) for s in samples] == [
        (case, i) for case in CASES for i in range(3)
    ]
    for sample in samples:  # each is a whole coding record of its own
        assert sample["provenance"]["samples"] == 3
        assert all(q["span"] for q in sample["quotes"])
        assert "support" not in json.dumps(sample["quotes"])
    lengths = [len(s["quotes"]) for s in samples if s["ad_id"] == "alpha"]
    assert lengths[0] == lengths[1] + 1 == lengths[2] + 1  # samples 1, 2 leave one quote out


def test_requests_one_with_n_or_one_per_sample(sampled):
    bodies = sampled["server"].requests[: sampled["calls"]]
    if sampled["takes_n"]:
        assert sampled["calls"] == 2 and all(b["n"] == 3 for b in bodies)
    else:  # the server answered one choice: the two missing samples asked one by one
        assert sampled["calls"] == 2 * 3
        assert sorted(b.get("n") for b in bodies if b.get("n")) == [3, 3]
    assert all(b["temperature"] == 0.7 for b in bodies)  # the default with samples


def test_consensus_record_and_support_counts(sampled):
    first = sampled["first"]
    samples = json_lines(first.out / "samples.jsonl")
    record = first.records()["alpha"]
    full = [q["text"] for q in samples[0]["quotes"]]
    # sample 1 lacks quote 0, sample 2 lacks quote 1: both kept by 2 of 3, the rest by 3
    assert supports(record) == {text: 2 if i < 2 else 3 for i, text in enumerate(full)}
    assert (record["n_codings"], record["profile_support"]) == (3, 2)
    assert record["profile"] == samples[0]["profile"] != samples[2]["profile"]
    assert all(t["support"] == 3 for t in record["tools"])
    # mean of support / 3 over every entry of every sample: 2 + 2 entries at 2/3, the rest at 1
    full_entries = 3 * (len(full) - 2 + len(record["tools"]))
    assert record["agreement"] == pytest.approx((4 * 2 / 3 + full_entries) / (4 + full_entries))
    usage = [s["usage"] for s in samples if s["ad_id"] == "alpha"]
    assert record["usage"]["completion_tokens"] == sum(u["completion_tokens"] for u in usage)
    assert_clean_out(first.out, sampled["texts"])


def test_draft_marks_entries_below_full_support(sampled):
    out = sampled["first"].out
    draft_text = (out / "alpha.md").read_text(encoding="utf-8")
    assert "Consensus of 3 codings" in draft_text
    assert draft_text.count("(support 2/3)") == 2
    assert "Profile chosen by 2 of 3 codings" in draft_text  # in the review notes
    draft = read_coding_file(out / "alpha.md", BOOK)
    assert {q.text: q.support for q in draft.quotes} == supports(
        sampled["first"].records()["alpha"]
    )


def test_rerun_makes_no_call_and_changes_nothing(sampled):
    first, again = sampled["first"], sampled["again"]
    assert again.returncode == 0, again.stderr
    assert sampled["recalls"] == 0
    assert again.manifest()["counts"]["already_done"] == 2
    assert json_lines(again.out / "samples.jsonl") == json_lines(first.out / "samples.jsonl")
    manifest = first.manifest()
    assert manifest["parameters"]["samples"] == 3
    assert manifest["counts"]["samples_failed"] == 0


def test_cache_serves_every_sample_in_a_new_out(tmp_path):
    write_ads(tmp_path)
    with SimServer(vary_samples=True) as server:
        run_code(tmp_path, server.url, tmp_path / "ads", "--samples", 3)
        calls = len(server.requests)
        (tmp_path / "out").rename(tmp_path / "first")
        second = run_code(tmp_path, server.url, tmp_path / "ads", "--samples", 3)
    assert len(server.requests) == calls  # every sample from the cache
    assert second.manifest()["counts"]["from_cache"] == 2
    assert second.records() == {
        r["ad_id"]: r for r in json_lines(tmp_path / "first" / "codings.jsonl")
    }


def test_failed_sample_is_dropped_and_counted(tmp_path):
    """Without `n`, each sample is its own request: one fails for good, two are kept."""
    texts = write_ads(tmp_path)
    script = {case_key("alpha"): ["ok", "400", "ok"], case_key("beta"): ["400"] * 4}
    with SimServer(takes_n=False, by_text=script) as server:
        result = run_code(tmp_path, server.url, tmp_path / "ads", "--samples", 3)
    assert result.returncode == 0, result.stderr
    record = result.records()["alpha"]
    assert record["n_codings"] == 2
    assert any("1 of 3 samples failed" in w and "HTTP 400" in w for w in record["warnings"])
    assert [s["sample"] for s in json_lines(result.out / "samples.jsonl")] == [0, 2]
    assert "no sample of 3 was usable" in result.failures()["beta"]["reason"]
    assert result.manifest()["counts"]["samples_failed"] == 1
    assert "samples failed (left out of their consensus)" in result.stderr  # the summary
    assert_clean_out(result.out, texts)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--samples", "2", "--min-support", "3"],
            "more than --samples 2",
            id="support-above-samples",
        ),
        pytest.param(["--samples", "0"], "--samples", id="no-samples"),
    ],
)
def test_bad_sample_options(tmp_path, args, message):
    write_ads(tmp_path)
    with SimServer() as server:
        result = run_code(tmp_path, server.url, tmp_path / "ads", *args)
    assert result.returncode == 2 and message in result.stderr
    assert server.requests == []


# ------------------------------------------------------------------------ batch mode


def cli(args: list, env: dict) -> None:
    env = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None, **env}
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_batch_samples_equal_the_online_run(tmp_path):
    """prepare asks for K answers in one request; ingest gives what `code --samples` gives."""
    with SimServer(vary_samples=True) as sim:
        env = {"OPENAI_BASE_URL": sim.url, "OPENAI_API_KEY": "sk-test-samples-0123456789"}
        common = ["--model", "gpt-4o-mini", "--mode", "tools", "--samples", 3]
        cli(
            [
                "code",
                RAW,
                "--out",
                tmp_path / "online",
                *common,
                "--concurrency",
                1,
                "--max-retries",
                0,
                "--cache",
                tmp_path / "cache",
            ],
            env,
        )
        requests = tmp_path / "requests.jsonl"
        cli(["batch", "prepare", RAW, "--out", requests, *common], env)
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    assert [line["body"] for line in lines] == sim.requests  # n: 3, temperature 0.7
    assert {(line["body"]["n"], line["body"]["temperature"]) for line in lines} == {(3, 0.7)}
    answers = SimServer(vary_samples=True)  # the same answers, as a batch's output lines
    results = [
        {
            "custom_id": line["custom_id"],
            "error": None,
            "response": {"status_code": 200, "body": answers.samples(line["body"])},
        }
        for line in lines
    ]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
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
            *common,
        ],
        env,
    )
    for name in ("codings.jsonl", "samples.jsonl"):
        batch = json_lines(tmp_path / "batch" / name)
        assert batch == json_lines(tmp_path / "online" / name) and batch, name
    assert all(r["n_codings"] == 3 for r in json_lines(tmp_path / "batch" / "codings.jsonl"))


def test_batch_answer_with_fewer_samples_counts_the_rest_failed(tmp_path):
    with SimServer(takes_n=False) as sim:  # one choice, whatever `n` asks
        env = {"OPENAI_BASE_URL": sim.url, "OPENAI_API_KEY": "sk-test-samples-0123456789"}
        requests = tmp_path / "requests.jsonl"
        cli(["batch", "prepare", RAW, "--out", requests, "--samples", 3], env)
        line = json.loads(requests.read_text().splitlines()[0])
        result = {
            "custom_id": line["custom_id"],
            "error": None,
            "response": {"status_code": 200, "body": sim.samples(line["body"])},
        }
    (tmp_path / "results.jsonl").write_text(json.dumps(result) + "\n")
    cli(
        [
            "batch",
            "ingest",
            tmp_path / "results.jsonl",
            "--ads",
            RAW,
            "--out",
            tmp_path / "b",
            "--samples",
            3,
        ],
        env,
    )
    record = json_lines(tmp_path / "b" / "codings.jsonl")[0]
    assert record["n_codings"] == 1
    assert any("2 of 3 samples failed" in w and "fewer samples" in w for w in record["warnings"])
