"""Tidy tables (`autocode export --table`): the columns and types the docs promise, read back
by DuckDB and pyarrow; CSV and Parquet holding the same rows (commas, quotes, line breaks
and emoji included); the same counts as `autocode stats`; several coding sets and an ad
without a coding; the ads streamed as `read_ads` reads them; memory that does not grow with
the corpus (for the REFI-QDA export too)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from autocode_run import run_code

from pipeline.ads import TableFields, read_ads
from pipeline.grounding import ground
from pipeline.qdpx.export import write_qdpx
from pipeline.record import Coding
from pipeline.tables import write as table_write
from pipeline.tables.corpus import AdStream
from pipeline.tables.export import write_tables
from pipeline.tables.rows import ENTRY_COLUMNS
from pipeline.tables.sets import open_sets, opened
from tests.servers.simserver import SimServer

duckdb = pytest.importorskip("duckdb")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

# Six ads: one field with a comma, a quote and a line break, accents and emoji, an integer,
# a boolean and a date column; the last is coded by no set.
ADS = [
    {
        "id": "a1",
        "title": "Machine Learning Engineer",
        "description": 'We build "retrieval-augmented" generation systems, pipelines and APIs.\n'
        "You will deploy large language models into production with Python and Docker.",
        "organisation": "Acme, Inc.",
        "industry": "ICT",
        "date_found": "2024-05-01",
        "salary": 5000,
        "remote": True,
        "location": "Amsterdam",
    },
    {
        "id": "a2",
        "title": "Data Engineer 🚀 bij Café Brûlé",
        "description": "Je bouwt betrouwbare datapijplijnen in Python en Apache Airflow.\n"
        "Je werkt samen met het ML-team aan één centraal featureplatform 🤖.",
        "organisation": 'Café "Brûlé" B.V.',
        "industry": "Horeca",
        "date_found": "2024-06-11",
        "salary": None,
        "remote": False,
        "location": 'Utrecht,\n"NL"',
    },
    {
        "id": "a3",
        "title": "AI Product Engineer",
        "description": "You ship 'single' and \"double\" quoted features, commas, and all.\n"
        "Experience with PyTorch and Kubernetes is a plus for this position.",
        "organisation": "Beta",
        "industry": "ICT",
        "date_found": "2024-07-30",
        "salary": 6200,
        "remote": True,
        "location": "Rotterdam",
    },
    *(
        {
            "id": f"a{i}",
            "title": f"Software Engineer {i}",
            "description": "You will design backend services for our customers in Java.\n"
            "Collaborate with product managers on the roadmap every quarter.",
            "organisation": "Gamma",
            "industry": "Finance",
            "date_found": f"2024-0{i}-15",
            "salary": 4000 + i,
            "remote": False,
            "location": "Eindhoven",
        }
        for i in (4, 5, 6)
    ),
]

ANNA_A2 = """\
# Manual Coding Analysis: Job Ad #a2 (Café Brûlé)

- **Assigned Profile:** `Core ML Engineer`
- **Reasoning:** Een data-rol, "zonder" eigen modelbouw, naast het ML-team ✨.

## 1. Job Task Analysis

- **1.B.3. Data Engineering & Management:**
  - "Je bouwt betrouwbare datapijplijnen in Python en Apache Airflow." (pipelines, "ETL")
- **1.A.1. Software Development & Integration:**
  - "Je werkt samen met het ML-team aan één centraal featureplatform 🤖"

## 2. Technology & Tool Analysis

- **2.1. Programming Languages:**
  - `Python`
- **2.3. LLM / Generative Models:**
  - `GenAI models` (generic, not named in the ad)
"""

ANNA_A1 = """\
# Manual Coding Analysis: Job Ad #a1 (Acme, Inc.)

- **Assigned Profile:** `Core GenAI Engineer`

## 1. Job Task Analysis

