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

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from pipeline.codebook import Codebook
from pipeline.codings.load import CodingSet
from pipeline.evaluation.measures import fleiss_kappa, nominal_alpha, prf
from pipeline.matching import coded_categories, match_ad
from pipeline.record import Coding


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
    names = [cset.name for cset in sets]
    by_coder = [_by_id(cset.name, cset.codings) for cset in sets]
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
