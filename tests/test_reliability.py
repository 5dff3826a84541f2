"""A hostile LLM server: every fault ends retried then coded, re-asked then coded, or in
failures.jsonl with a reason naming it; never a traceback, never an ungrounded quote kept;
and the API key never comes out, also when the server echoes the request headers.

`autocode code` runs as a subprocess against tests.servers.simserver over real HTTP. One batch holds
one ad per fault, and each ad carries its own fault script (SimServer.by_text), so one run
covers the whole table whatever the order of concurrent requests; each case is a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from autocode_run import (
    API_KEY,
    TRACEBACK,
    ad_text,
    assert_clean_out,
    case_key,
    requests_for,
    run_code,
)

from tests.servers.simserver import SimServer

TRANSIENT_ATTEMPTS = 6  # LLM(transient_attempts=...): requests before a transient fault is final
MAX_RETRIES = 2  # --max-retries: re-asks after an invalid answer, so 3 attempts in all
TIMEOUT = 1.0  # --timeout for every run here; the server's "timeout" fault hangs longer
INVENTED = "Invent a perpetual motion machine for us"  # simserver's ungrounded quote


@dataclass
class Case:
    fault: str  # id of the ad and of the test
    script: list[str]  # what the server answers this ad's requests, in order; then "ok"
    outcome: str  # "retried", "reasked", "dropped" (coded, bad quote left out) or "failed"
    reason: tuple[str, ...] = ()  # words the failure reason must contain
    requests: int | None = None  # exact number of requests, when the outcome fixes it

    def __str__(self) -> str:
        return self.fault


def always(fault: str, n: int) -> list[str]:
    return [fault] * n


CASES = [
    # transient faults: retried (with backoff, or after Retry-After), then coded
    Case("429", ["429"], "retried"),
    Case("429-retry-after", ["429-retry-after"], "retried"),
    Case("500", ["500"], "retried"),
    Case("503", ["503"], "retried"),
    Case("timeout", ["timeout"], "retried"),
    Case("drop", ["drop"], "retried"),
    Case("empty-choices", ["empty-choices"], "retried"),
    # invalid answers: re-asked with the validation error, then coded
    Case("malformed", ["malformed"], "reasked"),
    Case("bad-category", ["bad-category"], "reasked"),
    Case("bad-profile", ["bad-profile"], "reasked"),
    Case("ungrounded", ["ungrounded"], "reasked"),
    Case("refusal", ["refusal"], "reasked"),
    # the same faults to the end: failed, with a reason naming the fault
    Case("429-always", always("429", 6), "failed", ("HTTP 429", "gave up"), TRANSIENT_ATTEMPTS),
    Case("500-always", always("500", 6), "failed", ("HTTP 500", "gave up"), TRANSIENT_ATTEMPTS),
    Case("503-always", always("503", 6), "failed", ("HTTP 503", "gave up"), TRANSIENT_ATTEMPTS),
    Case("timeout-always", always("timeout", 6), "failed", ("timeout",), TRANSIENT_ATTEMPTS),
    Case("drop-always", always("drop", 6), "failed", ("connection",), TRANSIENT_ATTEMPTS),
    Case(
        "empty-choices-always",
        always("empty-choices", 6),
        "failed",
        ("no choices",),
        TRANSIENT_ATTEMPTS,
    ),
    Case(
        "malformed-always",
        always("malformed", 3),
        "failed",
        ("invalid answer", "JSON"),
        MAX_RETRIES + 1,
    ),
    Case(
        "bad-category-always",
        always("bad-category", 3),
        "failed",
        ("invalid answer", "category", "9.Z.9"),
        MAX_RETRIES + 1,
    ),
    Case(
        "bad-profile-always",
        always("bad-profile", 3),
        "failed",
        ("invalid answer", "profile", "Astronaut"),
        MAX_RETRIES + 1,
    ),
    Case(
        "refusal-always", always("refusal", 3), "failed", ("refused", "can't help"), MAX_RETRIES + 1
    ),
    # a quote still not in the ad on the last attempt: the ad is coded without it
    Case("ungrounded-always", always("ungrounded", 3), "dropped", (), MAX_RETRIES + 1),
    # not worth retrying: failed at once
    Case("length", ["length"], "failed", ("token limit", "max-tokens"), 1),
    Case("400", ["400"], "failed", ("HTTP 400",), 1),
    Case("echo-headers", ["echo-headers"], "failed", ("HTTP 400", "Bearer ***"), 1),
    # control: no fault
    Case("ok", [], "coded", (), 1),
]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """One `autocode code` over one ad per case, each ad with its own fault script."""
    work = tmp_path_factory.mktemp("hostile")
    (work / "ads").mkdir()
    texts = {}
    for case in CASES:
        texts[case.fault] = ad_text(case.fault)
        (work / "ads" / f"{case.fault}.txt").write_text(texts[case.fault], encoding="utf-8")
    scripts = {case_key(c.fault): c.script for c in CASES}
    with SimServer(hang=TIMEOUT + 1.5, by_text=scripts) as server:
        result = run_code(
            work,
            server.url,
            work / "ads",
            "--concurrency",
            8,
            "--timeout",
            TIMEOUT,
            "--max-retries",
            MAX_RETRIES,
        )
    return result, server, texts, work


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault_outcome(hostile_run, case):
    result, server, _, _ = hostile_run
    records, failures = result.records(), result.failures()
    sent = requests_for(server, case.fault)
    if case.requests is not None:
        assert len(sent) == case.requests
    if case.outcome == "failed":
        assert case.fault not in records and not (result.out / f"{case.fault}.md").exists()
        reason = failures[case.fault]["reason"]
        for word in case.reason:
            assert word in reason
        assert f"{case.fault}: {reason}" in result.stderr  # said while the run goes
        return
    assert case.fault not in failures
    record = records[case.fault]
    assert INVENTED not in [q["text"] for q in record["quotes"]]
    if case.outcome == "retried":  # the same attempt sent again: more requests, one attempt
        assert len(sent) >= 2 and record["attempts"] == 1
    elif case.outcome == "reasked":  # a second attempt that carries the validation error
        assert record["attempts"] == 2 and record["ungrounded"] == []
        assert len(sent[1]["messages"]) > len(sent[0]["messages"])
    elif case.outcome == "dropped":
        assert record["attempts"] == MAX_RETRIES + 1
        assert [q["text"] for q in record["ungrounded"]] == [INVENTED]
        draft = (result.out / f"{case.fault}.md").read_text(encoding="utf-8")
        assert f"Dropped, not found in the ad ({record['ungrounded'][0]['category']})" in draft
    assert record["quotes"], "the coded ad keeps its grounded quotes"


def test_the_run_goes_on_and_ends_cleanly(hostile_run):
    result, _, texts, _ = hostile_run
    assert result.returncode == 0, result.stderr
    assert TRACEBACK not in result.stderr and TRACEBACK not in result.stdout
    failed = {c.fault for c in CASES if c.outcome == "failed"}
    assert set(result.failures()) == failed
    assert set(result.records()) == {c.fault for c in CASES} - failed
    counts = result.manifest()["counts"]
    assert (counts["coded"], counts["failed"]) == (len(CASES) - len(failed), len(failed))
    assert counts["quotes_dropped"] == 1  # ungrounded-always; re-asked ones were fixed
    assert_clean_out(result.out, texts)


def test_reask_tells_the_model_what_was_wrong(hostile_run):
    _, server, _, _ = hostile_run
    first, second = requests_for(server, "ungrounded")
    added = " ".join(str(m.get("content")) for m in second["messages"][len(first["messages"]) :])
    assert INVENTED in added and "not verbatim" in added


def test_retry_after_is_honoured(hostile_run):
    """The 429 with Retry-After: 0.05 s is retried after that wait, not the 5 ms backoff."""
    _, server, _, _ = hostile_run
    key = case_key("429-retry-after")
    first, second = (
        when
        for when, body in zip(server.times, server.requests, strict=True)
        if key in body["messages"][-1]["content"]
    )
    assert second - first >= 0.05


def test_auth_failure_stops_the_run_with_one_message(tmp_path):
    """401: no ad can be coded, so the run stops at once (status 1), saying why."""
    (tmp_path / "ads").mkdir()
    texts = {f"ad{i}": ad_text(f"auth-{i}") for i in range(6)}
    for ad_id, text in texts.items():
        (tmp_path / "ads" / f"{ad_id}.txt").write_text(text, encoding="utf-8")
    with SimServer(script=["401"] * 20) as server:
        result = run_code(
            tmp_path, server.url, tmp_path / "ads", "--concurrency", 1, "--timeout", TIMEOUT
        )
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr and "Incorrect API key" in result.stderr
    assert TRACEBACK not in result.stderr
    assert len(server.requests) <= 2  # the ad in flight at most; no retries, no other ads
    assert result.manifest()["status"].startswith("aborted: HTTP 401")
    assert API_KEY not in result.stderr


def test_a_reason_that_looks_like_markup_is_printed_as_text(tmp_path):
    """A server message is text: '[/see docs]' in it must not crash the progress display."""
    (tmp_path / "ads").mkdir()
    for case in ("markup", "after"):
        (tmp_path / "ads" / f"{case}.txt").write_text(ad_text(case), encoding="utf-8")
    with SimServer(by_text={case_key("markup"): ["markup"]}) as server:
        result = run_code(tmp_path, server.url, tmp_path / "ads", "--concurrency", 1)
    assert TRACEBACK not in result.stderr
    assert result.returncode == 0
    reason = result.failures()["markup"]["reason"]
    assert "[/see docs]" in reason and f"markup: {reason}" in result.stderr
    assert set(result.records()) == {"after"}


def test_api_key_appears_nowhere(hostile_run):
    """Every file in OUT and the cache, stdout and stderr of the hostile run (whose
    echo-headers fault put `Authorization: Bearer <key>` into an error body)."""
    result, server, _, work = hostile_run
    assert any(API_KEY in str(h.values()) for h in server.headers), "the key was sent"
    files = [p for p in (work / "out").rglob("*") if p.is_file()]
    files += [p for p in (work / "cache").rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        assert API_KEY.encode() not in path.read_bytes(), path
    for stream in (result.stdout, result.stderr):
        assert API_KEY not in stream and "SECRET" not in stream
