"""`autocode eval`: metrics pinned by hand, by the reference packages and on real codings."""

from __future__ import annotations

from pathlib import Path

import krippendorff
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from pipeline.codebook import load_codebook
from pipeline.evaluation.measures import cohen_kappa, krippendorff_alpha, prf
from pipeline.evaluation.scores import evaluate, gate_failures, pair_codings
from pipeline.goldmd.parse import read_coding_file
from pipeline.matching import assign_pairs, match_ad
from pipeline.record import Coding, Quote, Tool

REPO = Path(__file__).resolve().parents[1]
DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "jobads" / "dev"
BOOK = load_codebook()


def needs_dev() -> Path:
    if not (DEV / "gold").is_dir() or not (DEV / "raw").is_dir():
        pytest.skip(f"shared dev codings not found at {DEV} (they are not in the repository)")
    return DEV


def load_dir(folder: Path) -> list[Coding]:
    return [read_coding_file(p, BOOK) for p in sorted(folder.glob("*.md"))]


def load_texts(folder: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in folder.glob("*.txt")}


def coding(ad_id="ad", quotes=(), tools=(), profile=None) -> Coding:
    return Coding(
        ad_id=ad_id,
        profile=profile,
        quotes=[Quote(category=c, text=t) for c, t in quotes],
        tools=[Tool(category=c, name=n) for c, n in tools],
    )


def counts(block: dict) -> tuple[int, int, int]:
    return block["tp"], block["fp"], block["fn"]


# ------------------------------------------------------------- gold vs itself


def defined_numbers(node, path=""):
    """Every ratio in the report that should be 1.0 when gold meets itself."""
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                key
                in (
                    "precision",
                    "recall",
                    "f1",
                    "kappa",
                    "accuracy",
                    "agreement",
                    "macro_kappa",
                    "alpha",
                )
                and value is not None
            ):
                yield f"{path}.{key}", value
            else:
                yield from defined_numbers(value, f"{path}.{key}")


@pytest.mark.parametrize("source", ["project", "dev"])
@pytest.mark.parametrize("with_ads", [True, False], ids=["ad-text", "tokens"])
def test_gold_against_itself_is_perfect(source, with_ads):
    base = REPO if source == "project" else needs_dev()
    gold = load_dir(base / "gold")
    report = evaluate(gold, gold, BOOK, load_texts(base / "raw") if with_ads else None)
    numbers = dict(defined_numbers(report))
    assert numbers and all(v == pytest.approx(1.0) for v in numbers.values()), numbers
    for key in (
        "profile.kappa",
        "quotes.strict.f1",
        "quotes.partial.f1",
        "presence.macro_kappa",
        "presence.alpha",
        "tools.name.f1",
    ):
        assert f".{key}" in numbers  # the headline is defined, not skipped
    assert report["ads"]["gold_only"] == report["ads"]["pred_only"] == []
    assert all(
        not a[k]
        for a in report["per_ad"]
        for k in ("missed", "spurious", "missed_tools", "spurious_tools")
    )


# ------------------------------------------------------ agreement statistics

labels = st.sampled_from("abc")
rating_pairs = st.lists(st.tuples(labels, labels), min_size=1, max_size=30)


@given(rating_pairs)
def test_kappa_agrees_with_sklearn(pairs):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    value = cohen_kappa(gold, pred)
    if len(set(gold) | set(pred)) == 1:
        assert value is None  # sklearn returns nan with a warning here
    else:
        assert value == pytest.approx(cohen_kappa_score(gold, pred))


@given(rating_pairs)
def test_alpha_agrees_with_krippendorff(pairs):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    value = krippendorff_alpha(gold, pred)
    if len(set(gold) | set(pred)) == 1:
        assert value is None  # the package raises: one value in the domain
    else:
        codes = {x: i for i, x in enumerate("abc")}
        data = [[codes[x] for x in gold], [codes[x] for x in pred]]
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert value == pytest.approx(expected)


category_sets = st.frozensets(st.sampled_from(sorted(BOOK.categories)), max_size=6)


