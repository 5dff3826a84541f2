"""`autocode review` of a large coded corpus: pages only for the ads asked for (--ids, a
sample file, --limit), the index's charts counting every draft, and memory that does not
hold the drafts or ads that get no page."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.codebook import load_codebook
from pipeline.record import Coding, Quote
from pipeline.review.selection import Selection
from pipeline.review.site import build_site, load_review

BOOK = load_codebook()
LINE = "We build data pipelines in Python and explain them to clients."


def corpus(root: Path, n: int) -> dict[str, Path]:
    """n ads (a .jsonl table) and their codings, agreement falling with the id."""
    out, ads = root / "out", root / "ads.jsonl"
    out.mkdir(parents=True)
    with ads.open("w") as table, (out / "codings.jsonl").open("w") as records:
        for i in range(n):
            table.write(json.dumps({"id": f"ad{i}", "title": f"Ad {i}", "description": LINE}))
            table.write("\n")
            coding = Coding(
                ad_id=f"ad{i}",
                profile=BOOK.profile_names[i % 2],
                quotes=[Quote(category="1.A.1", text=LINE, span=(0, len(LINE)))],
                agreement=1 - i / n,
                n_codings=3,
            )
            records.write(json.dumps(coding.model_dump(mode="json")) + "\n")
    return {"out": out, "ads": ads}


def test_limit_and_ids_choose_the_pages_and_the_charts_count_every_draft(tmp_path):
    paths = corpus(tmp_path, 300)
    ids = tmp_path / "sample.csv"
    ids.write_text("ad_id,stratum\nad7,a\nad250,b\nnot_there,b\n")
    html = tmp_path / "site"
    args = ["review", str(paths["out"]), "--ads", str(paths["ads"]), "--html", str(html)]
    result = CliRunner().invoke(main, [*args, "--ids", str(ids)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in html.glob("ad-*.html")) == ["ad-ad250.html", "ad-ad7.html"]
    index = (html / "index.html").read_text()
    assert "Pages for 2 of 300 drafted ads" in index
    assert ">150</text>" in index  # the charts count drafts, not pages: 150 per profile
    limited = tmp_path / "limited"
    args = ["review", str(paths["out"]), "--ads", str(paths["ads"]), "--html", str(limited)]
    result = CliRunner().invoke(main, [*args, "--limit", "3", "--sort", "agreement"])
    assert result.exit_code == 0, result.output
    # lowest agreement first: the last ads of the file
    assert sorted(p.name for p in limited.glob("ad-*.html")) == [
        "ad-ad297.html",
        "ad-ad298.html",
        "ad-ad299.html",
    ]


def test_too_many_drafts_for_a_page_each_are_refused_with_the_way_out(tmp_path, monkeypatch):
    import pipeline.review.selection as selection

    monkeypatch.setattr(selection, "MAX_WHOLE", 50)
    paths = corpus(tmp_path, 60)
    args = ["review", str(paths["out"]), "--ads", str(paths["ads"]), "--html", str(tmp_path / "s")]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2
    assert f"{paths['out'] / 'codings.jsonl'}: more than 50 drafts" in refused.output
    assert "--ids FILE" in refused.output and "--limit N" in refused.output
    assert not (tmp_path / "s").exists()
    chosen = CliRunner().invoke(main, [*args, "--limit", "55"])
    assert chosen.exit_code == 0, chosen.output
    assert len(list((tmp_path / "s").glob("ad-*.html"))) == 55


@pytest.mark.parametrize("limit", [None, 0, 1, 7, 40, 100])
@pytest.mark.parametrize("by_agreement", [False, True])
def test_picking_as_the_drafts_come_is_sorting_all_then_slicing(limit, by_agreement):
    """The survey holds at most `limit` entries (a heap for the lowest agreement); its
    choice is the one sorting every entry first gives: ties and drafts without agreement
    stay in OUT's order, after those with one."""
    rng = random.Random(limit or 0)
    entries = [(f"ad{i}", rng.choice([None, 0.5, 0.25, rng.random()]), i) for i in range(60)]
    ids = [f"ad{i}" for i in rng.sample(range(80), 30)]
    for wanted in (None, ids):
        chosen = Selection(wanted, limit, by_agreement).pick(iter(entries))
        every = [e for e in entries if wanted is None or e[0] in wanted]
        if by_agreement:
            every = sorted(every, key=lambda e: (e[1] is None, e[1] or 0.0))
        assert chosen == every[:limit]


def test_a_chosen_review_holds_only_its_drafts_and_ads(tmp_path):
    """Memory for 20 pages does not grow with the drafts: the survey keeps the 20 chosen
    and the ids met (on disk), where holding the drafts and ads costs several kB an ad."""

    def peak(n: int, selection: Selection | None) -> int:
        paths = corpus(tmp_path / f"{n}-{selection is None}", n)
        tracemalloc.start()
        inp = load_review(paths["out"], paths["ads"], None, BOOK, None, selection)
        build_site(inp, BOOK)
        peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak_bytes

    chosen = Selection(limit=20)
    per_ad_chosen = (peak(4000, chosen) - peak(1000, chosen)) / 3000
    per_ad_whole = (peak(1500, None) - peak(500, None)) / 1000
    assert per_ad_chosen < 300, per_ad_chosen
    assert per_ad_whole > 3 * per_ad_chosen, (per_ad_whole, per_ad_chosen)
