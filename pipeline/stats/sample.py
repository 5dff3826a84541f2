"""The validation sample (`autocode sample`): which ads a coder codes by hand, blind to the
model, and with what probability each was drawn, so the corpus estimates can weight them.

Designs (docs/statistics.md):
- `srs`: a simple random sample without replacement; every ad has probability n/N.
- `stratified:COLUMN`: proportional allocation over a column of the ads table (or the
  drafted `profile`), largest remainders; a simple random sample within each stratum.
- `confidence`: probabilities higher where the model is less sure. PPI's variance is smallest
  when an ad's probability grows with the expected squared error of the model on it (Zrnic and
  Candès 2024); the model's disagreement with itself over K samples (1 - agreement, plus
  1 - the profile's share of votes) stands in for that error. Mixed with a uniform floor
  (`FLOOR` of the sample), so every ad can be drawn; drawn with fixed size by systematic
  sampling of a random order, whose inclusion probabilities are exactly these.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.errors import InputError
from pipeline.record import Coding

DESIGNS = ("srs", "stratified:COLUMN", "confidence")
FLOOR = 0.2  # the uniform share of the confidence design's probabilities


@dataclass
class Draw:
    ad_ids: list[str]  # the sampled ads, in corpus order
    probabilities: dict[str, float]  # every ad of the corpus
    strata: dict[str, str]  # every ad's stratum ("" without strata)


def record_json(coding: Coding) -> str:
    """A coding's record as `codings_hash` writes it."""
    return json.dumps(coding.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


def hash_of(records: Iterable[str]) -> str:
    """The SHA-256 of records (`record_json`) in id order, written as one JSON list: what
    `codings_hash` computes, for records streamed in order rather than held."""
    digest = hashlib.sha256(b"[")
    for i, record in enumerate(records):
        digest.update((", " + record if i else record).encode("utf-8"))
    digest.update(b"]")
    return digest.hexdigest()


def codings_hash(codings: Sequence[Coding]) -> str:
    """The SHA-256 of a coding set's records in id order: the estimates check that the sample
    belongs to the codings they are given."""
    return hash_of(record_json(c) for c in sorted(codings, key=lambda c: c.ad_id))


def srs(ad_ids: Sequence[str], n: int, rng: np.random.Generator) -> Draw:
    chosen = set(rng.choice(len(ad_ids), size=n, replace=False).tolist())
    probability = n / len(ad_ids)
    return Draw(
        [a for i, a in enumerate(ad_ids) if i in chosen],
        dict.fromkeys(ad_ids, probability),
        dict.fromkeys(ad_ids, ""),
    )


def allocation(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of n over strata of these sizes, by largest remainders."""
    total = sum(sizes.values())
    exact = {s: n * size / total for s, size in sizes.items()}
    given = {s: int(e) for s, e in exact.items()}
    by_remainder = sorted(sizes, key=lambda s: (-(exact[s] - given[s]), s))
    for s in by_remainder[: n - sum(given.values())]:
        given[s] += 1
    return given


def stratified(
    ad_ids: Sequence[str], strata: Sequence[str], n: int, rng: np.random.Generator
) -> Draw:
    members: dict[str, list[int]] = {}
    for i, stratum in enumerate(strata):
        members.setdefault(stratum, []).append(i)
    taken = allocation({s: len(m) for s, m in sorted(members.items())}, n)
    chosen: set[int] = set()
    probabilities = {}
    for stratum, indices in sorted(members.items()):
        k = taken[stratum]
        chosen |= set(rng.choice(indices, size=k, replace=False).tolist()) if k else set()
        for i in indices:
            probabilities[ad_ids[i]] = k / len(indices)
    return Draw(
        [a for i, a in enumerate(ad_ids) if i in chosen],
        probabilities,
        dict(zip(ad_ids, strata, strict=True)),
    )


def uncertainty(coding: Coding) -> float:
    """How unsure the model is of an ad: its samples' disagreement on the entries and on
    the profile (0 when every sample agreed)."""
    return uncertainty_of(coding.ad_id, coding.n_codings, coding.agreement, coding.profile_support)


def uncertainty_of(
    ad_id: str, n: int | None, agreement: float | None, profile_support: int | None
) -> float:
    """`uncertainty` of a consensus record's n_codings, agreement and profile_support."""
    if not n or n < 2:
        raise InputError(
            f"{ad_id}: --design confidence needs a coding set made with --samples K "
            "(K of 2 or more): its support says where the model is unsure"
        )
    entries = 1 - (agreement if agreement is not None else 1.0)
    profile = 1 - (profile_support or n) / n
    return entries + profile


def confidence_probabilities(scores: Sequence[float], n: int) -> np.ndarray:
    """Inclusion probabilities summing to n: (1 - FLOOR) in proportion to the scores plus
    FLOOR uniform, capped at 1 (the excess shared out again among the others)."""
    s = np.asarray(scores, dtype=float)
    big_n = len(s)
    shares = s / s.sum() if s.sum() > 0 else np.full(big_n, 1 / big_n)
    pi = n * ((1 - FLOOR) * shares + FLOOR / big_n)
    for _ in range(big_n):
        over = pi > 1
        if not over.any():
            break
        excess = (pi[over] - 1).sum()
        pi[over] = 1
        rest = ~over & (pi < 1)
        pi[rest] += excess * pi[rest] / pi[rest].sum()
    return np.minimum(pi, 1.0)


def systematic(pi: np.ndarray, rng: np.random.Generator) -> list[int]:
    """A fixed-size sample with exactly these inclusion probabilities (summing to an
    integer): a random order, then every unit a systematic pass of step 1 lands in."""
    order = rng.permutation(len(pi))
    edges = np.concatenate([[0.0], np.cumsum(pi[order])])
    n = round(edges[-1])
    points = rng.uniform() + np.arange(n)
    hits = np.searchsorted(edges, points, side="right") - 1
    return sorted(order[hits].tolist())


def confidence(codings: Sequence[Coding], n: int, rng: np.random.Generator) -> Draw:
    return confidence_of([c.ad_id for c in codings], [uncertainty(c) for c in codings], n, rng)


def confidence_of(
    ad_ids: Sequence[str], scores: Sequence[float], n: int, rng: np.random.Generator
) -> Draw:
    """The confidence design over ads with these uncertainty scores."""
    pi = confidence_probabilities(scores, n)
    chosen = systematic(pi, rng)
    return Draw(
        [ad_ids[i] for i in chosen],
        {a: float(p) for a, p in zip(ad_ids, pi, strict=True)},
        dict.fromkeys(ad_ids, ""),
    )


def stratum_counts(draw: Draw) -> dict[str, int]:
    return dict(Counter(draw.strata[a] for a in draw.ad_ids))
