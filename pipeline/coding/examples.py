"""Few-shot examples chosen per ad: the gold codings whose ads read most like the ad coded.

Similarity is the cosine of TF-IDF vectors over word 1–2-grams and character 3–5-grams
(the latter catch Dutch compounds and spelling variants that words miss). The ad itself and
any near-copy of it are never shown, so an example never gives away the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.ads import Ad
from pipeline.record import Coding

NEAR_COPY = 0.98  # cosine at or above which an example counts as the same ad
Ranking = Literal["similar", "first"]


@dataclass
class ExamplePool:
    """Gold (Ad, Coding) pairs and how to choose among them for one ad."""

    pairs: list[tuple[Ad, Coding]]
    n: int = 0
    by: Ranking = "similar"
    max_chars: int | None = None
    _vectorizer: Any = field(default=None, repr=False)
    _matrix: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.pairs:
            self._vectorizer, self._matrix = _fit([ad.text for ad, _ in self.pairs])

    def similarities(self, text: str) -> list[float]:
        """Cosine of `text` with every example's ad, in pool order."""
        if not self.pairs:
            return []
        vector = self._vectorizer.transform([text])
        return [float(x) for x in (self._matrix @ vector.T).toarray().ravel()]

    def choose(self, ad: Ad) -> list[tuple[Ad, Coding]]:
        """The examples shown before `ad`: at most n, within max_chars, most similar last."""
        if self.n <= 0 or not self.pairs:
            return []
        scores = self.similarities(ad.text)
        allowed = [
            i for i, (ex, _) in enumerate(self.pairs) if ex.id != ad.id and scores[i] < NEAR_COPY
        ]
        if self.by == "similar":
            allowed.sort(key=lambda i: -scores[i])  # stable: pool order breaks ties
        chosen = _within(allowed[: self.n], self.pairs, self.max_chars)
        return (
            [self.pairs[i] for i in reversed(chosen)]
            if self.by == "similar"
            else [self.pairs[i] for i in chosen]
        )


def _fit(texts: list[str]):
    """A word + character TF-IDF model of the example ads, and their unit vectors."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import normalize

    union = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)),
        ]
    )
    vectorizer = _Normalised(union, normalize)
    return vectorizer, vectorizer.fit_transform(texts)


@dataclass
class _Normalised:
    """The union of both TF-IDF spaces, scaled to unit length so a dot product is a cosine."""

    union: Any
    normalize: Any

    def fit_transform(self, texts: list[str]):
        return self.normalize(self.union.fit_transform(texts))

    def transform(self, texts: list[str]):
        return self.normalize(self.union.transform(texts))


def _within(indices: list[int], pairs: list[tuple[Ad, Coding]], max_chars: int | None):
    """The leading indices whose ads fit in `max_chars` characters together (all if None)."""
    if max_chars is None:
        return indices
    kept, total = [], 0
    for i in indices:
        size = len(pairs[i][0].text)
        if total + size > max_chars:
            continue  # a shorter, less similar example may still fit
        kept.append(i)
        total += size
    return kept
