"""`autocode stats` counts in DuckDB: every table equals, digit for digit, what the per-ad
Python loops it replaced computed (`stats_reference`), on synthetic corpora built here (three
kinds of coding set, an ads table with missing, blank, numeric and dated values, validation,
a validation sample) and, where the shared data is present, on the 1,272-ad corpus coded by
the simulated server; DuckDB's reading and Python's fallback give the same rows; bad input
is still one message naming the file and line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import stats_reference as reference
from autocode_run import code_argv, env_for

from pipeline.codings.load import load_codings
from pipeline.errors import InputError
from pipeline.evaluation.render import write_json
from pipeline.evaluation.scores import evaluate
from pipeline.goldmd.render import render
from pipeline.record import Coding, Quote
from pipeline.stats import adstable, corpus
from pipeline.stats.draw import draw_sample
from pipeline.stats.inputs import Inference, load_stats_input, read_validation
from pipeline.stats.report import build_report
from pipeline.stats.sample_files import read_sample

TOOLS = [
    "PyTorch",
    "pytorch",
    "Py  Torch",
    " PyTorch ",
    "scikit-learn",
    "Scikit Learn",
    "C++",
    "C#",
    "C",
    "AWS (cloud)",
    "AWS",
    "LangChain",
    "langchain",
    "Docker",
    "Ünïcode Tool",
]
INDUSTRIES = ["ICT", " ICT ", "Finance", "", "   ", None, 12, 3.5, True, "Zorg"]


def _record(rng: random.Random, ad_id: str, book) -> dict:
    quotes, tools = book.ids_of_kind("quotes"), book.ids_of_kind("tools")
    record = {
        "ad_id": ad_id,
        "title": f"Engineer {ad_id}",
        "profile": rng.choice([*book.profile_names, None, None, ""]),
        "quotes": [
            {"category": rng.choice(quotes), "text": f"passage {ad_id} {k}"}
            for k in range(rng.choice([0, 1, 2, 3, 5, 8]))
        ],
        "tools": [
            {"category": rng.choice(tools[:3]), "name": rng.choice(TOOLS)}
            for _ in range(rng.choice([0, 1, 2, 4]))
        ],
    }
    if rng.random() < 0.6:
        record["provenance"] = {"model": rng.choice(["model-a", "model-b"])}
    return record


def _ads_row(rng: random.Random, ad_id: str) -> dict:
    row = {"id": ad_id, "title": "t", "description": "d"}
    if rng.random() < 0.9:
        row["industry"] = rng.choice(INDUSTRIES)
    if rng.random() < 0.85:
        row["date_found"] = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    row["organisation"] = rng.choice(["Acme", "Beta", "Gamma", "Delta", "Epsilon"])
    return row


def write_corpus(folder: Path, book, n: int = 240, seed: int = 3) -> dict:
    """Three coding sets (an OUT folder, a .jsonl with CRLF endings, a folder of Markdown),
    an ads table, and an eval report; {"sources": [...], "ads": path, "eval": path}."""
    rng = random.Random(seed)
    records = [_record(rng, f"ad{i}", book) for i in range(n)]
    run, more, hand = folder / "run", folder / "more.jsonl", folder / "hand"
    run.mkdir(parents=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in records[: n // 2]]
    (run / "codings.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    failures = [{"ad_id": "gone"}, {"ad_id": "ad0"}, {"reason": "no id"}, {"ad_id": 7}]
    (run / "failures.jsonl").write_text("".join(json.dumps(f) + "\n" for f in failures))
    manifest = {"codebook": {"name": book.name, "version": book.version, "sha256": book.sha256}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    crlf = [json.dumps(r) for r in records[n // 2 : 3 * n // 4]]
    more.write_bytes(("\r\n".join(crlf[:5]) + "\r\n\r\n" + "\r\n".join(crlf[5:])).encode())
    hand.mkdir()
    for record in records[3 * n // 4 :]:
        coding = Coding.model_validate({**record, "provenance": None})
        (hand / f"{coding.ad_id}.md").write_text(render(coding, book), encoding="utf-8")
    rows = [_ads_row(rng, r["ad_id"]) for r in records if rng.random() < 0.9]
    rows += [_ads_row(rng, f"uncoded{i}") for i in range(5)]
    ads = folder / "ads.jsonl"
    ads.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return {"sources": [run, more, hand], "ads": ads, "eval": _eval(folder / "eval.json", book)}


def _eval(path: Path, book) -> Path:
    a, b = book.ids_of_kind("quotes")[:2]

    def coding(i: int, cats: list[str]) -> Coding:
        return Coding(ad_id=f"v{i}", quotes=[Quote(category=c, text="x") for c in cats])

    gold = [coding(i, [a] if i < 5 else [b]) for i in range(10)]
    pred = [coding(i, [a] if i < 4 else [b, a]) for i in range(10)]
    write_json(evaluate(gold, pred, book), path)
    return path


def _ads_rows(path: Path, id_field: str = "id") -> dict[str, dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {str(r[id_field]): r for r in (json.loads(x) for x in lines if x.strip())}


def _held(sources: list[Path], book) -> list[Coding]:
    return [c for s in sources for c in load_codings(s, book, prefer_records=True)]


def _tables(inp) -> dict[str, str]:
    try:
        report = build_report(inp)
    finally:
        inp.corpus.close()
    return {t.name: json.dumps(t.rows) for t in report.tables}


def _expected(book, sources, **kwargs) -> dict[str, str]:
    return {
        k: json.dumps(v) for k, v in reference.tables(_held(sources, book), book, **kwargs).items()
    }


def assert_same_tables(got: dict[str, str], want: dict[str, str]) -> None:
    assert set(got) == set(want)
    for name in want:
        assert got[name] == want[name], name


BY = [("industry", None), ("date_found", "month"), ("organisation", None)]


@pytest.fixture(params=["codebook", "later_codebook"], ids=["default", "later"])
def book(request):
    return request.getfixturevalue(request.param)


def test_every_table_equals_the_python_reference(tmp_path, book):
    data = write_corpus(tmp_path, book)
    inp = load_stats_input(
        data["sources"],
        book,
        "x",
        data["ads"],
        by=["industry", "date_found:month", "organisation"],
        validated=data["eval"],
        top=7,
    )
    want = _expected(
        book,
        data["sources"],
        top=7,
        rows=_ads_rows(data["ads"]),
        by=BY,
        validation=read_validation(data["eval"], book),
    )
    assert_same_tables(_tables(inp), want)


def test_python_reading_gives_the_same_tables_as_duckdb(tmp_path, book, monkeypatch):
    data = write_corpus(tmp_path, book, n=120, seed=8)
    args = (data["sources"], book, "x", data["ads"])
    fast = _tables(load_stats_input(*args, by=["industry", "date_found:year"]))
    monkeypatch.setattr(corpus.Corpus, "_stage_fast", lambda self, path: False)
    monkeypatch.setattr(adstable, "_read_fast", lambda *a: None)
    assert _tables(load_stats_input(*args, by=["industry", "date_found:year"])) == fast


def test_a_csv_ads_table_and_a_table_with_numeric_ids(tmp_path, codebook):
    data = write_corpus(tmp_path, codebook, n=80, seed=5)
    rows = list(_ads_rows(data["ads"]).values())
    columns = ["id", "industry", "date_found", "organisation"]
    csv_path = tmp_path / "ads.csv"
    lines = [",".join(columns)] + [
        ",".join(json.dumps(str(r.get(c, "")) if r.get(c) is not None else "") for c in columns)
        for r in rows
    ]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inp = load_stats_input(data["sources"], codebook, "x", csv_path, by=["industry"])
    import csv as csv_module

    with csv_path.open(encoding="utf-8") as handle:
        table = {r["id"]: r for r in csv_module.DictReader(handle)}
    want = _expected(codebook, data["sources"], rows=table, by=[("industry", None)])
    assert_same_tables(_tables(inp), want)


@pytest.mark.parametrize(
    ("design", "finite", "cluster", "by"),
    [
        ("srs", False, None, ["industry"]),
        ("stratified:organisation", True, None, ["date_found:year"]),
        ("srs", False, "organisation", []),
    ],
    ids=["srs-by", "stratified-finite", "cluster"],
)
def test_inference_tables_equal_the_python_reference(
    tmp_path, codebook, design, finite, cluster, by
):
    data = write_corpus(tmp_path, codebook, n=300, seed=11)
    sample = draw_sample(data["sources"], codebook, 80, tmp_path / "v", design, 4, data["ads"])
    drawn = read_sample(sample)
    gold = tmp_path / "gold"
    gold.mkdir()
    held = {c.ad_id: c for c in _held(data["sources"], codebook)}
    rng = random.Random(2)
    for ad_id in drawn.ad_ids[2:]:  # two sampled ads never coded by hand
        coding = held[ad_id]
        quotes = [q for q in coding.quotes if rng.random() < 0.7]
        extra = [Quote(category=rng.choice(codebook.ids_of_kind("quotes")), text="added")]
        human = coding.model_copy(update={"quotes": quotes + extra, "provenance": None})
        (gold / f"{ad_id}.md").write_text(render(human, codebook), encoding="utf-8")
    inference = Inference(gold, sample, finite, cluster)
    inp = load_stats_input(data["sources"], codebook, "x", data["ads"], by=by, inference=inference)
    parsed = [adstable.parse_by(spec) for spec in by]
    gold_codings = {c.ad_id: c for c in load_codings(gold, codebook)}
    want = _expected(
        codebook,
        data["sources"],
        rows=_ads_rows(data["ads"]),
        by=[(b.column, b.period) for b in parsed],
        inference_args=(drawn, gold_codings, finite, cluster),
    )
    assert_same_tables(_tables(inp), want)


# ------------------------------------------------------------------ bad input


def _run_with(tmp_path: Path, line: str, after: int = 1) -> Path:
    """A run of ads a0, a1, a2, then `line`, then a0 again (`after` 1) or nothing."""
    run = tmp_path / "run"
    run.mkdir()
    good = [json.dumps({"ad_id": f"a{i}", "quotes": [], "tools": []}) for i in range(3)]
    (run / "codings.jsonl").write_text("\n".join([*good, line, *good[:after]]) + "\n")
    return run


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"ad_id": "a1", "quotes": []}', "codings.jsonl:4: ad 'a1' again (first on line 2)"),
        ('{"ad_id": "b", "quotes": [{"category": "9.Z", "text": "x"}]}', ":4: category '9.Z'"),
        ('{"ad_id": "b", "profile": "Astronaut"}', ":4: profile 'Astronaut' is not in"),
        ('{"ad_id": "b", "quotes": [{"category": "1.A.1", "text": ""}]}', ":4: quotes.0.text"),
        ('{"ad_id": "b"', "codings.jsonl:4: (record): Invalid JSON"),
        ('{"quotes": []}', "codings.jsonl:4: ad_id: Field required"),
        ('{"ad_id": 7}', "codings.jsonl:4: ad_id: Input should be a valid string"),
    ],
    ids=["repeated", "category", "profile", "empty-text", "bad-json", "no-id", "number-id"],
)
def test_a_bad_record_is_named_with_its_line(tmp_path, codebook, line, message):
    run = _run_with(tmp_path, line)
    with pytest.raises(InputError) as caught:
        load_stats_input([run], codebook, "x")
    assert message in str(caught.value)


def _table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ads.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "by", "message"),
    [
        ('{"id": "a0"}\n{"id": "a0"}\n', [], "ads.jsonl:2: ad 'a0' again (first on line 1)"),
        ('{"id": "a0"}\n{"title": "x"}\n', [], "ads.jsonl:2: no 'id'"),
        ('{"id": "a0"}\n[1]\n', [], "ads.jsonl:2: not a JSON object"),
        ('{"id": "a0", "x": 1}\n', ["sector"], "no column 'sector' for --by (columns: id, x)"),
        ('{"id": "a9"}\n{"id": "a1", "d": "soon"}\n', ["d:month"], "ads.jsonl:2: d 'soon' is not"),
        ('{"id": "a9", "d": "soon"}\n{"id": "a1"}\n', ["d:month"], None),
    ],
    ids=["repeated", "no-id", "not-object", "no-column", "bad-date", "bad-date-not-coded"],
)
def test_a_bad_ads_table_is_named_with_its_line(tmp_path, codebook, text, by, message):
    run = _run_with(tmp_path, json.dumps({"ad_id": "b"}), after=0)
    if message is None:  # a bad date of an ad not coded is no error, as before
        _tables(load_stats_input([run], codebook, "x", _table(tmp_path, text), by=by))
        return
    with pytest.raises(InputError) as caught:
        _tables(load_stats_input([run], codebook, "x", _table(tmp_path, text), by=by))
    assert message in str(caught.value)


# ------------------------------------------------------------------ the real corpus


@pytest.fixture(scope="module")
def coded_corpus(tmp_path_factory, shared_jobads):
    """The 1,272 ads coded by the simulated server, as `autocode code` writes them."""
    import subprocess

    from tests.servers.simserver import SimServer

    work = tmp_path_factory.mktemp("coded")
    with SimServer() as server:
        argv = code_argv(shared_jobads / "ads.jsonl", "--out", work / "out", "--cache", work / "c")
        done = subprocess.run(argv, env=env_for(server.url), capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return work / "out"


def test_the_coded_corpus_equals_the_python_reference(
    coded_corpus, shared_jobads, codebook, tmp_path
):
    ads = shared_jobads / "ads.jsonl"
    evaluation = _eval(tmp_path / "eval.json", codebook)
    specs = ["industry", "date_found:month", "location"]
    inp = load_stats_input(
        [coded_corpus], codebook, "x", ads, by=specs, validated=evaluation, top=20
    )
    want = _expected(
        codebook,
        [coded_corpus],
        rows=_ads_rows(ads),
        by=[("industry", None), ("date_found", "month"), ("location", None)],
        validation=read_validation(evaluation, codebook),
    )
    assert_same_tables(_tables(inp), want)
