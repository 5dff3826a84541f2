"""Few-shot examples chosen per ad: how many, which, in what order, and what is never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.ads import Ad, read_ads
from pipeline.cli import main
from pipeline.examples import NEAR_COPY, ExamplePool
from pipeline.goldmd import read_coding_file

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