def coded(ad_id: str, cats) -> Coding:
    kind = {c: BOOK.part_of[c].kind for c in cats}
    return coding(
        ad_id,
        quotes=[(c, "a passage") for c in cats if kind[c] == "quotes"],
        tools=[(c, "a tool") for c in cats if kind[c] == "tools"],
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(category_sets, category_sets), min_size=1, max_size=8))
def test_presence_agrees_with_reference_packages(ads):
    gold = [coded(f"ad{i}", g) for i, (g, _) in enumerate(ads)]
    pred = [coded(f"ad{i}", p) for i, (_, p) in enumerate(ads)]
    presence = evaluate(gold, pred, BOOK)["presence"]
    cells = [[], []]
    for cat, result in presence["per_category"].items():
        g, p = [int(cat in a) for a, _ in ads], [int(cat in b) for _, b in ads]
        cells[0] += g
        cells[1] += p
        assert (result["gold"], result["pred"]) == (sum(g), sum(p))
        (tn, fp), (fn, tp) = confusion_matrix(g, p, labels=[0, 1])
        assert result["cells"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
        if len(set(g) | set(p)) == 1:
            assert result["kappa"] is None
        else:
            assert result["kappa"] == pytest.approx(cohen_kappa_score(g, p))
    if len(set(cells[0]) | set(cells[1])) > 1:
        expected = krippendorff.alpha(reliability_data=cells, level_of_measurement="nominal")
        assert presence["alpha"] == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(BOOK.profile_names[:3]), st.sampled_from(BOOK.profile_names[:3])),
        min_size=1,
        max_size=12,
    )
)
def test_profile_kappa_and_confusion(pairs):
    gold = [coding(f"ad{i}", profile=g) for i, (g, _) in enumerate(pairs)]
    pred = [coding(f"ad{i}", profile=p) for i, (_, p) in enumerate(pairs)]
    profile = evaluate(gold, pred, BOOK)["profile"]
    g, p = [x for x, _ in pairs], [y for _, y in pairs]
    if len(set(g) | set(p)) > 1:
        assert profile["kappa"] == pytest.approx(cohen_kappa_score(g, p))
    matrix, index = profile["confusion"]["matrix"], profile["confusion"]["labels"].index
    for a, b in set(pairs):
        assert matrix[index(a)][index(b)] == pairs.count((a, b))


@pytest.mark.parametrize(
    "gold, pred, expected",
    [
        ([], [], None),
        (["x", "x"], ["x", "x"], None),
        (["x", "y"], ["x", "y"], 1.0),
        (["x", "x"], ["y", "y"], 0.0),  # chance agreement is 0 here, so kappa is defined
    ],
    ids=["no-items", "one-value-everywhere", "perfect", "always-disagree"],
)
def test_kappa_undefined_cases(gold, pred, expected):
    assert cohen_kappa(gold, pred) == expected


@pytest.mark.parametrize(
    "block, expected",
    [
        ((0, 0, 0), (None, None, None)),
        ((0, 0, 2), (None, 0.0, 0.0)),
        ((0, 3, 0), (0.0, None, 0.0)),
        ((3, 1, 2), (0.75, 0.6, 2 / 3)),
    ],
    ids=["nothing", "nothing-predicted", "nothing-in-gold", "mixed"],
)
def test_prf(block, expected):
    result = prf(*block)
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx(expected)


# --------------------------------------------------------- quotes by hand

X, Y = "Build Python services and REST APIs", "Deploy them on Azure"
AD = "We build Python services and REST APIs. Use Python. Use Python daily."


