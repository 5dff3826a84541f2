"""`merge` and `eval` without holding every coding: the same files as merging and scoring
everything in memory (kept here as the reference), the same messages for bad input, and long
tables printed and written a piece at a time as they were printed and written whole."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.text import Text

from pipeline.ads import TableFields, read_ads
from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.coding.inputs import read_ad_texts
from pipeline.codings.load import load_codings
from pipeline.codings.merge import distinct_names, load_sets, merge_sets
from pipeline.errors import InputError
from pipeline.evaluation import tables
from pipeline.evaluation.evaluate import evaluate_with_intervals, load_and_evaluate
from pipeline.evaluation.render import markdown_report, write_json
from pipeline.goldmd.parse import read_coding_file
from pipeline.goldmd.render import consensus_notes, render
from pipeline.record import Coding, Tool
from pipeline.store import write_records

REPO = Path(__file__).resolve().parents[1]
BOOK = load_codebook()


def gold() -> list[Coding]:
    return [read_coding_file(p, BOOK) for p in sorted((REPO / "gold").glob("*.md"))]


def variant(coding: Coding, rng: random.Random, copy: int) -> Coding:
    """Another coder's coding of a copy of the ad (`copy` 0: the ad itself)."""
    quotes = [q for q in coding.quotes if rng.random() < 0.8]
    tools = [t for t in coding.tools if rng.random() < 0.8]
    if rng.random() < 0.5:
        tools.append(Tool(category=BOOK.ids_of_kind("tools")[0], name=rng.choice(["dbt", "DBT"])))
    profile = rng.choice([coding.profile, *BOOK.profile_names[:2]])
    ad_id = coding.ad_id if copy == 0 else f"{coding.ad_id}~{copy}"
    return coding.model_copy(
        update={"ad_id": ad_id, "quotes": quotes, "tools": tools, "profile": profile}
    )


def write_sets(folder: Path, copies: int = 4) -> list[Path]:
    """Two codings.jsonl sets (one an OUT folder, one missing some ads) and a Markdown set."""
    rng = random.Random(5)
    paths = []
    for name in ("run-a", "run-b"):
        codings = [variant(c, rng, k) for k in range(copies) for c in gold()]
        if name == "run-b":
            codings = codings[::-1][3:]  # another order, and three ads fewer
        run = folder / name
        run.mkdir(parents=True)
        write_records(run / "codings.jsonl", [c.model_dump(mode="json") for c in codings])
        paths.append(run if name == "run-a" else run / "codings.jsonl")
    hand = folder / "hand"
    hand.mkdir()
    for coding in (variant(c, rng, 1) for c in gold()):
        (hand / f"{coding.ad_id}.md").write_text(render(coding, BOOK), encoding="utf-8")
    return [*paths, hand]


def merged_in_memory(paths: list[Path], out: Path, min_support, ads: Path | None) -> None:
    """What `autocode merge` wrote when it held every coding set."""
    sets = load_sets(paths, BOOK)
    texts = read_ad_texts(ads, TableFields(), lambda _: None) if ads else None
    merged = merge_sets(sets, BOOK, min_support, texts)
    label = "consensus of " + ", ".join(cset.name for cset in sets)
    out.mkdir(parents=True)
    for coding in merged:
        draft = render(coding, BOOK, draft_model=label, review_notes=consensus_notes(coding))
        (out / f"{coding.ad_id}.md").write_text(draft, encoding="utf-8")
    write_records(out / "codings.jsonl", [c.model_dump(mode="json") for c in merged])


def files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    ("min_support", "with_ads"), [(None, True), (1, False), (2, True)], ids=["default", "1", "2"]
)
def test_merge_writes_what_merging_in_memory_wrote(tmp_path, min_support, with_ads):
    paths = write_sets(tmp_path / "sets")
    ads = REPO / "raw" if with_ads else None
    out = tmp_path / "merged"
    args = ["merge", *map(str, paths), "--out", str(out)]
    args += ["--min-support", str(min_support)] if min_support else []
    args += ["--ads", str(ads)] if ads else []
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    merged_in_memory(paths, tmp_path / "reference", min_support, ads)
    got, want = files(out), files(tmp_path / "reference")
    manifest = json.loads(got.pop("manifest.json"))
    assert got == want
    sets = load_sets(paths, BOOK)
    assert manifest["inputs"] == [
        {"name": n, "path": str(p), "ads": len(s.codings)}
        for n, p, s in zip(distinct_names(paths), paths, sets, strict=True)
    ]
    records = load_codings(out / "codings.jsonl", BOOK)
    assert manifest["counts"] == {
        "ads": len(records),
        "entries_kept": sum(len(c.quotes) + len(c.tools) for c in records),
        "ads_coded_by_every_set": sum(c.n_codings == len(paths) for c in records),
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("again", "codings.jsonl:{n}: ad '{first}' again (first on line 1)"),
        ("again-then-bad", "codings.jsonl:{n}: ad '{first}' again (first on line 1)"),
        ("bad", "codings.jsonl:{n}: (record): Invalid JSON"),
    ],
)
def test_merge_names_a_bad_record_and_writes_nothing(tmp_path, extra, message):
    paths = write_sets(tmp_path / "sets", copies=1)
    records = paths[0] / "codings.jsonl"
    lines = records.read_text(encoding="utf-8").splitlines()
    added = {"again": [lines[0]], "again-then-bad": [lines[0], "{bad"], "bad": ["{bad"]}[extra]
    records.write_text("\n".join([*lines, *added]) + "\n", encoding="utf-8")
    out = tmp_path / "merged"
    result = CliRunner().invoke(main, ["merge", *map(str, paths), "--out", str(out)])
    assert result.exit_code == 2
    first = json.loads(lines[0])["ad_id"]
    assert message.format(n=len(lines) + 1, first=first) in result.output
    assert not out.exists()


