"""The review site of consensus drafts: support on every entry, fainter highlights for lower
support, and the index sorted by agreement, lowest first."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.codings.consensus import consensus
from pipeline.goldmd.parse import read_coding_file
from pipeline.goldmd.render import render
from pipeline.grounding import ground
from pipeline.record import Coding
from pipeline.review.pages import shade

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()
ADS = ["101_lumenpath_genai", "102_groenhaven_forecast", "103_kwikstaart_backend"]


@pytest.mark.parametrize(
    ("support", "n", "expected"),
    [
        pytest.param(3, 3, "hsl(10, 72%, 82%)", id="full-support"),
        pytest.param(None, 3, "hsl(10, 72%, 82%)", id="no-support"),
        pytest.param(1, 3, "hsla(10, 72%, 82%, 0.30)", id="faintest"),
        pytest.param(2, 3, "hsla(10, 72%, 82%, 0.65)", id="between"),
        pytest.param(4, 5, "hsla(10, 72%, 82%, 0.82)", id="four-of-five"),
    ],
)
def test_shade(support, n, expected):
    assert shade("hsl(10, 72%, 82%)", support, n) == expected


def samples(gold: Coding, drop: int) -> list[Coding]:
    """Three codings of one ad: the gold, and two that each leave out `drop` quotes."""
    first = gold.model_copy(deep=True)
    second = gold.model_copy(update={"quotes": gold.quotes[drop:]})
    third = gold.model_copy(update={"quotes": gold.quotes[: len(gold.quotes) - drop]})
    return [first, second, third]


@pytest.fixture
def merged_out(tmp_path) -> dict[str, Path]:
    """OUT of consensus drafts whose agreement falls with the ad's position in ADS."""
    out, ads = tmp_path / "out", tmp_path / "ads"
    out.mkdir()
    ads.mkdir()
    records = []
    for drop, ad_id in enumerate(ADS):
        shutil.copy(REPO / "raw" / f"{ad_id}.txt", ads)
        text = (ads / f"{ad_id}.txt").read_text(encoding="utf-8")
        gold = ground(read_coding_file(REPO / "gold" / f"{ad_id}.md", BOOK), text)
        merged = consensus(samples(gold, drop), BOOK, ad_text=text)
        records.append(merged.model_dump(mode="json") | {"ungrounded": [], "warnings": []})
        (out / f"{ad_id}.md").write_text(render(merged, BOOK, draft_model="consensus"))
    (out / "codings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return {"out": out, "ads": ads, "html": tmp_path / "site"}


def review(dirs, *extra):
    args = ["review", str(dirs["out"]), "--ads", str(dirs["ads"]), "--html", str(dirs["html"])]
    return CliRunner().invoke(main, [*args, *extra])


def agreements(dirs) -> dict[str, float]:
    records = (dirs["out"] / "codings.jsonl").read_text().splitlines()
    return {r["ad_id"]: r["agreement"] for r in map(json.loads, records)}


def test_fixture_agreement_falls_with_the_ads_position(merged_out):
    values = agreements(merged_out)
    assert values[ADS[0]] == 1.0 > values[ADS[1]] > values[ADS[2]]


def test_entries_show_their_support_and_fade(merged_out):
    assert review(merged_out).exit_code == 0
    page = (merged_out["html"] / f"ad-{ADS[2]}.html").read_text()
    assert "Consensus of 3 codings" in page
    assert re.search(r"support 2/3", page) and "support 3/3" in page
    assert "support: 2 of 3 codings" in page  # the highlight's tooltip
    assert "hsla(" in page  # a fainter highlight for an entry of lower support
    full = (merged_out["html"] / f"ad-{ADS[0]}.html").read_text()
    assert "support 2/3" not in full and "hsla(" not in full


def index_order(dirs) -> list[str]:
    index = (dirs["html"] / "index.html").read_text()
    return re.findall(r'<tr data-ad="([^"]+)"', index)


def test_index_sorted_by_agreement_lowest_first(merged_out):
    assert review(merged_out).exit_code == 0
    assert index_order(merged_out) == ADS
    index = (merged_out["html"] / "index.html").read_text()
    assert 'data-sort="agreement"' in index and index.count("data-agreement=") == 3
    assert review(merged_out, "--sort", "agreement").exit_code == 0
    assert index_order(merged_out) == ADS[::-1]
    last = (merged_out["html"] / f"ad-{ADS[2]}.html").read_text()
    assert f'href="ad-{ADS[1]}.html" rel="next"' in last  # next: the next least sure


def test_drafts_without_support_have_no_agreement_column(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    gold = read_coding_file(REPO / "gold" / f"{ADS[0]}.md", BOOK)
    (out / f"{ADS[0]}.md").write_text(render(gold, BOOK, draft_model="m"))
    html = tmp_path / "site"
    result = CliRunner().invoke(main, ["review", str(out), "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert '<button type="button" class="sort"' not in (html / "index.html").read_text()
    assert gold.agreement is None


@pytest.mark.browser
def test_index_sort_button_orders_lowest_agreement_first(merged_out, browser):
    assert review(merged_out).exit_code == 0
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((merged_out["html"] / "index.html").as_uri())
    rows = "() => Array.from(document.querySelectorAll('#ads tbody tr'), r => r.dataset.ad)"
    assert page.evaluate(rows) == ADS
    page.locator("button.sort").click()
    assert page.evaluate(rows) == ADS[::-1]
    page.locator("button.sort").click()
    assert page.evaluate(rows) == ADS
    assert errors == []
    page.close()


def test_a_merged_set_shows_what_it_merged_not_an_empty_run(tmp_path):
    shutil.copytree(REPO / "gold", tmp_path / "second")
    runner = CliRunner()
    merged = runner.invoke(
        main, ["merge", str(REPO / "gold"), str(tmp_path / "second"), "--out", str(tmp_path / "m")]
    )
    assert merged.exit_code == 0, merged.output
    html = tmp_path / "html"
    result = runner.invoke(
        main, ["review", str(tmp_path / "m"), "--ads", str(REPO / "raw"), "--html", str(html)]
    )
    assert result.exit_code == 0, result.output
    index = (html / "index.html").read_text(encoding="utf-8")
    assert "None (None)" not in index
    assert "merged from" in index and "gold (6 ads" in index and "second (6 ads" in index
    assert "minimum support" in index and "strict majority" in index
