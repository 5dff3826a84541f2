"""The `code` stage with a fake behind the LLM seam: re-asks, retries, failures, resume, cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import ScriptedCreate, backend, status_error, timeout_error

from pipeline.ads import Ad, read_ads
from pipeline.coding.one_ad import RunOptions, code_one, prepare
from pipeline.coding.run import Run
from pipeline.goldmd.parse import parse
from pipeline.llm.cache import DiskCache
from pipeline.llm.client import LLM
from pipeline.llm.faults import FatalLLMError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ADS = read_ads([REPO / "raw"]).ads


def make_llm(*steps, cache=None, max_retries=2, key="sk-no-key", mode="json_schema"):
    fake = ScriptedCreate(*steps)
    llm = LLM(
        backend(mode, key),
        create=fake,
        cache=DiskCache(cache),
        max_retries=max_retries,
        backoff=0.001,
    )
    return llm, fake


def code(ad: Ad, codebook, llm, tmp_path):
    return code_one(ad, codebook, llm, RunOptions(out=tmp_path))


def assert_grounded(record: dict, ad: Ad):
    for quote in record["quotes"]:
        assert quote["grounding"] in ("exact", "normalized", "fuzzy")
        start, end = quote["span"]
        assert ad.text[start:end].strip()


@pytest.mark.parametrize("mode", ["json_schema", "tools"])
def test_ungrounded_quote_is_reasked_then_coded(codebook, tmp_path, mode):
    ad = SAMPLE_ADS[0]
    llm, fake = make_llm("ungrounded", "ok", mode=mode)
    outcome = code(ad, codebook, llm, tmp_path)
    assert outcome.record is not None
    assert len(fake.calls) == 2
    reask = json.dumps(fake.calls[1]["messages"][len(fake.calls[0]["messages"]) :])
    assert "perpetual motion machine" in reask and "not verbatim" in reask
    assert outcome.record.to_json()["ungrounded"] == []
    assert outcome.record.to_json()["attempts"] == 2
    assert_grounded(outcome.record.to_json(), ad)


def test_quote_still_ungrounded_after_retries_is_dropped_and_listed(codebook, tmp_path):
    ad = SAMPLE_ADS[0]
    llm, fake = make_llm("ungrounded", "ungrounded", max_retries=1)
    outcome = code(ad, codebook, llm, tmp_path)
    record = outcome.record.to_json()
    assert len(fake.calls) == 2
    assert [q["text"] for q in record["ungrounded"]] == ["Invent a perpetual motion machine for us"]
    assert all("perpetual" not in q["text"] for q in record["quotes"])
    assert_grounded(record, ad)


@pytest.mark.parametrize(
    "error",
    [
        status_error(429, "Rate limit", {"retry-after": "0"}),
        status_error(429, "Rate limit"),
        status_error(500),
        status_error(503),
        timeout_error(),
    ],
    ids=["429-retry-after", "429", "500", "503", "timeout"],
)
def test_transient_error_is_retried(codebook, tmp_path, error):
    llm, fake = make_llm(error, error, "ok")
    outcome = code(SAMPLE_ADS[1], codebook, llm, tmp_path)
    assert outcome.record is not None
    assert len(fake.calls) == 3
    assert outcome.record.to_json()["attempts"] == 1  # transient retries are not re-asks


def test_retry_after_header_is_honoured(codebook, tmp_path):
    import time

    llm, _ = make_llm(status_error(429, headers={"retry-after": "0.3"}), "ok")
    start = time.monotonic()
    code(SAMPLE_ADS[1], codebook, llm, tmp_path)
    assert time.monotonic() - start >= 0.3


@pytest.mark.parametrize("status", [401, 404])
def test_auth_and_not_found_fail_fast_and_stop_the_run(codebook, tmp_path, status):
    llm, fake = make_llm(status_error(status, "Incorrect API key"))
    with pytest.raises(FatalLLMError, match=f"HTTP {status}"):
        code(SAMPLE_ADS[0], codebook, llm, tmp_path)
    assert len(fake.calls) == 1


def test_bad_request_fails_this_ad_without_retrying(codebook, tmp_path):
    llm, fake = make_llm(status_error(400, "context length exceeded"))
    outcome = code(SAMPLE_ADS[0], codebook, llm, tmp_path)
    assert outcome.record is None and "HTTP 400" in outcome.reason
    assert "context length exceeded" in outcome.reason
    assert len(fake.calls) == 1


def run(codebook, llm, out, ads=SAMPLE_ADS, concurrency=1, **kwargs):
    return Run(list(ads), codebook, llm, RunOptions(out=out, concurrency=concurrency), **kwargs)


def test_failed_ad_goes_to_failures_jsonl_and_the_batch_goes_on(codebook, tmp_path):
    # the first ad gets three invalid answers in a row (max_retries=2), the rest are fine
    llm, _ = make_llm("bad-profile", "bad-profile", "bad-profile")
    manifest = run(codebook, llm, tmp_path).execute()
    failures = [json.loads(x) for x in (tmp_path / "failures.jsonl").read_text().splitlines()]
    assert [f["ad_id"] for f in failures] == [SAMPLE_ADS[0].id]
    assert "invalid answer after 3 attempt(s)" in failures[0]["reason"]
    assert "profile" in failures[0]["reason"]
    coded = [json.loads(x)["ad_id"] for x in (tmp_path / "codings.jsonl").read_text().splitlines()]
    assert coded == [ad.id for ad in SAMPLE_ADS[1:]]
    assert manifest["counts"]["failed"] == 1 and manifest["counts"]["coded"] == len(SAMPLE_ADS) - 1
    assert not (tmp_path / f"{SAMPLE_ADS[0].id}.md").exists()


def test_interrupted_run_keeps_finished_ads_and_resume_codes_only_the_rest(codebook, tmp_path):
    llm, fake = make_llm()
    calls = {"n": 0}

    def interrupted_coder(ad, book, llm_, options):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return code_one(ad, book, llm_, options)

    with pytest.raises(KeyboardInterrupt):
        run(codebook, llm, tmp_path, coder=interrupted_coder).execute()
    kept = [json.loads(x)["ad_id"] for x in (tmp_path / "codings.jsonl").read_text().splitlines()]
    assert SAMPLE_ADS[2].id not in kept  # the interrupted ad
    assert SAMPLE_ADS[0].id in kept and SAMPLE_ADS[1].id in kept  # finished before it: kept
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "interrupted"

    llm2, fake2 = make_llm()
    manifest = run(codebook, llm2, tmp_path).execute()
    assert len(fake2.calls) == len(SAMPLE_ADS) - len(kept)
    assert manifest["counts"]["already_done"] == len(kept)
    ids = [json.loads(x)["ad_id"] for x in (tmp_path / "codings.jsonl").read_text().splitlines()]
    assert ids == [ad.id for ad in SAMPLE_ADS]


def test_second_run_makes_no_llm_call_cache_hits_in_a_new_out(codebook, tmp_path):
    cache = tmp_path / "cache"
    llm, fake = make_llm(cache=cache)
    run(codebook, llm, tmp_path / "a").execute()
    assert len(fake.calls) == len(SAMPLE_ADS)

    llm2, fake2 = make_llm(cache=cache)
    manifest = run(codebook, llm2, tmp_path / "b").execute()
    assert fake2.calls == []
    assert manifest["counts"]["from_cache"] == len(SAMPLE_ADS)
    a = (tmp_path / "a" / "codings.jsonl").read_text()
    assert a == (tmp_path / "b" / "codings.jsonl").read_text()

    llm3, fake3 = make_llm(cache=cache)
    llm3.refresh = True
    run(codebook, llm3, tmp_path / "c").execute()
    assert len(fake3.calls) == len(SAMPLE_ADS)


def test_concurrency_does_not_change_outputs(codebook, tmp_path):
    outputs = {}
    for n in (1, 8):
        llm, _ = make_llm()
        out = tmp_path / f"c{n}"
        run(codebook, llm, out, concurrency=n).execute()
        outputs[n] = {p.name: p.read_text() for p in out.iterdir() if p.name != "manifest.json"}
    assert outputs[1] == outputs[8]
    assert len(outputs[1]) == len(SAMPLE_ADS) + 2  # drafts + codings.jsonl + failures.jsonl


def test_drafts_parse_back_to_their_records(codebook, tmp_path):
    llm, _ = make_llm("ungrounded", "ungrounded", "ungrounded")
    run(codebook, llm, tmp_path).execute()
    for line in (tmp_path / "codings.jsonl").read_text().splitlines():
        record = json.loads(line)
        draft = (tmp_path / f"{record['ad_id']}.md").read_text()
        coding = parse(draft, codebook, record["ad_id"])
        assert [q.text for q in coding.quotes] == [q["text"] for q in record["quotes"]]
        assert coding.profile == record["profile"]
        for dropped in record["ungrounded"]:
            assert "Dropped, not found in the ad" in draft and dropped["text"] in draft


def test_api_key_appears_nowhere_in_out_or_cache(codebook, tmp_path):
    key = "sk-test-" + "S3CRET" * 6
    echo = status_error(400, f"bad request; headers were {{'Authorization': 'Bearer {key}'}}")
    llm, fake = make_llm(echo, cache=tmp_path / "cache", key=key)
    run(codebook, llm, tmp_path / "out").execute()
    assert len(fake.calls) == len(SAMPLE_ADS)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "failures.jsonl" for p in written)
    for path in written:
        assert key not in path.read_text(errors="replace"), path


def test_static_prompt_part_is_identical_for_every_ad_and_the_ad_comes_last(codebook, tmp_path):
    llm, _ = make_llm()
    requests = [prepare(ad, codebook, llm, RunOptions(out=tmp_path)) for ad in SAMPLE_ADS]
    statics = {json.dumps(r.messages[:-1]) for r in requests}
    assert len(statics) == 1
    for ad, request in zip(SAMPLE_ADS, requests, strict=True):
        last = request.messages[-1]["content"]
        assert f"<ad>\n{ad.text.strip()}\n</ad>" in last or ad.text in last
        assert ad.text not in request.messages[0]["content"]


def test_response_model_enums_come_from_the_codebook(later_codebook, tmp_path):
    llm, _ = make_llm()
    ad = SAMPLE_ADS[0]
    request = prepare(ad, later_codebook, llm, RunOptions(out=tmp_path))
    schema = request.model_cls.model_json_schema()
    assert schema["properties"]["profile"]["enum"] == ["ML Engineer", "GenAI Engineer", "Ambiguous"]
    quote_ids = schema["$defs"]["QuoteAnswer"]["properties"]["category"]["enum"]
    assert quote_ids == [f"TASK{i}" for i in range(1, 6)] + [f"SKILL{i}" for i in range(1, 6)]
    # evidence comes before the profile and its reasoning
    assert list(schema["properties"]) == ["quotes", "tools", "reasoning", "profile"]
    outcome = code_one(ad, later_codebook, llm, RunOptions(out=tmp_path))
    assert outcome.record.to_json()["profile"] in schema["properties"]["profile"]["enum"]
