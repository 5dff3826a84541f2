"""Shared fixtures: the two codebooks and the shared job-ad data (skipped where absent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.codebook import Codebook, load_codebook

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
LATER_CODEBOOK = FIXTURES / "codebook_later.yaml"
# ../shared/data/jobads from the repository root: real ads and the study's pilot codings.
SHARED_JOBADS = REPO.parent / "shared" / "data" / "jobads"


def shared_dev_dir() -> Path | None:
    """The shared dev folder (gold/ and raw/), or None when this checkout has no shared data."""
    dev = SHARED_JOBADS / "dev"
    if (dev / "gold").is_dir() and (dev / "raw").is_dir():
        return dev
    return None


@pytest.fixture(scope="session")
def codebook() -> Codebook:
    """The project's default codebook (codebook.yaml)."""
    return load_codebook()


@pytest.fixture(scope="session")
def later_codebook() -> Codebook:
    """The later scheme of the study (TASKn/TECHn/SKILLn), to prove nothing is hard-coded."""
    return load_codebook(LATER_CODEBOOK)


@pytest.fixture(scope="session")
def shared_jobads() -> Path:
    """../shared/data/jobads, or skip: the real ads are not part of the repository."""
    if shared_dev_dir() is None:
        pytest.skip(f"shared job-ad data not found at {SHARED_JOBADS / 'dev'} (not in the repo)")
    return SHARED_JOBADS


# Headless Chromium (Debian's package, installed by .ci/run) for the pages autocode writes:
# no first-run work and no background connections, which this machine's network refuses.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by Playwright; skipped, saying why, where either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test extra")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class WatchedPage:
    """A page whose errors (uncaught, console) and requests are recorded as it is used."""

    context: object
    page: object
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def watched_page(browser, width: int = 1300, height: int = 900) -> WatchedPage:
    context = browser.new_context(viewport={"width": width, "height": height})
    watched = WatchedPage(context, context.new_page())
    watched.page.on("pageerror", lambda exc: watched.problems.append(str(exc)))
    watched.page.on(
        "console", lambda msg: msg.type == "error" and watched.problems.append(msg.text)
    )
    watched.page.on("request", lambda request: watched.requests.append(request.url))
    return watched
