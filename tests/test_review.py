"""`autocode review`: span segmentation, page data, loading OUT both ways, and the site in a
real headless Chromium (highlights, agreement marks against `autocode eval`, no script runs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.goldmd.parse import read_coding_file
from pipeline.goldmd.render import render, render_review_notes
from pipeline.grounding import ground
from pipeline.matching import match_ad
from pipeline.record import Coding, Dropped, Quote, Tool
from pipeline.review.index import page_names
from pipeline.review.pages import (
    category_colours,
    quote_items,
    segment_views,
    segments,
)
from pipeline.review.site import build_site, load_review

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()
AD_ID = "101_lumenpath_genai"
EVIL_ID = "666_evil"
EVIL_AD = (
    '<script>document.title = "pwned"; window.__pwned = 1;</script> Evil Engineer\n'
    'We need someone who writes <img src=x onerror="window.__pwned = 2"> all day.\n'
    "</pre></textarea><script>window.__pwned = 3</script> & more &amp; more\n"
)
EVIL_QUOTE = '<img src=x onerror="window.__pwned = 2"> all day'

# ------------------------------------------------------------------ segmentation

TEXT = "0123456789"


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], [(0, 10, ())]),
        ([("a", 2, 5)], [(0, 2, ()), (2, 5, ("a",)), (5, 10, ())]),
        ([("a", 0, 10), ("b", 2, 5)], [(0, 2, ("a",)), (2, 5, ("a", "b")), (5, 10, ("a",))]),
        ([("b", 2, 5), ("a", 0, 10)], [(0, 2, ("a",)), (2, 5, ("a", "b")), (5, 10, ("a",))]),
        ([("a", 0, 6), ("b", 4, 10)], [(0, 4, ("a",)), (4, 6, ("a", "b")), (6, 10, ("b",))]),
        ([("a", 2, 5), ("b", 2, 5)], [(0, 2, ()), (2, 5, ("a", "b")), (5, 10, ())]),
        ([("a", 0, 3), ("b", 3, 6)], [(0, 3, ("a",)), (3, 6, ("b",)), (6, 10, ())]),
        (
            [("a", 1, 9), ("b", 2, 8), ("c", 3, 7)],
            [
                (0, 1, ()),
                (1, 2, ("a",)),
                (2, 3, ("a", "b")),
                (3, 7, ("a", "b", "c")),
                (7, 8, ("a", "b")),
                (8, 9, ("a",)),
                (9, 10, ()),
            ],
        ),
        ([("a", -3, 2), ("b", 8, 99)], [(0, 2, ("a",)), (2, 8, ()), (8, 10, ("b",))]),
        ([("a", 4, 4), ("b", 7, 3)], [(0, 10, ())]),
    ],
    ids=[
        "none",
        "one",
        "nested",
        "nested-given-inner-first",
        "overlapping",
        "identical",
        "adjacent",
        "three-deep",
        "clipped",
        "empty-and-reversed",
    ],
)
def test_segments(spans, expected):
    got = segments(TEXT, spans)
    assert [(s.start, s.end, s.keys) for s in got] == expected
    assert all(s.text == TEXT[s.start : s.end] for s in got)


def test_segments_of_empty_text():
    assert segments("", [("a", 0, 3)]) == []


@given(
    st.text(min_size=0, max_size=30),
    st.lists(st.tuples(st.integers(-2, 35), st.integers(-2, 35)), max_size=6),
)
def test_segments_partition_the_text_and_rebuild_every_span(text, raw_spans):
    spans = [(f"k{i}", s, e) for i, (s, e) in enumerate(raw_spans)]
    got = segments(text, spans)
    assert "".join(s.text for s in got) == text
    assert all(a.end == b.start for a, b in zip(got, got[1:], strict=False))
    for key, start, end in spans:
        start, end = max(0, start), min(len(text), end)
        covered = "".join(s.text for s in got if key in s.keys)
        assert covered == (text[start:end] if start < end else "")


def test_segment_views_band_overlaps_and_mark_gold_only_passages():
    colours = category_colours(BOOK)
    pred = Coding(
        ad_id="x",
        quotes=[Quote(category="1.A.1", text="0123456"), Quote(category="3.1", text="345")],
    )
    items = quote_items(ground(pred, TEXT), None, TEXT)
    views = segment_views(TEXT, items, colours)
    assert [v["quotes"] for v in views] == ["q0", "q0 q1", "q0", ""]
    assert "overlap" in views[1]["classes"] and "linear-gradient" in views[1]["style"]
    assert colours["1.A.1"] in views[1]["style"] and colours["3.1"] in views[1]["style"]
    gold = Coding(ad_id="x", quotes=[Quote(category="1.B.1", text="789")])
    views = segment_views(TEXT, quote_items(ground(pred, TEXT), gold, TEXT), colours)
    assert views[-1] == {
        "text": "789",
        "quotes": "g0",
        "tips": "tip-g0",
        "classes": "hl gold gold-only",
        "style": "",
    }


def test_every_quote_category_has_its_own_colour():
    colours = category_colours(BOOK)
    assert set(colours) == set(BOOK.ids_of_kind("quotes"))
    assert len(set(colours.values())) == len(colours)


def test_page_names_are_safe_and_distinct():
    names = page_names(["a/b", "a_b", "../x", "A", "a", "", "index"])
    assert len(set(names.values())) == 7
    assert all(n.startswith("ad-") and "/" not in n and ".." not in n for n in names.values())
    assert names["../x"] == "ad-x.html" and names["index"] == "ad-index.html"


# ------------------------------------------------------------------ a made-up run


def ad_text() -> str:
    return (REPO / "raw" / f"{AD_ID}.txt").read_text(encoding="utf-8")


def differing_draft() -> Coding:
    """The gold coding of AD_ID changed so that some quotes match, some are missed (one
    dropped) and some are extra; one quote nested in another, one with a typo (fuzzy)."""
    gold = read_coding_file(REPO / "gold" / f"{AD_ID}.md", BOOK)
    quotes = [q for q in gold.quotes if q.category != "1.A.2"]  # its only quote: missed
    quotes = [
        q.model_copy(update={"text": q.text.replace("accurate", "acurate")}) for q in quotes
    ]  # fuzzy
    quotes += [
        Quote(category="1.B.2", text="Hands-on experience with LLM APIs such as OpenAI GPT-4"),
        Quote(category="3.3", text="Design and build retrieval-augmented generation (RAG)"),
    ]
    tools = [*gold.tools[1:], Tool(category="2.9", name="REST APIs")]
    draft = gold.model_copy(
        update={"profile": "Software Engineer", "quotes": quotes, "tools": tools}
    )
    return ground(draft, ad_text())


def record(coding: Coding, **extra) -> dict:
    return coding.model_dump(mode="json") | {"ungrounded": [], "warnings": []} | extra


@pytest.fixture
def run_dirs(tmp_path) -> dict[str, Path]:
    """OUT (codings.jsonl, failures.jsonl, manifest.json, *.md), ads and gold folders."""
    out, ads, gold = tmp_path / "out", tmp_path / "ads", tmp_path / "gold"
    for folder in (out, ads, gold):
        folder.mkdir()
    shutil.copy(REPO / "raw" / f"{AD_ID}.txt", ads)
    shutil.copy(REPO / "gold" / f"{AD_ID}.md", gold)
    (ads / f"{EVIL_ID}.txt").write_text(EVIL_AD, encoding="utf-8")
    (ads / "777_failed.txt").write_text("An ad the model failed on\n", encoding="utf-8")
    draft = differing_draft()
    evil = ground(
        Coding(
            ad_id=EVIL_ID,
            title=EVIL_AD.splitlines()[0],
            organisation="<b>Evil</b> & Co",
            profile="Not Relevant",
            reasoning="<i>not</i> relevant",
            quotes=[Quote(category="1.A.1", text=EVIL_QUOTE, note="<u>n</u>")],
            tools=[Tool(category="2.1", name="<svg onload=alert(1)>")],
        ),
        EVIL_AD,
    )
    dropped = {
        "category": "1.A.1",
        "text": "Invent a <b>perpetual</b> motion machine",
        "note": None,
    }
    lines = [
        record(draft, ungrounded=[dropped], warnings=["ad text truncated <b>x</b>"]),
        record(evil),
    ]
    (out / "codings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (out / "failures.jsonl").write_text(
        json.dumps({"ad_id": "777_failed", "source": "x", "reason": "HTTP 500 <b>boom</b>"}) + "\n"
    )
    (out / "manifest.json").write_text(
        json.dumps(
            {
                "status": "complete",
                "model": "sim",
                "backend": "openai-compatible",
                "codebook": {"name": BOOK.name, "version": BOOK.version},
                "counts": {"ads": 3, "coded": 2, "failed": 1, "quotes_kept": 11},
            }
        )
    )
    for coding in (draft, evil):
        (out / f"{coding.ad_id}.md").write_text(render(coding, BOOK, draft_model="sim"))
    return {"out": out, "ads": ads, "gold": gold, "html": tmp_path / "site"}


def review(dirs: dict[str, Path], *extra: str):
    args = [
        "review",
        str(dirs["out"]),
        "--ads",
        str(dirs["ads"]),
        "--gold",
        str(dirs["gold"]),
        "--html",
        str(dirs["html"]),
        *extra,
    ]
    return CliRunner().invoke(main, args)


def test_review_writes_index_and_a_page_per_coded_ad(run_dirs):
    result = review(run_dirs)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(run_dirs["html"] / "index.html")
    names = sorted(p.name for p in run_dirs["html"].iterdir())
    assert names == [f"ad-{AD_ID}.html", f"ad-{EVIL_ID}.html", "index.html"]
    index = (run_dirs["html"] / "index.html").read_text()
    assert index.count("<svg") == 2 and "HTTP 500 &lt;b&gt;boom&lt;/b&gt;" in index
    assert "http://" not in index.replace('xmlns="http://www.w3.org/2000/svg"', "")
    page = (run_dirs["html"] / f"ad-{AD_ID}.html").read_text()
    assert "Invent a &lt;b&gt;perpetual&lt;/b&gt; motion machine" in page  # dropped box
    assert "autocode accept" in page and "--gold" in page


def test_markdown_drafts_are_grounded_and_give_the_same_marks(run_dirs):
    """Without codings.jsonl the *.md drafts are read and grounded against --ads."""
    (run_dirs["out"] / "codings.jsonl").unlink()
    md = run_dirs["out"] / f"{AD_ID}.md"
    md.write_text(
        md.read_text()
        + render_review_notes(['Dropped, not found in the ad (1.A.1): "Invent a machine"'])
    )
    inp = load_review(run_dirs["out"], run_dirs["ads"], run_dirs["gold"], BOOK)
    draft = next(d for d in inp.drafts if d.coding.ad_id == AD_ID)
    assert draft.dropped == [Dropped(category="1.A.1", text="Invent a machine")]
    expected = differing_draft()

    def spans(coding):  # the Markdown lists quotes in codebook order
        return sorted((q.category, q.text, q.span, q.grounding) for q in coding.quotes)

    assert spans(draft.coding) == spans(expected)
    items = quote_items(draft.coding, inp.golds[AD_ID], ad_text())
    result = match_ad(inp.golds[AD_ID], expected, ad_text(), mode="partial")
    assert sum(i.match == "matched" for i in items) == len(result.matched)
    assert sum(i.match == "missed" for i in items) == len(result.missed)
    assert sum(i.match == "extra" for i in items) == len(result.extra)


def test_records_are_regrounded_when_the_ad_text_is_not_the_one_coded(run_dirs):
    ad = run_dirs["ads"] / f"{AD_ID}.txt"
    ad.write_text("A new first line.\n" + ad.read_text())
    inp = load_review(run_dirs["out"], run_dirs["ads"], None, BOOK)
    draft = next(d for d in inp.drafts if d.coding.ad_id == AD_ID)
    text = ad.read_text()
    assert all(
        text[q.span[0] : q.span[1]] == q.text for q in draft.coding.quotes if q.grounding == "exact"
    )
    assert any("re-grounded" in p for p in inp.problems)


def test_review_without_ads_or_gold_still_shows_every_coding(run_dirs):
    run_dirs.update(ads=None, gold=None)
    result = CliRunner().invoke(
        main, ["review", str(run_dirs["out"]), "--html", str(run_dirs["html"])]
    )
    assert result.exit_code == 0, result.output
    page = (run_dirs["html"] / f"ad-{AD_ID}.html").read_text()
    assert "No ad text" in page and 'data-match="' not in page


def test_review_of_a_folder_without_drafts_is_an_input_error(tmp_path):
    result = CliRunner().invoke(main, ["review", str(tmp_path), "--html", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "no drafts" in result.stderr and not (tmp_path / "s").exists()


def test_site_is_the_same_for_the_same_input(run_dirs):
    inp = load_review(run_dirs["out"], run_dirs["ads"], run_dirs["gold"], BOOK)
    assert build_site(inp, BOOK) == build_site(inp, BOOK)


# ------------------------------------------------------------------ in a real browser


@pytest.fixture
def site(run_dirs) -> dict[str, Path]:
    result = review(run_dirs)
    assert result.exit_code == 0, result.output
    return run_dirs


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.problems, page.requests = [], []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and page.problems.append(msg.text))
    page.on("request", lambda request: page.requests.append(request.url))
    yield page
    context.close()


def open_page(page, path: Path):
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


HIGHLIGHTED_KEYS = """() => {
  const keys = new Set();
  document.querySelectorAll("mark[data-quotes]").forEach(
    m => m.dataset.quotes.split(" ").forEach(k => k.startsWith("q") && keys.add(k)));
  return Array.from(keys);
}"""
TEXT_OF = """(key) => Array.from(document.querySelectorAll(`mark[data-quotes~="${key}"]`))
  .map(m => m.textContent).join("")"""


@pytest.mark.browser
def test_every_grounded_quote_is_highlighted_at_its_span(site, page):
    rec = json.loads((site["out"] / "codings.jsonl").read_text().splitlines()[0])
    text = ad_text()
    open_page(page, site["html"] / f"ad-{AD_ID}.html")
    keys = page.evaluate(HIGHLIGHTED_KEYS)
    grounded = [i for i, q in enumerate(rec["quotes"]) if q["span"] is not None]
    assert len(keys) == len(grounded) == len(rec["quotes"])
    for i in grounded:
        start, end = rec["quotes"][i]["span"]
        assert page.evaluate(TEXT_OF, f"q{i}") == text[start:end]
    assert page.locator("pre.ad-text").text_content() == text
    assert page.locator("mark.overlap").count() > 0  # nested and overlapping quotes
    assert page.locator("mark.fuzzy").count() > 0
    assert page.locator("li.quote[data-grounding=fuzzy]").count() == 1
    assert page.locator(".dropped li").count() == 1
    assert page.problems == [] and all(u.startswith("file://") for u in page.requests)


@pytest.mark.browser
def test_hover_and_focus_show_category_note_and_grounding(site, page):
    open_page(page, site["html"] / f"ad-{AD_ID}.html")
    tip = page.locator("#tip")
    assert tip.is_hidden()
    first = page.locator('mark[data-quotes~="q0"]').first
    first.hover()
    assert tip.is_visible()
    category = json.loads((site["out"] / "codings.jsonl").read_text().splitlines()[0])
    category = category["quotes"][0]["category"]
    assert category in tip.inner_text() and "grounding: exact" in tip.inner_text()
    page.keyboard.press("Escape")
    assert tip.is_hidden()
    page.locator("mark.fuzzy").first.focus()
    assert tip.is_visible() and "grounding: fuzzy" in tip.inner_text()


@pytest.mark.browser
def test_marks_agree_with_autocode_eval_for_the_ad(site, page, tmp_path):
    report = tmp_path / "eval.json"
    result = CliRunner().invoke(
        main,
        [
            "eval",
            "--gold",
            str(site["gold"]),
            "--pred",
            str(site["out"] / "codings.jsonl"),
            "--ads",
            str(site["ads"]),
            "--json",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(report.read_text())
    assert scores["ads"]["paired"] == [AD_ID]  # so the totals are this ad's counts
    counts = scores["quotes"]["partial"]
    open_page(page, site["html"] / f"ad-{AD_ID}.html")
    marks = {
        m: page.locator(f"li.quote[data-match={m}]").count() for m in ("matched", "missed", "extra")
    }
    assert marks == {"matched": counts["tp"], "missed": counts["fn"], "extra": counts["fp"]}
    assert all(marks.values())
    gold_profile = read_coding_file(site["gold"] / f"{AD_ID}.md", BOOK).profile
    assert page.locator("code.gold-profile").inner_text() == gold_profile
    assert page.locator("code.profile").first.inner_text() == "Software Engineer"
    missed_marks = page.evaluate("""() => Array.from(document.querySelectorAll(
        "mark[data-quotes]")).filter(m => / ?g\\d+/.test(m.dataset.quotes)).length""")
    assert missed_marks > 0  # missed gold passages are outlined in the ad text too


@pytest.mark.browser
def test_an_ad_with_script_runs_nothing_and_shows_as_text(site, page):
    for name in (f"ad-{EVIL_ID}.html", "index.html"):
        open_page(page, site["html"] / name)
        assert page.evaluate("() => window.__pwned") is None
        assert page.title() != "pwned"
        assert page.evaluate("() => document.querySelectorAll('script').length") == 1
        assert page.evaluate("() => document.querySelectorAll('img, svg script').length") == 0
    open_page(page, site["html"] / f"ad-{EVIL_ID}.html")
    assert page.title().startswith('<script>document.title = "pwned"')
    assert page.locator("pre.ad-text").text_content() == EVIL_AD
    assert page.evaluate(TEXT_OF, "q0") == EVIL_QUOTE
    assert page.locator(".coding code", has_text="<svg onload=alert(1)>").count() == 1
    assert page.locator("h1").inner_text().startswith("<script>")
    open_page(page, site["html"] / "index.html")
    assert page.locator("tr[data-ad='666_evil'] td").nth(2).inner_text() == "<b>Evil</b> & Co"
    assert page.problems == []


@pytest.mark.browser
def test_index_links_every_page_and_flags_ads(site, page):
    open_page(page, site["html"] / "index.html")
    rows = page.locator("table.ads tbody tr")
    assert rows.count() == 3
    assert page.locator("tr.failed").inner_text().startswith("777_failed")
    flags = page.locator(f"tr[data-ad='{AD_ID}'] .flags").inner_text()
    assert "1 ungrounded" in flags and "1 fuzzy" in flags
    assert page.locator("svg").count() == 2
    page.locator(f"a[href='ad-{AD_ID}.html']").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"ad-{AD_ID}.html")


@pytest.mark.browser
def test_screenshot_of_an_ad_page(site, page, tmp_path):
    open_page(page, site["html"] / f"ad-{AD_ID}.html")
    page.locator('mark[data-quotes~="q1"]').first.hover()
    shot = tmp_path / "review-ad-page.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
