"""Benchmark part `editor`: how fast the editor of `autocode review --serve` opens a long ad.

A synthetic ad of 20,000 characters (the project's sample ads, repeated) with a consensus
draft of 60 quotes and 10 tools is served for real (uvicorn) and opened in headless
Chromium 15 times; the figure is the median time from navigation start to the editor being
ready (text highlighted, coding panel drawn: `performance.mark("autocode-ready")`). Side by
side, in the same run and browser: the same ad's static review page (`autocode review`) to
its load event, and one edit (a deletion, which redraws the ad and the panel).

    python -m bench.run --only editor
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from pipeline.codebook import load_codebook
from pipeline.grounding import ground
from pipeline.record import Coding, Provenance, Quote, Tool
from pipeline.review.site import build_site, load_review, write_site
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.editor_fixtures import served

ROOT = Path(__file__).resolve().parent.parent
AD_ID = "900_long"
CHARS, QUOTES, TOOLS, LOADS = 20_000, 60, 10, 15
GOAL_MS = 300


def long_ad() -> tuple[str, Coding]:
    """20,000 characters of ad text and a 3-sample consensus coding of 60 of its lines."""
    text = ""
    while len(text) < CHARS:
        for path in sorted((ROOT / "raw").glob("*.txt")):
            text += path.read_text(encoding="utf-8") + "\n"
    text = text[:CHARS]
    lines = [ln.strip() for ln in text.splitlines() if len(ln.split()) >= 5]
    picked = list(dict.fromkeys(lines))[:QUOTES]
    book = load_codebook(None)
    cats, tool_cats = book.ids_of_kind("quotes"), book.ids_of_kind("tools")
    quotes = [
        Quote(category=cats[i % len(cats)], text=line, support=1 + i % 3)
        for i, line in enumerate(picked)
    ]
    tools = [Tool(category=tool_cats[i % len(tool_cats)], name=f"Tool{i}") for i in range(TOOLS)]
    coding = Coding(
        ad_id=AD_ID,
        profile=book.profile_names[0],
        quotes=quotes,
        tools=tools,
        n_codings=3,
        provenance=Provenance(model="bench"),
    )
    return text, ground(coding, text)


def _ready_ms(page) -> float:
    page.wait_for_selector("body[data-ready]", state="attached")
    return page.evaluate("performance.getEntriesByName('autocode-ready')[0].startTime")


def _load_ms(page) -> float:
    page.wait_for_load_state("load")
    return page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n.loadEventEnd - n.startTime; })()"
    )


def editor_speed(loads: int = LOADS) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.editor_fixtures import write_project

    text, coding = long_ad()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        project = write_project(Path(tmp), ids=[], extra_ads={AD_ID: (text, coding)})
        book = load_codebook(None)
        inp = load_review(project["drafts"], project["ads"], None, book)
        static = write_site(build_site(inp, book), Path(tmp) / "site").parent / "ad-900_long.html"
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        with served(project) as editor:
            editor_ms = []
            for _ in range(loads):
                page.goto(editor.url(f"/ads/{AD_ID}"))
                editor_ms.append(_ready_ms(page))
            edit_ms = page.evaluate(
                "(() => { const t = performance.now();"
                " document.querySelector('#entries .entry button.delete').click();"
                " return performance.now() - t; })()"
            )
            marks = page.locator("#ad-text mark").count()
        static_ms = []
        for _ in range(loads):
            page.goto(static.as_uri())
            static_ms.append(_load_ms(page))
        browser.close()
    editor_median, static_median = statistics.median(editor_ms), statistics.median(static_ms)
    return {
        "chars": len(text),
        "quotes": len(coding.quotes),
        "tools": len(coding.tools),
        "marks": marks,
        "loads": loads,
        "editor_ready_ms": round(editor_median, 1),
        "static_load_ms": round(static_median, 1),
        "ratio_editor_to_static": round(editor_median / static_median, 2),
        "one_edit_ms": round(edit_ms, 1),
        "goal_ms": GOAL_MS,
    }


if __name__ == "__main__":
    print(editor_speed())
