"""Make the screenshots of docs/review.md: `make screenshots` (needs Chromium).

The editor of `autocode review --serve` is served for real over the project's sample ads
(raw/) with drafts made from their sample codings (tests/editor_fixtures.py), opened in
headless Chromium, and photographed: the queue, an ad being corrected (an entry current, a
passage selected, the category list open), the shortcuts, and blind mode.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.editor_fixtures import SAMPLE_IDS, SELECT, served, write_project  # noqa: E402

OUT = ROOT / "docs" / "img"
AD = SAMPLE_IDS[0]
SIZE = {"width": 1360, "height": 860}


def ready(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready]", state="attached")


def shoot(browser, project: dict) -> list[Path]:
    written = []
    with served(project, coder="ana") as editor:
        page = browser.new_page(viewport=SIZE)
        ready(page, editor.url("/"))
        page.screenshot(path=OUT / "editor-queue.png")
        ready(page, editor.url(f"/ads/{AD}"))
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=OUT / "editor.png")
        text = (project["ads"] / f"{AD}.txt").read_text(encoding="utf-8")
        line = next(ln.strip() for ln in text.splitlines()[3:] if len(ln.split()) > 6)
        page.evaluate(SELECT, [line])
        page.keyboard.press("q")
        page.keyboard.type("comm")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=OUT / "editor-add.png")
        page.keyboard.press("Escape")
        page.keyboard.press("?")
        page.screenshot(path=OUT / "editor-shortcuts.png")
        written += [OUT / n for n in ("editor-queue.png", "editor.png", "editor-add.png")]
        written.append(OUT / "editor-shortcuts.png")
    with served(project, coder="bo", blind=True) as editor:
        page = browser.new_page(viewport=SIZE)
        ready(page, editor.url(f"/ads/{AD}"))
        page.screenshot(path=OUT / "editor-blind.png")
        written.append(OUT / "editor-blind.png")
    return written


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for path in shoot(browser, write_project(Path(tmp))):
            print(path.relative_to(ROOT))
        browser.close()


if __name__ == "__main__":
    main()
