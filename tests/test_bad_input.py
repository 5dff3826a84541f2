"""Bad input: one clear message naming the file and what is wrong, and the rest of the batch
coded; a broken codebook or gold file stops `autocode code` before any LLM call (status 2).

`autocode code` runs as a subprocess against tests.servers.simserver, so the tests also see what
was sent: no script or style text of an HTML ad, no more of a long ad than --max-ad-chars.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from autocode_run import TRACEBACK, ad_text, assert_clean_out, requests_for, run_code

from pipeline.ads import read_ads
from tests.servers.simserver import SimServer

REPO = Path(__file__).resolve().parents[1]
MAX_AD_CHARS = 3000
LONG_TAIL = "This sentence sits past the cut and never reaches the model."
HTML = """<html><head><title>Data Scientist</title>
<style>.banner { color: red } /* STYLE-TEXT */</style>
<script>var tracker = "SCRIPT-TEXT";</script></head>
<body><h1>Data Scientist at Beta Forecasting [case:html]</h1>
<p>You will build forecasting models with Python and SQL for our retail customers.</p>
<script>document.write("INLINE-SCRIPT-TEXT")</script>
<noscript>NOSCRIPT-TEXT please enable JavaScript</noscript>
<p>You will present your results to the planning team every week.</p></body></html>
"""


def jsonl(*rows: str) -> str:
    return "".join(row + "\n" for row in rows)


def row(ad_id: str, case: str) -> str:
    title, description = ad_text(case).split("\n", 1)
    return json.dumps({"id": ad_id, "title": title, "description": description})


@dataclass
class Bad:
    name: str  # test id
    files: dict[str, str | bytes]  # path under the work folder -> content
    names: str = ""  # the file (and line) the one message names; "" when all is fine
    says: tuple[str, ...] = ()  # what that message says is wrong
    coded: tuple[str, ...] = ()  # ad ids from these files that get coded
    skipped: tuple[str, ...] = field(default=())  # ad ids that must not be coded

    def __str__(self) -> str:
        return self.name


CASES = [
    Bad("empty", {"ads/empty.txt": ""}, "ads/empty.txt", ("empty ad",), (), ("empty",)),
    Bad(
        "whitespace-only",
        {"ads/blank.txt": "  \n\t\n   \n"},
        "ads/blank.txt",
        ("empty ad",),
        (),
        ("blank",),
    ),
    Bad(
        "binary",
        {"ads/logo.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))},
        "ads/logo.txt",
        ("binary file",),
        (),
        ("logo",),
    ),
    Bad(
        "latin-1",
        {
            "ads/zurich.txt": (
                "Ingénieur à Zürich, salaire très élevé\n" + ad_text("latin1")
            ).encode("latin-1")
        },
        "ads/zurich.txt",
        ("not UTF-8", "read as"),
        ("zurich",),
    ),
    Bad(
        "longer-than-the-context",
        {"ads/long.txt": ad_text("long") + "We value curiosity. " * 400 + LONG_TAIL},
        "ads/long.txt",
        ("more than --max-ad-chars 3000", "truncated"),
        ("long",),
    ),
    Bad("html-with-scripts-and-styles", {"ads/page.html": HTML}, "", (), ("page",)),
    Bad(
        "same-id-twice",
        {"ads/twice.md": ad_text("twice-md"), "ads/twice.txt": ad_text("x")},
        "ads/twice.txt",
        ("duplicate ad id 'twice'", "first in ads/twice.md"),
        ("twice",),
    ),
    Bad(
        "csv-without-the-column",
        {"table.csv": "id,title,body\nc1,Engineer,Build things\n"},
        "table.csv",
        ("no column 'description'", "file skipped"),
        (),
        ("c1",),
    ),
    Bad(
        "jsonl-line-not-json",
        {"ads.jsonl": jsonl(row("j1", "j1"), '{"id": "j2", "title": oops', row("j3", "j3"))},
        "ads.jsonl:2",
        ("not valid JSON", "line skipped"),
        ("j1", "j3"),
        ("j2",),
    ),
    Bad(
        "id-that-is-a-path",
        {"ids.jsonl": jsonl(row("../escaped", "esc"), row("k1", "k1"))},
        "ids.jsonl:1",
        ("cannot name a draft file",),
        ("k1",),
        ("../escaped",),
    ),
    Bad(
        "brackets-in-a-file-name", {"ads/[old] empty.txt": ""}, "ads/[old] empty.txt", ("empty ad",)
    ),
    Bad(
        "good-ads",
        {"ads/good1.txt": ad_text("good1"), "ads/good2.md": ad_text("good2")},
        "",
        (),
        ("good1", "good2"),
    ),
]
INPUTS = ("ads", "table.csv", "ads.jsonl", "ids.jsonl")


@pytest.fixture(scope="module")
def bad_batch(tmp_path_factory):
    """One run over every case's files together, as a researcher's messy folder would be."""
    work = tmp_path_factory.mktemp("bad")
    for case in CASES:
        for name, content in case.files.items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
    with SimServer() as server:
        result = run_code(work, server.url, *INPUTS, "--max-ad-chars", MAX_AD_CHARS)
    return result, server, work


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_is_named_once_and_the_rest_is_coded(bad_batch, case):
    result, _, work = bad_batch
    messages = [line for line in result.stderr.splitlines() if line.startswith("autocode:")]
    if case.names:
        naming = [m for m in messages if f" {case.names}:" in m]
        assert len(naming) == 1, messages
        for words in case.says:
            assert words in naming[0]
    records = result.records()
    for ad_id in case.coded:
        assert ad_id in records and (result.out / f"{ad_id}.md").exists()
    for ad_id in case.skipped:
        assert ad_id not in records
    assert not (work / "escaped.md").exists()  # nothing written outside OUT


def test_the_batch_run_ends_cleanly(bad_batch):
    result, server, work = bad_batch
    assert result.returncode == 0, result.stderr
    assert TRACEBACK not in result.stderr
    coded = {ad_id for case in CASES for ad_id in case.coded}
    assert set(result.records()) == coded and result.failures() == {}
    assert len(server.requests) == len(coded)  # skipped input costs no call
    problems = result.manifest()["input_problems"]
    assert len(problems) == sum(1 for case in CASES if case.names)
    texts = {ad.id: ad.text for ad in read_ads([work / name for name in INPUTS]).ads}
    assert_clean_out(result.out, texts)


def test_latin1_ad_is_coded_with_a_warning_in_its_record(bad_batch):
    result, _, _ = bad_batch
    record = result.records()["zurich"]
    assert any("not UTF-8" in w for w in record["warnings"])
    assert any("Zürich" in q["text"] for q in record["quotes"])  # decoded, not mangled


def test_long_ad_is_truncated_with_a_warning_in_its_record(bad_batch):
    result, server, _ = bad_batch
    record = result.records()["long"]
    assert [w for w in record["warnings"] if "truncated" in w and str(MAX_AD_CHARS) in w]
    (sent,) = requests_for(server, "long")
    assert LONG_TAIL not in json.dumps(sent)
    assert MAX_AD_CHARS <= len(sent["messages"][-1]["content"]) < MAX_AD_CHARS + 200
    assert record["quotes"] and all(q["span"][1] <= MAX_AD_CHARS for q in record["quotes"])


def test_html_ad_is_sent_without_its_scripts_and_styles(bad_batch):
    _, server, _ = bad_batch
    (sent,) = requests_for(server, "html")
    ad = sent["messages"][-1]["content"]
    assert "forecasting models with Python and SQL" in ad and "planning team" in ad
    for hidden in ("SCRIPT-TEXT", "STYLE-TEXT", "NOSCRIPT-TEXT", "tracker", "<p>", "color: red"):
        assert hidden not in ad


def test_duplicate_id_codes_the_first_file_only(bad_batch):
    result, _, _ = bad_batch
    assert result.records()["twice"]["title"].endswith("[case:twice-md]")


# ------------------------------------------------------------------ stops before any call

GOLD = REPO / "gold" / "101_lumenpath_genai.md"


def broken_gold(work: Path, content: bytes) -> list:
    (work / "gold").mkdir()
    (work / "gold" / GOLD.name).write_bytes(content)
    return ["--examples", 1, "--examples-gold", "gold", "--examples-ads", REPO / "raw"]


def broken_codebook(work: Path, content: str) -> list:
    (work / "book.yaml").write_text(content, encoding="utf-8")
    return ["--codebook", "book.yaml"]


STOPS = [
    pytest.param(
        lambda w: broken_codebook(w, "name: x\nprofiles: [unclosed\n"),
        ("book.yaml:", "YAML syntax error"),
        id="codebook-yaml-syntax",
    ),
    pytest.param(
        lambda w: broken_codebook(w, "name: Only a name\nversion: '1'\n"),
        ("book.yaml:", "missing field"),
        id="codebook-missing-fields",
    ),
    pytest.param(
        lambda w: broken_gold(w, GOLD.read_bytes().replace(b"1.A.2.", b"1.Z.9.")),
        (f"gold/{GOLD.name}:", "'1.Z.9' is not in the codebook"),
        id="gold-unknown-id",
    ),
    pytest.param(
        lambda w: broken_gold(
            w, GOLD.read_text(encoding="utf-8").replace("Lumenpath", "Lümenpath").encode("latin-1")
        ),
        (f"gold/{GOLD.name}:", "not UTF-8"),
        id="gold-not-utf8",
    ),
]


@pytest.mark.parametrize(("breaks", "says"), STOPS)
def test_broken_codebook_or_gold_stops_before_any_llm_call(tmp_path, breaks, says):
    (tmp_path / "ads").mkdir()
    (tmp_path / "ads" / "a1.txt").write_text(ad_text("a1"), encoding="utf-8")
    args = breaks(tmp_path)
    with SimServer() as server:
        result = run_code(tmp_path, server.url, "ads", *args)
    assert result.returncode == 2
    assert server.requests == []
    assert TRACEBACK not in result.stderr
    message = [line for line in result.stderr.splitlines() if line.startswith("autocode:")]
    assert message and all(words in message[0] for words in says), result.stderr
    assert not result.out.exists()
