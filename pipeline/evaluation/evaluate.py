"""Where `autocode eval` starts: read gold, predictions and ad texts, score them
(`scores`) and add the bootstrap intervals (`uncertainty`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.codings.load import load_codings, load_markdown_dir
from pipeline.errors import InputError
from pipeline.evaluation.scores import match_all, pair_codings, score_report
from pipeline.evaluation.uncertainty import ad_counts, intervals, precision_by_support
from pipeline.record import Coding


def load_ad_texts(folder: Path, ad_ids: list[str]) -> tuple[dict[str, str], list[str]]:
    """Texts of <id>.txt for the given ids, and the ids that have none."""
    texts, missing = {}, []
    for ad_id in ad_ids:
        path = Path(folder) / f"{ad_id}.txt"
        try:
            texts[ad_id] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            missing.append(ad_id)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read ad text: {exc}") from None
    return texts, missing


def load_and_evaluate(
    gold: Path,
    pred: Path,
    ads: Path | None,
    book: Codebook,
    warn,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Read gold, predictions and ad texts, and score them, with bootstrap intervals of
    `n_boot` resamples (0: none); `warn` gets each Markdown line that could not be placed
    and each missing ad text."""
    gold_codings = load_markdown_dir(gold, book, warn)
    pred_codings = load_codings(pred, book, warn=warn)
    texts = None
    if ads:
        # Only paired ads are scored, so only their texts matter (and their absence).
        paired = sorted({c.ad_id for c in gold_codings} & {c.ad_id for c in pred_codings})
        texts, missing = load_ad_texts(ads, paired)
        for ad_id in missing:
            warn(
                f"no ad text at {Path(ads) / (ad_id + '.txt')}; "
                f"partial matching for {ad_id} uses word tokens"
            )
    return evaluate_with_intervals(gold_codings, pred_codings, book, texts, n_boot, seed)


def evaluate_with_intervals(
    gold: Sequence[Coding],
    pred: Sequence[Coding],
    book: Codebook,
    ad_texts: Mapping[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """`evaluate.evaluate`'s report, plus `ci` (n_boot > 0) and `quotes.partial.by_support`."""
    pairing = pair_codings(gold, pred)
    matches = match_all(pairing.paired, ad_texts)
    report = score_report(pairing, matches, book)
    by_support = precision_by_support(matches["partial"])
    if by_support is not None:
        report["quotes"]["partial"]["by_support"] = by_support
    if n_boot > 0:
        report["ci"] = intervals(ad_counts(pairing.paired, matches, book), n_boot, seed)
    return report
