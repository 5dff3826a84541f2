"""The editor's JSON API over real HTTP (uvicorn): listing, reading, saving through accept's
checks, conflicts, work in progress, blind mode, the queue, and every refusal."""

from __future__ import annotations

import json
import signal
import socket
import urllib.parse
import urllib.request

import pytest

from pipeline.goldmd.parse import read_coding_file
from pipeline.grounding import ground
from pipeline.review.server import MAX_BODY
from pipeline.review.workspace import read_queue
from tests.editor_fixtures import BOOK, REPO, SAMPLE_IDS, serve_process, served, write_project

AD = SAMPLE_IDS[0]


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path)


def corrected(draft: dict) -> dict:
    """What a coder sends back: the draft minus its first quote, profile set, a tool added."""
    body = {k: draft[k] for k in ("ad_id", "profile", "reasoning", "quotes", "tools")}
    body["quotes"] = [{k: q[k] for k in ("category", "text", "note")} for q in draft["quotes"][1:]]
    body["profile"] = "Core GenAI Engineer"
    body["tools"] = [*draft["tools"], {"category": "2.1", "name": "Rust", "note": None}]
    return body


def test_listing_pages_the_queue_with_status_and_progress(project):
    with served(project) as editor:
        status, _, data = editor.request("GET", "/api/ads?limit=2&offset=1")
    assert status == 200
    assert [i["id"] for i in data["items"]] == SAMPLE_IDS[1:3]
    assert data["total"] == len(SAMPLE_IDS) and data["saved"] == 0
    assert {i["status"] for i in data["items"]} == {"not started"}
    assert data["items"][0]["position"] == 2


def test_an_ad_comes_with_its_text_draft_no_gold_and_an_etag(project):
    with served(project) as editor:
        status, headers, data = editor.request("GET", f"/api/ads/{AD}")
    assert status == 200 and headers["ETag"] == '"absent"'
    assert data["text"] == (REPO / "raw" / f"{AD}.txt").read_text(encoding="utf-8")
    assert data["draft"]["profile"] == "Not Relevant" and data["gold"] is None
    assert data["draft"]["quotes"][0]["span"] is not None
    assert (data["prev"], data["next"]) == (None, SAMPLE_IDS[1])


def test_a_save_writes_gold_that_accept_would_write_and_logs_what_changed(project):
    with served(project, coder="ana") as editor:
        _, headers, data = editor.request("GET", f"/api/ads/{AD}")
        body = corrected(data["draft"])
        extra = {"If-Match": headers["ETag"], "X-Autocode-Seconds": "95"}
        status, saved_headers, saved = editor.request("PUT", f"/api/ads/{AD}", body, extra)
        assert status == 200, saved
        _, _, listed = editor.request("GET", "/api/ads")
    path = project["gold"] / f"{AD}.md"
    gold = read_coding_file(path, BOOK, strict=True)  # parses as accept requires
    text = (project["ads"] / f"{AD}.txt").read_text(encoding="utf-8")
    assert all(q.grounding != "not_found" for q in ground(gold, text).quotes)
    assert gold.profile == "Core GenAI Engineer" and "Rust" in [t.name for t in gold.tools]
    assert len(gold.quotes) == len(data["draft"]["quotes"]) - 1
    assert "corrected by ana from a draft by test-model" in path.read_text()
    assert saved_headers["ETag"] not in ('"absent"', headers["ETag"])
    assert saved["profile"] == "Core GenAI Engineer"
    log = [json.loads(line) for line in (project["gold"] / "corrections.jsonl").open()]
    assert len(log) == 1 and log[0]["coder"] == "ana" and log[0]["seconds"] == 95.0
    assert [q["action"] for q in log[0]["quotes"]][0] == "deleted"
    assert log[0]["tools"]["added"] == [{"category": "2.1", "name": "Rust"}]
    assert log[0]["profile"] == {"from": "Not Relevant", "to": "Core GenAI Engineer"}
    assert listed["saved"] == 1 and listed["by_coder"] == {"ana": 1}
    assert listed["items"][0]["status"] == "saved" and listed["items"][0]["coder"] == "ana"