- **1.B.2. Prompt Engineering & RAG:**
  - "We build "retrieval-augmented" generation systems, pipelines and APIs."
"""

ENTRY_TYPES = {
    "ad_id": "VARCHAR",
    "kind": "VARCHAR",
    "category": "VARCHAR",
    "category_name": "VARCHAR",
    "part": "VARCHAR",
    "group": "VARCHAR",
    "text": "VARCHAR",
    "start": "BIGINT",
    "end": "BIGINT",
    "grounding": "VARCHAR",
    "note": "VARCHAR",
    "support": "BIGINT",
    "model": "VARCHAR",
    "run": "VARCHAR",
}
AD_TYPES = {
    "ad_id": "VARCHAR",
    "coded": "BOOLEAN",
    "profile": "VARCHAR",
    "reasoning": "VARCHAR",
    "part_1": "BIGINT",
    "part_2": "BIGINT",
    "part_3": "BIGINT",
    "model": "VARCHAR",
    "prompt_sha256": "VARCHAR",
    "run": "VARCHAR",
    # the ads table's own columns, in its order, without the id and the description
    "title": "VARCHAR",
    "organisation": "VARCHAR",
    "industry": "VARCHAR",
    "date_found": "DATE",
    "salary": "BIGINT",
    "remote": "BOOLEAN",
    "location": "VARCHAR",
}


def autocode(*args, cwd: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "pipeline.cli", *map(str, args)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)


def ad_text(row: dict) -> str:
    return f"{row['title']}\n\n{row['description']}"


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """ads.jsonl; run/, `autocode code` of the first five ads against the simulated server;
    anna/, a hand coding of two of them; and the tables of both sets in CSV and Parquet."""
    work = tmp_path_factory.mktemp("tables")
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in ADS]
    (work / "ads.jsonl").write_text("".join(lines), encoding="utf-8")
    (work / "anna").mkdir()
    (work / "anna" / "a1.md").write_text(ANNA_A1, encoding="utf-8")
    (work / "anna" / "a2.md").write_text(ANNA_A2, encoding="utf-8")
    with SimServer(latency=0) as server:
        done = run_code(work, server.url, "ads.jsonl", "--model", "sim-model", "--limit", 5)
    assert done.returncode == 0, done.stderr
    for fmt in ("csv", "parquet"):
        done = autocode(
            "export", "out", "--coder", "anna=anna", "--ads", "ads.jsonl",
            "--table", fmt, "--format", fmt, cwd=work,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"{fmt}/ads.{fmt}: 12 rows (6 ads × 2 coding sets, 7 with a coding)" in done.stderr
    return work


def parquet(study: Path, table: str) -> str:
    return f"read_parquet('{study / 'parquet' / f'{table}.parquet'}')"


def rows(sql: str) -> list[tuple]:
    return duckdb.sql(sql).fetchall()


def test_the_tables_have_the_documented_columns_and_types(study):
    entries = pq.read_schema(study / "parquet" / "entries.parquet")
    assert entries.names == [name for name, _ in ENTRY_COLUMNS] == list(ENTRY_TYPES)
    for table, expected in (("entries", ENTRY_TYPES), ("ads", AD_TYPES)):
        described = rows(f"DESCRIBE SELECT * FROM {parquet(study, table)}")
        assert {name: kind for name, kind, *_ in described} == expected
        assert [name for name, *_ in described] == list(expected)
    ads = pq.read_schema(study / "parquet" / "ads.parquet")
    assert (ads.field("date_found").type, ads.field("remote").type) == (pa.date32(), pa.bool_())
    with open(study / "csv" / "entries.csv", encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == list(ENTRY_TYPES)


@pytest.mark.parametrize("table", ["entries", "ads"])
def test_csv_and_parquet_hold_the_same_rows(study, table):
    """Read back by DuckDB with the documented types: every cell alike, the quoting of commas,
    quotes and line breaks and the UTF-8 of emoji surviving the CSV."""
    types = ENTRY_TYPES if table == "entries" else AD_TYPES
    from_csv = rows(
        f"SELECT * FROM read_csv('{study / 'csv' / f'{table}.csv'}', header = true, "
        f"columns = {types!r}) ORDER BY ALL"
    )
    from_parquet = rows(f"SELECT * FROM {parquet(study, table)} ORDER BY ALL")
    assert from_csv == from_parquet and len(from_csv) > 6
    # and as Python's csv module reads it, with pyarrow's reading of the Parquet
    with open(study / "csv" / f"{table}.csv", encoding="utf-8", newline="") as handle:
        by_csv = list(csv.DictReader(handle))
    by_arrow = pq.read_table(study / "parquet" / f"{table}.parquet").to_pylist()
    assert len(by_csv) == len(by_arrow)
    for read, written in zip(by_csv, by_arrow, strict=True):
        assert read == {k: _cell(v) for k, v in written.items()}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_the_ads_own_columns_round_trip(study):
    found = rows(
        f"SELECT organisation, location, salary, date_found FROM {parquet(study, 'ads')} "
        "WHERE ad_id = 'a2' AND run = 'anna'"
    )
    assert [(org, loc, salary, str(day)) for org, loc, salary, day in found] == [
        ('Café "Brûlé" B.V.', 'Utrecht,\n"NL"', None, "2024-06-11")
    ]


def test_an_ad_without_a_coding_has_a_row_per_set_and_no_entries(study):
    ads = rows(
        f"SELECT ad_id, run, coded, profile, part_1, part_2, part_3 FROM {parquet(study, 'ads')} "
        "WHERE NOT coded ORDER BY ad_id, run"
    )
    assert ads == [
        ("a3", "anna", False, None, None, None, None),
        ("a4", "anna", False, None, None, None, None),
        ("a5", "anna", False, None, None, None, None),
        ("a6", "anna", False, None, None, None, None),
        ("a6", "sim-model", False, None, None, None, None),
    ]
    assert rows(f"SELECT count(*) FROM {parquet(study, 'entries')} WHERE ad_id = 'a6'") == [(0,)]


def test_quote_positions_are_code_points_of_the_ad_text(study):
    texts = {row["id"]: ad_text(row) for row in ADS}
    quotes = rows(
        f'SELECT ad_id, text, start, "end", grounding, run FROM {parquet(study, "entries")} '
        "WHERE kind = 'quote'"
    )
    assert {run for *_, run in quotes} == {"sim-model", "anna"}
    for ad_id, text, start, end, grounding, _ in quotes:
        assert grounding == "exact" and texts[ad_id][start:end] == text
    tools = rows(
        f"SELECT count(*), count(start), count(grounding) FROM {parquet(study, 'entries')} "
        "WHERE kind = 'tool'"
    )
    assert tools[0][0] > 0 and tools[0][1:] == (0, 0)
    anna = rows(
        f'SELECT category, note, "group" FROM {parquet(study, "entries")} '
        "WHERE run = 'anna' AND ad_id = 'a2' ORDER BY category"
    )
    assert anna[:2] == [
        ("1.A.1", None, "Macro-Category A: Core Software Engineering"),
        ("1.B.3", 'pipelines, "ETL"', "Macro-Category B: GenAI Specialization"),
    ]
    assert ("2.3", "generic, not named in the ad", None) in anna


def _stats(study: Path, codings: str, out: str) -> dict[str, list[dict]]:
    done = autocode("stats", codings, "--out", out, cwd=study)
    assert done.returncode == 0, done.stderr
    tables = {}
    for name in ("categories", "profiles", "parts"):
        with open(study / out / f"{name}.csv", encoding="utf-8", newline="") as handle:
            tables[name] = list(csv.DictReader(handle))
    return tables


@pytest.mark.parametrize(("codings", "run"), [("out", "sim-model"), ("anna", "anna")])
def test_counts_agree_with_autocode_stats(study, codings, run):
    """Per category the ads coding it and its entries, per profile and per part the ads: as
    `autocode stats` reports them for the same codings."""
    stats = _stats(study, codings, f"stats-{run}")
    entries, ads = parquet(study, "entries"), parquet(study, "ads")
    per_category = rows(
        f"SELECT category, count(DISTINCT ad_id), count(*) FROM {entries} WHERE run = '{run}' "
        "GROUP BY category"
    )
    expected = {
        r["category"]: (int(r["ads"]), int(r["entries"]))
        for r in stats["categories"]
        if int(r["entries"])
    }
    assert {cat: (n_ads, n) for cat, n_ads, n in per_category} == expected
    per_profile = rows(
        f"SELECT profile, count(*) FROM {ads} WHERE run = '{run}' AND profile IS NOT NULL "
        "GROUP BY profile"
    )
    expected = {r["profile"]: int(r["ads"]) for r in stats["profiles"] if int(r["ads"])}
    assert dict(per_profile) == expected
    for part in stats["parts"]:
        column = f"part_{part['part']}"
        found = rows(f"SELECT count(*) FROM {ads} WHERE run = '{run}' AND {column} > 0")
        assert found == [(int(part["ads"]),)], column


def test_bad_requests_are_refused_and_a_failed_export_writes_nothing(study, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "z1.txt").write_text("Another ad\nnot coded here", encoding="utf-8")
    runs = [
        (("out", "--ads", "ads.jsonl"), "give --qdpx FILE, --table DIR or both"),
        (("out", "--ads", "ads.jsonl", "--qdpx", "p.qdpx", "--format", "csv"), "give --table"),
        (
            ("out", "--ads", tmp_path / "other", "--table", tmp_path / "t"),
            "none of the 5 coded ads is among the ads given",
        ),
    ]
    for args, message in runs:
        done = autocode("export", *args, cwd=study)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "t").exists() or not list((tmp_path / "t").iterdir())
    assert not (study / "p.qdpx").exists()


def test_both_exports_in_one_run_tell_the_ads_problems_once(study, tmp_path):
    broken = tmp_path / "ads.jsonl"
    broken.write_text((study / "ads.jsonl").read_text(encoding="utf-8") + "{oops\n", "utf-8")
    done = autocode(
        "export", "out", "--ads", broken, "--qdpx", tmp_path / "p.qdpx",
        "--table", tmp_path / "t", cwd=study,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("not valid JSON") == 1
    assert (tmp_path / "p.qdpx").is_file() and (tmp_path / "t" / "entries.csv").is_file()


# ------------------------------------------------------------------ the ads, streamed

BAD_LINES = [
    '{"id": "x1", "title": "One", "description": "Line one"}',
    "not json",
    "[1, 2]",
    '{"id": "x2", "title": "", "description": ""}',
    '{"id": "x1", "title": "Again", "description": "A repeated id"}',
    '{"id": "x3", "title": "Split", "description": "U+2028 \u2028 inside a string"}',
    '{"id": "x/4", "title": "Slash", "description": "Cannot name a file"}',
    '{"id": "x5", "title": "Five", "description": "Café\\nBrûlé"}',
]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("ads.jsonl", ("\n".join(BAD_LINES) + "\n").encode("utf-8")),
        ("bom.jsonl", b"\xef\xbb\xbf" + "\r\n".join(BAD_LINES).encode("utf-8")),
        ("latin.jsonl", '{"id": "l1", "title": "Café", "description": "été"}\n'.encode("cp1252")),
        ("ads.csv", b'id,title,description\nc1,"Two\nlines","a, b"\nc2,,\nc1,x,y\n'),
        ("short.csv", b"id,title\nc1,t\n"),
    ],
)
def test_the_stream_reads_ads_as_read_ads_does(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    batch = read_ads([tmp_path / name])
    problems: list[str] = []
    streamed = list(AdStream([tmp_path / name], TableFields()).read(problems.append))
    assert [a for a, _ in streamed] == batch.ads
    assert sorted(problems) == sorted(batch.problems)


def test_the_stream_reads_a_folder_and_skips_a_binary_table(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "b.txt").write_text("Second ad\nbody", encoding="utf-8")
    (tmp_path / "raw" / "a.md").write_text("First ad\nbody", encoding="utf-8")
    (tmp_path / "raw" / "empty.txt").write_text(" ", encoding="utf-8")
    problems: list[str] = []
    streamed = [ad for ad, row in AdStream([tmp_path / "raw"]).read(problems.append)]
    batch = read_ads([tmp_path / "raw"])
    assert streamed == batch.ads and problems == batch.problems
    (tmp_path / "bin.jsonl").write_bytes(b"\x00\x01")
    problems.clear()
    assert list(AdStream([tmp_path / "bin.jsonl"]).read(problems.append)) == []
    assert problems == [f"{tmp_path / 'bin.jsonl'}: binary file, not text; file skipped"]


# ------------------------------------------------------------------ bounded memory


def synthetic_corpus(folder: Path, n: int) -> tuple[Path, Path]:
    """n ads in ads.jsonl and their codings (two quotes and a tool each) in codings.jsonl."""
    folder.mkdir()
    ads, codings = [], []
    for i in range(n):
        row = {
            "id": f"ad{i}",
            "title": f"Engineer {i}",
            "description": "We build retrieval systems with Python.\nYou deploy models with "
            f"Docker for client {i}.",
            "industry": ["ICT", "Finance"][i % 2],
        }
        text = ad_text(row)
        quotes = [
            {"category": cat, "text": line}
            for cat, line in zip(("1.B.2", "1.A.2"), text.splitlines()[2:], strict=True)
        ]
        coding = Coding.model_validate(
            {
                "ad_id": row["id"],
                "profile": "Core GenAI Engineer",
                "reasoning": f"Reasoning {i}.",
                "quotes": quotes,
                "tools": [{"category": "2.1", "name": "Python"}],
            }
        )
        ads.append(json.dumps(row) + "\n")
        codings.append(ground(coding, text).model_dump_json() + "\n")
    (folder / "ads.jsonl").write_text("".join(ads), encoding="utf-8")
    (folder / "codings.jsonl").write_text("".join(codings), encoding="utf-8")
    return folder / "ads.jsonl", folder / "codings.jsonl"


def _peak(export) -> int:
    """The most memory Python held while `export` ran (tracemalloc; pyarrow's own buffers
    are not counted, and a Parquet batch is kept small)."""
    tracemalloc.start()
    try:
        export()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("what", ["parquet", "csv", "qdpx"])
def test_memory_grows_with_the_corpus_by_a_small_index_only(what, tmp_path, codebook, monkeypatch):
    """Ten times the ads cost at most 2 kB more per added ad (an ad's offset, its id among the
    ads seen, its source's zip entry); holding the corpus cost some 40 kB an ad."""
    monkeypatch.setattr(table_write, "BATCH_ROWS", 200)
    peaks = []
    for i, n in enumerate((150, 150, 1500)):  # the first warms up (lazy imports, caches)
        ads, codings = synthetic_corpus(tmp_path / f"n{i}", n)

        def export(ads=ads, codings=codings):
            with opened(open_sets([codings], [], codebook)) as sets:
                if what == "qdpx":
                    stream = (ad for ad, _ in AdStream([ads]).read())
                    write_qdpx(tmp_path / "p.qdpx", sets, stream, codebook, "codepoints", "now")
                else:
                    write_tables(tmp_path / "t", what, sets, AdStream([ads]), codebook, print)

        peaks.append(_peak(export))
    assert (peaks[2] - peaks[1]) / 1350 < 2000, peaks