@pytest.mark.parametrize(
    "gold, pred, ad_text, strict, partial",
    [
        ([("1.A.1", X)], [("1.A.1", X)], None, (1, 0, 0), (1, 0, 0)),
        (
            [("1.A.1", "Build the “REST” APIs.")],
            [("1.A.1", '...build the "rest"  APIs')],
            None,
            (1, 0, 0),
            (1, 0, 0),
        ),
        (
            [("1.A.2", "Coach juniors"), ("3.1", "Coach juniors")],
            [("1.A.2", "Coach juniors")],
            None,
            (1, 0, 1),
            (1, 0, 1),
        ),
        ([("1.A.1", X)], [("1.B.1", X)], None, (0, 1, 1), (0, 1, 1)),
        ([("1.A.1", X), ("1.A.1", X)], [("1.A.1", X)], None, (1, 0, 1), (1, 0, 1)),
        ([("1.A.1", X)], [("1.A.1", X)] * 3, None, (1, 2, 0), (1, 2, 0)),
        ([], [], None, (0, 0, 0), (0, 0, 0)),
        ([("1.A.1", X), ("3.1", Y)], [], None, (0, 0, 2), (0, 0, 2)),
        ([], [("1.A.1", X)], None, (0, 1, 0), (0, 1, 0)),
        ([("1.A.1", X)], [("1.A.1", "Python services")], None, (0, 1, 1), (1, 0, 0)),
        (
            [("1.A.1", "alpha beta gamma delta")],
            [("1.A.1", "gamma delta epsilon zeta")],
            None,
            (0, 1, 1),
            (1, 0, 0),
        ),
        (
            [("1.A.1", "alpha beta gamma delta")],
            [("1.A.1", "delta epsilon zeta eta")],
            None,
            (0, 1, 1),
            (0, 1, 1),
        ),
        (
            [("1.A.1", "the team and the product")],
            [("1.A.1", "and the team product the")],
            None,
            (0, 1, 1),
            (0, 1, 1),
        ),
        (
            [("1.A.1", "alpha beta gamma delta"), ("1.A.1", "gamma delta epsilon zeta")],
            [("1.A.1", "gamma delta epsilon zeta eta"), ("1.A.1", "epsilon zeta eta theta")],
            None,
            (0, 2, 2),
            (2, 0, 0),
        ),
        (
            [("1.A.1", "alpha beta gamma"), ("1.A.1", "beta gamma delta")],
            [("1.A.1", "beta gamma")],
            None,
            (0, 1, 2),
            (1, 0, 1),
        ),
        (
            [("1.A.1", X)],
            [("1.A.1", "Python services and REST APIs. Use")],
            AD,
            (0, 1, 1),
            (1, 0, 0),
        ),
        ([("1.A.1", "Use Python daily")], [("1.A.1", "Use Python.")], None, (0, 1, 1), (1, 0, 0)),
        ([("1.A.1", "Use Python daily")], [("1.A.1", "Use Python.")], AD, (0, 1, 1), (0, 1, 1)),
        ([("1.A.1", "not in the ad at all")], [("1.A.1", "in the ad")], AD, (0, 1, 1), (1, 0, 0)),
    ],
    ids=[
        "identical",
        "normalised-equal",
        "passage-under-two-categories-one-missing",
        "wrong-category",
        "duplicate-gold",
        "duplicate-pred",
        "both-empty",
        "pred-empty",
        "gold-empty",
        "fragment",
        "tokens-overlap-exactly-half",
        "tokens-overlap-below-half",
        "shared-words-out-of-order",
        "one-to-one-beats-greedy",
        "one-pred-two-gold",
        "chars-overlap",
        "tokens-without-ad-text",
        "chars-other-occurrence",
        "not-in-ad-falls-back-to-tokens",
    ],
)
def test_quote_matching(gold, pred, ad_text, strict, partial):
    report = evaluate(
        [coding(quotes=gold)], [coding(quotes=pred)], BOOK, {"ad": ad_text} if ad_text else None
    )
    assert counts(report["quotes"]["strict"]) == strict
    assert counts(report["quotes"]["partial"]) == partial


def test_quote_breakdown_per_part_and_category():
    gold = coding(quotes=[("1.A.2", "Coach juniors"), ("3.1", "Coach juniors"), ("1.A.1", X)])
    pred = coding(quotes=[("1.A.2", "Coach juniors"), ("1.B.1", X)])
    quotes = evaluate([gold], [pred], BOOK)["quotes"]
    assert counts(quotes["per_part"]["1"]["strict"]) == (1, 1, 1)
    assert counts(quotes["per_part"]["3"]["strict"]) == (0, 0, 1)
    per_cat = {c: counts(v["partial"]) for c, v in quotes["per_category"].items()}
    per_cat = {c: n for c, n in per_cat.items() if any(n)}
    assert per_cat == {"1.A.1": (0, 0, 1), "1.A.2": (1, 0, 0), "1.B.1": (0, 1, 0), "3.1": (0, 0, 1)}
    assert quotes["per_category"]["1.A.1"]["strict"]["recall"] == 0.0
    assert "2.1" not in quotes["per_category"]  # tool categories have no quotes to match
    assert quotes["per_category"]["3.2"]["strict"] == prf(0, 0, 0)


def test_match_ad_gives_the_review_its_lists():
    gold = coding(quotes=[("1.A.1", X), ("3.1", Y)])
    pred = coding(quotes=[("1.A.1", "Python services"), ("3.2", "Eager to learn")])
    result = match_ad(gold, pred)  # partial by default: what the review page shows
    assert [(g.text, p.text) for g, p in result.matched] == [(X, "Python services")]
    assert [q.text for q in result.missed] == [Y]
    assert [q.text for q in result.extra] == ["Eager to learn"]
    assert match_ad(gold, pred, mode="strict").matched == []
    with pytest.raises(ValueError, match="mode"):
        match_ad(gold, pred, mode="fuzzy")


# ---------------------------------------------------------- tools by hand


