"""Quote grounding: statuses and spans, table-driven, and the dev ads with their gold codings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from pipeline.goldmd.parse import read_coding_file
from pipeline.grounding import FUZZY_MIN_CHARS, FUZZY_THRESHOLD, fold, fold_quote, ground, locate
from pipeline.record import Coding, Quote

AD = (
    "Senior ML Engineer\n\n"
    "At Acme you will Put your model into production and keep it healthy.\n"
    "We expect you to   work together\nwith engineers inside and outside of the team.\n"
    "You “own” the ML platform’s roadmap — end to end.\n"
    "Je ontwikkelt machine learning-modellen en test je deze om de nauwkeurigheid te "
    "waarborgen.\n"
    "Research and choose an appropriate set of potential models and loss functions.\n"
    "Nice to have: Python, SQL and more…\n"
    "Heel veel leergierigheid! Groei is bij ons een must. Wij bieden dé plek om te groeien.\n"
)
OTHER_AD = "Python"

# (quote, ad text, status, the text its span covers)
CASES = [
    # exact: verbatim, the span is the quote
    pytest.param(
        "Put your model into production", AD, "exact", "Put your model into production", id="exact"
    ),
    pytest.param(
        "Wij bieden dé plek om te groeien.",
        AD,
        "exact",
        "Wij bieden dé plek om te groeien.",
        id="exact-dutch-unicode",
    ),
    pytest.param("and more…", AD, "exact", "and more…", id="exact-with-ellipsis-char"),
    # normalized: case, whitespace, typographic marks, edge ellipses and punctuation
    pytest.param(
        "put your model into PRODUCTION",
        AD,
        "normalized",
        "Put your model into production",
        id="normalized-case",
    ),
    pytest.param(
        "We expect you to work together",
        AD,
        "normalized",
        "We expect you to   work together",
        id="normalized-space-run",
    ),
    pytest.param(
        "work together with engineers inside",
        AD,
        "normalized",
        "work together\nwith engineers inside",
        id="normalized-newline",
    ),
    pytest.param(
        "  work together\n\n with   engineers ",
        AD,
        "normalized",
        "work together\nwith engineers",
        id="normalized-whitespace-in-quote",
    ),
    pytest.param(
        'You "own" the ML platform\'s roadmap',
        AD,
        "normalized",
        "You “own” the ML platform’s roadmap",
        id="normalized-typographic-quotes",
    ),
    pytest.param(
        "roadmap - end to end", AD, "normalized", "roadmap — end to end", id="normalized-dash"
    ),
    pytest.param(
        "...keep it healthy", AD, "normalized", "keep it healthy", id="normalized-leading-dots"
    ),
    pytest.param(
        "Put your model into...",
        AD,
        "normalized",
        "Put your model into",
        id="normalized-trailing-dots",
    ),
    pytest.param(
        "...and keep it...", AD, "normalized", "and keep it", id="normalized-dots-both-ends"
    ),
    pytest.param(
        "…work together with engineers…",
        AD,
        "normalized",
        "work together\nwith engineers",
        id="normalized-ellipsis-chars",
    ),
    pytest.param("and more...", AD, "normalized", "and more", id="normalized-dots-vs-char"),
    pytest.param(
        "keep it healthy!", AD, "normalized", "keep it healthy", id="normalized-edge-punctuation"
    ),
    pytest.param(
        "HEEL VEEL LEERGIERIGHEID!  groei is bij ons een must",
        AD,
        "normalized",
        "Heel veel leergierigheid! Groei is bij ons een must",
        id="normalized-dutch",
    ),
    # fuzzy: one typo in a long quote; the span is the passage as the ad writes it
    pytest.param(
        "Research and choose an apropriate set of potential models and loss functions",
        AD,
        "fuzzy",
        "Research and choose an appropriate set of potential models and loss functions",
        id="fuzzy-missing-letter",
    ),
    pytest.param(
        "Research and choose an appropriate set of potentiel models and loss functions",
        AD,
        "fuzzy",
        "Research and choose an appropriate set of potential models and loss functions",
        id="fuzzy-wrong-letter",
    ),
    pytest.param(
        "Je ontwikkelt machine learning-modelen en test je deze om de nauwkeurigheid",
        AD,
        "fuzzy",
        "Je ontwikkelt machine learning-modellen en test je deze om de nauwkeurigheid",
        id="fuzzy-dutch-typo",
    ),
    pytest.param(
        "...Put your model into production and keep it wealthy",
        AD,
        "fuzzy",
        "Put your model into production and keep it healthy",
        id="fuzzy-with-leading-dots",
    ),
    # not_found: nothing that is not there
    pytest.param(
        "Deploy the models you built to production systems",
        AD,
        "not_found",
        None,
        id="not-found-paraphrase",
    ),
    pytest.param(
        "Research and choose a set of models and their loss",
        AD,
        "not_found",
        None,
        id="not-found-reworded",
    ),
    pytest.param("kep it healty", AD, "fuzzy", "keep it healthy", id="fuzzy-two-typos"),
    pytest.param("keep healty", AD, "not_found", None, id="not-found-short-with-typo"),
    pytest.param("Put yuor mdl", AD, "not_found", None, id="not-found-short-typo"),
    pytest.param(
        "Have fun and enjoy while you are doing it!",
        AD,
        "not_found",
        None,
        id="not-found-quote-of-another-ad",
    ),
    pytest.param(
        "Can we use GenAI models to prevent revenue leakage?",
        AD,
        "not_found",
        None,
        id="not-found-another-ad-2",
    ),
    pytest.param("...", AD, "not_found", None, id="not-found-only-dots"),
    pytest.param(
        "Python developer wanted in Amsterdam",
        OTHER_AD,
        "not_found",
        None,
        id="not-found-quote-longer-than-ad",
    ),
]


@pytest.mark.parametrize(("quote", "ad", "status", "span_text"), CASES)
def test_locate(quote, ad, status, span_text):
    span, got = locate(quote, ad)
    assert got == status
    if span_text is None:
        assert span is None
    else:
        start, end = span
        assert 0 <= start < end <= len(ad)
        assert ad[start:end] == span_text


def test_fuzzy_needs_a_long_enough_quote():
    """A short quote with a typo is too weak evidence: it stays not_found."""
    short, longer = "it healty", "keep it healty"
    assert len(fold_quote(short)) < FUZZY_MIN_CHARS <= len(fold_quote(longer))
    assert locate(short, AD) == (None, "not_found")
    assert locate(longer, AD)[1] == "fuzzy"


def test_fold_maps_back_to_the_original():
    text = "  A  “B”\n\nc…  "
    folded, origin = fold(text)
    assert folded == 'a "b" c...'
    assert len(origin) == len(folded)
    assert [text[i] for i in origin][:3] == ["A", " ", "“"]


def test_fold_quote_strips_edge_marks():
    assert fold_quote("…  Build CI/CD pipelines...") == "build ci/cd pipelines"
    assert fold_quote('"Quoted."') == "quoted"
    assert fold_quote("...") == ""


def test_ground_fills_every_quote_and_keeps_the_rest():
    coding = Coding(
        ad_id="1_acme",
        profile="X",
        quotes=[
            Quote(category="A", text="Put your model into production", note="n"),
            Quote(category="B", text="...keep it healthy"),
            Quote(category="C", text="Something else entirely, nowhere in the ad"),
        ],
    )
    grounded = ground(coding, AD)
    assert [q.grounding for q in grounded.quotes] == ["exact", "normalized", "not_found"]
    assert grounded.quotes[0].span == (AD.index("Put your"), AD.index(" and keep"))
    assert grounded.quotes[2].span is None
    assert [(q.category, q.text, q.note) for q in grounded.quotes] == [
        (q.category, q.text, q.note) for q in coding.quotes
    ]
    assert grounded.profile == "X"
    assert all(q.span is None and q.grounding is None for q in coding.quotes)  # not mutated


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_passage_of_the_ad_is_found_where_it_is(data):
    start = data.draw(st.integers(0, len(AD) - 1))
    end = data.draw(st.integers(start + 1, len(AD)))
    passage = AD[start:end]
    span, status = locate(passage, AD)
    if status == "exact":
        assert AD[span[0] : span[1]] == passage
    elif fold_quote(passage):
        assert status == "normalized"
        assert fold_quote(AD[span[0] : span[1]]) == fold_quote(passage)
    else:
        assert status == "not_found"


@settings(max_examples=200, deadline=None)
@given(quote=st.text(st.sampled_from("abcdeilmnoprstu .,…“”\n"), max_size=60))
def test_located_means_similar(quote):
    span, status = locate(quote, AD)
    if span is not None:
        assert fuzz.ratio(fold_quote(quote), fold_quote(AD[span[0] : span[1]])) >= FUZZY_THRESHOLD


# ------------------------------------------------------------ the six dev ads


@pytest.fixture(scope="module")
def dev_pairs(shared_jobads, codebook):
    dev = shared_jobads / "dev"
    pairs = {}
    for path in sorted((dev / "gold").glob("*.md")):
        ad = (dev / "raw" / f"{path.stem}.txt").read_text(encoding="utf-8")
        pairs[path.stem] = (read_coding_file(path, codebook), ad)
    return pairs


def _assert_span_matches(quote: Quote, ad: str) -> None:
    start, end = quote.span
    assert 0 <= start < end <= len(ad)
    found = ad[start:end]
    if quote.grounding == "exact":
        assert found == quote.text
    elif quote.grounding == "normalized":
        assert fold_quote(found) == fold_quote(quote.text)
    else:
        assert fuzz.ratio(fold_quote(quote.text), fold_quote(found)) >= FUZZY_THRESHOLD


def test_dev_gold_quotes_are_located(dev_pairs):
    total = located = 0
    for _stem, (coding, ad) in dev_pairs.items():
        for quote in ground(coding, ad).quotes:
            total += 1
            if quote.grounding == "not_found":
                assert quote.span is None
                continue
            located += 1
            _assert_span_matches(quote, ad)
    assert total == 78
    assert located / total >= 0.99
    assert located == 78  # the data README: all 78 occur once normalised


def test_dev_gold_statuses(dev_pairs):
    statuses = {
        stem: sorted({q.grounding for q in ground(coding, ad).quotes})
        for stem, (coding, ad) in dev_pairs.items()
    }
    assert statuses["769_klm"] == ["exact"]
    assert statuses["752_fitura"] == ["exact"]
    assert "normalized" in statuses["30_cognizant"]  # quotes with `...` at their edges


def test_dev_quotes_in_other_ads_are_never_wrongly_found(dev_pairs):
    """A quote grounded against the wrong ad is either not found or found where it really is."""
    wrong = located = 0
    for stem, (coding, _ad) in dev_pairs.items():
        for other, (_c, other_ad) in dev_pairs.items():
            if other == stem:
                continue
            for quote in ground(coding, other_ad).quotes:
                if quote.grounding != "not_found":
                    located += 1
                    _assert_span_matches(quote, other_ad)
                else:
                    wrong += 1
    assert wrong == 5 * 78 and located == 0  # no dev quote occurs in another dev ad
