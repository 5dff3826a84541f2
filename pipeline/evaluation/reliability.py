"""Reliability among k >= 2 sets of codings of the same ads (`autocode agree`).

The conventions of content analysis:

- Presence: for every ad x codebook category, is the category coded (one quote or tool)?
  Krippendorff's alpha, nominal, over all those units with k coders; a coder who did not
  code an ad is a missing value there, not an absence. Also per category.
- Profile: Fleiss' kappa over the ads every coder gave a profile (Fleiss needs the same
  number of ratings per ad).
- Pairwise, over the ads both coded: quote partial F1 (`autocode eval`'s matching; F1 is
  symmetric, so it does not matter which side is taken as gold) and the share of ads with
  both profiles set on which the profiles are equal.

Undefined figures are None: alpha with fewer than two values in the data or no unit coded
twice, Fleiss' kappa with no ad or when chance agreement is 1, a ratio with nothing to count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations

import krippendorff
import numpy as np

from pipeline.codebook import Codebook
from pipeline.evaluation.scores import coded_categories, prf
from pipeline.matching import match_ad
from pipeline.record import Coding

CodingSet = tuple[str, Sequence[Coding]]  # (name, codings)


def nominal_alpha(data: np.ndarray) -> float | None:
    """Krippendorff's alpha of a coders x units matrix with NaN for missing; None if undefined."""
    values = data[~np.isnan(data)]
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if len(np.unique(values)) < 2 or not pairable.any():
        return None  # the package raises on a one-value domain
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return None if math.isnan(value) else value


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa of items each rated by the same number m >= 2 of raters; None if undefined."""
    if not ratings:
        return None
    m = len(ratings[0])
    if m < 2 or any(len(r) != m for r in ratings):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings per item")
    counts = [Counter(r) for r in ratings]
    observed = sum((sum(n * n for n in c.values()) - m) / (m * (m - 1)) for c in counts)
    observed /= len(ratings)
    totals = sum(counts, Counter())
    expected = sum((n / (len(ratings) * m)) ** 2 for n in totals.values())
    if expected == 1:
        return None  # every rating the same value: chance agreement is 1
    return (observed - expected) / (1 - expected)


def presence_matrix(
    by_coder: Sequence[Mapping[str, Coding]], ads: Sequence[str], categories: Sequence[str]
) -> np.ndarray:
    """coders x ads x categories: 1 coded, 0 not coded, NaN where the coder has no coding."""
    data = np.full((len(by_coder), len(ads), len(categories)), np.nan)
    for i, codings in enumerate(by_coder):
        for j, ad_id in enumerate(ads):
            if ad_id in codings:
                coded = coded_categories(codings[ad_id])
                data[i, j] = [cat in coded for cat in categories]
    return data


def presence(by_coder, ads, book: Codebook) -> dict:
    categories = list(book.categories)
    data = presence_matrix(by_coder, ads, categories)
    per_category = {
        cat_id: {"name": book.categories[cat_id].name, "alpha": nominal_alpha(data[:, :, c])}
        for c, cat_id in enumerate(categories)
    }
    return {"alpha": nominal_alpha(data.reshape(len(by_coder), -1)), "per_category": per_category}


def profile_reliability(by_coder: Sequence[Mapping[str, Coding]], ads: Sequence[str]) -> dict:
    """Fleiss' kappa over the ads every coder coded with a profile."""
    ratings: list[list[str]] = []
    for ad_id in ads:
        profiles = [codings[ad_id].profile if ad_id in codings else None for codings in by_coder]
        if all(profiles):
            ratings.append([p for p in profiles if p])
    return {"fleiss_kappa": fleiss_kappa(ratings) if ratings else None, "n": len(ratings)}


def pair_agreement(
    a: Mapping[str, Coding], b: Mapping[str, Coding], texts: Mapping[str, str]
) -> dict:
    """Quote partial F1 and profile agreement over the ads both sides coded."""
    shared = sorted(a.keys() & b.keys())
    tp = fp = fn = 0
    for ad_id in shared:
        match = match_ad(a[ad_id], b[ad_id], texts.get(ad_id), "partial")
        tp, fp, fn = tp + len(match.matched), fp + len(match.extra), fn + len(match.missed)
    both = [(a[i].profile, b[i].profile) for i in shared if a[i].profile and b[i].profile]
    return {
        "n_ads": len(shared),
        "quote_partial_f1": prf(tp, fp, fn)["f1"],
        "profile_agreement": sum(x == y for x, y in both) / len(both) if both else None,
        "profile_n": len(both),
    }


def _by_id(name: str, codings: Sequence[Coding]) -> dict[str, Coding]:
    by_id = {c.ad_id: c for c in codings}
    if len(by_id) != len(codings):
        twice = next(i for i, n in Counter(c.ad_id for c in codings).items() if n > 1)
        raise ValueError(f"{name}: ad id {twice!r} appears more than once")
    return by_id


def agree(
    sets: Sequence[CodingSet], book: Codebook, ad_texts: Mapping[str, str] | None = None
) -> dict:
    """The reliability report (the `--json` structure) of k >= 2 coding sets."""
    if len(sets) < 2:
        raise ValueError("agreement needs at least two sets of codings")
    names = [name for name, _ in sets]
    by_coder = [_by_id(name, codings) for name, codings in sets]
    ads = sorted(set().union(*(c.keys() for c in by_coder)))
    texts = ad_texts or {}
    pairwise = [
        {"a": names[i], "b": names[j], **pair_agreement(by_coder[i], by_coder[j], texts)}
        for i, j in combinations(range(len(sets)), 2)
    ]
    return {
        "coders": names,
        "ads": ads,
        "coded": {name: len(c) for name, c in zip(names, by_coder, strict=True)},
        "presence": presence(by_coder, ads, book),
        "profile": profile_reliability(by_coder, ads),
        "pairwise": pairwise,
    }


# ------------------------------------------------------------------------- tables


def _fmt(value) -> str:
    if value is None:
        return "undefined"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def agree_sections(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table of the agreement report."""
    coded = ", ".join(f"{name} {n}" for name, n in report["coded"].items())
    headline = [
        ["coders", str(len(report["coders"]))],
        ["ads (coded by each: " + coded + ")", str(len(report["ads"]))],
        ["presence Krippendorff alpha (nominal)", _fmt(report["presence"]["alpha"])],
        [
            f"profile Fleiss kappa (n={report['profile']['n']})",
            _fmt(report["profile"]["fleiss_kappa"]),
        ],
    ]
    per_category = [
        [f"{cat_id} {v['name']}", _fmt(v["alpha"])]
        for cat_id, v in report["presence"]["per_category"].items()
    ]
    pairs = [
        [
            p["a"],
            p["b"],
            str(p["n_ads"]),
            _fmt(p["quote_partial_f1"]),
            f"{_fmt(p['profile_agreement'])} (n={p['profile_n']})",
        ]
        for p in report["pairwise"]
    ]
    return [
        ("Reliability", ["", "value"], headline),
        ("Presence alpha per category", ["category", "alpha"], per_category),
        (
            "Pairwise (ads both coded)",
            ["a", "b", "ads", "quote partial F1", "profile agreement"],
            pairs,
        ),
    ]