@pytest.mark.parametrize(
    "gold, pred, name, pair",
    [
        ([("2.1", "Python")], [("2.1", "python")], (1, 0, 0), (1, 0, 0)),
        ([("2.4", "TensorFlow (ML framework)")], [("2.4", "Tensorflow")], (1, 0, 0), (1, 0, 0)),
        ([("2.7", "scikit-learn")], [("2.7", "Scikit Learn")], (1, 0, 0), (1, 0, 0)),
        ([("2.1", "C++"), ("2.1", "C#")], [("2.1", "C")], (0, 1, 2), (0, 1, 2)),
        ([("2.4", "LangChain")], [("2.3", "LangChain")], (1, 0, 0), (0, 1, 1)),
        ([("2.3", "GenAI"), ("2.6", "GenAI")], [("2.3", "Gen AI")], (1, 0, 0), (1, 0, 1)),
        ([("2.1", "Python")], [("2.1", "Python"), ("2.1", "python.")], (1, 0, 0), (1, 0, 0)),
        ([], [], (0, 0, 0), (0, 0, 0)),
        ([("2.2", "Azure")], [], (0, 0, 1), (0, 0, 1)),
    ],
    ids=[
        "case",
        "parenthetical",
        "punctuation",
        "c-family-stays-apart",
        "wrong-category",
        "one-name-two-categories",
        "duplicate-pred",
        "both-empty",
        "pred-empty",
    ],
)
def test_tool_matching(gold, pred, name, pair):
    tools = evaluate([coding(tools=gold)], [coding(tools=pred)], BOOK)["tools"]
    assert counts(tools["name"]) == name
    assert counts(tools["name_and_category"]) == pair


# --------------------------------------------------- pairing, presence, gate


def test_unpaired_ads_are_listed_not_scored():
    gold = [coding("a", quotes=[("1.A.1", X)]), coding("b", quotes=[("1.A.1", X)])]
    pred = [coding("b", quotes=[("1.A.1", X)]), coding("c", quotes=[("1.A.1", Y)])]
    report = evaluate(gold, pred, BOOK)
    assert report["ads"] == {"paired": ["b"], "gold_only": ["a"], "pred_only": ["c"]}
    assert counts(report["quotes"]["strict"]) == (1, 0, 0)
    with pytest.raises(ValueError, match="'b' appears more than once"):
        pair_codings(gold, pred + pred[:1])


def test_empty_codings_leave_everything_undefined():
    report = evaluate([coding()], [coding()], BOOK)
    assert report["profile"] == {
        "n": 0,
        "accuracy": None,
        "kappa": None,
        "confusion": report["profile"]["confusion"],
    }
    assert all(v["kappa"] is None for v in report["presence"]["per_category"].values())
    assert report["presence"]["macro_kappa"] is None and report["presence"]["alpha"] is None
    assert report["quotes"]["strict"] == prf(0, 0, 0)
    assert len(gate_failures(report, 0.0)) == 2  # undefined never passes a gate


def test_presence_counts_tool_categories_and_skips_undefined_in_the_mean():
    gold = [coding("a", tools=[("2.1", "Python")]), coding("b", quotes=[("3.1", Y)])]
    pred = [coding("a", tools=[("2.1", "Python")]), coding("b", tools=[("2.1", "R")])]
    presence = evaluate(gold, pred, BOOK)["presence"]
    tool_cat = presence["per_category"]["2.1"]
    assert {k: tool_cat[k] for k in ("n", "gold", "pred", "agreement", "kappa")} == {
        "n": 2,
        "gold": 1,
        "pred": 2,
        "agreement": 0.5,
        "kappa": 0.0,
    }
    assert presence["per_category"]["3.1"]["kappa"] == 0.0
    assert presence["per_category"]["1.A.1"]["kappa"] is None
    assert presence["macro_kappa"] == 0.0


# ----------------------------------------------------- perturbed dev gold

MOVED = "Guide our upcoming transition to the cloud"
DROPPED = [
    "Implement security concerns related to ML systems",
    "Responsible for batch, real-time and GenAI model deployments",
]
LONG = "Integrate ML models into deployable Python applications and microservices"


def perturb(gold: list[Coding]) -> list[Coding]:
    by_id = {c.ad_id: c.model_copy(deep=True) for c in gold}
    ids = ("752_fitura", "769_klm", "38_creative_fabrica", "759_headfirst")
    fitura, klm, fabrica, headfirst = (by_id[i] for i in ids)
    fitura.quotes = [q for q in fitura.quotes if q.text not in DROPPED]
    fitura.tools = [t for t in fitura.tools if t.name != "CI/CD"]
    for q in klm.quotes:
        if q.text == MOVED:
            q.category = "1.B.2"
    klm.profile = "Core ML Engineer"
    for q in fabrica.quotes:
        if q.text == LONG:
            q.text = "deployable Python applications"
    for t in headfirst.tools:
        if t.name == "RuleSpeak":
            t.category = "2.7"
    by_id["767_incentro"].tools[0].name = "python"  # case alone is no disagreement
    return list(by_id.values())


