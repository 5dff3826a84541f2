"""`autocode stats` end to end: the files it writes agree with each other, bad input gets one
clear message, and the page opens from disk in a real headless Chromium with every chart."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import watched_page
from stats_corpus import corpus

from pipeline.cli import main
from pipeline.evaluation.render import write_json
from pipeline.evaluation.scores import evaluate
from pipeline.record import Coding, Quote, Tool

REPO = Path(__file__).resolve().parents[1]
LATER = REPO / "tests" / "fixtures" / "codebook_later.yaml"
EVIL_TOOL = '<img src=x onerror="window.__pwned = 1">'
ADS = [  # id, industry, date_found; ad5 failed and was never coded
    ("ad1", "ICT", "2024-01-05"),
    ("ad2", "ICT", "2024-02-10"),
    ("ad3", "Finance", "2024-01-20"),
    ("ad4", "", "2024-02-01"),
    ("ad5", "Finance", "2024-03-01"),
]


@pytest.fixture(params=[None, LATER], ids=["default", "later"])
def codebook_args(request) -> list[str]:
    return ["--codebook", str(request.param)] if request.param else []


@pytest.fixture
def book(codebook_args, codebook, later_codebook):
    return later_codebook if codebook_args else codebook


def write_run(folder: Path, book, codings: list[Coding]) -> Path:
    """An OUT folder as `autocode code` leaves it: records, one failure, a manifest."""
    folder.mkdir(parents=True)
    lines = [c.model_dump_json() + "\n" for c in codings]
    (folder / "codings.jsonl").write_text("".join(lines), encoding="utf-8")
    failure = {"ad_id": "ad5", "source": "ads.jsonl:5", "reason": "unparsable response"}
    (folder / "failures.jsonl").write_text(json.dumps(failure) + "\n", encoding="utf-8")
    manifest = {
        "model": "test-model",
        "status": "complete",
        "codebook": {"name": book.name, "version": book.version, "sha256": book.sha256},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def write_ads(path: Path) -> Path:
    rows = [
        {"id": i, "industry": ind, "date_found": d, "title": "t", "description": "d"}
        for i, ind, d in ADS
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_eval(path: Path, book) -> Path:
    """An `autocode eval --json` report: the first category found in 4 of 5 gold ads."""
    a, b = book.ids_of_kind("quotes")[:2]

    def coding(i: int, cats: list[str]) -> Coding:
        return Coding(ad_id=f"v{i}", quotes=[Quote(category=c, text="x") for c in cats])

    gold = [coding(i, [a] if i < 5 else [b]) for i in range(10)]
    pred = [coding(i, [a] if i < 4 else [b]) for i in range(10)]
    write_json(evaluate(gold, pred, book), path)
    return path


@pytest.fixture
def run(tmp_path, book, codebook_args):
    """`autocode stats` over a run folder, with ads table, two breakdowns and validation."""
    codings = corpus(book)
    t0 = book.ids_of_kind("tools")[0]
    codings[3] = codings[3].model_copy(update={"tools": [Tool(category=t0, name=EVIL_TOOL)]})
    out = write_run(tmp_path / "drafts", book, codings)
    args = [
        "stats",
        str(out),
        "--ads",
        str(write_ads(tmp_path / "ads.jsonl")),
        "--by",
        "industry",
        "--by",
        "date_found:month",
        "--validated",
        str(write_eval(tmp_path / "eval.json", book)),
        "--out",
        str(tmp_path / "stats"),
        *codebook_args,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return tmp_path / "stats"


def test_stats_json_and_every_csv_agree(run):
    data = json.loads((run / "stats.json").read_text(encoding="utf-8"))
    csvs = sorted(p.stem for p in run.glob("*.csv"))
    assert csvs == sorted(data["tables"])
    for name, rows in data["tables"].items():
        with (run / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            read = list(csv.DictReader(handle))
        assert len(read) == len(rows), name
        for json_row, csv_row in zip(rows, read, strict=True):
            assert list(csv_row) == list(json_row), name
            for column, value in json_row.items():
                assert _parsed(csv_row[column], value) == value, (name, column)


def _parsed(cell: str, like):
    if like is None:
        return None if cell == "" else cell
    return type(like)(cell) if isinstance(like, (int, float)) else cell


def test_categories_csv_has_the_documented_columns(run, book):
    with (run / "categories.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "category",
        "name",
        "part",
        "group",
        "ads",
        "share",
        "ci_low",
        "ci_high",
        "entries",
        "entries_per_ad",
    ]
    assert [r["category"] for r in rows] == list(book.categories)


def test_provenance_names_inputs_model_codebook_and_the_ads_left_out(run, book):
    prov = json.loads((run / "stats.json").read_text(encoding="utf-8"))["provenance"]
    assert prov["model"] == ["test-model"]
    assert prov["codebook"] | {"path": None} == {
        "path": None,
        "name": book.name,
        "version": book.version,
        "sha256": book.sha256,
    }
    assert prov["ads"] == 4 and prov["left_out"] == {"failed": 1, "ad_ids": ["ad5"]}
    assert prov["ads_table"] | {"path": None} == {
        "path": None,
        "ads": 5,
        "not_coded": 1,
        "coded_not_in_table": 0,
    }
    assert prov["inputs"][0]["path"].endswith("drafts") and prov["warnings"] == []
    page = (run / "index.html").read_text(encoding="utf-8")
    for text in ("test-model", book.sha256, book.version, "1 failed or unparsable"):
        assert text in page


def test_breakdowns_group_by_column_and_by_month(run, book):
    data = json.loads((run / "stats.json").read_text(encoding="utf-8"))["tables"]
    a = book.parts[0].all_categories()[0].id  # coded in ad1 and ad2, both ICT, Jan and Feb
    by_industry = {r["industry"]: r for r in data["by_industry"] if r["category"] == a}
    assert list(by_industry) == ["ICT", "Finance", "(missing)"]  # by size, missing last
    assert (by_industry["ICT"]["industry_ads"], by_industry["ICT"]["ads"]) == (2, 2)
    assert by_industry["Finance"]["share"] == 0.0
    by_month = {r["date_found_month"]: r for r in data["by_date_found_month"] if r["category"] == a}
    assert list(by_month) == ["2024-01", "2024-02"]  # in time order
    assert (by_month["2024-01"]["date_found_month_ads"], by_month["2024-01"]["ads"]) == (2, 1)
    tests = {r["category"]: r for r in data["by_industry_tests"]}
    assert tests[a]["dof"] == 2 and tests[a]["low_expected_cells"] == 6


def test_corrected_prevalence_is_beside_the_raw_one(run, book):
    data = json.loads((run / "stats.json").read_text(encoding="utf-8"))["tables"]
    a = book.ids_of_kind("quotes")[0]
    row = next(r for r in data["corrected"] if r["category"] == a)
    # raw 2/4; Se 4/5, Sp 5/5: (0.5 + 1 - 1) / 0.8
    assert (row["share"], row["sensitivity"], row["specificity"]) == (0.5, 0.8, 1.0)
    assert row["corrected"] == pytest.approx(0.625)
    assert "corrected" in (run / "index.html").read_text(encoding="utf-8")


def test_outputs_are_the_same_for_the_same_input(run, tmp_path, codebook_args):
    again = tmp_path / "again"
    args = [
        "stats",
        str(tmp_path / "drafts"),
        "--ads",
        str(tmp_path / "ads.jsonl"),
        "--by",
        "industry",
        "--by",
        "date_found:month",
        "--validated",
        str(tmp_path / "eval.json"),
        "--out",
        str(again),
        *codebook_args,
    ]
    assert CliRunner().invoke(main, args).exit_code == 0
    for path in run.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_page_is_self_contained_with_unique_ids(run):
    page = (run / "index.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert not re.search(r"https?://(?!www.w3.org/)", page)  # only SVG's namespaces
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for ref in set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', page)):
        assert next(r for r in ref if r) in ids
    assert EVIL_TOOL not in page and "&lt;img src=x" in page


def test_a_folder_of_markdown_codings_and_a_single_file(tmp_path, codebook):
    gold = REPO / "gold"
    result = CliRunner().invoke(main, ["stats", str(gold), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    prov = json.loads((tmp_path / "s" / "stats.json").read_text())["provenance"]
    assert prov["ads"] == len(list(gold.glob("*.md"))) and prov["model"] == []
    assert prov["left_out"]["failed"] == 0
    one = sorted(gold.glob("*.md"))[0]
    result = CliRunner().invoke(main, ["stats", str(one), "--out", str(tmp_path / "one")])
    assert result.exit_code == 0, result.output


def test_a_run_under_another_codebook_is_warned_about(tmp_path, codebook, later_codebook):
    out = write_run(tmp_path / "drafts", later_codebook, corpus(codebook))
    result = CliRunner().invoke(main, ["stats", str(out), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "coded under codebook '2025.2'" in result.output


# ------------------------------------------------------------------ bad input


def _bad(tmp_path: Path, codebook) -> dict[str, Path]:
    paths = {
        "run": write_run(tmp_path / "drafts", codebook, corpus(codebook)),
        "ads": write_ads(tmp_path / "ads.jsonl"),
    }
    (tmp_path / "bad_ads.jsonl").write_text('{"id": "ad1"}\nnot json\n')
    (tmp_path / "bad_date.jsonl").write_text('{"id": "ad1", "date_found": "soon"}\n')
    (tmp_path / "not_eval.json").write_text('{"profile": {}}')
    other = json.loads(write_eval(tmp_path / "eval.json", codebook).read_text())
    other["presence"]["per_category"]["TASK9"] = other["presence"]["per_category"].popitem()[1]
    (tmp_path / "other_eval.json").write_text(json.dumps(other))
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "codings.jsonl").write_text(corpus(codebook)[0].model_dump_json())
    return paths


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{run}", "--by", "industry"], "--by industry needs --ads"),
        (["{run}", "--ads", "{ads}", "--by", "sector"], "ads.jsonl: no column 'sector'"),
        (["{run}", "--ads", "{ads}", "--by", "date_found:week"], "unknown period 'week'"),
        (["{run}", "--ads", "{tmp}/bad_ads.jsonl"], "bad_ads.jsonl:2: not valid JSON"),
        (
            ["{run}", "--ads", "{tmp}/bad_date.jsonl", "--by", "date_found:month"],
            "bad_date.jsonl:1: date_found 'soon' is not a date",
        ),
        (["{run}", "--validated", "{tmp}/not_eval.json"], "not_eval.json: presence.per_category"),
        (["{run}", "--validated", "{tmp}/other_eval.json"], "category 'TASK9' is not in"),
        (["{run}", "{tmp}/copy"], "ad 'ad1' is also in"),
    ],
    ids=[
        "by-without-ads",
        "unknown-column",
        "unknown-period",
        "bad-ads-line",
        "bad-date",
        "not-an-eval-report",
        "eval-of-another-codebook",
        "ad-in-two-sets",
    ],
)
def test_bad_input_is_one_message_naming_the_file(tmp_path, codebook, args, message):
    paths = _bad(tmp_path, codebook)
    fill = {"run": str(paths["run"]), "ads": str(paths["ads"]), "tmp": str(tmp_path)}
    result = CliRunner().invoke(
        main, ["stats", *(a.format(**fill) for a in args), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------------ in a real browser

CHARTS = [
    "chart-prevalence",
    "chart-profiles",
    "chart-profile-categories",
    "chart-cooccurrence",
    "chart-tools",
    "chart-by-industry",
    "chart-by-date_found_month",
]


@pytest.mark.browser
def test_page_opens_from_disk_with_every_chart_and_no_network(run, browser):
    watched = watched_page(browser)
    page = watched.page
    page.goto((run / "index.html").as_uri())
    page.wait_for_load_state("load")
    for chart in CHARTS:
        box = page.locator(f"figure#{chart} svg").bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80, chart
    prevalence = page.locator("figure#chart-prevalence svg").text_content() or ""
    assert "corrected (Rogan-Gladen" in prevalence  # the corrected values beside the raw
    assert page.evaluate("() => window.__pwned") is None
    assert page.get_by_text(EVIL_TOOL).count() > 0  # shown as text
    assert watched.problems == [] and watched.requests == [(run / "index.html").as_uri()]
    watched.context.close()
