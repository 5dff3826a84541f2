"""Where `autocode eval` starts: read gold, predictions and ad texts, score them
(`scores`) and add the bootstrap intervals (`uncertainty`). Only ads with gold are scored, so
a codings.jsonl of predictions is read one record at a time and only those of gold ads are
held (every record is still checked, and every id kept for the unpaired list)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.ads import AdReader, TableFields
from pipeline.codebook import Codebook
from pipeline.codings.load import load_codings, load_markdown_dir, read_jsonl, records_file
from pipeline.evaluation.scores import match_all, pair_codings, score_report
from pipeline.evaluation.uncertainty import ad_counts, intervals, precision_by_support
from pipeline.idmap import IdMap
from pipeline.record import Coding


def load_ad_texts(
    ads: Path, ad_ids: list[str], fields: TableFields | None = None
) -> tuple[dict[str, str], list[str], list[str]]:
    """The texts of the given ads, read as `code` reads them (a folder, .jsonl or .csv), the
    ids that have none, and the problems met reading them. The ads are read one at a time,
    so only the texts of the given ads are held."""
    wanted = set(ad_ids)
    reader = AdReader([ads], fields)
    texts = {ad.id: ad.text for ad in reader.read() if ad.id in wanted}
    return texts, [i for i in ad_ids if i not in texts], reader.problems.all()


def load_and_evaluate(
    gold: Path,
    pred: Path,
    ads: Path | None,
    book: Codebook,
    warn,
    n_boot: int = 1000,
    seed: int = 0,
    fields: TableFields | None = None,
) -> dict:
    """Read gold, predictions and ad texts, and score them, with bootstrap intervals of
    `n_boot` resamples (0: none); `warn` gets each Markdown line that could not be placed,
    each problem reading the ads and each missing ad text."""
    gold_codings = load_markdown_dir(gold, book, warn)
    pred_codings, pred_ids = load_predictions(pred, book, {c.ad_id for c in gold_codings}, warn)
    texts = None
    if ads:
        # Only paired ads are scored, so only their texts matter (and their absence).
        paired = sorted({c.ad_id for c in gold_codings} & {c.ad_id for c in pred_codings})
        texts, missing, problems = load_ad_texts(ads, paired, fields)
        for problem in problems:
            warn(problem)
        for ad_id in missing:
            warn(f"no ad text for {ad_id} in {ads}; partial matching for it uses word tokens")
    return evaluate_with_intervals(gold_codings, pred_codings, book, texts, n_boot, seed, pred_ids)


def load_predictions(
    pred: Path, book: Codebook, gold_ids: set[str], warn
) -> tuple[list[Coding], Sequence[str] | IdMap]:
    """The predicted codings of gold ads, and the ids of every predicted ad. Markdown is read
    whole; a codings.jsonl one record at a time, holding only the codings of gold ads (its
    ids on disk)."""
    records = records_file(pred)
    if records is None:
        codings = load_codings(pred, book, warn=warn)
        return codings, [c.ad_id for c in codings]
    return read_jsonl(records, book, keep=lambda c: c.ad_id in gold_ids)


def evaluate_with_intervals(
    gold: Sequence[Coding],
    pred: Sequence[Coding],
    book: Codebook,
    ad_texts: Mapping[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    pred_ids: Sequence[str] | IdMap | None = None,
) -> dict:
    """`evaluate.evaluate`'s report, plus `ci` (n_boot > 0) and `quotes.partial.by_support`;
    `pred_ids`: every predicted ad where `pred` holds only those with gold."""
    pairing = pair_codings(gold, pred, pred_ids)
    matches = match_all(pairing.paired, ad_texts)
    report = score_report(pairing, matches, book)
    by_support = precision_by_support(matches["partial"])
    if by_support is not None:
        report["quotes"]["partial"]["by_support"] = by_support
    if n_boot > 0:
        report["ci"] = intervals(ad_counts(pairing.paired, matches, book), n_boot, seed)
    return report
