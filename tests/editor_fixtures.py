"""A project to correct in the editor, and the editor served for real (uvicorn, a thread).

The ads are the project's sample ads (raw/); the drafts are their sample gold codings with
changes a coder would undo (the last quote of each left out, the first recategorised, the
profile of one ad changed), written as codings.jsonl by a "test-model".
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from pipeline.codebook import load_codebook
from pipeline.goldmd.parse import read_coding_file
from pipeline.grounding import ground
from pipeline.record import Provenance
from pipeline.review.selection import Selection
from pipeline.review.serve import bind
from pipeline.review.server import allowed_hosts, make_app, new_token
from pipeline.review.session import make_session
from pipeline.review.site import load_review
from pipeline.review.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()
SAMPLE_IDS = sorted(p.stem for p in (REPO / "raw").glob("*.txt"))
# Select a passage of the ad in the editor page, as a coder dragging the mouse over it would
# (the passage may run over several highlights).
SELECT = """([needle]) => {
  const pre = document.getElementById('ad-text');
  const start = pre.textContent.indexOf(needle);
  if (start < 0) { throw new Error('not in the ad: ' + needle); }
  const end = start + needle.length;
  const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let pos = 0, node;
  while ((node = walker.nextNode())) {
    const len = node.textContent.length;
    if (pos <= start && start <= pos + len) { range.setStart(node, start - pos); }
    if (pos <= end && end <= pos + len) { range.setEnd(node, end - pos); break; }
    pos += len;
  }
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}"""


def draft_of(ad_id: str):
    """The sample gold coding of `ad_id`, changed as a model might have drafted it."""
    text = (REPO / "raw" / f"{ad_id}.txt").read_text(encoding="utf-8")
    gold = ground(read_coding_file(REPO / "gold" / f"{ad_id}.md", BOOK), text)
    quotes = [q.model_copy() for q in gold.quotes[:-1]]
    quotes[0] = quotes[0].model_copy(
        update={"category": "3.5" if quotes[0].category != "3.5" else "3.4"}
    )
    profile = "Not Relevant" if ad_id == SAMPLE_IDS[0] else gold.profile
    return gold.model_copy(
        update={"quotes": quotes, "profile": profile, "provenance": Provenance(model="test-model")}
    )


def write_project(root: Path, ids: list[str] = SAMPLE_IDS, extra_ads: dict | None = None) -> dict:
    """ads/, drafts/codings.jsonl and an empty gold/ under `root`."""
    ads, drafts, gold = root / "ads", root / "drafts", root / "gold"
    for folder in (ads, drafts, gold):
        folder.mkdir(parents=True, exist_ok=True)
    for ad_id in ids:
        shutil.copy(REPO / "raw" / f"{ad_id}.txt", ads / f"{ad_id}.txt")
    lines = [json.dumps(draft_of(i).model_dump(mode="json")) for i in ids]
    for ad_id, (text, coding) in (extra_ads or {}).items():
        (ads / f"{ad_id}.txt").write_text(text, encoding="utf-8")
        lines.append(json.dumps(coding.model_dump(mode="json")))
    (drafts / "codings.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"ads": ads, "drafts": drafts, "gold": gold}


def serve_process(project, port: int = 0, *extra: str) -> tuple[subprocess.Popen, str]:
    """`autocode review --serve` as its own process, and the URL it prints first."""
    args = [sys.executable, "-m", "pipeline.cli", "review", str(project["drafts"])]
    args += ["--ads", str(project["ads"]), "--gold", str(project["gold"]), "--serve"]
    args += ["--no-browser", "--port", str(port), "--coder", "ana", *extra]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


@dataclass
class Editor:
    base: str
    token: str
    gold: Path
    port: int

    def url(self, path: str = "/", token: bool = True) -> str:
        sep = "&" if "?" in path else "?"
        return self.base + path + (f"{sep}token={self.token}" if token else "")

    def request(self, method: str, path: str, body=None, headers=None, token=True):
        """(status, headers, parsed JSON or text) of one request."""
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        all_headers = {"Content-Type": "application/json"} | (headers or {})
        if token:
            all_headers.setdefault("X-Autocode-Token", self.token)
        req = urllib.request.Request(self.base + path, data, all_headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.headers, _decoded(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, _decoded(exc.read())


def _decoded(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


@contextmanager
def served(project: dict, coder: str = "ana", blind: bool = False, queue=None):
    """The editor over `project`, on a free loopback port, until the block ends."""
    selection = Selection(queue) if queue is not None else None
    inp = load_review(project["drafts"], project["ads"], project["gold"], BOOK, None, selection)
    session = make_session(inp, BOOK, Workspace(project["gold"], BOOK, coder, blind), queue)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    token = new_token()
    app = make_app(session, token, allowed_hosts("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield Editor(f"http://127.0.0.1:{port}", token, project["gold"], port)
    finally:
        server.should_exit = True
        thread.join(10)