# ------------------------------------------------------------------ eval


def predictions(folder: Path, copies: int = 30) -> Path:
    """A codings.jsonl with the gold ads and many copies of them that have no gold."""
    rng = random.Random(9)
    codings = [variant(c, rng, k) for k in range(copies) for c in gold()]
    rng.shuffle(codings)
    path = folder / "pred.jsonl"
    write_records(path, [c.model_dump(mode="json") for c in codings])
    return path


@pytest.mark.parametrize("ads", [None, REPO / "raw"], ids=["words", "spans"])
def test_eval_scores_what_scoring_every_prediction_held_scored(tmp_path, ads):
    pred = predictions(tmp_path)
    report = load_and_evaluate(REPO / "gold", pred, ads, BOOK, lambda _: None, 200, 3)
    texts = None
    if ads:
        ids = {c.ad_id for c in gold()}
        texts = {ad.id: ad.text for ad in read_ads([ads]).ads if ad.id in ids}
    want = evaluate_with_intervals(gold(), load_codings(pred, BOOK), BOOK, texts, 200, 3)
    assert json.dumps(report, default=list) == json.dumps(want)
    assert len(report["ads"]["pred_only"]) == 29 * len(gold())
    assert markdown_report(report) == markdown_report(want)


def test_eval_writes_the_ids_it_reads_from_disk_as_the_list_it_would_hold(tmp_path):
    pred = predictions(tmp_path, copies=4)
    report = load_and_evaluate(REPO / "gold", pred, None, BOOK, lambda _: None, 0)
    assert not isinstance(report["ads"]["pred_only"], list)  # a view of the ids on disk
    write_json(report, tmp_path / "streamed.json")
    held = report | {"ads": report["ads"] | {"pred_only": list(report["ads"]["pred_only"])}}
    write_json(held, tmp_path / "held.json")
    streamed = (tmp_path / "streamed.json").read_text(encoding="utf-8")
    assert streamed == (tmp_path / "held.json").read_text(encoding="utf-8")
    assert len(json.loads(streamed)["ads"]["pred_only"]) == 3 * len(gold())


@pytest.mark.parametrize(
    "added", ["again", "bad"], ids=["an-ad-without-gold-twice", "a-bad-record-without-gold"]
)
def test_eval_still_checks_the_predictions_it_does_not_hold(tmp_path, added):
    pred = predictions(tmp_path, copies=3)
    lines = pred.read_text(encoding="utf-8").splitlines()
    without_gold = next(x for x in lines if "~" in json.loads(x)["ad_id"])
    pred.write_text("\n".join([*lines, without_gold if added == "again" else "{bad"]) + "\n")
    with pytest.raises(InputError) as caught:
        load_and_evaluate(REPO / "gold", pred, None, BOOK, lambda _: None, 0, 0)
    with pytest.raises(InputError) as held:
        load_codings(pred, BOOK)
    assert str(caught.value) == str(held.value)


def plain_table(title: str, head: list[str], rows: list[list[str]]) -> Text:
    """A long table as it was printed: one Text of every line."""
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    numeric = [all(tables._is_number(row[i]) for row in rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return Text("\n".join([title, line(head), rule, *map(line, rows)]))


def test_a_long_table_prints_as_it_did_whole():
    rows = [[f"ad-{i}", str(i * 7), "gold only" if i % 3 else "predicted"] for i in range(2_345)]
    head = ["ad", "n", "side"]
    chunked, whole = io.StringIO(), io.StringIO()
    tables.print_tables([("Unpaired", head, rows)], Console(file=chunked, width=80))
    Console(file=whole, width=80).print(plain_table("Unpaired", head, rows), soft_wrap=True)
    assert chunked.getvalue() == whole.getvalue()
    assert chunked.getvalue().count("\n") == 2_348
