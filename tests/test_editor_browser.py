"""The editor in a real Chromium (Playwright): correcting a draft with the mouse and with the
keyboard alone, saving, reloading, blind mode, two tabs in conflict, work restored after the
server was killed, and an ad's own markup staying text. Every page must run without errors."""

from __future__ import annotations

import json
import signal

import pytest

from pipeline.goldmd.parse import read_coding_file
from pipeline.grounding import ground
from pipeline.record import Coding, Quote
from tests.conftest import watched_page
from tests.editor_fixtures import BOOK, SAMPLE_IDS, SELECT, serve_process, served, write_project

pytestmark = pytest.mark.browser
AD = SAMPLE_IDS[1]


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path)


def open_ad(browser, editor, ad_id=AD):
    watched = watched_page(browser)
    watched.page.goto(editor.url(f"/ads/{ad_id}"))
    watched.page.wait_for_selector("body[data-ready]", state="attached")
    return watched


def ad_text(project, ad_id=AD) -> str:
    return (project["ads"] / f"{ad_id}.txt").read_text(encoding="utf-8")


def saved_gold(project, ad_id=AD) -> Coding:
    gold = read_coding_file(project["gold"] / f"{ad_id}.md", BOOK, strict=True)
    grounded = ground(gold, ad_text(project, ad_id))
    assert all(q.grounding != "not_found" for q in grounded.quotes)
    return grounded


def passage(project, line: int, words: int = 6) -> str:
    """A few words of a line of the ad that no draft quote covers already."""
    return " ".join(ad_text(project).splitlines()[line].split()[:words])


def entry_texts(page) -> list[str]:
    return [t.strip("“”") for t in page.locator("#entries .qtext").all_inner_texts()]


def test_correct_a_draft_with_the_mouse_save_and_reload(browser, project):
    with served(project) as editor:
        watched = open_ad(browser, editor)
        page = watched.page
        before = entry_texts(page)
        # delete the first entry
        page.locator("#entries .entry").first.locator("button.delete").click()
        # re-span the (new) first entry to a shorter passage selected in the ad
        shorter = before[1].rsplit(" ", 1)[0]
        page.locator("#entries .entry").first.focus()
        page.evaluate(SELECT, [shorter])
        page.locator("#entries .entry").first.locator("button.respan").click()
        # add a quote by selection, choosing its category in the filterable list
        new = next(
            line.strip()
            for line in ad_text(project).splitlines()
            if len(line.split()) > 4 and not any(line.strip() in t for t in before)
        )
        page.evaluate(SELECT, [new])
        page.keyboard.press("q")
        page.fill("#chooser-filter", "communication")
        page.keyboard.press("Enter")
        page.select_option("#profile", "Core ML Engineer")
        page.click("#save")
        page.wait_for_selector("#status.ok")
        gold = saved_gold(project)
        page.reload()
        page.wait_for_selector("body[data-ready]", state="attached")
        reloaded = entry_texts(page)
        status = page.inner_text("#status")
    assert before[0] not in [q.text for q in gold.quotes]
    assert shorter in [q.text for q in gold.quotes] and before[1] not in [
        q.text for q in gold.quotes
    ]
    assert (new, "3.1") in [(q.text, q.category) for q in gold.quotes]
    assert gold.profile == "Core ML Engineer"
    assert len(gold.quotes) == len(before)  # one deleted, one added
    assert "saved gold" in status and new in reloaded
    log = json.loads((project["gold"] / "corrections.jsonl").read_text())
    changed = {q["text"]: q["action"] for q in log["quotes"] if q["action"] not in ("kept",)}
    assert changed == {before[0]: "deleted", before[1]: "respanned"}
    assert log["quotes_added"] == [{"category": "3.1", "text": new}]
    assert watched.problems == []


def test_keyboard_only(browser, project):
    with served(project) as editor:
        watched = open_ad(browser, editor)
        page = watched.page
        before = entry_texts(page)
        page.keyboard.press("?")
        assert page.is_visible("#help")
        page.keyboard.press("Escape")
        page.keyboard.press("j")  # first entry
        page.keyboard.press("j")  # second
        page.keyboard.press("x")  # delete it
        page.keyboard.press("k")  # back to the first
        page.keyboard.press("c")  # recategorise
        page.keyboard.type("leadership")
        page.keyboard.press("Enter")
        page.keyboard.press("u")  # undo the recategorisation
        page.keyboard.press("c")
        page.keyboard.press("ArrowDown")  # the second category of the list
        page.keyboard.press("Enter")
        page.keyboard.press("p")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        page.wait_for_selector("#status.ok")
    gold = saved_gold(project)
    assert [q.text for q in gold.quotes] == [before[0], *before[2:]]
    assert gold.quotes[0].category == BOOK.ids_of_kind("quotes")[1]
    assert watched.problems == []


