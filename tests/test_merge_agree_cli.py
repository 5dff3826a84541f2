"""`autocode merge`, `autocode agree` and eval's bootstrap options on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.codings.load import load_codings
from pipeline.codings.merge import distinct_names
from pipeline.goldmd.parse import read_coding_file
from pipeline.goldmd.render import render
from pipeline.record import Coding

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()
LEFT_OUT = "105_copperleaf_marketing"


def gold() -> list[Coding]:
    return [read_coding_file(p, BOOK) for p in sorted((REPO / "gold").glob("*.md"))]


def write_set(folder: Path, codings: list[Coding]) -> Path:
    folder.mkdir()
    for coding in codings:
        (folder / f"{coding.ad_id}.md").write_text(render(coding, BOOK), encoding="utf-8")
    return folder


@pytest.fixture
def sets(tmp_path) -> list[Path]:
    """Three coders: the gold; one who leaves out every ad's first quote; one who did not
    code one ad and gives the first ad another profile."""
    first = write_set(tmp_path / "coder-a", gold())
    fewer = [c.model_copy(update={"quotes": c.quotes[1:]}) for c in gold()]
    second = write_set(tmp_path / "coder-b", fewer)
    third_codings = [c for c in gold() if c.ad_id != LEFT_OUT]
    third_codings[0] = third_codings[0].model_copy(update={"profile": BOOK.profile_names[-1]})
    third = write_set(tmp_path / "coder-c", third_codings)
    return [first, second, third]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_merge_writes_drafts_records_and_manifest(sets, tmp_path):
    out = tmp_path / "merged"
    result = run("merge", *map(str, sets), "--out", str(out), "--ads", str(REPO / "raw"))
    assert result.exit_code == 0, result.output
    records = {c.ad_id: c for c in load_codings(out / "codings.jsonl", BOOK)}
    assert sorted(records) == sorted(c.ad_id for c in gold())
    klm = records["769_klm"]  # no ad text for it in raw/: merged on word runs
    assert klm.n_codings == 3
    # every first quote is in two of the three codings: kept (majority) with support 2
    supports = sorted(q.support for q in klm.quotes)
    assert supports[0] == 2 and supports[-1] == 3
    assert records[LEFT_OUT].n_codings == 2
    assert records["101_lumenpath_genai"].quotes[0].span is not None  # grounded with --ads
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["name"] for i in manifest["inputs"]] == ["coder-a", "coder-b", "coder-c"]
    assert [i["path"] for i in manifest["inputs"]] == list(map(str, sets))
    assert manifest["counts"]["ads"] == 6 and manifest["counts"]["ads_coded_by_every_set"] == 5
    drafts = {c.ad_id: c for c in load_codings(out, BOOK)}  # the .md drafts parse back
    for ad_id, record in records.items():
        assert [(q.text, q.support) for q in drafts[ad_id].quotes] == [
            (q.text, q.support) for q in record.quotes
        ]


def test_merge_min_support_all_is_the_intersection(sets, tmp_path):
    out = tmp_path / "merged"
    assert run("merge", *map(str, sets), "--out", str(out), "--min-support", "3").exit_code == 0
    records = {c.ad_id: c for c in load_codings(out / "codings.jsonl", BOOK)}
    assert all(q.support == 3 for c in records.values() for q in c.quotes)
    assert records[LEFT_OUT].quotes == []  # only two sets coded it: nothing reaches 3


def test_merge_refuses_more_support_than_sets(sets, tmp_path):
    result = run("merge", *map(str, sets[:2]), "--out", str(tmp_path / "m"), "--min-support", "3")
    assert result.exit_code == 2
    assert "--min-support 3: only 2 coding sets given" in result.stderr


def test_merged_output_scores_with_eval(sets, tmp_path):
    out = tmp_path / "merged"
    assert (
        run("merge", *map(str, sets), "--out", str(out), "--ads", str(REPO / "raw")).exit_code == 0
    )
    report_path = tmp_path / "eval.json"
    args = ["eval", "--gold", str(REPO / "gold"), "--pred", str(out / "codings.jsonl")]
    result = run(*args, "--ads", str(REPO / "raw"), "--json", str(report_path))
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    by_support = report["quotes"]["partial"]["by_support"]
    assert set(by_support) == {"2", "3"}  # every merged quote is one of gold's: all hits
    assert all(level["fp"] == 0 for level in by_support.values())
    assert "Predicted quotes by support" in result.stdout


def test_agree_cli_writes_json_and_markdown(sets, tmp_path):
    out_json, out_md = tmp_path / "agree.json", tmp_path / "agree.md"
    result = run(
        "agree",
        *map(str, sets),
        "--ads",
        str(REPO / "raw"),
        "--json",
        str(out_json),
        "--markdown",
        str(out_md),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out_json.read_text())
    assert report["coders"] == ["coder-a", "coder-b", "coder-c"]
    assert set(report["presence"]) == {"alpha", "per_category"}
    assert report["profile"]["n"] == 5
    assert len(report["pairwise"]) == 3
    md = out_md.read_text()
    assert md.startswith("# Reliability\n\n## Reliability")
    assert "| coder-a | coder-c | 5 |" in md
    assert "Krippendorff alpha" in result.stdout


@pytest.mark.parametrize("command", ["agree", "merge"])
def test_needs_two_sets(sets, tmp_path, command):
    result = run(
        command, str(sets[0]), *(["--out", str(tmp_path / "m")] if command == "merge" else [])
    )
    assert result.exit_code == 2 and "at least two" in result.stderr


@pytest.mark.parametrize(
    ("paths", "names"),
    [
        pytest.param(["a/x", "b/y"], ["x", "y"], id="folders"),
        pytest.param(["a/codings.jsonl", "b/codings.jsonl"], ["a", "b"], id="records"),
        pytest.param(["a/x", "b/x"], ["a/x", "b/x"], id="same-name"),
        pytest.param(["a/x", "a/x"], ["a/x#1", "a/x#2"], id="same-path"),
    ],
)
def test_distinct_names(paths, names):
    assert distinct_names([Path(p) for p in paths]) == names


# ---------------------------------------------------------------- eval --bootstrap


def eval_json(tmp_path, *extra: str) -> dict:
    path = tmp_path / f"eval{len(list(tmp_path.glob('eval*.json')))}.json"
    args = ["eval", "--gold", str(REPO / "gold"), "--pred", str(REPO / "gold"), "--json", str(path)]
    result = run(*args, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text())


def test_eval_bootstrap_options(tmp_path):
    assert "ci" not in eval_json(tmp_path, "--bootstrap", "0")
    ci = eval_json(tmp_path, "--bootstrap", "50", "--seed", "7")["ci"]["quotes.partial.f1"]
    assert (ci["n_boot"], ci["seed"]) == (50, 7)