@pytest.mark.parametrize("with_ads", [True, False], ids=["ad-text", "tokens"])
def test_perturbed_dev_gold_gives_expected_counts(with_ads):
    dev = needs_dev()
    gold = load_dir(dev / "gold")
    report = evaluate(gold, perturb(gold), BOOK, load_texts(dev / "raw") if with_ads else None)
    assert sum(len(c.quotes) for c in gold) == 78
    assert counts(report["quotes"]["strict"]) == (74, 2, 4)
    assert counts(report["quotes"]["partial"]) == (75, 1, 3)
    per_cat = report["quotes"]["per_category"]
    assert counts(per_cat["1.A.2"]["partial"]) == (per_cat["1.A.2"]["partial"]["tp"], 0, 3)
    assert counts(per_cat["1.B.2"]["partial"])[1:] == (1, 0)
    assert counts(per_cat["1.A.1"]["strict"])[1:] == (1, 1)
    assert counts(per_cat["1.A.1"]["partial"])[1:] == (0, 0)
    assert counts(report["quotes"]["per_part"]["3"]["strict"])[1:] == (0, 0)
    profile = report["profile"]
    assert (profile["n"], profile["accuracy"]) == (5, 0.8)  # 30_cognizant has no gold profile
    assert profile["kappa"] == pytest.approx(13 / 18)  # p_o 0.8, p_e 0.28
    assert counts(report["tools"]["name"]) == (26, 0, 1)
    assert counts(report["tools"]["name_and_category"]) == (25, 1, 2)
    presence = report["presence"]
    changed = {
        c: (v["gold"], v["pred"])
        for c, v in presence["per_category"].items()
        if v["gold"] != v["pred"]
    }
    assert changed == {"1.B.2": (1, 2), "2.7": (1, 2)}
    assert presence["per_category"]["1.B.2"]["kappa"] == pytest.approx(4 / 7)
    assert presence["macro_kappa"] == pytest.approx((16 + 2 * 4 / 7) / 18)
    # Two coders, binary: alpha = 1 - (n-1) o_01 / (n_0 n_1); 240 values, 106 ones, 2 misses
    assert presence["alpha"] == pytest.approx(1 - 239 * 2 / (134 * 106))
    per_ad = {a["ad_id"]: a for a in report["per_ad"]}
    klm_profile = "Core GenAI Engineer"
    assert sorted(q["text"] for q in per_ad["752_fitura"]["missed"]) == DROPPED
    assert per_ad["769_klm"]["missed"] == [{"category": "1.A.2", "text": MOVED}]
    assert per_ad["769_klm"]["spurious"] == [{"category": "1.B.2", "text": MOVED}]
    assert per_ad["769_klm"]["profile"] == {"gold": klm_profile, "pred": "Core ML Engineer"}
    fabrica = per_ad["38_creative_fabrica"]
    assert fabrica["missed"] == fabrica["spurious"] == []  # the fragment still matches
    assert per_ad["759_headfirst"]["spurious_tools"] == [{"category": "2.7", "name": "RuleSpeak"}]


scores_matrix = st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(
    lambda shape: st.lists(
        st.lists(st.none() | st.none() | st.floats(0.5, 1.0), min_size=shape[1], max_size=shape[1]),
        min_size=shape[0],
        max_size=shape[0],
    )
)


@settings(max_examples=300, deadline=None)
@given(scores_matrix)
def test_assignment_skips_the_solver_only_where_it_has_no_choice(scores):
    from scipy.optimize import linear_sum_assignment

    k = min(len(scores), len(scores[0]))
    weights = [[0.0 if s is None else 1.0 + s / (k + 1) for s in row] for row in scores]
    rows, cols = linear_sum_assignment(weights, maximize=True)
    expected = sorted(
        (int(r), int(c)) for r, c in zip(rows, cols, strict=True) if weights[r][c] > 0
    )
    found = sorted(assign_pairs(scores))
    candidates = [
        (i, j) for i, row in enumerate(scores) for j, s in enumerate(row) if s is not None
    ]
    if len({i for i, _ in candidates}) == len(candidates) == len({j for _, j in candidates}):
        assert found == expected == candidates  # no choice: the solver matches every candidate
    else:  # a tie may pick another matching of the same size and weight
        assert len(found) == len(expected)
        total = sum(weights[i][j] for i, j in found)
        assert total == pytest.approx(sum(weights[i][j] for i, j in expected))
    assert len({i for i, _ in found}) == len(found) == len({j for _, j in found})
