"""What a coder changed (`review.corrections`) and what `autocode eval` reports from the log
(`evaluation.edits`), on a worked example whose every figure is counted by hand below."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.evaluation.edits import edit_report, last_saves
from pipeline.goldmd.render import render
from pipeline.grounding import ground
from pipeline.record import Coding, Provenance, Quote, Tool
from pipeline.review.corrections import correction_record

BOOK = load_codebook()
AD = (
    "Data Engineer\n"
    "We build data pipelines in Python every day.\n"
    "You will mentor junior engineers and review their code.\n"
    "Deploy models to production on AWS.\n"
    "Talk to clients every week about their needs.\n"
)

DRAFT = Coding(
    ad_id="1_worked",
    profile="Software Engineer",
    reasoning="Builds pipelines.",
    quotes=[
        Quote(category="1.A.1", text="We build data pipelines in Python every day."),  # kept
        Quote(category="3.1", text="You will mentor junior engineers"),  # recategorised
        Quote(category="1.A.2", text="Deploy models to production"),  # re-spanned
        Quote(category="3.1", text="Talk to clients every week"),  # deleted
        Quote(category="1.C.1", text="about their needs", note="weak"),  # note edited
    ],
    tools=[
        Tool(category="2.1", name="Python"),  # kept
        Tool(category="2.5", name="AWS"),  # recategorised
        Tool(category="2.2", name="Spark"),  # removed
    ],
    provenance=Provenance(model="test-model"),
)
SAVED = Coding(
    ad_id="1_worked",
    profile="Core ML Engineer",
    reasoning="Builds pipelines.",
    quotes=[
        Quote(category="1.A.1", text="We build data pipelines in Python every day."),
        Quote(category="3.2", text="You will mentor junior engineers"),
        Quote(category="1.A.2", text="Deploy models to production on AWS."),
        Quote(category="1.C.1", text="about their needs", note="clients' needs"),
        Quote(category="3.3", text="review their code"),  # added
    ],
    tools=[
        Tool(category="2.1", name="python"),
        Tool(category="2.6", name="AWS"),
        Tool(category="2.3", name="Docker"),  # added
    ],
)


def worked_record(**extra) -> dict:
    args = {"coder": "ana", "blind": False, "seconds": 300.0, "saved_at": "t"} | extra
    return correction_record(DRAFT, SAVED, AD, **args)


def test_each_draft_entry_gets_what_became_of_it():
    record = worked_record()
    actions = [(q["category"], q["action"]) for q in record["quotes"]]
    assert actions == [
        ("1.A.1", "kept"),
        ("3.1", "recategorised"),
        ("1.A.2", "respanned"),
        ("3.1", "deleted"),
        ("1.C.1", "kept"),
    ]
    assert record["quotes"][1]["to_category"] == "3.2"
    assert record["quotes"][2]["to_text"] == "Deploy models to production on AWS."
    assert record["quotes"][4]["note_edited"] is True
    assert record["quotes_added"] == [{"category": "3.3", "text": "review their code"}]
    assert record["tools"]["kept"] == [{"category": "2.1", "name": "Python"}]
    assert record["tools"]["recategorised"] == [
        {"category": "2.5", "name": "AWS", "to_category": "2.6"}
    ]
    assert record["tools"]["removed"] == [{"category": "2.2", "name": "Spark"}]
    assert record["tools"]["added"] == [{"category": "2.3", "name": "Docker"}]
    assert record["profile"] == {"from": "Software Engineer", "to": "Core ML Engineer"}
    assert record["reasoning_edited"] is False
    assert record["draft_model"] == "test-model"


def test_a_passage_kept_under_its_category_is_not_taken_for_a_respan_of_another():
    # the draft has the same passage under two categories; the coder deletes one of them
    draft = Coding(
        ad_id="x",
        quotes=[
            Quote(category="3.1", text="Talk to clients every week"),
            Quote(category="1.C.1", text="Talk to clients every week"),
        ],
    )
    saved = Coding(ad_id="x", quotes=[Quote(category="1.C.1", text="Talk to clients every week")])
    record = correction_record(draft, saved, AD, coder="a", blind=False, seconds=0, saved_at="t")
    assert [q["action"] for q in record["quotes"]] == ["deleted", "kept"]


def test_a_blind_save_counts_every_entry_as_added_and_names_no_draft():
    record = worked_record(blind=True)
    assert record["quotes"] == [] and len(record["quotes_added"]) == 5
    assert record["profile"] == {"from": None, "to": "Core ML Engineer"}
    assert record["draft_model"] is None and record["blind"] is True


def test_the_report_counts_each_ad_once_by_its_last_save_with_all_its_time():
    first = worked_record(seconds=120.0)
    second = worked_record(seconds=60.0)
    other = correction_record(DRAFT, DRAFT, AD, coder="ana", blind=False, seconds=240, saved_at="t")
    other["ad_id"] = "2_other"
    blind = worked_record(blind=True, seconds=600.0) | {"ad_id": "3_blind"}
    saves = last_saves([first, second, other, blind])
    assert len(saves) == 3 and saves[0]["seconds"] == 180.0
    report = edit_report([first, second, other, blind], "log")
    c = report["corrected"]
    # by hand: ad 1 keeps 1 of 5 (the note edit is a modification), modifies 3, deletes 1;
    # ad 2 keeps all 5. 10 draft entries: 6 kept, 3 modified, 1 deleted.
    assert c["ads"] == 2 and c["draft_entries"] == 10
    assert (c["share_kept"], c["share_modified"], c["share_deleted"]) == (0.6, 0.3, 0.1)
    assert c["added_per_ad"] == 0.5  # one added quote over two ads
    assert c["tools_added_per_ad"] == 0.5 and c["tools_removed_per_ad"] == 0.5
    assert c["profile_changed"] == 1
    assert c["minutes_per_ad"] == (180 + 240) / 60 / 2
    assert c["by_category"]["3.1"] == {"kept": 2, "modified": 1, "deleted": 1, "added": 0}
    assert c["by_category"]["3.3"] == {"kept": 0, "modified": 0, "deleted": 0, "added": 1}
    assert report["blind"] == {"ads": 1, "entries_per_ad": 5.0, "minutes_per_ad": 10.0}


def test_autocode_eval_reports_the_log_of_the_gold_folder(tmp_path):
    gold, ads = tmp_path / "gold", tmp_path / "ads"
    gold.mkdir(), ads.mkdir()
    (ads / "1_worked.txt").write_text(AD, encoding="utf-8")
    (gold / "1_worked.md").write_text(render(SAVED, BOOK), encoding="utf-8")
    pred = tmp_path / "codings.jsonl"
    pred.write_text(json.dumps(ground(DRAFT, AD).model_dump(mode="json")) + "\n")
    (gold / "corrections.jsonl").write_text(json.dumps(worked_record()) + "\n")
    report_path = tmp_path / "eval.json"
    args = ["eval", "--gold", gold, "--pred", pred, "--ads", ads, "--json", report_path]
    args += ["--markdown", tmp_path / "eval.md", "--bootstrap", "0"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    edits = json.loads(report_path.read_text())["edits"]
    assert edits["corrected"]["share_deleted"] == 0.2 and edits["corrected"]["ads"] == 1
    assert "draft entries kept unchanged" in result.output
    markdown = (tmp_path / "eval.md").read_text()
    assert "| draft entries deleted | 20% |" in markdown
    assert "| minutes per corrected ad | 5.00 |" in markdown


def test_log_records_with_a_line_separator_inside_a_quote_are_read_whole(tmp_path):
    from pipeline.store import append_line, read_records

    log = tmp_path / "corrections.jsonl"
    record = worked_record()
    record["quotes_added"] = [{"category": "3.3", "text": "line\u2028separator\u0085next"}]
    append_line(log, record)
    append_line(log, worked_record())
    assert [r["quotes_added"] for r in read_records(log)][0] == record["quotes_added"]
    assert len(read_records(log)) == 2
