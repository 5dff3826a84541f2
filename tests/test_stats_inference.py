"""`autocode sample` and `autocode stats --gold --sample`: the draw is reproducible and its
probabilities add up, and inference.csv's PPI++ rows are ppi_py's (fixtures/ppi_py_0.2.3.json)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import watched_page

from pipeline.cli import main
from pipeline.record import Coding, Quote
from pipeline.stats.sample import confidence_probabilities, systematic

CASES = {
    c["name"]: c
    for c in json.loads(
        (Path(__file__).parent / "fixtures" / "ppi_py_0.2.3.json").read_text(encoding="utf-8")
    )
}
# two categories whose presence is a ppi_py case each (both n = 60 labelled, N = 1200 not)
PROFILES = ("Core ML Engineer", "ML Specialist (Data Scientist)")
PINNED = {"1.A.1": "random-2", "1.B.2": "random-5"}


def run(*args) -> object:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def write_jsonl(path: Path, codings: list[Coding]) -> Path:
    path.write_text("".join(c.model_dump_json() + "\n" for c in codings), encoding="utf-8")
    return path


def coding(ad_id: str, categories: list[str], profile: str | None = None, **extra) -> Coding:
    quotes = [Quote(category=c, text=f"passage for {c}") for c in categories]
    return Coding(ad_id=ad_id, quotes=quotes, profile=profile, **extra)


@pytest.fixture
def pinned_corpus(tmp_path):
    """1,260 ads: the first 60 sampled (srs probability 60/1260) with a gold coding."""
    n, big_n = 60, 1200
    ids = [f"ad{i:04d}" for i in range(n + big_n)]
    model = {
        cat: [*CASES[c]["inputs"]["Yhat"], *CASES[c]["inputs"]["Yhat_unlabeled"]]
        for cat, c in PINNED.items()
    }
    gold = {cat: CASES[c]["inputs"]["Y"] for cat, c in PINNED.items()}
    drafts = [coding(a, [c for c in PINNED if model[c][i]]) for i, a in enumerate(ids)]
    golds = [coding(a, [c for c in PINNED if gold[c][i]]) for i, a in enumerate(ids[:n])]
    codings = write_jsonl(tmp_path / "codings.jsonl", drafts)
    write_jsonl(tmp_path / "gold.jsonl", golds)
    from pipeline.codebook import load_codebook
    from pipeline.stats.sample import Draw, codings_hash
    from pipeline.stats.sample_files import write_sample

    draw = Draw(ids[:n], dict.fromkeys(ids, n / (n + big_n)), dict.fromkeys(ids, ""))
    meta = {"design": "srs", "seed": 0, "N": len(ids), "codings_sha256": codings_hash(drafts)}
    write_sample(tmp_path / "sample", draw, meta, {c.ad_id: c for c in drafts}, load_codebook())
    return codings, tmp_path / "gold.jsonl", tmp_path / "sample" / "sample.json"


def rows_of(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_ppi_rows_are_ppi_py_ppi_mean_ci_clipped(pinned_corpus, tmp_path):
    codings, gold, sample = pinned_corpus
    result = run("stats", codings, "--gold", gold, "--sample", sample, "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    rows = rows_of(tmp_path / "s" / "inference.csv")
    assert list(rows[0]) == [
        "target", "group", "method", "estimate", "ci_low", "ci_high",
        "n_gold", "n_corpus", "lambda", "ess",
    ]  # fmt: skip
    for category, name in PINNED.items():
        expected = CASES[name]["outputs"]
        (row,) = [
            r for r in rows if (r["target"], r["group"], r["method"]) == (category, "", "ppi++")
        ]
        low, high = (min(1, max(0, v)) for v in expected["ci_tuned"])
        assert float(row["estimate"]) == pytest.approx(expected["pointestimate_tuned"], abs=1e-4)
        assert float(row["ci_low"]) == pytest.approx(low, abs=1e-4)
        assert float(row["ci_high"]) == pytest.approx(high, abs=1e-4)
        assert float(row["lambda"]) == pytest.approx(expected["lam"], abs=1e-4)
        assert (row["n_gold"], row["n_corpus"]) == ("60", "1260")
    methods = {r["method"] for r in rows if r["target"] == "1.A.1"}
    assert methods == {"naive", "classical", "ppi++"}
    # no human positive of 1.A.2: its PPI++ row is the classical interval, with no lambda
    few = {r["method"]: r for r in rows if (r["target"], r["group"]) == ("1.A.2", "")}
    assert few["ppi++"]["lambda"] == "" and few["ppi++"]["ci_high"] == few["classical"]["ci_high"]


def test_a_sample_of_other_codings_is_refused(pinned_corpus, tmp_path):
    codings, gold, sample = pinned_corpus
    other = tmp_path / "other.jsonl"
    other.write_text(
        codings.read_text(encoding="utf-8").replace("ad0007", "adX007"), encoding="utf-8"
    )
    result = run("stats", other, "--gold", gold, "--sample", sample, "--out", tmp_path / "s")
    assert result.exit_code == 2
    assert "drawn from other codings" in result.stderr


def test_sampled_ads_without_gold_are_listed(pinned_corpus, tmp_path):
    codings, gold, sample = pinned_corpus
    lines = gold.read_text(encoding="utf-8").splitlines(keepends=True)
    gold.write_text("".join(lines[1:]), encoding="utf-8")  # ad0000 not coded by hand
    result = run("stats", codings, "--gold", gold, "--sample", sample, "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "s" / "stats.json").read_text(encoding="utf-8"))
    assert report["provenance"]["inference"]["sampled_without_gold"] == ["ad0000"]
    assert "1 sampled ad(s) have no coding in" in result.stderr and "ad0000" in result.stderr
    # categories with under 5 human positives carry the classical interval, and are named
    few = report["provenance"]["inference"]["few_positives"]
    assert "1.A.2" in few and "1.A.1" not in few


def corpus(tmp_path: Path, k: int | None = None) -> Path:
    rng = np.random.default_rng(3)
    drafts = []
    for i in range(200):
        extra = {}
        if k:
            extra = {
                "n_codings": k,
                "agreement": float(rng.uniform(0.5, 1)),
                "profile_support": int(rng.integers(1, k + 1)),
            }
        cats = [c for c in ("1.A.1", "1.B.2", "3.1") if rng.random() < 0.3]
        drafts.append(coding(f"{i:03d}", cats, PROFILES[i % 2], **extra))
    return write_jsonl(tmp_path / "drafts.jsonl", drafts)


@pytest.mark.parametrize("design", ["srs", "stratified:profile", "confidence"])
def test_the_same_inputs_and_seed_give_the_same_sample(tmp_path, design):
    drafts = corpus(tmp_path, k=5)
    made = []
    for out in ("a", "b"):
        result = run(
            "sample", drafts, "--n", 30, "--design", design, "--seed", 4, "--out", tmp_path / out
        )
        assert result.exit_code == 0, result.output
        made.append((tmp_path / out / "sample.csv").read_text(encoding="utf-8"))
    assert made[0] == made[1]
    rows = rows_of(tmp_path / "a" / "sample.csv")
    assert len(rows) == len({r["ad_id"] for r in rows}) == 30
    data = json.loads((tmp_path / "a" / "sample.json").read_text(encoding="utf-8"))
    assert sum(data["inclusion_probabilities"].values()) == pytest.approx(30)
    assert all(0 < p <= 1 for p in data["inclusion_probabilities"].values())
    assert sorted(p.stem for p in (tmp_path / "a" / "sheets").glob("*.md")) == sorted(
        r["ad_id"] for r in rows
    )
    other = run(
        "sample", drafts, "--n", 30, "--design", design, "--seed", 5, "--out", tmp_path / "c"
    )
    assert other.exit_code == 0
    assert (tmp_path / "c" / "sample.csv").read_text(encoding="utf-8") != made[0]


def test_a_blank_sheet_holds_no_model_content(tmp_path):
    drafts = corpus(tmp_path)
    assert run("sample", drafts, "--n", 5, "--out", tmp_path / "v").exit_code == 0
    for sheet in (tmp_path / "v" / "sheets").glob("*.md"):
        text = sheet.read_text(encoding="utf-8")
        assert "passage for" not in text and "Core ML Engineer" not in text
        assert "- **Assigned Profile:** ``" in text and "- **1.A.1." in text


def test_the_confidence_design_needs_several_samples(tmp_path):
    drafts = corpus(tmp_path)  # one coding per ad: no support
    result = run("sample", drafts, "--n", 10, "--design", "confidence", "--out", tmp_path / "v")
    assert result.exit_code == 2
    assert "--design confidence needs a coding set made with --samples K" in result.stderr


def test_systematic_sampling_draws_each_ad_as_often_as_its_probability():
    pi = confidence_probabilities([0.0, 0.1, 0.5, 2.0, 0.2, 0.0, 1.0, 0.3], 3)
    assert pi.sum() == pytest.approx(3) and (pi > 0).all() and (pi <= 1).all()
    rng = np.random.default_rng(0)
    counts = np.zeros(len(pi))
    for _ in range(20000):
        counts[systematic(pi, rng)] += 1
    assert counts / 20000 == pytest.approx(pi, abs=0.015)


def test_groups_differences_finite_population_and_clusters(pinned_corpus, tmp_path):
    codings, gold, sample = pinned_corpus
    ads = tmp_path / "ads.jsonl"
    rows = [
        {
            "id": f"ad{i:04d}",
            "industry": "ICT" if i % 2 else "Finance",
            "organisation": f"org{i // 10}",
        }
        for i in range(1260)
    ]
    ads.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    common = ["stats", codings, "--gold", gold, "--sample", sample, "--ads", ads]
    outs = {}
    for name, extra in {
        "by": ["--by", "industry"],
        "finite": ["--finite-population"],
        "cluster": ["--cluster", "organisation"],
        "plain": [],
    }.items():
        result = run(*common, *extra, "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        outs[name] = tmp_path / name

    differences = rows_of(outs["by"] / "differences.csv")
    pair = next(r for r in differences if r["target"] == "1.A.1")
    assert (pair["by"], pair["group_a"], pair["group_b"]) == ("industry", "Finance", "ICT")
    assert float(pair["p_holm"]) >= float(pair["p_bh"]) >= float(pair["p_value"])
    tests = rows_of(outs["by"] / "group_tests.csv")
    assert next(r for r in tests if r["target"] == "1.A.1")["dof"] == "1"
    inference = rows_of(outs["by"] / "inference.csv")
    assert {r["group"] for r in inference} == {"", "Finance", "ICT"}

    def width(folder: str) -> float:
        row = next(
            r
            for r in rows_of(outs[folder] / "inference.csv")
            if (r["target"], r["group"], r["method"]) == ("1.A.1", "", "ppi++")
        )
        return float(row["ci_high"]) - float(row["ci_low"])

    assert width("finite") < width("plain")  # the model's share of this corpus is known
    assert width("cluster") != pytest.approx(width("plain"))
    tables = rows_of(outs["by"] / "by_industry_tests.csv")
    assert list(tables[0]).index("p_holm") == list(tables[0]).index("p_value") + 1


@pytest.mark.browser
def test_a_group_with_one_sampled_cluster_has_no_interval_not_a_crash(pinned_corpus, tmp_path):
    """The sampled ads (the first 60) of group "one" are all of one organisation: the
    cluster variance of its estimate is undefined, so its differences have no interval
    (blank in CSV, null in JSON); the other figures are still written."""
    codings, gold, sample = pinned_corpus
    ads = tmp_path / "ads.jsonl"
    rows = [
        {"id": f"ad{i:04d}", "region": "one" if i < 10 else f"r{i % 3}", "org": f"o{i // 10}"}
        for i in range(1260)
    ]
    ads.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    args = ["--ads", ads, "--by", "region", "--cluster", "org", "--out", out]
    result = run("stats", codings, "--gold", gold, "--sample", sample, *args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    with_one = [r for r in report["tables"]["differences"] if "one" in (r["group_a"], r["group_b"])]
    assert with_one and all(r["ci_low"] is None and r["ci_high"] is None for r in with_one)
    assert all(r["difference"] is not None for r in with_one)
    others = [r for r in report["tables"]["differences"] if r not in with_one]
    assert others and all(r["ci_low"] is not None for r in others)
    blank = next(r for r in rows_of(out / "differences.csv") if r["group_a"] == "one")
    assert blank["ci_low"] == blank["ci_high"] == ""
    # a group sampled whole: PPI++ has nothing to impute, and is the sample's own mean
    inference = rows_of(out / "inference.csv")
    for target in PINNED:
        est = {
            r["method"]: r["estimate"]
            for r in inference
            if (r["target"], r["group"]) == (target, "one")
        }
        assert est["ppi++"] == est["classical"] != ""


def test_the_page_shows_the_forest_plot_with_no_error_or_request(pinned_corpus, tmp_path, browser):
    codings, gold, sample = pinned_corpus
    out = tmp_path / "s"
    assert run("stats", codings, "--gold", gold, "--sample", sample, "--out", out).exit_code == 0
    watched = watched_page(browser)
    page = watched.page
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")
    box = page.locator("figure#chart-inference svg").bounding_box()
    assert box and box["width"] > 200 and box["height"] > 200
    svg = page.locator("figure#chart-inference svg").text_content() or ""
    assert all(label in svg for label in ("naive", "classical", "ppi++", "1.A.1", "3.5"))
    caption = page.locator("figure#chart-inference figcaption").text_content() or ""
    assert "design srs, 60 validated ads of 1260" in caption
    assert watched.problems == [] and watched.requests == [(out / "index.html").as_uri()]
    page.screenshot(path=str(tmp_path / "forest.png"), full_page=False)
    watched.context.close()