def test_blind_mode_shows_the_ad_alone(browser, project):
    with served(project, coder="bo", blind=True) as editor:
        watched = open_ad(browser, editor)
        page = watched.page
        assert entry_texts(page) == [] and page.locator("mark").count() == 0
        assert page.locator(".badge.support").count() == 0
        assert "blind" in page.inner_text("#meta")
        line = passage(project, 0)
        page.evaluate(SELECT, [line])
        page.keyboard.press("1")
        page.select_option("#profile", "Software Engineer")
        page.click("#save")
        page.wait_for_selector("#status.ok")
    gold = saved_gold(project)
    assert [(q.category, q.text) for q in gold.quotes] == [(BOOK.ids_of_kind("quotes")[0], line)]
    assert "coded blind by bo" in (project["gold"] / f"{AD}.md").read_text()
    assert watched.problems == []


def test_two_tabs_in_conflict_keep_the_second_coders_work(browser, project):
    with served(project) as editor:
        first, second = open_ad(browser, editor), open_ad(browser, editor)
        first.page.select_option("#profile", "Software Engineer")
        first.page.click("#save")
        first.page.wait_for_selector("#status.ok")
        second.page.select_option("#profile", "GenAI Specialist")
        second.page.click("#save")
        second.page.wait_for_selector("#status.bad")
        message = second.page.inner_text("#problems")
        second.page.wait_for_timeout(300)
        _, _, data = editor.request("GET", f"/api/ads/{AD}")
    assert "changed on disk" in message
    assert saved_gold(project).profile == "Software Engineer"
    assert data["wip"]["state"]["profile"] == "GenAI Specialist"  # the second tab's work kept
    assert first.problems == [] and [p for p in second.problems if "409" not in p] == []


def test_work_is_restored_after_the_server_was_killed(browser, project):
    proc, url = serve_process(project)
    try:
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        watched = watched_page(browser)
        page = watched.page
        page.goto(url.replace("/?", f"/ads/{AD}?"))
        page.wait_for_selector("body[data-ready]", state="attached")
        before = entry_texts(page)
        page.locator("#entries .entry").first.locator("button.delete").click()
        page.fill("#reasoning", "Mostly data pipelines.")
        page.wait_for_timeout(1500)  # the page sends its work in progress as the coder goes
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    proc, url = serve_process(project)
    try:
        page.goto(url.replace("/?", f"/ads/{AD}?"))
        page.wait_for_selector("body[data-ready]", state="attached")
        restored = entry_texts(page)
        assert "restored your unsaved work" in page.inner_text("#status")
        assert page.input_value("#reasoning") == "Mostly data pipelines."
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
        assert proc.wait(15) == 0, proc.stderr.read()
    assert restored == before[1:]
    assert not (project["gold"] / f"{AD}.md").exists()
    assert [p for p in watched.problems if "ERR_CONNECTION_REFUSED" not in p] == []


def test_an_ads_own_markup_stays_text(browser, tmp_path):
    evil = (
        "<script>window.__pwned = 1</script> Evil Engineer\n"
        'We write <img src=x onerror="window.__pwned = 2"> all day.\n'
    )
    coding = Coding(
        ad_id="666_evil",
        profile="Software Engineer",
        quotes=[Quote(category="1.A.1", text='<img src=x onerror="window.__pwned = 2"> all day.')],
    )
    project = write_project(tmp_path, ids=[], extra_ads={"666_evil": (evil, coding)})
    with served(project) as editor:
        watched = open_ad(browser, editor, "666_evil")
        page = watched.page
        assert page.evaluate("window.__pwned") is None
        assert "<script>" in page.inner_text("#ad-text")
        assert page.locator("#ad-text img").count() == 0
        assert "<img" in page.inner_text("#entries")
    assert watched.problems == []


def test_the_queue_page_shows_progress_and_leads_to_the_next_ad(browser, project):
    with served(project) as editor:
        _, headers, data = editor.request("GET", f"/api/ads/{SAMPLE_IDS[0]}")
        body = {k: data["draft"][k] for k in ("profile", "quotes", "tools")}
        editor.request("PUT", f"/api/ads/{SAMPLE_IDS[0]}", body, {"If-Match": headers["ETag"]})
        watched = watched_page(browser)
        page = watched.page
        page.goto(editor.url("/"))
        page.wait_for_selector("body[data-ready]", state="attached")
        progress = page.inner_text("#progress")
        statuses = page.locator("#queue tbody tr").evaluate_all(
            "rows => rows.map(r => r.getAttribute('data-status'))"
        )
        redraft = page.inner_text("section[aria-label='Re-draft']")
        page.click("#next-unsaved")
        page.wait_for_selector("body[data-ready]", state="attached")
        title = page.inner_text("#meta")
    assert "1 of 5 saved" in progress and "ana: 1" in progress
    assert statuses == ["saved"] + ["not started"] * 4
    assert "--examples-gold" in redraft and f"{SAMPLE_IDS[1]}.txt" in redraft
    assert SAMPLE_IDS[1] in title
    assert watched.problems == []


def test_nothing_is_fetched_from_elsewhere(browser, project):
    with served(project) as editor:
        watched = open_ad(browser, editor)
    assert all(r.startswith(editor.base) for r in watched.requests)
