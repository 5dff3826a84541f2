"""`autocode eval` on the command line: files in, tables, --json, --markdown, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.goldmd.parse import read_coding_file
from pipeline.goldmd.render import render
from pipeline.record import Coding

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()
KEYS = {
    "ads": {"paired", "gold_only", "pred_only"},
    "profile": {"n", "accuracy", "kappa", "confusion"},
    "quotes": {"strict", "partial", "per_part", "per_category"},
    "presence": {"per_category", "macro_kappa", "alpha"},
    "tools": {"name", "name_and_category"},
}
PRF_KEYS = {"precision", "recall", "f1", "tp", "fp", "fn"}


def load_dir(folder: Path) -> list[Coding]:
    return [read_coding_file(p, BOOK) for p in sorted(folder.glob("*.md"))]


@pytest.fixture
def pred_dir(tmp_path) -> Path:
    """Project gold as drafts: one ad missing, one extra, one profile changed."""
    out = tmp_path / "pred"
    out.mkdir()
    for c in load_dir(REPO / "gold"):
        if c.ad_id == "104_harborline_datascience":
            continue
        if c.ad_id == "105_copperleaf_marketing":
            c.profile = "Software Engineer"
        (out / f"{c.ad_id}.md").write_text(render(c, BOOK, draft_model="test"), encoding="utf-8")
    (out / "999_extra.md").write_text(render(Coding(ad_id="999_extra"), BOOK), encoding="utf-8")
    return out


def run(*args: str):
    return CliRunner().invoke(main, ["eval", "--gold", str(REPO / "gold"), *args])


def test_cli_writes_json_and_markdown(pred_dir, tmp_path):
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    result = run(
        "--pred",
        str(pred_dir),
        "--ads",
        str(REPO / "raw"),
        "--json",
        str(out_json),
        "--markdown",
        str(out_md),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().startswith("Headline")
    assert "769_klm" in result.stderr  # no raw text for it: says so, uses tokens
    report = json.loads(out_json.read_text())
    assert set(report) == set(KEYS) | {"per_ad", "calibration", "ci"}
    assert all(set(report[k]) == v for k, v in KEYS.items())
    ci = report["ci"]["profile.accuracy"]  # bootstrap intervals by default
    assert (ci["n_boot"], ci["level"], ci["seed"]) == (1000, 0.95, 0)
    assert ci["low"] <= report["profile"]["accuracy"] <= ci["high"]
    assert set(report["quotes"]["strict"]) == PRF_KEYS == set(report["tools"]["name"])
    assert report["ads"]["gold_only"] == ["104_harborline_datascience"]
    assert report["ads"]["pred_only"] == ["999_extra"]
    assert report["profile"]["accuracy"] == pytest.approx(4 / 5)
    md = out_md.read_text()
    assert md.startswith("# Agreement report\n\n## Headline (95% bootstrap intervals")
    accuracy = f"| profile accuracy | 0.800 [{ci['low']:.3f}, {ci['high']:.3f}] |"
    assert accuracy in md.splitlines()
    assert "Profile: gold `Not Relevant`, predicted `Software Engineer`" in md


@pytest.mark.parametrize("kappa, code", [("0.5", 0), ("0.99", 1)], ids=["passes", "fails"])
def test_cli_min_kappa_gates(pred_dir, kappa, code):
    result = run("--pred", str(pred_dir), "--min-kappa", kappa)
    assert result.exit_code == code, result.output
    assert ("profile kappa" in result.stderr) == bool(code)


def test_cli_reads_codings_jsonl_like_the_markdown(pred_dir, tmp_path):
    path = tmp_path / "codings.jsonl"
    records = [read_coding_file(p, BOOK) for p in sorted(pred_dir.glob("*.md"), reverse=True)]
    path.write_text("".join(c.model_dump_json() + "\n" for c in records) + "\n")
    reports = []
    for pred in (pred_dir, path):
        out = tmp_path / f"{pred.name}.json"
        result = run("--pred", str(pred), "--ads", str(REPO / "raw"), "--json", str(out))
        assert result.exit_code == 0, result.output
        reports.append(json.loads(out.read_text()))
    assert reports[0] == reports[1]


def test_ads_from_a_jsonl_table_score_as_the_folder_of_the_same_ads(pred_dir, tmp_path):
    table = tmp_path / "ads.jsonl"
    rows = [
        {"id": p.stem, "text": p.read_text(encoding="utf-8")}
        for p in sorted((REPO / "raw").iterdir())
    ]
    table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    reports, warnings = [], []
    for ads in (["--ads", str(REPO / "raw")], ["--ads", str(table), "--text-field", "text"]):
        out = tmp_path / "report.json"
        result = run("--pred", str(pred_dir), *ads, "--json", str(out))
        assert result.exit_code == 0, result.output
        reports.append(json.loads(out.read_text()))
        warnings.append([line for line in result.stderr.splitlines() if "no ad text" in line])
    assert reports[0] == reports[1]
    assert warnings[1] == [
        f"autocode: no ad text for 769_klm in {table}; partial matching for it uses word tokens"
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "codings.jsonl:2: "),
        ('{"quotes": []}', "codings.jsonl:2: ad_id: Field required"),
        ('{"ad_id": "x", "quotes": [{"category": "9.9", "text": "t"}]}', "'9.9' is not in"),
        ('{"ad_id": "x", "quotes": [{"category": "2.1", "text": "t"}]}', "2.1 takes tools"),
        ('{"ad_id": "x", "profile": "Astronaut"}', "profile 'Astronaut'"),
        ('{"ad_id": "a"}', "codings.jsonl:2: ad 'a' again (first on line 1)"),
    ],
    ids=["not-json", "missing-id", "unknown-category", "wrong-kind", "unknown-profile", "dupe"],
)
def test_cli_names_the_bad_jsonl_line(tmp_path, line, message):
    path = tmp_path / "codings.jsonl"
    path.write_text('{"ad_id": "a"}\n' + line + "\n")
    result = run("--pred", str(path))
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
