"""Few-shot examples chosen per ad: how many, which, in what order, and what is never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.ads import Ad, read_ads
from pipeline.cli import main
from pipeline.coding.examples import NEAR_COPY, ExamplePool
from pipeline.goldmd.parse import read_coding_file

REPO = Path(__file__).resolve().parents[1]


def prepared(tmp_path: Path, *options: str) -> list[dict]:
    out = tmp_path / "requests.jsonl"
    args = ["batch", "prepare", str(REPO / "raw"), "--out", str(out), *options]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def shown_examples(body: dict) -> list[str]:
    """The ads of the example exchanges: every user message but the last (the ad coded)."""
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    return users[:-1]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_examples_n_sends_exactly_n_examples(tmp_path, n):
    for line in prepared(tmp_path, "--examples", str(n), "--examples-gold", str(REPO / "gold")):
        examples = shown_examples(line["body"])
        assert len(examples) == n
        assignments = [m for m in line["body"]["messages"] if m["role"] == "assistant"]
        assert len(assignments) == n
        assert all(f"(id {line['custom_id']})" not in text for text in examples)


def test_prepare_with_examples_differs_per_ad_and_never_shows_the_ad(tmp_path):
    lines = prepared(tmp_path, "--examples", "2")
    ads = {ad.id: ad.text for ad in read_ads([REPO / "raw"]).ads}
    for line in lines:
        assert not any(ads[line["custom_id"]] in text for text in shown_examples(line["body"]))
    # the system prompt is the same for every ad, so prompt caching still applies to it
    assert len({json.dumps(line["body"]["messages"][0]) for line in lines}) == 1


def pool_of(dev: Path, codebook, extra: list[tuple[Ad, object]] = ()) -> list:
    pairs = [
        (read_ads([dev / "raw" / f"{p.stem}.txt"]).ads[0], read_coding_file(p, codebook))
        for p in sorted((dev / "gold").glob("*.md"))
    ]
    return pairs + list(extra)


def variant(text: str) -> str:
    """A rewritten copy of an ad: another title, one paragraph dropped, one added."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    kept = paragraphs[:2] + paragraphs[3:]
    return "\n\n".join(["Senior Platform Engineer (AI tooling)", *kept[1:]]) + (
        "\n\nWe also offer a yearly training budget and a hybrid working week."
    )


def test_similar_shows_the_sibling_of_a_near_copy_first_and_never_the_ad(shared_jobads, codebook):
    dev = shared_jobads / "dev"
    original = read_ads([dev / "raw" / "38_creative_fabrica.txt"]).ads[0]
    sibling = Ad("38_variant", variant(original.text), "test")
    pool = ExamplePool(pool_of(dev, codebook), n=2, by="similar")
    assert NEAR_COPY > pool.similarities(sibling.text)[1] > 0.6  # 38 is second in the pool
    chosen = pool.choose(sibling)
    assert len(chosen) == 2
    assert chosen[-1][0].id == "38_creative_fabrica"  # the most similar sits next to the ad
    others = pool.similarities(sibling.text)
    assert sorted(others, reverse=True)[0] == others[1]
    # coding the original itself: neither the ad nor an exact copy under another id is shown
    copy = (Ad("38_copy", original.text, "test"), pool.pairs[1][1])
    pool = ExamplePool(pool_of(dev, codebook, [copy]), n=10, by="similar")
    shown = [ad.id for ad, _ in pool.choose(original)]
    assert "38_creative_fabrica" not in shown and "38_copy" not in shown
    assert len(shown) == 5


def test_first_keeps_pool_order_and_max_chars_caps_the_total(shared_jobads, codebook):
    dev = shared_jobads / "dev"
    pairs = pool_of(dev, codebook)
    ad = Ad("new", "A Python developer for our data platform.", "test")
    first = ExamplePool(pairs, n=3, by="first").choose(ad)
    assert [a.id for a, _ in first] == [a.id for a, _ in pairs[:3]]
    cap = sorted(len(a.text) for a, _ in pairs)[1] + 1  # room for the smallest one or two
    capped = ExamplePool(pairs, n=6, by="first", max_chars=cap).choose(ad)
    assert capped and sum(len(a.text) for a, _ in capped) <= cap
    assert ExamplePool(pairs, n=0).choose(ad) == []
    assert ExamplePool([], n=2).choose(ad) == []


def test_the_examples_shown_are_recorded_in_the_provenance(codebook, tmp_path):
    from fakes import ScriptedCreate, backend

    from pipeline.coding.inputs import load_examples
    from pipeline.coding.one_ad import RunOptions, code_one
    from pipeline.llm.client import LLM

    pairs = load_examples(REPO / "gold", REPO / "raw", codebook)
    pool = ExamplePool(pairs, n=2, by="similar")
    ad = read_ads([REPO / "raw" / "101_lumenpath_genai.txt"]).ads[0]
    fake = ScriptedCreate("ok")
    llm = LLM(backend("json_schema", "sk-no-key"), create=fake, max_retries=0)
    outcome = code_one(ad, codebook, llm, RunOptions(tmp_path, examples=pool))
    chosen = [example.id for example, _ in pool.choose(ad)]
    assert outcome.record is not None and len(chosen) == 2 and ad.id not in chosen
    assert outcome.record.provenance.examples == chosen
    sent = [m["content"] for m in fake.calls[0]["messages"] if m["role"] == "user"]
    assert [f"(id {i})" in text for i, text in zip(chosen, sent, strict=False)] == [True, True]


@pytest.mark.parametrize(
    ("share", "expected"),
    [(0.25, 0.875 + 0.5), (0.0, 1.0 + 0.5), (None, 1.0 + 0.5)],
    ids=["quarter-cached", "nothing-shared", "unknown-share"],
)
def test_cost_with_the_system_prompt_cached(share, expected):
    from pipeline.coding.cost import cached_prompt_cost, estimate_cost

    prices = {"models": {"m": {"input": 1.0, "cached_input": 0.5, "output": 0.5}}}
    stats = {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}
    assert estimate_cost("m", stats, prices) == 1.5
    assert cached_prompt_cost("m", stats, prices, share) == pytest.approx(expected)
    assert cached_prompt_cost("unpriced", stats, prices, share) is None
