"""Correct drafts into known gold codings through the editor's page, as a coder would.

    python -m bench.correct --drafts OUT --ads ADS --gold GOLD --work DIR

For each ad, `autocode review --serve`'s page is driven in headless Chromium with the
coder's own keys and clicks: each draft quote is kept (a), recategorised (c, then the
category), re-spanned (select the gold passage in the ad, r) or deleted (x) so that it
becomes its gold quote, gold quotes left over are added by selecting them in the ad (q),
tools are removed, recategorised and added in the tool list, the profile and reasoning
set, and the ad saved (Ctrl+S). The saved codings go to DIR/gold, with the editor's
corrections log; `autocode eval --gold DIR/gold ...` then reports the edit figures, and the
saved codings are compared with GOLD (they should agree completely where the gold quotes
are passages of the ad). The seconds in the log are the script's, not a coder's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from playwright.sync_api import sync_playwright

from pipeline.codebook import load_codebook
from pipeline.goldmd.parse import read_coding_file
from pipeline.grounding import ground
from pipeline.matching import Passages, match_ad, tool_key
from pipeline.record import Coding
from pipeline.review.corrections import KEPT, RECATEGORISED, pair_quotes
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.editor_fixtures import SELECT, served


def shown_order(page) -> list[int]:
    """The draft indices of the entries as the page lists them (codebook order)."""
    return [
        int(i)
        for i in page.locator("#entries .entry").evaluate_all(
            "rows => rows.map(r => r.getAttribute('data-i'))"
        )
    ]


def go_to(page, index: int) -> None:
    page.locator(f"#entries .entry[data-i='{index}']").focus()


def pick(page, category: str) -> None:
    page.keyboard.type(category)
    page.keyboard.press("Enter")


def fix_quotes(page, draft: Coding, gold: Coding, text: str) -> list[str]:
    """Turn the draft's quotes into the gold ones; the gold quotes that cannot be selected in
    the ad (not passages of it) are returned."""
    pairs = {
        i: (j, action) for i, j, action in pair_quotes(draft.quotes, gold.quotes, Passages(text))
    }
    # work from the last draft entry to the first so the indices of the others stay put
    for i in sorted(range(len(draft.quotes)), reverse=True):
        go_to(page, i)
        if i not in pairs:
            page.keyboard.press("x")
            continue
        j, action = pairs[i]
        target = gold.quotes[j]
        if action == KEPT:
            page.keyboard.press("a")
            continue
        if action != RECATEGORISED:  # re-spanned: select the gold passage in the ad
            page.evaluate(SELECT, [text[target.span[0] : target.span[1]]])
            page.keyboard.press("r")
        if target.category != draft.quotes[i].category:
            go_to(page, i)
            page.keyboard.press("c")
            pick(page, target.category)
    used = {j for j, _ in pairs.values()}
    missing = []
    for j, quote in enumerate(gold.quotes):
        if j in used:
            continue
        if quote.span is None:
            missing.append(quote.text)
            continue
        page.evaluate(SELECT, [text[quote.span[0] : quote.span[1]]])
        page.keyboard.press("q")
        pick(page, quote.category)
    return missing


def fix_tools(page, draft: Coding, gold: Coding) -> None:
    wanted = {tool_key(t.name): t for t in gold.tools}
    for i in sorted(range(len(draft.tools)), reverse=True):
        tool = draft.tools[i]
        row = page.locator(f"#tools li[data-i='{i}']")
        if tool_key(tool.name) not in wanted:
            row.locator("button.delete").click()
        elif wanted[tool_key(tool.name)].category != tool.category:
            row.locator("select").select_option(wanted[tool_key(tool.name)].category)
    have = {tool_key(t.name) for t in draft.tools}
    for tool in gold.tools:
        if tool_key(tool.name) in have:
            continue
        page.click("#add-tool")
        last = page.locator("#tools li").last
        last.locator("input.tool-name").fill(tool.name)
        last.locator("input.tool-name").press("Tab")
        last.locator("select").select_option(tool.category)


def correct_one(page, editor, draft: Coding, gold: Coding, text: str) -> dict:
    page.goto(editor.url(f"/ads/{draft.ad_id}"))
    page.wait_for_selector("body[data-ready]", state="attached")
    missing = fix_quotes(page, draft, gold, text)
    fix_tools(page, draft, gold)
    page.select_option("#profile", gold.profile or draft.profile or "")  # a profile is required
    page.fill("#reasoning", gold.reasoning or "")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    page.wait_for_selector("#status.ok, #status.bad")
    return {
        "ad_id": draft.ad_id,
        "saved": "saved" in page.inner_text("#status"),
        "not_selectable": missing,
        "problems": page.inner_text("#problems"),
    }


def agreement(saved: Coding, gold: Coding, text: str) -> dict:
    result = match_ad(gold, saved, text, "strict")
    return {
        "matched": len(result.matched),
        "missed": len(result.missed),
        "extra": len(result.extra),
        "profile_equal": saved.profile == gold.profile,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--drafts", "--ads", "--gold", "--work"):
        parser.add_argument(name, type=Path, required=True)
    args = parser.parse_args(argv)
    book = load_codebook(None)
    project = {"drafts": args.drafts, "ads": args.ads, "gold": args.work / "gold"}
    project["gold"].mkdir(parents=True, exist_ok=True)
    drafts = [
        Coding.model_validate(json.loads(line)) for line in (args.drafts / "codings.jsonl").open()
    ]
    report = []
    with sync_playwright() as pw, served(project, coder="script") as editor:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for draft in drafts:
            text = next(args.ads.glob(f"{draft.ad_id}.*")).read_text(encoding="utf-8")
            gold = ground(read_coding_file(args.gold / f"{draft.ad_id}.md", book), text)
            row = correct_one(page, editor, ground(draft, text), gold, text)
            if row["saved"]:
                saved = read_coding_file(project["gold"] / f"{draft.ad_id}.md", book)
                row |= agreement(ground(saved, text), gold, text)
            report.append(row)
            print(json.dumps(row), flush=True)
        browser.close()
    (args.work / "correct.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