def test_a_stale_etag_is_a_conflict_and_writes_nothing(project):
    with served(project) as editor:
        _, headers, data = editor.request("GET", f"/api/ads/{AD}")
        etag = {"If-Match": headers["ETag"]}
        assert editor.request("PUT", f"/api/ads/{AD}", corrected(data["draft"]), etag)[0] == 200
        before = (project["gold"] / f"{AD}.md").read_bytes()
        body = corrected(data["draft"]) | {"profile": "Software Engineer"}
        status, _, answer = editor.request("PUT", f"/api/ads/{AD}", body, etag)
    assert status == 409
    assert "changed on disk since this page loaded" in answer["problems"][0]
    assert (project["gold"] / f"{AD}.md").read_bytes() == before


def test_problems_are_listed_by_field_and_nothing_is_written(project):
    with served(project) as editor:
        _, headers, data = editor.request("GET", f"/api/ads/{AD}")
        body = corrected(data["draft"])
        body["profile"] = "Astronaut"
        body["quotes"][0]["category"] = "9.9"
        body["quotes"][1]["text"] = "a sentence that is nowhere in this ad"
        body["tools"][0]["category"] = "1.A.1"
        status, _, answer = editor.request(
            "PUT", f"/api/ads/{AD}", body, {"If-Match": headers["ETag"]}
        )
        missing = editor.request("PUT", f"/api/ads/{AD}", corrected(data["draft"]))
        not_json = editor.request("PUT", f"/api/ads/{AD}", b"{oops", {"If-Match": '"absent"'})
    assert status == 422
    assert answer["problems"] == [
        "profile: 'Astronaut' is not a profile of the codebook",
        "quotes[0].category: '9.9' is not a quote category",
        "tools[0].category: '1.A.1' is not a tool category",
        "quotes[1].text: not found in the ad: 'a sentence that is nowhere in this ad'",
    ]
    assert missing[0] == 428 and "If-Match" in missing[2]["problems"][0]
    assert not_json[0] == 422
    assert not (project["gold"] / f"{AD}.md").exists()
    assert not (project["gold"] / "corrections.jsonl").exists()


def test_work_in_progress_is_kept_until_the_save(project):
    with served(project) as editor:
        wip = {"state": {"profile": "Software Engineer"}, "seconds": 12}
        assert editor.request("PUT", f"/api/ads/{AD}/wip", wip)[0] == 200
        _, headers, data = editor.request("GET", f"/api/ads/{AD}")
        assert data["wip"]["state"] == wip["state"] and data["wip"]["seconds"] == 12
        assert data["status"] == "in progress"
        editor.request(
            "PUT", f"/api/ads/{AD}", corrected(data["draft"]), {"If-Match": headers["ETag"]}
        )
        _, _, after = editor.request("GET", f"/api/ads/{AD}")
    assert after["wip"] is None and after["status"] == "saved"
    assert after["gold"]["profile"] == "Core GenAI Engineer"


def test_blind_mode_sends_no_draft_and_no_gold_and_says_so_in_the_file_and_log(project):
    (project["gold"] / f"{SAMPLE_IDS[1]}.md").write_text(
        (REPO / "gold" / f"{SAMPLE_IDS[1]}.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with served(project, coder="bo", blind=True) as editor:
        _, _, listed = editor.request("GET", "/api/ads")
        _, headers, data = editor.request("GET", f"/api/ads/{SAMPLE_IDS[1]}")
        assert data["draft"] is None and data["gold"] is None and data["blind"] is True
        assert all(i["agreement"] is None for i in listed["items"])
        _, headers, data = editor.request("GET", f"/api/ads/{AD}")
        body = {"profile": "Software Engineer", "quotes": [], "tools": []}
        text = data["text"]
        body["quotes"] = [{"category": "1.A.1", "text": text.splitlines()[0]}]
        status, _, _ = editor.request("PUT", f"/api/ads/{AD}", body, {"If-Match": headers["ETag"]})
    assert status == 200
    assert "coded blind by bo" in (project["gold"] / f"{AD}.md").read_text()
    log = json.loads((project["gold"] / "corrections.jsonl").read_text())
    assert log["blind"] is True and log["quotes"] == [] and len(log["quotes_added"]) == 1


def test_the_queue_file_orders_the_ads_and_unknown_ids_are_named(project, tmp_path):
    queue = tmp_path / "sample.csv"
    queue.write_text(f"ad_id,stratum\n{SAMPLE_IDS[2]},a\nnope_1,a\n{SAMPLE_IDS[0]},b\n")
    assert read_queue(queue) == [SAMPLE_IDS[2], "nope_1", SAMPLE_IDS[0]]
    plain = tmp_path / "ids.txt"
    plain.write_text(f"# to code first\n{SAMPLE_IDS[1]}\n\n{SAMPLE_IDS[0]}\n")
    assert read_queue(plain) == [SAMPLE_IDS[1], SAMPLE_IDS[0]]
    with served(project, queue=read_queue(queue)) as editor:
        _, _, listed = editor.request("GET", "/api/ads")
        assert editor.request("GET", f"/api/ads/{SAMPLE_IDS[1]}")[0] == 404
    assert [i["id"] for i in listed["items"]] == [SAMPLE_IDS[2], SAMPLE_IDS[0]]


@pytest.mark.parametrize(
    ("path", "headers", "token", "expected"),
    [
        ("/api/ads", {}, False, 403),
        ("/api/ads", {"X-Autocode-Token": "wrong"}, False, 403),
        ("/api/ads", {"Host": "evil.example"}, True, 403),
        ("/api/ads", {"Origin": "http://evil.example"}, True, 403),
        ("/api/ads", {"Sec-Fetch-Site": "cross-site"}, True, 403),
        ("/api/ads/..%2F..%2Fetc%2Fpasswd", {}, True, 404),
        ("/api/ads/.autocode", {}, True, 404),
        ("/api/ads/nope", {}, True, 404),
    ],
    ids=[
        "no-token",
        "wrong-token",
        "foreign-host",
        "foreign-origin",
        "cross-site",
        "traversal",
        "dotfile",
        "unknown",
    ],
)
def test_refusals(project, path, headers, token, expected):
    with served(project) as editor:
        assert editor.request("GET", path, headers=headers, token=token)[0] == expected


def test_own_origin_token_in_the_query_and_the_cookie_it_sets_are_accepted(project):
    with served(project) as editor:
        origin = {"Origin": f"http://127.0.0.1:{editor.port}", "Host": f"localhost:{editor.port}"}
        assert editor.request("GET", "/api/ads", headers=origin)[0] == 200
        status, headers, _ = editor.request("GET", f"/?token={editor.token}", token=False)
        assert status == 200 and "HttpOnly" in headers["Set-Cookie"]
        cookie = {"Cookie": headers["Set-Cookie"].split(";")[0]}
        assert editor.request("GET", "/api/ads", headers=cookie, token=False)[0] == 200
        assert "Content-Security-Policy" in headers


@pytest.mark.parametrize(
    ("extra", "served_ids"),
    [
        (["--limit", "2"], SAMPLE_IDS[:2]),  # no agreement in these drafts: OUT's order
        (["--ids", "ids.txt"], [SAMPLE_IDS[3], SAMPLE_IDS[1]]),
        (["--queue", "ids.txt", "--limit", "1"], [SAMPLE_IDS[3]]),
    ],
    ids=["limit", "ids", "queue-limit"],
)
def test_the_served_editor_takes_ids_limit_and_queue(project, tmp_path, extra, served_ids):
    (tmp_path / "ids.txt").write_text(f"{SAMPLE_IDS[3]}\n{SAMPLE_IDS[1]}\n")
    extra = [str(tmp_path / a) if a == "ids.txt" else a for a in extra]
    proc, url = serve_process(project, 0, *extra)
    try:
        base, token = url.split("/?token=")
        request = urllib.request.Request(f"{base}/api/ads", headers={"X-Autocode-Token": token})
        with urllib.request.urlopen(request, timeout=10) as response:
            listed = json.loads(response.read())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    assert sorted(item["id"] for item in listed["items"]) == sorted(served_ids)
    assert listed["total"] == len(served_ids)


def test_a_body_over_the_limit_is_refused_before_it_is_read(project):
    """Only the headers and the first bytes of a body declared over the limit are sent:
    the answer comes without the rest (a server reading it first would wait to the timeout;
    sending it all races the server closing the connection)."""
    with served(project) as editor:
        host, port = urllib.parse.urlsplit(editor.base).netloc.split(":")
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            head = (
                f"PUT /api/ads/{AD}/wip HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"X-Autocode-Token: {editor.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {MAX_BODY + 10}\r\n\r\n"
            )
            conn.sendall(head.encode() + b'{"x": "' + b"a" * 1000)
            answer = conn.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413")
    assert not (project["gold"] / ".autocode").exists()
